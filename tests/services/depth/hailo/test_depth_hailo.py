"""HailoDepthEngine against the HailoRT test double, set up as the Hailo-10H depth HEFs are (the model
zoo's cfg: scdepthv3 256x320x3 -> 256x320x1, its output 16-bit (quantization_param a16_w16) and named
``scdepthv3/conv31`` as hailo-apps' depth post-process reads it; fast_depth 224x224x3 -> 224x224x1,
``fast_depth/conv20``). The input is uint8 RGB (normalised on the chip); the engine asks HailoRT for
FLOAT32 (de-quantised) output and applies the zoo's post-processing on the host."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest

from hailo_services.core.models import EngineError
from hailo_services.depth.cpu import DepthOnnxEngine
from hailo_services.depth.engine import DepthModelSpec, load_catalog
from hailo_services.depth.hailo import HailoDepthEngine
from tiny_models import DEPTH_TINY, depth_zoo_zip

SC_HEF = Path("/models/scdepthv3.hef")
FD_HEF = Path("/models/fast_depth.hef")
SC_IN, SC_OUT = "scdepthv3/input_layer1", "scdepthv3/conv31"
FD_IN, FD_OUT = "fast_depth/input_layer1", "fast_depth/conv20"


def spec_of(name: str) -> DepthModelSpec:
    spec = load_catalog().get(name)
    assert spec is not None
    return spec


def sigmoid(x):
    return 1 / (1 + np.exp(-np.asarray(x, np.float64)))


@pytest.fixture
def hef(hailo_double: ModuleType) -> ModuleType:
    d = hailo_double
    d.STATE.define_hef(
        str(SC_HEF),
        inputs=[d.StreamSpec(SC_IN, (256, 320, 3))],
        outputs=[d.StreamSpec(SC_OUT, (256, 320, 1), d.FormatType.UINT16, d.QuantInfo(32768, 0.0005))],
    )
    d.STATE.define_hef(
        str(FD_HEF),
        inputs=[d.StreamSpec(FD_IN, (224, 224, 3))],
        outputs=[d.StreamSpec(FD_OUT, (224, 224, 1), d.FormatType.UINT16, d.QuantInfo(0, 0.0002))],
    )
    return d


def test_load_asks_for_uint8_input_and_float32_output(hef: ModuleType):
    engine = HailoDepthEngine("SHARED")
    engine.load(spec_of("scdepthv3"), [SC_HEF])
    try:
        formats = {c["name"]: c["type"] for c in hef.STATE.calls_of("InferStream.set_format_type")}
        assert formats == {SC_IN: hef.FormatType.UINT8, SC_OUT: hef.FormatType.FLOAT32}
        assert hef.STATE.vdevices[0].group_id == "SHARED"
    finally:
        engine.unload()


def test_the_hef_output_goes_through_the_zoos_post_processing(hef: ModuleType):
    seen: list[np.ndarray] = []
    logits = np.full((256, 320, 1), -2.0, np.float32)
    logits[:, 160:] = 3.0  # the right half nearer

    def outputs(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen.append(frame[SC_IN])
        return {SC_OUT: logits}

    hef.STATE.script_infer(outputs)
    engine = HailoDepthEngine()
    engine.load(spec_of("scdepthv3"), [SC_HEF])
    rgb = np.zeros((512, 640, 3), np.uint8)
    rgb[..., 0] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
    try:
        dm = engine.estimate(rgb)
    finally:
        engine.unload()
    assert dm.values.shape == (512, 640) and dm.network_size == (256, 320)
    assert dm.quantity.name == "relative_inverse_depth"
    assert dm.values[100, 10] == pytest.approx(10 * sigmoid(-2.0) + 0.009, rel=1e-5)
    assert dm.values[100, 630] == pytest.approx(10 * sigmoid(3.0) + 0.009, rel=1e-5)
    (frame,) = seen
    assert frame.dtype == np.uint8 and frame.shape == (256, 320, 3)
    np.testing.assert_array_equal(frame, cv2.resize(rgb, (320, 256), interpolation=cv2.INTER_LINEAR))


def test_fast_depth_hef_gives_metres(hef: ModuleType):
    depth = np.tile(np.linspace(0.5, 8.0, 224, dtype=np.float32)[None, :, None], (224, 1, 1))
    hef.STATE.script_infer({FD_OUT: depth})
    engine = HailoDepthEngine()
    engine.load(spec_of("fast_depth"), [FD_HEF])
    try:
        dm = engine.estimate(np.zeros((224, 224, 3), np.uint8))
    finally:
        engine.unload()
    assert dm.quantity.name == "depth" and dm.quantity.units == "m"
    np.testing.assert_allclose(dm.values, depth[..., 0], rtol=1e-6)


@pytest.mark.parametrize("name", ["scdepthv3", "fast_depth"])
def test_both_engines_give_the_same_map_for_the_same_network(hef: ModuleType, tmp_path: Path, name: str):
    # The tiny network of tests/tiny_models.py, once as the zoo's ONNX (CPU: normalised on the host) and
    # once as the HEF would compute it (uint8 in, normalised "on the chip"): one processing.py, one answer.
    spec = spec_of(name)
    tiny = DEPTH_TINY[name]
    hef_in = SC_IN if name == "scdepthv3" else FD_IN
    hef_out = SC_OUT if name == "scdepthv3" else FD_OUT

    def network(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = (frame[hef_in].astype(np.float32) - np.float32(spec.mean[0])) / np.float32(spec.std[0])
        return {hef_out: tiny["bias"] + tiny["scale"] * x.mean(axis=2, keepdims=True)}

    hef.STATE.script_infer(network)
    rgb = np.zeros((300, 400, 3), np.uint8)
    rgb[50:200, 100:300] = (250, 200, 150)
    rgb[:, :40] = 90
    npu = HailoDepthEngine()
    npu.load(spec, [SC_HEF if name == "scdepthv3" else FD_HEF])
    try:
        on_npu = npu.estimate(rgb).values
    finally:
        npu.unload()
    cpu = DepthOnnxEngine(threads=1)
    cpu.load(spec, [depth_zoo_zip(tmp_path / spec.artifact("cpu").file, spec.onnx_member, **tiny)])
    try:
        on_cpu = cpu.estimate(rgb).values
    finally:
        cpu.unload()
    np.testing.assert_allclose(on_npu, on_cpu, rtol=1e-4, atol=1e-4)


def test_load_unload_repeatedly(hef: ModuleType):
    engine = HailoDepthEngine()
    for i in range(3):
        engine.load(spec_of("scdepthv3"), [SC_HEF])
        # Unscripted frames are zeros: logit 0 everywhere -> 10 * 0.5 + 0.009.
        np.testing.assert_allclose(engine.estimate(np.zeros((64, 64, 3), np.uint8)).values, 5.009, rtol=1e-6)
        engine.unload()
        assert hef.STATE.vdevices[i].released
    with pytest.raises(EngineError):
        engine.estimate(np.zeros((64, 64, 3), np.uint8))


@pytest.mark.parametrize(
    "outputs",
    [
        [("yolov8s/yolov8_nms_postprocess", None)],
        [("scdepthv3/conv31", (256, 320, 3))],
        [("scdepthv3/conv31", (256, 320, 1)), ("scdepthv3/conv30", (256, 320, 1))],
    ],
    ids=["nms", "three-channels", "two-outputs"],
)
def test_a_hef_of_another_network_is_refused(hailo_double: ModuleType, outputs):
    d = hailo_double
    specs = [
        d.StreamSpec(n, format_type=d.FormatType.FLOAT32, nms=d.NmsShape(80, 100))
        if shape is None
        else d.StreamSpec(n, shape, d.FormatType.UINT16)
        for n, shape in outputs
    ]
    d.STATE.define_hef(str(SC_HEF), inputs=[d.StreamSpec(SC_IN, (256, 320, 3))], outputs=specs)
    engine = HailoDepthEngine()
    with pytest.raises(ValueError):
        engine.load(spec_of("scdepthv3"), [SC_HEF])
    assert not engine.loaded and all(v.released for v in d.STATE.vdevices)

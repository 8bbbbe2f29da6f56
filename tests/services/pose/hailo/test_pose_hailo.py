"""HailoPoseEngine against the HailoRT test double, set up as the Hailo-10H yolov8s_pose HEF is
(docs/hailo-models.md): input ``yolov8s_pose/input_layer1`` 640x640x3 uint8; nine NHWC outputs
(box 64, score 1, keypoints 51 at 20x20, 40x40, 80x80), quantised on the chip (keypoints 16-bit), the
score already through a sigmoid. The engine asks HailoRT for FLOAT32 (de-quantised) outputs."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from hailo_services.core.models import EngineError
from hailo_services.pose.cpu import YoloPoseOnnxEngine
from hailo_services.pose.engine import PoseModelSpec, PoseParams, load_catalog
from hailo_services.pose.hailo import HailoPoseEngine

HEF = Path("/models/yolov8s_pose.hef")
INPUT = "yolov8s_pose/input_layer1"
# (box, score, keypoints) output names per stride, as yolov8s_pose.hef names them.
NAMES = {32: ("conv70", "conv71", "conv72"), 16: ("conv57", "conv58", "conv59"), 8: ("conv43", "conv44", "conv45")}


def sigmoid(x: float) -> float:
    return float(1 / (1 + np.exp(-x)))


@pytest.fixture
def spec() -> PoseModelSpec:
    spec = load_catalog().get("yolov8s_pose")
    assert spec is not None
    return spec


@pytest.fixture
def hef(hailo_double: ModuleType) -> ModuleType:
    d = hailo_double
    outputs = []
    for s in (32, 16, 8):  # the HEF's order: stride 32 first
        g = 640 // s
        box, score, kpt = NAMES[s]
        outputs += [
            d.StreamSpec(f"yolov8s_pose/{box}", (g, g, 64), d.FormatType.UINT8, d.QuantInfo(128, 0.1)),
            d.StreamSpec(f"yolov8s_pose/{score}", (g, g, 1), d.FormatType.UINT8, d.QuantInfo(0, 1 / 255)),
            d.StreamSpec(f"yolov8s_pose/{kpt}", (g, g, 51), d.FormatType.UINT16, d.QuantInfo(32768, 0.001)),
        ]
    d.STATE.define_hef(str(HEF), inputs=[d.StreamSpec(INPUT, (640, 640, 3))], outputs=outputs)
    return d


def head_tables(score_of) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Two people, NHWC per stride: stride 8 cell (col 30, row 20) DFL distances (3, 5, 4, 9) and score
    logit 3; stride 32 cell (col 12, row 4) distances (1, 2, 1, 2) and logit 1. ``score_of(logit)``
    is what the head outputs (the HEF: the sigmoid; an ONNX cut before it: the logit)."""
    people = {8: (30, 20, (3, 5, 4, 9), 3.0), 32: (12, 4, (1, 2, 1, 2), 1.0)}
    out = {}
    for s in (8, 16, 32):
        g = 640 // s
        box = np.zeros((g, g, 64), np.float32)
        score = np.full((g, g, 1), score_of(-10.0), np.float32)
        kpt = np.zeros((g, g, 51), np.float32)
        if s in people:
            col, row, ltrb, logit = people[s]
            for side, dist in enumerate(ltrb):
                box[row, col, side * 16 + dist] = 30.0  # 30 vs 0: a one-hot, for an exact distance
            score[row, col, 0] = score_of(logit)
            raw = np.zeros((17, 3), np.float32)
            raw[:, 0] = np.linspace(-0.5, 0.5, 17)  # x = (2 raw + col) * s
            raw[:, 1] = 0.25  # y = (0.5 + row) * s
            raw[:, 2] = 2.0
            kpt[row, col] = raw.ravel()
        out[s] = (box, score, kpt)
    return out


def hef_outputs(tables) -> dict[str, np.ndarray]:
    return {f"yolov8s_pose/{name}": t for s, parts in tables.items() for name, t in zip(NAMES[s], parts, strict=True)}


def square() -> np.ndarray:
    return np.full((640, 640, 3), 90, np.uint8)


def test_load_asks_for_float32_outputs(hef: ModuleType, spec: PoseModelSpec):
    engine = HailoPoseEngine("SHARED")
    engine.load(spec, [HEF])
    try:
        formats = {c["name"]: c["type"] for c in hef.STATE.calls_of("InferStream.set_format_type")}
        assert formats.pop(INPUT) == hef.FormatType.UINT8
        assert len(formats) == 9 and set(formats.values()) == {hef.FormatType.FLOAT32}
        assert not hef.STATE.calls_of("InferStream.set_nms_score_threshold")
        assert hef.STATE.vdevices[0].group_id == "SHARED"
    finally:
        engine.unload()


def test_detect_decodes_the_raw_head(hef: ModuleType, spec: PoseModelSpec):
    seen: list[np.ndarray] = []

    def outputs(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        seen.append(frame[INPUT])
        return hef_outputs(head_tables(sigmoid))

    hef.STATE.script_infer(outputs)
    engine = HailoPoseEngine()
    engine.load(spec, [HEF])
    try:
        # 960 wide x 1280 high → scale 0.5, 80 px of padding left and right.
        people = engine.detect(np.full((1280, 960, 3), 90, np.uint8), PoseParams())
    finally:
        engine.unload()
    assert [round(p.score, 4) for p in people] == [round(sigmoid(3.0), 4), round(sigmoid(1.0), 4)]
    first, second = people
    # stride 8, anchor (30.5, 20.5): input (27.5, 15.5, 34.5, 29.5) x 8 = (220, 124, 276, 236)
    # → source ((x - 80) x 2, y x 2)
    assert (first.x1, first.y1, first.x2, first.y2) == pytest.approx((280, 248, 392, 472), abs=0.01)
    # keypoint x = (2 raw + 30) x 8 in the input, y = (0.5 + 20) x 8 = 164
    np.testing.assert_allclose(first.keypoints[:, 0], ((2 * np.linspace(-0.5, 0.5, 17) + 30) * 8 - 80) * 2, atol=0.01)
    np.testing.assert_allclose(first.keypoints[:, 1], np.full(17, 164 * 2), atol=0.01)
    np.testing.assert_allclose(first.keypoints[:, 2], sigmoid(2.0), atol=1e-5)
    assert first.keypoints.shape == (17, 3)
    # stride 32, anchor (12.5, 4.5): input (368, 80, 432, 208) → source (576, 160, 704, 416)
    assert (second.x1, second.y1, second.x2, second.y2) == pytest.approx((576, 160, 704, 416), abs=0.01)
    (frame,) = seen
    assert frame.dtype == np.uint8 and frame.shape == (640, 640, 3)
    assert (frame[:, :80] == 114).all() and (frame[:, 80:560] == 90).all() and (frame[:, 560:] == 114).all()


def test_the_cpu_raw_head_path_gives_the_same_people(hef: ModuleType, spec: PoseModelSpec, tmp_path: Path):
    # The same network state through both engines: the HEF (sigmoid on-chip, NHWC) and an ONNX cut
    # before the decode (logits, NCHW). Both must run the same decoder to the same answer.
    hef.STATE.script_infer(hef_outputs(head_tables(sigmoid)))
    npu = HailoPoseEngine()
    npu.load(spec, [HEF])
    try:
        on_npu = npu.detect(square(), PoseParams())
    finally:
        npu.unload()

    images = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])
    nodes = [helper.make_node("ReduceMax", ["images"], ["peak"], keepdims=0)]
    nodes.append(helper.make_node("Mul", ["peak", "zero"], ["nothing"]))  # the input must be used
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    infos = []
    for i, (_, parts) in enumerate(sorted(head_tables(lambda x: x).items())):  # strides 8, 16, 32
        for role, t in zip(("cv2", "cv3", "cv4"), parts, strict=True):
            name = f"/model.22/{role}.{i}/{role}.{i}.2/Conv_output_0"
            nodes.append(helper.make_node("Add", [f"{name}_t", "nothing"], [name]))
            nchw = t.transpose(2, 0, 1)[None]
            inits.append(numpy_helper.from_array(nchw, f"{name}_t"))
            infos.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(nchw.shape)))
    model = helper.make_model(
        helper.make_graph(nodes, "raw_pose", [images], infos, initializer=inits),
        opset_imports=[helper.make_opsetid("", 17)],
        ir_version=9,
    )
    path = tmp_path / "raw-pose.onnx"
    onnx.save(model, path)
    cpu = YoloPoseOnnxEngine(threads=1)
    cpu.load(PoseModelSpec(name="raw"), [path])
    try:
        assert cpu.raw_head
        on_cpu = cpu.detect(square(), PoseParams())
    finally:
        cpu.unload()

    assert len(on_npu) == len(on_cpu) == 2
    for a, b in zip(on_npu, on_cpu, strict=True):
        assert a.bbox == pytest.approx(b.bbox, abs=1e-3)
        assert a.score == pytest.approx(b.score, abs=1e-6)
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)


def test_load_unload_repeatedly(hef: ModuleType, spec: PoseModelSpec):
    engine = HailoPoseEngine()
    for i in range(3):
        engine.load(spec, [HEF])
        assert engine.detect(square(), PoseParams()) == []  # unscripted frames are all zeros
        engine.unload()
        assert hef.STATE.vdevices[i].released
    with pytest.raises(EngineError):
        engine.detect(square(), PoseParams())


def test_a_hef_with_another_head_is_refused(hailo_double: ModuleType, spec: PoseModelSpec):
    d = hailo_double
    d.STATE.define_hef(
        str(HEF),
        inputs=[d.StreamSpec(INPUT, (640, 640, 3))],
        outputs=[
            d.StreamSpec("yolov8s/yolov8_nms_postprocess", format_type=d.FormatType.FLOAT32, nms=d.NmsShape(80, 100))
        ],
    )
    engine = HailoPoseEngine()
    with pytest.raises(ValueError):
        engine.load(spec, [HEF])
    assert not engine.loaded and all(v.released for v in d.STATE.vdevices)

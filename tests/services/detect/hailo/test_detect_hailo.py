"""HailoDetectEngine against the HailoRT test double, set up as the Hailo-10H yolov8s HEF is: one
640x640x3 uint8 input, one NMS_BY_CLASS output (80 classes x 100 boxes, HailoRT's host-side NMS)
named ``yolov8s/yolov8_nms_postprocess`` (docs/hailo-models.md)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hailo_services.core.models import EngineError
from hailo_services.detect.engine import DetectModelSpec, DetectParams, load_catalog
from hailo_services.detect.hailo import NMS_IOU, NMS_MAX_PROPOSALS_PER_CLASS, NMS_SCORE_FLOOR, HailoDetectEngine

HEF = Path("/models/yolov8s.hef")
INPUT = "yolov8s/input_layer1"
NMS = "yolov8s/yolov8_nms_postprocess"


@pytest.fixture
def spec() -> DetectModelSpec:
    spec = load_catalog().get("yolov8s")
    assert spec is not None
    return spec


@pytest.fixture
def hef(hailo_double: ModuleType) -> ModuleType:
    d = hailo_double
    d.STATE.define_hef(
        str(HEF),
        inputs=[d.StreamSpec(INPUT, (640, 640, 3))],
        outputs=[d.StreamSpec(NMS, format_type=d.FormatType.FLOAT32, nms=d.NmsShape(80, 100))],
    )
    return d


def per_class(**boxes: list[list[float]]) -> list[np.ndarray]:
    """An NMS result: class index (c0, c15, ...) → rows [y_min, x_min, y_max, x_max, score]."""
    out = [np.zeros((0, 5), np.float32) for _ in range(80)]
    for key, rows in boxes.items():
        out[int(key[1:])] = np.asarray(rows, np.float32)
    return out


def landscape() -> np.ndarray:
    """1280 wide x 960 high → scale 0.5: 640 x 480 with 80 rows of padding above and below."""
    rgb = np.zeros((960, 1280, 3), np.uint8)
    rgb[:, :, 0] = 200
    return rgb


def test_load_configures_the_hef_on_the_shared_vdevice(hef: ModuleType, spec: DetectModelSpec):
    engine = HailoDetectEngine("SHARED")
    engine.load(spec, [HEF])
    try:
        (vdev,) = hef.STATE.vdevices
        assert vdev.group_id == "SHARED"
        formats = {c["name"]: c["type"] for c in hef.STATE.calls_of("InferStream.set_format_type")}
        assert formats == {INPUT: hef.FormatType.UINT8, NMS: hef.FormatType.FLOAT32}
        (stream,) = hef.STATE.infer_models[-1].outputs if hef.STATE.infer_models else [None]
        assert stream is not None and stream.nms_settings == {
            "score_threshold": NMS_SCORE_FLOOR,
            "iou_threshold": NMS_IOU,
            "max_proposals_per_class": NMS_MAX_PROPOSALS_PER_CLASS,
        }
        assert hef.STATE.calls_of("InferModel.set_batch_size") == [{"batch_size": 1}]
    finally:
        engine.unload()


def test_detect_maps_nms_boxes_back_through_the_letterbox(hef: ModuleType, spec: DetectModelSpec):
    seen: list[np.ndarray] = []

    def outputs(frame: dict[str, np.ndarray]) -> dict:
        seen.append(frame[INPUT])
        return {
            NMS: per_class(
                c0=[[0.25, 0.125, 0.75, 0.5, 0.9]],  # input (80, 160, 320, 480)
                c15=[[0.5, 0.5, 0.625, 0.625, 0.3]],  # a cat below the 0.4 default
                c2=[[0.5, 0.5, 0.625, 0.625, 0.6]],  # car, input (320, 320, 400, 400)
            )
        }

    hef.STATE.script_infer(outputs)
    engine = HailoDetectEngine()
    engine.load(spec, [HEF])
    try:
        dets = engine.detect(landscape(), DetectParams())
    finally:
        engine.unload()
    assert [(d.label, round(d.score, 3)) for d in dets] == [("person", 0.9), ("car", 0.6)]
    person, car = dets
    assert (person.x_min, person.y_min, person.x_max, person.y_max) == pytest.approx((160, 160, 640, 800))
    assert (car.x_min, car.y_min, car.x_max, car.y_max) == pytest.approx((640, 480, 800, 640))
    # The NPU got the letterboxed frame: uint8 RGB, grey 114 bars top and bottom, the image between.
    (frame,) = seen
    assert frame.dtype == np.uint8 and frame.shape == (640, 640, 3)
    assert (frame[:80] == 114).all() and (frame[560:] == 114).all()
    assert (frame[80:560, :, 0] == 200).all() and (frame[80:560, :, 1:] == 0).all()


def test_request_thresholds_and_classes_apply_on_the_host(hef: ModuleType, spec: DetectModelSpec):
    result = {
        NMS: per_class(
            c0=[[0.0, 0.0, 0.5, 0.5, 0.9], [0.0, 0.1, 0.5, 0.6, 0.8]],  # IoU 0.667: kept by the HEF's 0.7
            c16=[[0.6, 0.6, 0.9, 0.9, 0.5]],
        )
    }
    hef.STATE.script_infer(result, result, result)
    engine = HailoDetectEngine()
    engine.load(spec, [HEF])
    try:
        square = np.zeros((640, 640, 3), np.uint8)
        assert len(engine.detect(square, DetectParams(iou_threshold=0.7))) == 3
        assert [d.score for d in engine.detect(square, DetectParams())] == pytest.approx([0.9, 0.5])
        assert [d.label for d in engine.detect(square, DetectParams(classes=frozenset({16})))] == ["dog"]
    finally:
        engine.unload()


def test_load_and_unload_repeatedly_release_the_device(hef: ModuleType, spec: DetectModelSpec):
    engine = HailoDetectEngine()
    for i in range(3):
        engine.load(spec, [HEF])
        assert engine.loaded
        assert engine.detect(np.zeros((64, 48, 3), np.uint8), DetectParams()) == []
        engine.unload()
        assert not engine.loaded
        assert hef.STATE.vdevices[i].released
    engine.unload()
    with pytest.raises(EngineError):
        engine.detect(np.zeros((64, 48, 3), np.uint8), DetectParams())


def test_a_hef_without_nms_is_refused_and_releases_the_device(hailo_double: ModuleType, spec: DetectModelSpec):
    d = hailo_double
    d.STATE.define_hef(
        str(HEF),
        inputs=[d.StreamSpec(INPUT, (640, 640, 3))],
        outputs=[d.StreamSpec(f"yolov8s/conv{i}", (80, 80, 64)) for i in (41, 42)],
    )
    engine = HailoDetectEngine()
    with pytest.raises(ValueError, match="NMS"):
        engine.load(spec, [HEF])
    assert not engine.loaded
    assert all(v.released for v in d.STATE.vdevices)


def test_a_slow_device_times_out(hef: ModuleType, spec: DetectModelSpec):
    hef.STATE.infer_delay_s = 0.3
    engine = HailoDetectEngine(timeout_ms=50)
    engine.load(spec, [HEF])
    try:
        with pytest.raises(TimeoutError):
            engine.detect(np.zeros((640, 640, 3), np.uint8), DetectParams())
    finally:
        engine.unload()

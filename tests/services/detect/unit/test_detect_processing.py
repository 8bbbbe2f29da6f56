"""hailo-detect's post-processing on hand-made tensors whose right answer is worked out by hand."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest

from hailo_services.core import yolo
from hailo_services.core.geometry import Letterbox, letterbox
from hailo_services.detect import processing
from hailo_services.detect.engine import DetectModelSpec, DetectParams, load_catalog
from hailo_services.detect.labels import COCO80, COCO90_TO_80, class_ids_for

IDENTITY_640 = Letterbox(scale=1.0, pad_x=0, pad_y=0, src_w=640, src_h=640)
ALL = DetectParams(confidence=0.0, iou_threshold=0.45, max_detections=100)


def yolo_output(*anchors: tuple[int, tuple[float, float, float, float], int, float], n: int = 8400) -> np.ndarray:
    """[1, 84, n] with the given anchors set: (index, (cx, cy, w, h), class id, score)."""
    out = np.zeros((1, 84, n), np.float32)
    for index, xywh, cls, score in anchors:
        out[0, :4, index] = xywh
        out[0, 4 + cls, index] = score
    return out


# -- labels ----------------------------------------------------------------------------------


def test_coco80_names_are_frigates():
    assert len(COCO80) == 80 and len(set(COCO80)) == 80
    assert COCO80[0] == "person" and COCO80[2] == "car" and COCO80[15] == "cat" and COCO80[41] == "cup"
    assert {"motorcycle", "airplane", "couch", "tv", "cell phone", "hair drier", "dining table"} <= set(COCO80)
    assert not {"motorbike", "aeroplane", "sofa", "tvmonitor", "diningtable"} & set(COCO80)


def test_tf90_to_coco80_map():
    assert len(COCO90_TO_80) == 80
    assert sorted(COCO90_TO_80.values()) == list(range(80))
    # Spot checks against the TF OD API label map (mscoco_label_map.pbtxt).
    assert COCO90_TO_80[1] == COCO80.index("person")
    assert COCO90_TO_80[17] == COCO80.index("cat")
    assert COCO90_TO_80[47] == COCO80.index("cup")
    assert COCO90_TO_80[64] == COCO80.index("potted plant")
    assert COCO90_TO_80[67] == COCO80.index("dining table")
    assert COCO90_TO_80[90] == COCO80.index("toothbrush")
    for unused in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83):
        assert unused not in COCO90_TO_80


def test_class_ids_for_names():
    assert class_ids_for(["Person", " cat"]) == frozenset({0, 15})
    with pytest.raises(ValueError, match="unicorn"):
        class_ids_for(["person", "unicorn"])


# -- core.yolo pieces ------------------------------------------------------------------------


def test_box_format_round_trip():
    xywh = np.array([[100, 50, 20, 10]], np.float32)
    assert yolo.xywh_to_xyxy(xywh).tolist() == [[90, 45, 110, 55]]
    assert yolo.xyxy_to_xywh(yolo.xywh_to_xyxy(xywh)).tolist() == xywh.tolist()
    assert yolo.yxyx_to_xyxy(np.array([[1, 2, 3, 4]], np.float32)).tolist() == [[2, 1, 4, 3]]


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]], np.float32)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 10, 10]], np.float32)
    # overlap 5x10 = 50, union 150 → 1/3; disjoint → 0; identical → 1
    np.testing.assert_allclose(yolo.box_iou(a, b), [[1 / 3, 0.0, 1.0]], rtol=1e-6)


def test_nms_keeps_the_higher_of_two_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [50, 50, 60, 60]], np.float32)
    scores = np.array([0.6, 0.9, 0.5], np.float32)
    assert yolo.nms(boxes, scores, 0.45).tolist() == [1, 2]
    # IoU of the first two is 90/110 = 0.818: a threshold above it keeps both.
    assert yolo.nms(boxes, scores, 0.85).tolist() == [1, 0, 2]
    assert yolo.nms(boxes, scores, 0.45, max_output=1).tolist() == [1]


def test_nms_suppresses_only_above_the_threshold():
    boxes = np.array([[0, 0, 10, 10], [5, 0, 15, 10]], np.float32)  # IoU exactly 1/3
    scores = np.array([0.9, 0.8], np.float32)
    assert yolo.nms(boxes, scores, 1 / 3 + 1e-6).tolist() == [0, 1]
    assert yolo.nms(boxes, scores, 1 / 3 - 1e-6).tolist() == [0]


def test_batched_nms_is_class_aware():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    scores = np.array([0.5, 0.9, 0.7], np.float32)
    classes = np.array([3, 3, 7])
    assert yolo.batched_nms(boxes, scores, classes, 0.45).tolist() == [1, 2]
    assert yolo.nms(boxes, scores, 0.45).tolist() == [1]


# -- yolov8 export decode --------------------------------------------------------------------


def test_yolov8_single_anchor_exact_box():
    out = yolo_output((1234, (320, 200, 100, 50), 15, 0.9))
    dets = processing.yolov8_to_detections(out, IDENTITY_640, (640, 640), DetectParams())
    assert len(dets) == 1
    d = dets[0]
    assert (d.class_id, d.label) == (15, "cat")
    assert d.score == pytest.approx(0.9)
    assert (d.x_min, d.y_min, d.x_max, d.y_max) == (270, 175, 370, 225)


def test_yolov8_takes_each_anchors_best_class():
    out = yolo_output((7, (100, 100, 20, 20), 2, 0.5))
    out[0, 4 + 7, 7] = 0.8  # the same anchor scores "truck" higher than "car"
    (d,) = processing.yolov8_to_detections(out, IDENTITY_640, (640, 640), DetectParams())
    assert d.label == "truck" and d.score == pytest.approx(0.8)


def test_yolov8_accepts_the_transposed_layout():
    out = yolo_output((9, (100, 100, 20, 20), 0, 0.7))
    a = processing.yolov8_to_detections(out, IDENTITY_640, (640, 640), DetectParams())
    b = processing.yolov8_to_detections(out.transpose(0, 2, 1), IDENTITY_640, (640, 640), DetectParams())
    assert a == b and len(a) == 1
    with pytest.raises(ValueError, match="84"):
        processing.decode_yolov8(np.zeros((1, 85, 8400), np.float32))


def test_yolov8_nms_keeps_the_higher_of_two_overlapping_boxes():
    out = yolo_output(
        (10, (200, 200, 100, 100), 0, 0.6),
        (11, (205, 200, 100, 100), 0, 0.8),  # IoU 0.9 with the first
        (12, (205, 200, 100, 100), 16, 0.7),  # same place, another class: class-aware NMS keeps it
    )
    dets = processing.yolov8_to_detections(out, IDENTITY_640, (640, 640), DetectParams())
    assert [(d.label, round(d.score, 3)) for d in dets] == [("person", 0.8), ("dog", 0.7)]
    assert dets[0].x_min == 155


def test_yolov8_letterboxed_portrait_maps_back_exactly():
    # 960 wide x 1280 high: scale 0.5 → 480 x 640, centred with 80 px of padding left and right.
    rgb = np.zeros((1280, 960, 3), np.uint8)
    img, box = letterbox(rgb, (640, 640))
    assert img.shape == (640, 640, 3) and (box.scale, box.pad_x, box.pad_y) == (0.5, 80, 0)
    assert (img[:, :80] == 114).all() and (img[:, 80:560] == 0).all() and (img[:, 560:] == 114).all()
    out = yolo_output((500, (280, 200, 200, 200), 0, 0.9))  # input box (180, 100, 380, 300)
    (d,) = processing.yolov8_to_detections(out, box, rgb.shape[:2], DetectParams())
    assert (d.x_min, d.y_min, d.x_max, d.y_max) == (200, 200, 600, 600)


def test_boxes_are_clipped_to_the_source_image():
    box = Letterbox(scale=0.5, pad_x=80, pad_y=0, src_w=960, src_h=1280)
    out = yolo_output((1, (90, 620, 40, 60), 0, 0.9))  # input (70, 590, 110, 650): off both edges
    (d,) = processing.yolov8_to_detections(out, box, (1280, 960), DetectParams())
    assert (d.x_min, d.y_min, d.x_max, d.y_max) == (0, 1180, 60, 1280)


def _four_separate_boxes() -> np.ndarray:
    return yolo_output(
        (1, (50, 50, 40, 40), 0, 0.55),
        (2, (150, 50, 40, 40), 2, 0.95),
        (3, (250, 50, 40, 40), 0, 0.75),
        (4, (350, 50, 40, 40), 15, 0.35),
    )


def test_results_are_sorted_by_score_and_thresholded():
    dets = processing.yolov8_to_detections(_four_separate_boxes(), IDENTITY_640, (640, 640), DetectParams())
    assert [d.score for d in dets] == pytest.approx([0.95, 0.75, 0.55])  # 0.35 < the 0.4 default
    dets = processing.yolov8_to_detections(_four_separate_boxes(), IDENTITY_640, (640, 640), ALL)
    assert [d.label for d in dets] == ["car", "person", "person", "cat"]


def test_class_filter():
    params = DetectParams(confidence=0.0, classes=frozenset({0}))
    dets = processing.yolov8_to_detections(_four_separate_boxes(), IDENTITY_640, (640, 640), params)
    assert [(d.label, round(d.score, 2)) for d in dets] == [("person", 0.75), ("person", 0.55)]
    params = DetectParams(confidence=0.0, classes=frozenset())
    assert processing.yolov8_to_detections(_four_separate_boxes(), IDENTITY_640, (640, 640), params) == []


def test_max_detections_keeps_the_best():
    params = DetectParams(confidence=0.0, max_detections=2)
    dets = processing.yolov8_to_detections(_four_separate_boxes(), IDENTITY_640, (640, 640), params)
    assert [d.score for d in dets] == pytest.approx([0.95, 0.75])
    params = DetectParams(confidence=0.0, max_detections=0)
    assert processing.yolov8_to_detections(_four_separate_boxes(), IDENTITY_640, (640, 640), params) == []


def test_params_are_validated():
    with pytest.raises(ValueError):
        DetectParams(confidence=1.5)
    with pytest.raises(ValueError):
        DetectParams(max_detections=-1)


# -- SSD (TF OD API through OpenCV) ----------------------------------------------------------


def test_ssd_rows_map_ids_and_scale_to_the_source():
    rows = np.array(
        [
            [0, 1, 0.9, 0.1, 0.2, 0.5, 0.6],  # person
            [0, 12, 0.95, 0.0, 0.0, 1.0, 1.0],  # id 12 has no COCO-80 class: dropped
            [0, 18, 0.8, 0.5, 0.5, 0.75, 1.0],  # dog
            [0, 90, 0.3, 0.0, 0.0, 0.1, 0.1],  # toothbrush, below the threshold
        ],
        np.float32,
    ).reshape(1, 1, -1, 7)
    dets = processing.ssd_to_detections(rows, (300, 400), DetectParams())
    assert [(d.label, d.class_id) for d in dets] == [("person", 0), ("dog", 16)]
    p, g = dets
    assert (p.x_min, p.y_min, p.x_max, p.y_max) == pytest.approx((40, 60, 200, 180))
    assert (g.x_min, g.y_min, g.x_max, g.y_max) == pytest.approx((200, 150, 300, 300))


def test_ssd_empty_output():
    assert processing.ssd_to_detections(np.zeros((1, 1, 0, 7), np.float32), (300, 400), DetectParams()) == []


# -- Hailo on-chip NMS -----------------------------------------------------------------------


@dataclass
class Box:  # the fields of core.hailo_infer's NmsDetection
    class_id: int
    score: float
    y_min: float
    x_min: float
    y_max: float
    x_max: float


def test_hailo_nms_boxes_map_through_the_letterbox():
    # 1280 wide x 960 high → scale 0.5, 640 x 480 centred: 80 px of padding top and bottom.
    box = Letterbox(scale=0.5, pad_x=0, pad_y=80, src_w=1280, src_h=960)
    nms = [
        Box(0, 0.9, y_min=0.25, x_min=0.125, y_max=0.75, x_max=0.5),  # input (80, 160, 320, 480)
        Box(56, 0.6, y_min=0.5, x_min=0.5, y_max=0.625, x_max=0.625),  # chair, input (320, 320, 400, 400)
        Box(2, 0.2, y_min=0.0, x_min=0.0, y_max=0.1, x_max=0.1),  # below 0.4
    ]
    dets = processing.hailo_nms_to_detections(nms, (640, 640), box, (960, 1280), DetectParams())
    assert [d.label for d in dets] == ["person", "chair"]
    assert (dets[0].x_min, dets[0].y_min, dets[0].x_max, dets[0].y_max) == (160, 160, 640, 800)
    assert (dets[1].x_min, dets[1].y_min, dets[1].x_max, dets[1].y_max) == (640, 480, 800, 640)


def test_hailo_nms_applies_the_requests_iou():
    nms = [Box(0, 0.9, 0.0, 0.0, 0.5, 0.5), Box(0, 0.8, 0.0, 0.1, 0.5, 0.6)]  # IoU 0.667
    lenient = DetectParams(iou_threshold=0.7)
    strict = DetectParams(iou_threshold=0.5)
    assert len(processing.hailo_nms_to_detections(nms, (640, 640), IDENTITY_640, (640, 640), lenient)) == 2
    assert len(processing.hailo_nms_to_detections(nms, (640, 640), IDENTITY_640, (640, 640), strict)) == 1
    assert processing.hailo_nms_to_detections([], (640, 640), IDENTITY_640, (640, 640), strict) == []


# -- catalog ---------------------------------------------------------------------------------


def test_catalog_entries():
    catalog = load_catalog()
    assert {"yolov8s", "yolov8m", "ssd_mobilenet_v2_coco"} <= set(catalog.names())
    for spec in catalog.values():
        assert isinstance(spec, DetectModelSpec)
    ssd = catalog.get("ssd_mobilenet_v2_coco")
    assert ssd is not None and ssd.layout == "ssd_tf" and ssd.artifact("hailo") is None
    assert {a.file.rsplit(".", 1)[1] for a in ssd.artifacts("cpu")} == {"pb", "pbtxt"}
    for name in ("yolov8s", "yolov8m"):
        spec = catalog.get(name)
        assert spec is not None and spec.hailo_layout == "hailo_nms" and spec.layout == "yolov8"
        hef = spec.artifact("hailo")
        assert hef is not None and hef.file.endswith(".hef") and hef.url and hef.url.startswith("https://")
        assert spec.input_size == (640, 640)
    with pytest.raises(ValueError, match="layout"):
        DetectModelSpec(name="x", layout="yolov99")


def test_service_modules_import_no_model_runtime():
    # The API layer imports these on any machine; the runtimes load only with a model.
    code = (
        "import sys\n"
        "import hailo_services.detect.engine, hailo_services.detect.processing\n"
        "import hailo_services.detect.cpu, hailo_services.detect.hailo\n"
        "import hailo_services.pose.engine, hailo_services.pose.processing\n"
        "import hailo_services.pose.cpu, hailo_services.pose.hailo\n"
        "print(sorted(m for m in ('onnxruntime', 'cv2', 'hailo_platform', 'onnx') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_class_aware_nms_keeps_sub_pixel_precision_on_large_images():
    # Two 100x100 boxes of class 79 on an 8000-px image, the second shifted right by dx = 100/3 px:
    # overlap (100 - dx) x 100, IoU exactly 0.5. The class shift (79 x 16001 px) must not blur that.
    dx = 100 / 3
    boxes = np.array([[7000, 7000, 7100, 7100], [7000 + dx, 7000, 7100 + dx, 7100], [0, 0, 8000, 8000]])
    assert yolo.box_iou(boxes[:1], boxes[1:2])[0, 0] == pytest.approx(0.5, abs=1e-6)
    scores = np.array([0.9, 0.8, 0.1], np.float32)
    classes = np.array([79, 79, 0])
    assert yolo.batched_nms(boxes, scores, classes, 0.5 + 1e-4).tolist() == [0, 1, 2]
    assert yolo.batched_nms(boxes, scores, classes, 0.5 - 1e-4).tolist() == [0, 2]

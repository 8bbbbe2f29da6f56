"""hailo-ocr's engine interface, result types and catalog schema.

Engines are blocking, single-request objects driven by the model manager (core/models.py). This
module imports no model runtime; cpu.py and hailo.py import theirs lazily.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..core.catalog import Catalog, ModelSpec
from ..core.models import ModelSlot

CHARSETS = ("onnx_metadata", "en_dict")


@dataclass(frozen=True)
class OcrModelSpec(ModelSpec):
    """An OCR catalog entry: a DB text detector and a CTC recogniser (two files per engine: det, rec).

    ``charset`` / ``hailo_charset``: where the recogniser's characters come from for the CPU file and
    the HEF: ``onnx_metadata`` (the rec ONNX's ``character`` metadata, one character a line, as
    PaddleOCR's exporter writes it) or ``en_dict`` (PaddleOCR's 95-character English dictionary, what
    hailo-apps decodes ``ocr.hef`` with). Either way index 0 is the CTC blank and a space is appended.
    """

    languages: tuple[str, ...] = ("en",)
    hailo_languages: tuple[str, ...] = ("en",)
    charset: str = "onnx_metadata"
    hailo_charset: str = "en_dict"
    det_max_side: int = 960  # CPU: the longer side is scaled down to this (never up), then to multiples of 32
    rec_height: int = 48
    rec_min_width: int = 320  # CPU: a batch is at least this wide (PaddleOCR's rec_image_shape width)
    rec_batch: int = 8
    unclip_ratio: float = 1.6

    def __post_init__(self) -> None:
        for value in (self.charset, self.hailo_charset):
            if value not in CHARSETS:
                raise ValueError(f"model {self.name!r}: unknown charset {value!r} (known: {', '.join(CHARSETS)})")
        if self.det_max_side < 32 or self.rec_height < 8 or self.rec_batch < 1:
            raise ValueError(f"model {self.name!r}: det_max_side >= 32, rec_height >= 8 and rec_batch >= 1")

    def languages_for(self, engine: str) -> tuple[str, ...]:
        return self.hailo_languages if engine == "hailo" else self.languages


class OcrCatalog(Catalog[OcrModelSpec]):
    spec_class = OcrModelSpec


@cache
def load_catalog() -> OcrCatalog:
    return OcrCatalog.load_package("hailo_services.ocr")  # type: ignore[return-value]


@dataclass(frozen=True)
class OcrParams:
    """Thresholds of one request (PaddleOCR's names in brackets).

    ``det_threshold``: a pixel of the detector's probability map is text above it (det_db_thresh).
    ``min_confidence``: a text region is kept when the mean probability inside its box reaches it
    (det_db_box_thresh). ``rec_threshold``: a recognised line is kept when its score reaches it
    (drop_score).
    """

    det_threshold: float = 0.3
    min_confidence: float = 0.5
    rec_threshold: float = 0.5
    max_lines: int = 1000

    def __post_init__(self) -> None:
        for name in ("det_threshold", "min_confidence", "rec_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.max_lines < 1:
            raise ValueError("max_lines must be at least 1")


@dataclass(frozen=True)
class TextLine:
    """One recognised line: ``box`` is (4, 2) float32, clockwise from the top-left of the text, in
    source-image pixels; ``confidence`` the recogniser's mean character score; ``det_score`` the
    detector's mean probability inside the box."""

    text: str
    confidence: float
    box: np.ndarray
    det_score: float


@dataclass(frozen=True)
class OcrResult:
    lines: list[TextLine]  # reading order
    text: str  # lines joined: a space between boxes of one row, a newline between rows
    detection_s: float
    recognition_s: float


class OcrEngine(ModelSlot, ABC):
    """A single-model engine; ModelSlot (core/models.py) gives it ``loaded``, ``unload`` and ``held``."""

    kind: str = ""

    @abstractmethod
    def load(self, spec: OcrModelSpec, paths: list[Path]) -> None:
        """``paths``: the detector file, then the recogniser file."""

    @abstractmethod
    def read(self, rgb: np.ndarray, params: OcrParams) -> OcrResult:
        """The text in ``rgb`` (H x W x 3 uint8, RGB)."""

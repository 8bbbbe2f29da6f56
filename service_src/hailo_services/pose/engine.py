"""hailo-pose's engine interface, result types and catalog schema.

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


@dataclass(frozen=True)
class PoseModelSpec(ModelSpec):
    """A pose catalog entry: a YOLOv8-pose network (HEF and/or ONNX).

    ``score_logits``: whether the raw head's person-score channel is a logit (True), already a
    probability (False: HEFs usually apply the sigmoid on-chip), or unknown (None: decided per
    image from the values). Only the raw-head decoder uses it; the ONNX export is always decoded.
    """

    input_size: tuple[int, int] = (640, 640)  # (height, width)
    strides: tuple[int, ...] = (8, 16, 32)
    reg_bins: int = 16  # DFL bins per box side (ultralytics reg_max; hailo-apps' regression_length + 1)
    num_keypoints: int = 17
    score_logits: bool | None = None

    def __post_init__(self) -> None:
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"model {self.name!r}: input_size must be [height, width]")
        object.__setattr__(self, "input_size", (int(self.input_size[0]), int(self.input_size[1])))
        object.__setattr__(self, "strides", tuple(int(s) for s in self.strides))


class PoseCatalog(Catalog[PoseModelSpec]):
    spec_class = PoseModelSpec


@cache
def load_catalog() -> PoseCatalog:
    return PoseCatalog.load_package("hailo_services.pose")  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class Person:
    """One person: box and keypoints in source-image pixels. ``keypoints`` is (17, 3) float32 rows of
    (x, y, score) in COCO order (pose.processing.KEYPOINT_NAMES)."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    keypoints: np.ndarray

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)


@dataclass(frozen=True)
class PoseParams:
    confidence: float = 0.5
    iou_threshold: float = 0.45
    max_detections: int = 10
    # Keypoints below it are reported with their score but are not "visible" (skeleton, drawing).
    keypoint_threshold: float = 0.3

    def __post_init__(self) -> None:
        for name in ("confidence", "iou_threshold", "keypoint_threshold"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.max_detections < 0:
            raise ValueError("max_detections must not be negative")


class PoseEngine(ModelSlot, ABC):
    """A single-model engine; ModelSlot (core/models.py) gives it ``loaded``, ``unload`` and ``held``."""

    kind: str = ""

    @abstractmethod
    def load(self, spec: PoseModelSpec, paths: list[Path]) -> None: ...

    @abstractmethod
    def detect(self, rgb: np.ndarray, params: PoseParams) -> list[Person]:
        """People in ``rgb`` (H x W x 3 uint8, RGB), best score first."""

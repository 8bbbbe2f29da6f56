"""hailo-detect's engine interface, result types and catalog schema.

Engines are blocking, single-request objects: the model manager (core/models.py) calls ``load`` /
``unload`` and runs ``detect`` in a worker thread, one request at a time per model. This module
imports no model runtime (onnxruntime, OpenCV, HailoRT), so the API layer and tests can use it on
any machine; cpu.py and hailo.py import theirs lazily.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..core.catalog import Catalog, ModelSpec
from ..core.models import ModelSlot

LAYOUTS = ("yolov8", "ssd_tf", "hailo_nms")


@dataclass(frozen=True)
class DetectModelSpec(ModelSpec):
    """A detect catalog entry. ``layout`` says how the network's output is decoded:

    - ``yolov8``: ultralytics ONNX export, one output [1, 4 + classes, anchors];
    - ``ssd_tf``: TF Object Detection API graph run by OpenCV DNN, [1, 1, N, 7];
    - ``hailo_nms``: a HEF whose outputs end in HailoRT's on-chip NMS (NMS_BY_CLASS).

    One entry can run on both engines (a HEF and an ONNX of the same network); ``layout`` then
    describes its CPU file and ``hailo_layout`` the HEF.
    """

    input_size: tuple[int, int] = (640, 640)  # (height, width) the network takes
    layout: str = "yolov8"
    hailo_layout: str = "hailo_nms"
    labels: str = "coco80"
    num_classes: int = 80

    def __post_init__(self) -> None:
        for value in (self.layout, self.hailo_layout):
            if value not in LAYOUTS:
                raise ValueError(f"model {self.name!r}: unknown layout {value!r} (known: {', '.join(LAYOUTS)})")
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"model {self.name!r}: input_size must be [height, width]")
        object.__setattr__(self, "input_size", (int(self.input_size[0]), int(self.input_size[1])))


class DetectCatalog(Catalog[DetectModelSpec]):
    spec_class = DetectModelSpec


@cache
def load_catalog() -> DetectCatalog:
    return DetectCatalog.load_package("hailo_services.detect")  # type: ignore[return-value]


@dataclass(frozen=True)
class Detection:
    """One object. ``class_id`` is the COCO-80 index; coordinates are source-image pixels."""

    class_id: int
    label: str
    score: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        return self.y_max - self.y_min


@dataclass(frozen=True)
class DetectParams:
    confidence: float = 0.4
    iou_threshold: float = 0.45
    max_detections: int = 100
    classes: frozenset[int] | None = None  # None = every class

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError("confidence must be between 0 and 1")
        if not 0.0 <= self.iou_threshold <= 1.0:
            raise ValueError("iou_threshold must be between 0 and 1")
        if self.max_detections < 0:
            raise ValueError("max_detections must not be negative")


class DetectEngine(ModelSlot, ABC):
    """A single-model engine; ModelSlot (core/models.py) gives it ``loaded``, ``unload`` and ``held``."""

    kind: str = ""

    @abstractmethod
    def load(self, spec: DetectModelSpec, paths: list[Path]) -> None: ...

    @abstractmethod
    def detect(self, rgb: np.ndarray, params: DetectParams) -> list[Detection]:
        """Objects in ``rgb`` (H x W x 3 uint8, RGB), best score first."""

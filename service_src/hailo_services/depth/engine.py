"""hailo-depth's engine interface, result type and catalog schema.

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
from .processing import QUANTITIES, Quantity


@dataclass(frozen=True)
class DepthModelSpec(ModelSpec):
    """A depth catalog entry (fields explained in depth/catalog.yaml)."""

    input_size: tuple[int, int] = (256, 320)  # (height, width)
    output: str = "scdepthv3"  # the post-processing: a key of processing.QUANTITIES
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (255.0, 255.0, 255.0)
    onnx_member: str | None = None

    def __post_init__(self) -> None:
        if len(self.input_size) != 2 or min(self.input_size) <= 0:
            raise ValueError(f"model {self.name!r}: input_size must be [height, width]")
        object.__setattr__(self, "input_size", (int(self.input_size[0]), int(self.input_size[1])))
        if self.output not in QUANTITIES:
            raise ValueError(f"model {self.name!r}: output must be one of {sorted(QUANTITIES)}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"model {self.name!r}: mean and std need 3 values, std > 0")
        object.__setattr__(self, "mean", tuple(float(v) for v in self.mean))
        object.__setattr__(self, "std", tuple(float(v) for v in self.std))

    @property
    def quantity(self) -> Quantity:
        return QUANTITIES[self.output]


class DepthCatalog(Catalog[DepthModelSpec]):
    spec_class = DepthModelSpec


@cache
def load_catalog() -> DepthCatalog:
    return DepthCatalog.load_package("hailo_services.depth")  # type: ignore[return-value]


@dataclass(frozen=True, eq=False)
class DepthMap:
    """One estimate: ``values`` (H x W float32, the source image's size) of ``quantity``."""

    values: np.ndarray
    quantity: Quantity
    network_size: tuple[int, int]  # (height, width) the network saw


class DepthEngine(ModelSlot, ABC):
    """A single-model engine; ModelSlot (core/models.py) gives it ``loaded``, ``unload`` and ``held``."""

    kind: str = ""

    @abstractmethod
    def load(self, spec: DepthModelSpec, paths: list[Path]) -> None: ...

    @abstractmethod
    def estimate(self, rgb: np.ndarray) -> DepthMap:
        """The depth map of ``rgb`` (H x W x 3 uint8, RGB) at its own size."""

"""hailo-detect's settings (``/etc/hailo/hailo-detect.yaml``; env ``HAILO_DETECT_<KEY>``).

The keys every service has (host, port, limits, model, keep_alive, ...) are in core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..core.catalog import Catalog
from ..core.settings import ImageInputSettings, ServiceSettings
from .engine import load_catalog


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-detect"

    images: ImageInputSettings = Field(default_factory=ImageInputSettings)
    # DeepStack's default when a client sends no min_confidence (Frigate never does; it filters itself).
    min_confidence: float = Field(default=0.4, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.45, ge=0.0, le=1.0, description="NMS overlap above which a box is dropped")

    @classmethod
    def catalog(cls) -> Catalog:
        return load_catalog()

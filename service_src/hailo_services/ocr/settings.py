"""hailo-ocr's settings (``/etc/hailo/hailo-ocr.yaml``; env ``HAILO_OCR_<KEY>``).

The keys every service has (host, port, limits, model, keep_alive, ...) are in core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..core.catalog import Catalog
from ..core.settings import ImageInputSettings, ServiceSettings
from .engine import load_catalog


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-ocr"

    images: ImageInputSettings = Field(default_factory=ImageInputSettings)

    @classmethod
    def catalog(cls) -> Catalog:
        return load_catalog()

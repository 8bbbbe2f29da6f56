"""hailo-depth's settings (``/etc/hailo/hailo-depth.yaml``; env ``HAILO_DEPTH_<KEY>``).

The keys every service has (host, port, limits, model, keep_alive, ...) are in core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..core.catalog import Catalog
from ..core.settings import ImageInputSettings, ServiceSettings
from .engine import load_catalog


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-depth"

    images: ImageInputSettings = Field(default_factory=ImageInputSettings)

    @classmethod
    def catalog(cls) -> Catalog:
        return load_catalog()

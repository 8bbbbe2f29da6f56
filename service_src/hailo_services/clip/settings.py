"""hailo-clip's settings (``/etc/hailo/hailo-clip.yaml``; env ``HAILO_CLIP_<KEY>``).

The keys every service has (host, port, limits, model, keep_alive, ...) are in core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..core.catalog import Catalog
from ..core.settings import ImageInputSettings, ServiceSettings
from .engine import load_catalog


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-clip"

    images: ImageInputSettings = Field(default_factory=ImageInputSettings)
    # Per request. Images cost the most (decoding, and one encoder pass each); texts are cheap.
    max_inputs: int = Field(default=256, ge=1, le=2048, description="texts and images in one /v1/embeddings request")
    max_images: int = Field(default=16, ge=1, le=256, description="images in one request (embeddings, search)")
    max_labels: int = Field(default=256, ge=1, le=2048, description="labels/prompts of one /v1/classify")
    # What /v1/classify ranks when a request names no labels (a camera snapshot from an automation).
    default_labels: list[str] = Field(
        default_factory=lambda: [
            *("person", "cat", "dog", "bird", "car", "truck", "bicycle", "motorcycle", "package", "delivery van"),
            *("empty street", "empty room", "garden", "kitchen", "living room", "night sky"),
        ],
        min_length=1,
        max_length=2048,
    )

    @classmethod
    def catalog(cls) -> Catalog:
        return load_catalog()

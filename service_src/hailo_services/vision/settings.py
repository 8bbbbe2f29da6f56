"""hailo-vision's settings (``/etc/hailo/hailo-vision.yaml``; env ``HAILO_VISION_<KEY>``): hailo-ollama's
(the same chat APIs) plus image input."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..core.catalog import Catalog
from ..core.settings import ImageInputSettings
from ..ollama.settings import Settings as LLMSettings
from .catalog import catalog


class Settings(LLMSettings):
    service_name: ClassVar[str] = "hailo-vision"

    # As hailo-ollama's, said here because images spend it: a 336x336 frame is 144 tokens.
    num_ctx: int = Field(default=2048, ge=256, le=131072, description="context length (a frame is 144 tokens)")
    images: ImageInputSettings = Field(default_factory=ImageInputSettings)
    # Each image costs ~150 tokens of a 2048-token context and a vision-encoder pass: more than this in
    # one request is a 413 naming the limit.
    max_images: int = Field(default=8, ge=1, le=64, description="most images in one request")
    # A VLM's prompt is mostly image tokens; one slot keeps a Pi's CPU on one request at a time.
    num_parallel: int = Field(default=1, ge=1, le=8, description="requests generated at once (CPU engine)")

    @classmethod
    def catalog(cls) -> Catalog:
        return catalog()

"""hailo-piper's settings (``/etc/hailo/hailo-piper.yaml``; env ``HAILO_PIPER_<KEY>``).

The keys every service has (host, port, limits, model = the default voice, keep_alive, ...) are in
core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..core.catalog import Catalog
from ..core.settings import ServiceSettings, WyomingSettings
from .engine import load_catalog

WYOMING_PORT = 10200  # wyoming-piper's port, where Home Assistant users look for text to speech


class SpeechSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # OpenAI's limit for /v1/audio/speech; a Pi speaks it in about a minute.
    max_input_chars: int = Field(default=4096, ge=1, le=100_000, description="longest input text (413 past it)")
    # Piper's sampling noise; null = the voice's own (its .onnx.json). 0 makes the same text sound the same.
    noise_scale: float | None = Field(default=None, ge=0.0, le=2.0)
    noise_w_scale: float | None = Field(default=None, ge=0.0, le=2.0)


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-piper"

    max_body_bytes: int = Field(default=1024 * 1024, gt=0)
    speech: SpeechSettings = Field(default_factory=SpeechSettings)
    wyoming: WyomingSettings = Field(default_factory=WyomingSettings)

    @classmethod
    def catalog(cls) -> Catalog:
        return load_catalog()

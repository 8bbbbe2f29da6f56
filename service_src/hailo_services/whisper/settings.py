"""hailo-whisper's settings (``/etc/hailo/hailo-whisper.yaml``; env ``HAILO_WHISPER_<KEY>``).

The keys every service has (host, port, limits, model, keep_alive, ...) are in core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from ..core.catalog import Catalog
from ..core.settings import AudioInputSettings, ServiceSettings, WyomingSettings
from .engine import load_catalog

WYOMING_PORT = 10300  # wyoming-faster-whisper's port, where Home Assistant users look for speech to text


class TranscriptionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    language: str | None = Field(default=None, description="language when a request names none; null = detect")
    # Silero VAD (in faster-whisper) drops the silence before decoding: long recordings get faster and
    # Whisper stops hallucinating into pauses. The Hailo engine skips silent windows instead.
    vad_filter: bool = True
    beam_size: int = Field(default=1, ge=1, le=10, description="CPU engine beam size (1 = greedy, fastest)")


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-whisper"

    # OpenAI's own upload limit for its audio API.
    max_body_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    audio: AudioInputSettings = Field(default_factory=AudioInputSettings)
    transcription: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    wyoming: WyomingSettings = Field(default_factory=WyomingSettings)

    @classmethod
    def catalog(cls) -> Catalog:
        return load_catalog()

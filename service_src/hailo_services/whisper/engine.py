"""hailo-whisper's engine interface, result types and catalog schema.

Engines are blocking, single-request objects driven by the model manager (core/models.py); they take
16 kHz mono float32 audio (core/audio.py decodes everything to that) and return segments with times.
This module imports no model runtime; cpu.py and hailo.py import theirs lazily.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np

from ..core.catalog import Catalog, ModelSpec
from ..core.models import ModelSlot

SAMPLE_RATE = 16000  # every Whisper model, and HailoRT's Speech2Text input
Task = Literal["transcribe", "translate"]
# An engine emits each segment as soon as it has it (SSE deltas, Wyoming transcript chunks); True back
# means the consumer has gone.
EmitSegment = Callable[["Segment"], bool]


@dataclass(frozen=True)
class WhisperModelSpec(ModelSpec):
    """A Whisper catalog entry. ``languages``: what the model can hear (ISO 639-1); an English-only
    model (``.en``) lists just ``en`` and cannot translate (its output is English already).
    ``window_s``: the audio one engine call takes (the Hailo engine cuts longer audio into windows)."""

    languages: tuple[str, ...] = ("en",)
    english_only: bool = False
    window_s: float = 30.0
    attribution: str = "OpenAI Whisper"
    attribution_url: str = "https://github.com/openai/whisper"

    def __post_init__(self) -> None:
        object.__setattr__(self, "languages", tuple(str(x) for x in self.languages))
        if self.window_s <= 0:
            raise ValueError(f"model {self.name!r}: window_s must be positive")


class WhisperCatalog(Catalog[WhisperModelSpec]):
    spec_class = WhisperModelSpec


@cache
def load_catalog() -> WhisperCatalog:
    return WhisperCatalog.load_package("hailo_services.whisper")  # type: ignore[return-value]


@dataclass(frozen=True)
class Word:
    start: float
    end: float
    word: str
    probability: float | None = None


@dataclass(frozen=True)
class Segment:
    """One stretch of speech, times in seconds from the start of the audio."""

    id: int
    start: float
    end: float
    text: str
    tokens: tuple[int, ...] = ()
    avg_logprob: float | None = None
    compression_ratio: float | None = None
    no_speech_prob: float | None = None
    temperature: float | None = None
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class TranscribeOptions:
    task: Task = "transcribe"
    language: str | None = None  # ISO 639-1; None = detect
    prompt: str | None = None
    temperature: float = 0.0
    word_timestamps: bool = False
    vad_filter: bool = True
    beam_size: int = 1


@dataclass
class Transcription:
    language: str
    duration: float
    segments: list[Segment] = field(default_factory=list)
    language_probability: float | None = None

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments).strip()


class WhisperEngine(ModelSlot, ABC):
    """A single-model engine; ModelSlot (core/models.py) gives it ``loaded``, ``unload`` and ``held``."""

    kind: str = ""
    streams_segments: bool = True  # emits segments as it decodes (Wyoming's transcript streaming)

    @abstractmethod
    def load(self, spec: WhisperModelSpec, paths: list[Path]) -> None: ...

    @abstractmethod
    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, emit: EmitSegment | None = None
    ) -> Transcription:
        """Segments of ``audio`` (16 kHz mono float32), each emitted as soon as it is decoded."""

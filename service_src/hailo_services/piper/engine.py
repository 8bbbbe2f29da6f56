"""hailo-piper's engine interface and catalog schema: one catalog entry is one Piper voice (a VITS ONNX
and its ``.onnx.json``). The engine speaks text sentence by sentence, emitting each sentence's audio as
soon as it exists, which is what lets the HTTP and Wyoming servers stream."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ..core.catalog import Catalog, ModelSpec
from ..core.models import ModelSlot

# An engine emits each sentence's samples (float32 mono at the voice's rate); True back: the consumer left.
EmitAudio = Callable[[np.ndarray], bool]


@dataclass(frozen=True)
class VoiceSpec(ModelSpec):
    """A Piper voice. ``language``: Piper's code (en_US); ``quality``: x_low / low / medium / high."""

    language: str = "en_US"
    quality: str = "medium"
    speaker: str = ""
    attribution: str = "Piper (Open Home Foundation)"
    attribution_url: str = "https://github.com/OHF-Voice/piper1-gpl"


class VoiceCatalog(Catalog[VoiceSpec]):
    spec_class = VoiceSpec


@cache
def load_catalog() -> VoiceCatalog:
    return VoiceCatalog.load_package("hailo_services.piper")  # type: ignore[return-value]


@dataclass(frozen=True)
class SpeechOptions:
    speed: float = 1.0  # OpenAI's speed, 0.25..4: Piper's length_scale is divided by it
    noise_scale: float | None = None  # None: the voice's own (its .onnx.json)
    noise_w_scale: float | None = None
    speaker_id: int | None = None


@dataclass
class SpeechResult:
    sample_rate: int
    samples: int = 0  # emitted in all
    sentences: int = 0

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate if self.sample_rate else 0.0


class TtsEngine(ModelSlot, ABC):
    kind: str = ""

    @abstractmethod
    def load(self, spec: VoiceSpec, paths: list[Path]) -> None: ...

    @property
    @abstractmethod
    def sample_rate(self) -> int: ...

    @abstractmethod
    def speak(self, text: str, options: SpeechOptions, emit: EmitAudio) -> SpeechResult:
        """Synthesise ``text``, emitting each sentence's audio as it is made."""

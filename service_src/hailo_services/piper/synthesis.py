"""One synthesis, the same for the HTTP and Wyoming servers: the request's text checked (empty 400,
over the limit 413), the voice resolved (OpenAI's voice and model names mean the default voice; an
unknown one is a 404), and the engine's sentences streamed out of the model manager."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import numpy as np

from ..core.errors import BadRequest, NotFound, PayloadTooLarge
from ..core.models import ModelManager
from .engine import SpeechOptions, SpeechResult
from .settings import Settings

# What OpenAI's clients send (Home Assistant's OpenAI TTS, the SDK's examples): the service's default voice.
OPENAI_VOICES = frozenset(
    {"alloy", "ash", "ballad", "coral", "echo", "fable", "nova", "onyx", "sage", "shimmer", "verse", "marin", "cedar"}
)
OPENAI_MODELS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-tts"})


# Control characters say nothing, and a NUL stops espeak-ng's phonemizer ("embedded null character").
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def check_text(text: str, settings: Settings) -> str:
    """The text to speak, control characters made spaces; 413 past the limit, 400 when nothing is left."""
    text = _CONTROL.sub(" ", text)
    limit = settings.speech.max_input_chars
    if len(text) > limit:
        raise PayloadTooLarge(
            f"input is {len(text)} characters, over the limit of {limit} (speech.max_input_chars)",
            code="input_too_long",
        )
    if not text.strip():
        raise BadRequest("input is empty: there is nothing to say", code="empty_input")
    return text


def resolve_voice(manager: ModelManager, voice: str | None, model: str | None = None) -> str | None:
    """The catalog voice to speak with (None = the default): ``voice`` if it is ours, else ``model`` if
    that is; OpenAI's own names fall back to the default; anything else is a 404."""
    for name, builtin in ((voice, OPENAI_VOICES), (model, OPENAI_MODELS)):
        if name is None or not name.strip() or name.strip().lower() in builtin:
            continue
        if manager.catalog.resolve(name) is None:
            raise NotFound(f"voice '{name}' not found; GET /v1/voices lists them", code="voice_not_found")
        return manager.spec(name).name
    return None


async def speak(
    manager: ModelManager,
    voice: str | None,
    text: str,
    options: SpeechOptions,
    *,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[Any]:
    """Yield ``(sample_rate, samples)`` per sentence, then ``Finished(SpeechResult)`` (core.models.stream)."""

    def produce(engine: Any, emit: Callable[[Any], bool]) -> SpeechResult:
        rate = engine.sample_rate
        return engine.speak(text, options, lambda audio: emit((rate, audio)))

    async for item in manager.stream(voice, produce, disconnected=disconnected):
        yield item


_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+")  # also the CJK full stop, ! and ?


class SentenceBuffer:
    """Text that arrives in pieces (Wyoming's synthesize-chunk, an LLM's tokens), handed out a sentence
    at a time so speech can start before the text is complete."""

    def __init__(self) -> None:
        self._text = ""

    def add(self, piece: str) -> list[str]:
        self._text += piece
        parts = _SENTENCE_END.split(self._text)
        self._text = parts.pop()
        return [p for p in parts if p.strip()]

    def rest(self) -> str:
        text, self._text = self._text, ""
        return text if text.strip() else ""


def silence(rate: int, seconds: float) -> np.ndarray:
    return np.zeros(int(rate * seconds), np.float32)

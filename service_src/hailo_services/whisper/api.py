"""hailo-whisper's HTTP API, OpenAI's audio API: ``POST /v1/audio/transcriptions`` and
``/v1/audio/translations`` (json, text, srt, vtt, verbose_json with segments and words; SSE with
``stream=true``) and ``GET /v1/models`` (core/model_routes.py). The audio comes as multipart ``file``
(what the openai clients send), a raw ``audio/*`` body or JSON base64 (core/audio.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..core.audio import audio_request_openapi, read_audio_request
from ..core.deps import ManagerDep, SettingsDep
from ..core.errors import ServiceError
from ..core.streaming import Finished, prime, with_first
from . import formats, processing
from .engine import SAMPLE_RATE, Segment, TranscribeOptions, Transcription
from .settings import Settings

router = APIRouter(tags=["audio"])

ResponseFormat = Literal["json", "text", "srt", "verbose_json", "vtt"]
# Model names OpenAI clients send (Home Assistant's, LangChain's defaults): the service's default model.
OPENAI_MODEL_NAMES = frozenset({"whisper-1", "gpt-4o-transcribe", "gpt-4o-mini-transcribe"})
LIST_FIELDS = ("timestamp_granularities", "include")


class _Common(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None, max_length=200, description="catalog model; whisper-1 (or none) = the service's default"
    )
    prompt: str | None = Field(
        default=None, max_length=4000, description="text that the speech continues (names, terms)"
    )
    response_format: ResponseFormat = "json"
    temperature: float = Field(default=0.0, ge=0.0, le=1.0)


class TranscriptionForm(_Common):
    """The fields of OpenAI's ``POST /v1/audio/transcriptions``."""

    language: str | None = Field(default=None, max_length=32, description="ISO 639-1 code; none = detect")
    timestamp_granularities: list[Literal["word", "segment"]] = Field(
        default_factory=list, max_length=2, description="verbose_json: segment (default) and/or word times"
    )
    stream: bool = Field(default=False, description="SSE events transcript.text.delta / transcript.text.done")
    include: list[str] = Field(default_factory=list, max_length=8, description="accepted for OpenAI's clients; ignored")
    chunking_strategy: str | None = Field(default=None, max_length=200, description="accepted; ignored (VAD is on)")


class TranslationForm(_Common):
    """The fields of OpenAI's ``POST /v1/audio/translations`` (speech in any language -> English text)."""


def _model(name: str | None) -> str | None:
    return None if name is None or not name.strip() or name in OPENAI_MODEL_NAMES else name


def _options(settings: Settings, form: _Common, task: str, language: str | None, words: bool) -> TranscribeOptions:
    return TranscribeOptions(
        task=task,  # type: ignore[arg-type]
        language=language if language is not None else settings.transcription.language,
        prompt=form.prompt,
        temperature=form.temperature,
        word_timestamps=words,
        vad_filter=settings.transcription.vad_filter,
        beam_size=settings.transcription.beam_size,
    )


@router.post(
    "/v1/audio/transcriptions",
    openapi_extra=audio_request_openapi(TranscriptionForm),
    summary="Transcribe speech (OpenAI's audio API)",
)
async def transcriptions(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    audio, form = await read_audio_request(
        request, TranscriptionForm, settings.audio, rate=SAMPLE_RATE, list_fields=LIST_FIELDS
    )
    granularities = list(dict.fromkeys(form.timestamp_granularities))
    words = form.response_format == "verbose_json" and "word" in granularities
    options = _options(settings, form, "transcribe", form.language, words)
    if form.stream:
        return await _stream(request, manager, _model(form.model), audio.samples, options)
    return await _transcribe(request, manager, form, audio.samples, options, granularities)


@router.post(
    "/v1/audio/translations",
    openapi_extra=audio_request_openapi(TranslationForm),
    summary="Translate speech into English text (OpenAI's audio API)",
)
async def translations(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    audio, form = await read_audio_request(request, TranslationForm, settings.audio, rate=SAMPLE_RATE)
    options = _options(settings, form, "translate", None, False)
    return await _transcribe(request, manager, form, audio.samples, options, ["segment"])


async def _transcribe(
    request: Request, manager: ManagerDep, form: _Common, samples, options: TranscribeOptions, granularities
) -> Response:
    _, result, _ = await manager.run_timed(
        _model(form.model),
        lambda engine: processing.transcribe(engine, samples, options),
        disconnected=request.is_disconnected,
    )
    return formats.render(result, form.response_format, options.task, granularities)


async def _stream(request: Request, manager: ManagerDep, model: str | None, samples, options) -> Response:
    stream = manager.stream(
        model,
        lambda engine, emit: processing.transcribe(engine, samples, options, emit),
        disconnected=request.is_disconnected,
    )
    first, exhausted = await prime(stream)  # a 404 / 400 / 503 before the first event keeps its status

    def on_error(exc: Exception) -> bytes:
        if isinstance(exc, ServiceError):
            return formats.error_event(exc.message, exc.code)
        return formats.error_event(f"transcription failed: {exc}")

    async def events() -> AsyncIterator[bytes]:
        started = False
        async for item in with_first(first, exhausted, stream, on_error):
            if isinstance(item, bytes):  # an error after the stream began
                yield item
            elif isinstance(item, Finished):
                result: Transcription = item.result
                yield formats.done_event(result.text)
            elif isinstance(item, Segment):
                text = item.text if started else item.text.lstrip()
                started = started or bool(text)
                if text:
                    yield formats.delta_event(text)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )

"""hailo-piper's HTTP API: OpenAI's ``POST /v1/audio/speech`` (streamed as it is synthesised: each
sentence's audio is sent, encoded, as soon as Piper has made it) and ``GET /v1/voices`` /
``/v1/audio/voices`` (the catalog's voices: installed or not, language, sample rate)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from ..core.audio_encode import StreamEncoder
from ..core.deps import ManagerDep, SettingsDep
from ..core.request_body import json_body_openapi, parse_json
from ..core.streaming import Finished, prime, with_first
from .engine import SpeechOptions, SpeechResult
from .synthesis import check_text, resolve_voice, speak

log = logging.getLogger(__name__)
router = APIRouter(tags=["audio"])

AudioFormat = Literal["mp3", "opus", "aac", "flac", "wav", "pcm"]


class SpeechRequest(BaseModel):
    """OpenAI's ``POST /v1/audio/speech`` body."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"model": "tts-1", "input": "Turn on the kitchen lights.", "voice": "alloy", "response_format": "wav"}
            ]
        },
    )

    model: str | None = Field(
        default=None, max_length=200, description="tts-1 (or none) = the default voice, or a voice"
    )
    input: str = Field(description="the text to speak (at most speech.max_input_chars, 4096 by default)")
    voice: str | None = Field(
        default=None, max_length=200, description="a voice of GET /v1/voices; OpenAI's names (alloy...) = the default"
    )
    response_format: AudioFormat = Field(default="mp3", description="pcm is 24 kHz 16-bit mono, as OpenAI's")
    speed: float = Field(default=1.0, ge=0.25, le=4.0, description="speaking rate (Piper's length scale / speed)")
    instructions: str | None = Field(
        default=None, max_length=4096, description="accepted for OpenAI's clients; ignored"
    )
    stream_format: Literal["audio", "sse"] = Field(default="audio", description="sse: speech.audio.delta events")


class _Failed:
    def __init__(self, exc: Exception):
        self.exc = exc


@router.post("/v1/audio/speech", openapi_extra=json_body_openapi(SpeechRequest), summary="Speak text (OpenAI's API)")
async def speech(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    body = await parse_json(request, SpeechRequest)
    text = check_text(body.input, settings)
    voice = resolve_voice(manager, body.voice, body.model)
    options = SpeechOptions(
        speed=body.speed, noise_scale=settings.speech.noise_scale, noise_w_scale=settings.speech.noise_w_scale
    )
    stream = speak(manager, voice, text, options, disconnected=request.is_disconnected)
    first, exhausted = await prime(stream)  # 404 / 503 / 400 before any audio keep their status
    rate = first.result.sample_rate if isinstance(first, Finished) else first[0]
    encoder = StreamEncoder(body.response_format, rate)
    sse = body.stream_format == "sse"

    def wrap(data: bytes) -> bytes:
        if not sse or not data:
            return data
        event = {"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()}
        return b"data: " + json.dumps(event).encode() + b"\n\n"

    async def audio() -> AsyncIterator[bytes]:
        try:
            async for item in with_first(first, exhausted, stream, _Failed):
                if isinstance(item, _Failed):
                    # Headers and audio are out: all that can say "failed" now is ending the stream unfinished.
                    log.error("synthesis failed mid-stream: %s", item.exc)
                    raise item.exc
                if isinstance(item, Finished):
                    result: SpeechResult = item.result
                    yield wrap(await asyncio.to_thread(encoder.finish))
                    if sse:
                        done = {"type": "speech.audio.done", "seconds": round(result.seconds, 3)}
                        yield b"data: " + json.dumps(done).encode() + b"\n\n"
                    return
                _, samples = item
                data = await asyncio.to_thread(encoder.encode, samples)  # MP3/AAC/Opus: off the event loop
                if data:
                    yield wrap(data)
        finally:
            encoder.close()

    media = "text/event-stream" if sse else encoder.media_type
    headers = {"X-Sample-Rate": str(encoder.output_rate), "Cache-Control": "no-cache"}
    return StreamingResponse(audio(), media_type=media, headers=headers)


def _sample_rate(paths: list[Path] | None) -> int | None:
    config = next((p for p in paths or () if p.name.endswith(".onnx.json")), None)
    if config is None:
        return None
    try:
        return int(json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def voices(manager: Any) -> list[dict[str, Any]]:
    out = []
    for spec in manager.catalog.values():
        if not spec.artifacts(manager.engine_kind):
            continue
        paths = manager.paths_of(spec)
        out.append(
            {
                "id": spec.name,
                "name": spec.name,
                "language": spec.language,
                "quality": spec.quality,
                "sample_rate": _sample_rate(paths),
                "description": spec.description,
                "installed": paths is not None,
                "default": spec.name == manager.default_model,
                "aliases": list(spec.aliases),
            }
        )
    return out


@router.get("/v1/voices", summary="The voices: installed or not, language, sample rate")
async def list_voices(manager: ManagerDep) -> dict[str, Any]:
    return {"voices": voices(manager)}


@router.get("/v1/audio/voices", summary="The voices (speaches' path for the same list)")
async def list_audio_voices(manager: ManagerDep) -> dict[str, Any]:
    return {"voices": voices(manager)}

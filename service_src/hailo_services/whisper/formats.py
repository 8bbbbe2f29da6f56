"""OpenAI's transcription response formats: json, text, srt, vtt and verbose_json (with segments and,
when asked, words), and the SSE events of ``stream=true`` (``transcript.text.delta`` / ``.done``)."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi.responses import JSONResponse, PlainTextResponse, Response

from .engine import Segment, Transcription
from .processing import language_name


def _clock(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def srt(segments: list[Segment]) -> str:
    blocks = [
        f"{i}\n{_clock(s.start, ',')} --> {_clock(s.end, ',')}\n{s.text.strip()}\n"
        for i, s in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def vtt(segments: list[Segment]) -> str:
    blocks = [f"{_clock(s.start, '.')} --> {_clock(s.end, '.')}\n{s.text.strip()}\n" for s in segments]
    return "WEBVTT\n\n" + "\n".join(blocks)


def _usage(result: Transcription) -> dict[str, Any]:
    # OpenAI bills whisper-1 by the second and reports it so (usage.type "duration").
    return {"type": "duration", "seconds": math.ceil(result.duration)}


def segment_json(s: Segment) -> dict[str, Any]:
    return {
        "id": s.id,
        "seek": round(s.start * 100),  # Whisper's seek: the segment's start in 10 ms frames
        "start": round(s.start, 3),
        "end": round(s.end, 3),
        "text": s.text,
        "tokens": list(s.tokens),
        "temperature": s.temperature,
        "avg_logprob": s.avg_logprob,
        "compression_ratio": s.compression_ratio,
        "no_speech_prob": s.no_speech_prob,
    }


def verbose_json(result: Transcription, task: str, granularities: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": task,
        "language": language_name(result.language),
        "duration": round(result.duration, 3),
        "text": result.text,
    }
    if "segment" in granularities or not granularities:
        body["segments"] = [segment_json(s) for s in result.segments]
    if "word" in granularities:
        body["words"] = [
            {"word": w.word.strip(), "start": round(w.start, 3), "end": round(w.end, 3)}
            for s in result.segments
            for w in s.words
        ]
    body["usage"] = _usage(result)
    return body


def render(result: Transcription, response_format: str, task: str, granularities: list[str]) -> Response:
    if response_format == "text":
        return PlainTextResponse(result.text + "\n")
    if response_format == "srt":
        return PlainTextResponse(srt(result.segments), media_type="application/x-subrip")
    if response_format == "vtt":
        return PlainTextResponse(vtt(result.segments), media_type="text/vtt")
    if response_format == "verbose_json":
        return JSONResponse(verbose_json(result, task, granularities))
    return JSONResponse({"text": result.text, "usage": _usage(result)})


def sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n"


def delta_event(text: str) -> bytes:
    return sse({"type": "transcript.text.delta", "delta": text})


def done_event(text: str) -> bytes:
    return sse({"type": "transcript.text.done", "text": text})


def error_event(message: str, code: str | None = None) -> bytes:
    # The openai client raises an APIError for an SSE message that carries "error".
    return sse({"type": "error", "error": {"message": message, "type": "server_error", "code": code}})

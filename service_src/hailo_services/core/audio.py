"""Audio input, the same way in every speech service.

Three request shapes reach :func:`read_audio_request`:

- ``multipart/form-data`` (OpenAI's audio API): the file in field ``file``, the other form fields are
  the parameters (``timestamp_granularities[]`` may repeat);
- a raw ``audio/*`` body (``curl --data-binary @a.wav -H 'Content-Type: audio/wav'``), parameters in
  the query string;
- ``application/json``: ``{"file": "<base64>" | "data:audio/wav;base64,...", ...params}``.

Every one ends in :func:`decode_audio`: PyAV (FFmpeg's demuxers and decoders, in the wheel that
faster-whisper already needs, so no system ffmpeg and no subprocess) decodes WAV, MP3, Ogg/Opus,
FLAC, WebM and M4A/MP4 and resamples to the model's rate, mono float32. soundfile was the other
choice; libsndfile reads neither WebM (what browsers record) nor M4A (what phones record).

Limits: the body size is the service's ``max_body_bytes`` (413 from the middleware); the duration
(``AudioInputSettings.max_duration_s``) is checked against the header before decoding and again while
decoding, so an hour of FLAC silence in a few hundred KB is a 413 without being decoded. Undecodable
or truncated data is a 400; a media type or container that is not audio (an image, a PDF, a video
without sound) is a 415.
"""

from __future__ import annotations

import io
import itertools
import struct
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from .images import _app_body_limit, _decode_inline, _from_multipart, _media_type
from .request_body import describe, inline_refs, load_json
from .settings import AudioInputSettings

P = TypeVar("P", bound=BaseModel)

ACCEPTED_LIST = "WAV, MP3, Ogg/Opus, FLAC, WebM or M4A"
# FFmpeg's demuxer names (container.format.name is a comma-separated list of aliases).
ACCEPTED_CONTAINERS = frozenset({"wav", "mp3", "ogg", "flac", "matroska", "webm", "mov", "mp4", "m4a", "aac"})
# Media types that mean "sniff the bytes", and non-audio types that still carry audio.
_GENERIC_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "audio/*"})
_AUDIO_CARRIERS = frozenset({"video/webm", "video/mp4", "video/ogg", "application/ogg"})
# Raw PCM bodies: signed 16-bit little-endian, rate and channels as media type parameters.
_PCM_TYPES = frozenset({"audio/pcm", "audio/x-pcm", "audio/raw", "audio/s16le"})
_WAV_STREAMING_SIZES = (0, 0xFFFFFFFF, 0x7FFFFFFF)  # "size unknown": what streaming encoders write
# Below this peak level (-60 dBFS) a recording holds no speech: answered without running the model.
SILENCE_PEAK = 10 ** (-60 / 20)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 mono at ``rate``, in [-1, 1]
    rate: int
    format: str  # FFmpeg's container name: "wav", "mp3", "ogg", "flac", "matroska,webm", ... or "pcm"

    @property
    def duration_s(self) -> float:
        return self.samples.shape[0] / self.rate if self.rate else 0.0

    @property
    def silent(self) -> bool:
        return is_silent(self.samples)


def is_silent(samples: np.ndarray) -> bool:
    """No sample reaches -60 dBFS (or there are none): nothing for a speech model to hear."""
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK


def _too_long(seconds: float, limits: AudioInputSettings) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the audio is {seconds:.1f} s long, over the limit of {limits.max_duration_s:g} s (audio.max_duration_s)",
        code="audio_too_long",
    )


def _media_params(content_type: str | None) -> dict[str, str]:
    out = {}
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.partition("=")
        out[key.strip().lower()] = value.strip().strip('"')
    return out


def _check_content_type(mime: str) -> None:
    if mime in _GENERIC_TYPES or mime.startswith("audio/") or mime in _AUDIO_CARRIERS:
        return
    raise UnsupportedMediaType(f"unsupported media type {mime!r}; send {ACCEPTED_LIST} audio")


def _int_param(params: dict[str, str], key: str, default: int, low: int, high: int) -> int:
    raw = params.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"audio/pcm parameter {key}={raw!r} is not an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"audio/pcm parameter {key}={value} is out of range ({low}..{high})")
    return value


def pcm16_to_float(data: bytes, channels: int = 1) -> np.ndarray:
    """Signed 16-bit little-endian PCM (interleaved when ``channels`` > 1) -> float32 mono in [-1, 1)."""
    usable = len(data) - len(data) % (2 * channels)
    pcm = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32) / 32768.0
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1)
    return pcm


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Mono float32 from ``rate`` to ``target`` Hz with FFmpeg's resampler (PyAV)."""
    if rate == target or samples.size == 0:
        return np.ascontiguousarray(samples, dtype=np.float32)
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=target)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples, dtype=np.float32)[None, :], "flt", "mono")
    frame.sample_rate = rate
    parts = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    parts += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)


def _decode_pcm(data: bytes, content_type: str | None, rate: int, limits: AudioInputSettings) -> DecodedAudio:
    params = _media_params(content_type)
    source_rate = _int_param(params, "rate", 16000, 1000, 384_000)
    channels = _int_param(params, "channels", 1, 1, 8)
    seconds = len(data) / (2 * channels * source_rate)
    if seconds > limits.max_duration_s:
        raise _too_long(seconds, limits)
    return DecodedAudio(resample(pcm16_to_float(data, channels), source_rate, rate), rate, "pcm")


def _wav_truncation(data: bytes) -> str | None:
    """Why a RIFF/WAVE file is cut short (its data chunk declares more bytes than follow), or None.
    FFmpeg decodes such a file up to where it stops without complaint."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        if kind == b"data":
            have = len(data) - pos - 8
            if size not in _WAV_STREAMING_SIZES and have < size:
                return f"the WAV file is truncated: its header declares {size} bytes of audio, {have} follow"
            return None
        pos += 8 + size + (size & 1)
    return None


def decode_audio(
    data: bytes, limits: AudioInputSettings, *, rate: int = 16000, content_type: str | None = None
) -> DecodedAudio:
    """Decode ``data`` to float32 mono at ``rate`` Hz.

    Raises BadRequest (empty, corrupt, truncated), UnsupportedMediaType (not audio) or PayloadTooLarge
    (longer than ``limits.max_duration_s``, from the header before decoding or while decoding).
    """
    if not data:
        raise BadRequest("the audio file is empty (0 bytes)", code="invalid_audio")
    mime = _media_type(content_type)
    _check_content_type(mime)
    if mime in _PCM_TYPES:
        return _decode_pcm(data, content_type, rate, limits)
    truncated = _wav_truncation(data)
    if truncated:
        raise BadRequest(truncated, code="invalid_audio")
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
    except av.error.FFmpegError:
        raise BadRequest(
            f"the data is not a recognised audio file; send {ACCEPTED_LIST}", code="invalid_audio"
        ) from None
    with container:
        fmt = container.format.name
        if not set(fmt.split(",")) & ACCEPTED_CONTAINERS:
            raise UnsupportedMediaType(f"the data looks like {fmt!r}, which is not audio we take; send {ACCEPTED_LIST}")
        if not container.streams.audio:
            raise UnsupportedMediaType(f"the {fmt!r} file has no audio stream; send {ACCEPTED_LIST}")
        stream = container.streams.audio[0]
        declared = container.duration / av.time_base if container.duration else None
        if declared is not None and declared > limits.max_duration_s + 0.5:
            raise _too_long(declared, limits)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        max_samples = int(limits.max_duration_s * rate) + rate // 2
        parts: list[np.ndarray] = []
        count = 0
        try:
            # None last flushes the resampler; chain keeps the decoding lazy, so it stops at the limit.
            for frame in itertools.chain(container.decode(stream), [None]):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    count += chunk.size
                    if count > max_samples:
                        raise _too_long(count / rate, limits)
                    parts.append(chunk)
        except av.error.FFmpegError as exc:
            raise BadRequest(f"the audio data is corrupt or truncated: {exc}", code="invalid_audio") from None
    if not count:
        raise BadRequest(f"no audio could be decoded from the {fmt!r} file", code="invalid_audio")
    samples = np.clip(np.concatenate(parts), -1.0, 1.0).astype(np.float32, copy=False)
    return DecodedAudio(samples, rate, fmt)


# -- request shapes -----------------------------------------------------------------------------------


async def read_audio_request(
    request: Request,
    params_model: type[P],
    limits: AudioInputSettings,
    *,
    rate: int = 16000,
    field: str = "file",
    list_fields: tuple[str, ...] = (),
) -> tuple[DecodedAudio, P]:
    """The decoded audio and the validated parameters of a request, whatever its shape (module doc).

    ``list_fields`` name parameters that may repeat in a form or query string (``timestamp_granularities[]``
    as OpenAI's clients send it, or without the brackets); they reach the model as lists.
    """
    mime = _media_type(request.headers.get("content-type"))
    query = _multi(request.query_params.multi_items(), list_fields)
    if mime == "multipart/form-data":
        data, ctype, body_params = await _audio_form(request, field, list_fields)
    elif mime == "application/json" or mime.endswith("+json"):
        data, ctype, body_params = await _audio_json(request, field)
    elif mime in _GENERIC_TYPES or mime.startswith("audio/") or mime in _AUDIO_CARRIERS:
        data, ctype, body_params = await request.body(), request.headers.get("content-type"), {}
        if not data:
            raise BadRequest(
                f"the request body is empty; send the audio as the body, as multipart field {field!r}, "
                f'or as JSON {{"{field}": "<base64>"}}',
                code="invalid_audio",
            )
    else:
        raise UnsupportedMediaType(
            f"unsupported content type {mime!r}; send multipart/form-data (field {field!r}), "
            "an audio/* body, or application/json"
        )
    params_data = {k: v for k, v in {**query, **body_params}.items() if k != field}
    try:
        params = params_model.model_validate(params_data)
    except ValidationError as exc:
        raise BadRequest(describe(exc), code="invalid_request") from None
    audio = await run_in_threadpool(decode_audio, data, limits, rate=rate, content_type=ctype)
    return audio, params


def _multi(items: list[tuple[str, Any]], list_fields: tuple[str, ...]) -> dict[str, Any]:
    """Form or query items as a dict; ``name[]`` / ``name`` of a list field collect into a list."""
    out: dict[str, Any] = {}
    for key, value in items:
        name = key[:-2] if key.endswith("[]") else key
        if name in list_fields:
            out.setdefault(name, []).append(value)
        else:
            out[key] = value
    return out


async def _audio_form(
    request: Request, field: str, list_fields: tuple[str, ...]
) -> tuple[bytes, str | None, dict[str, Any]]:
    data, ctype, _ = await _from_multipart(request, field, _app_body_limit(request), noun="audio")
    # _from_multipart keeps the last of repeated fields; the form is cached on the request, so read it again.
    form = await request.form()
    params = _multi([(k, v) for k, v in form.multi_items() if k != field and isinstance(v, str)], list_fields)
    return data, ctype, params


async def _audio_json(request: Request, field: str) -> tuple[bytes, str | None, dict[str, Any]]:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest(f'the request body is empty; expected a JSON object like {{"{field}": "<base64>"}}')
    body = load_json(raw)
    if not isinstance(body, dict):
        raise BadRequest(f'the request body must be a JSON object like {{"{field}": "<base64>"}}')
    value = body.pop(field, None)
    if value is None:
        raise BadRequest(f"missing {field!r}: the audio as base64 or a data: URI")
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{field!r} must be a non-empty string: the audio as base64 or a data: URI")
    if value.strip()[:8].lower().startswith(("http://", "https://")):
        raise BadRequest(f"{field!r}: audio URLs are not fetched; send the audio itself")
    data, ctype = _decode_inline(value.strip(), field, noun="audio")
    return data, ctype, body


# -- OpenAPI ------------------------------------------------------------------------------------------


def audio_request_openapi(params_model: type[BaseModel], *, field: str = "file", description: str = "") -> dict:
    """``openapi_extra`` for a route that calls :func:`read_audio_request`: its three request shapes.
    The file field carries ``contentMediaType: audio/*``, which tells the conformance suite to send
    audio there (tests/conformance/hostile_support.py)."""
    schema = inline_refs(params_model.model_json_schema())
    props: dict[str, Any] = dict(schema.get("properties", {}))
    required = [r for r in schema.get("required", []) if r != field]
    title = schema.get("title", params_model.__name__)
    examples = schema.get("examples")
    multipart = {
        "type": "object",
        "title": f"{title} (multipart)",
        "properties": {
            field: {
                "type": "string",
                "format": "binary",
                "contentMediaType": "audio/*",
                "description": f"the audio file ({ACCEPTED_LIST})",
            },
            **props,
        },
        "required": [field, *required],
    }
    as_json: dict[str, Any] = {
        "type": "object",
        "title": f"{title} (JSON)",
        "properties": {
            field: {
                "type": "string",
                "contentMediaType": "audio/*",
                "contentEncoding": "base64",
                "description": "the audio as base64 or a data: URI (data:audio/wav;base64,...)",
            },
            **props,
        },
        "required": [field, *required],
    }
    if examples:
        as_json["examples"] = examples
    binary = {"type": "string", "format": "binary"}
    desc = description or (
        f"Audio ({ACCEPTED_LIST}) as multipart field {field!r} (OpenAI's shape), as the raw body with an "
        "audio/* Content-Type (parameters in the query string; audio/pcm;rate=16000 for raw 16-bit PCM), "
        "or as JSON with the audio in base64."
    )
    return {
        "requestBody": {
            "required": True,
            "description": desc,
            "content": {
                "multipart/form-data": {"schema": multipart},
                "application/json": {"schema": as_json},
                "audio/*": {"schema": binary},
                "application/octet-stream": {"schema": binary},
            },
        }
    }

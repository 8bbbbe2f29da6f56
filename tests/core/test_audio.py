"""core/audio.py and core/audio_encode.py: every container decodes to 16 kHz mono with its content intact
(a tone keeps its frequency), limits and bad input give the right error, and every output format
decodes back to what went in, streamed or whole. The request shapes are checked against a real server."""

from __future__ import annotations

import base64
import io
import struct

import httpx
import numpy as np
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict

from hailo_services.core import audio_encode
from hailo_services.core.audio import audio_request_openapi, decode_audio, is_silent, read_audio_request, resample
from hailo_services.core.errors import BadRequest, PayloadTooLarge, ServiceError, UnsupportedMediaType, openai_error
from hailo_services.core.settings import AudioInputSettings
from speech_samples import container, dominant_hz, tone, wav

LIMITS = AudioInputSettings(max_duration_s=30)


def _check_tone(decoded, seconds=1.0, freq=440.0):
    assert decoded.rate == 16000 and decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    # AAC adds its encoder delay (1024+ samples) at the start: a tenth of a second is what formats differ by.
    assert decoded.duration_s == pytest.approx(seconds, abs=0.1)
    assert dominant_hz(decoded.samples, 16000) == pytest.approx(freq, abs=3)


@pytest.mark.parametrize(
    ("what", "make"),
    [
        ("wav 16 kHz", lambda x: wav(x, 16000)),
        ("mp3", lambda x: container(x, 16000, "mp3", "libmp3lame")),
        ("ogg/opus", lambda x: container(x, 16000, "ogg", "libopus", out_rate=48000)),
        ("flac", lambda x: container(x, 16000, "flac", "flac")),
        ("webm/opus", lambda x: container(x, 16000, "webm", "libopus", out_rate=48000)),
        ("m4a/aac", lambda x: container(x, 16000, "ipod", "aac")),
    ],
)
def test_every_container_decodes_to_16k_mono_with_its_content(what, make):
    _check_tone(decode_audio(make(tone(440, 1.0, 16000)), LIMITS))


def test_other_rates_and_stereo_are_resampled_and_mixed_down():
    left = tone(440, 1.0, 44100)
    stereo = np.stack([left, left], axis=1).reshape(-1)
    data = wav(stereo, 44100, channels=2)
    _check_tone(decode_audio(data, LIMITS, content_type="audio/x-wav"))
    _check_tone(decode_audio(wav(tone(1000, 1.0, 8000), 8000), LIMITS), freq=1000)


def test_a_streamed_wav_with_unknown_sizes_decodes():
    pcm = audio_encode.to_pcm16(tone(440, 1.0, 16000))
    _check_tone(decode_audio(audio_encode.wav_header(16000) + pcm, LIMITS))


def test_raw_pcm_takes_its_rate_from_the_media_type():
    pcm = audio_encode.to_pcm16(tone(440, 1.0, 22050))
    _check_tone(decode_audio(pcm, LIMITS, content_type="audio/pcm;rate=22050"))
    with pytest.raises(BadRequest, match="rate"):
        decode_audio(pcm, LIMITS, content_type="audio/pcm;rate=abc")


def test_the_duration_limit_is_413_naming_it_before_and_while_decoding():
    hour_of_silence = container(np.zeros(16000 * 3600, np.float32), 16000, "flac", "flac")
    assert len(hour_of_silence) < 2_000_000  # small on the wire: only the duration gives it away
    with pytest.raises(PayloadTooLarge, match=r"3600\.0 s long, over the limit of 30 s \(audio.max_duration_s\)"):
        decode_audio(hour_of_silence, LIMITS)
    # A stream with no duration in its header (a streamed WAV) is stopped while decoding.
    long_stream = audio_encode.wav_header(16000) + audio_encode.to_pcm16(np.zeros(16000 * 40, np.float32))
    with pytest.raises(PayloadTooLarge, match="over the limit of 30 s"):
        decode_audio(long_stream, LIMITS)
    with pytest.raises(PayloadTooLarge):
        decode_audio(b"\0" * (32000 * 31), LIMITS, content_type="audio/pcm")


def test_bad_data_is_400_and_other_media_415():
    good = wav(tone(), 16000)
    for data in (b"", good[: len(good) // 2], good[:44], np.random.default_rng(1).bytes(5000), b"hello"):
        with pytest.raises(BadRequest):
            decode_audio(data, LIMITS)
    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(jpeg, format="JPEG")
    with pytest.raises(UnsupportedMediaType, match="jpeg"):
        decode_audio(jpeg.getvalue(), LIMITS)
    for ctype in ("image/png", "text/plain", "application/pdf"):
        with pytest.raises(UnsupportedMediaType):
            decode_audio(good, LIMITS, content_type=ctype)
    video = io.BytesIO()
    import av

    with av.open(video, "w", format="webm") as out:  # a WebM with a picture and no sound
        stream = out.add_stream("libvpx", rate=1)
        stream.width, stream.height = 32, 32
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in (*stream.encode(frame), *stream.encode(None)):
            out.mux(packet)
    with pytest.raises(UnsupportedMediaType, match="no audio stream"):
        decode_audio(video.getvalue(), LIMITS)


def test_silence_is_recognised():
    assert is_silent(np.zeros(16000, np.float32)) and is_silent(np.full(100, 1e-4, np.float32))
    assert not is_silent(tone(amplitude=0.01))
    assert decode_audio(wav(np.zeros(16000, np.float32), 16000), LIMITS).silent


def test_resample_keeps_frequency_and_length():
    out = resample(tone(440, 2.0, 22050), 22050, 16000)
    assert out.size == pytest.approx(32000, abs=200) and dominant_hz(out, 16000) == pytest.approx(440, abs=3)


# -- encoders ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", sorted(audio_encode.FORMATS))
def test_every_output_format_streams_and_decodes_back(fmt):
    rate = 22050
    x = tone(440, 1.5, rate)
    enc = audio_encode.StreamEncoder(fmt, rate)
    parts = [enc.encode(x[i : i + 5000]) for i in range(0, x.size, 5000)]
    parts.append(enc.finish())
    data = b"".join(parts)
    assert enc.media_type == audio_encode.media_type(fmt)
    if fmt == "wav":
        assert parts[0][:4] == b"RIFF" and struct.unpack("<I", parts[0][40:44])[0] == 0xFFFFFFFF
    if fmt in ("wav", "pcm"):
        assert all(parts[:-1])  # uncompressed formats give bytes for every chunk
    ctype = "audio/pcm;rate=24000" if fmt == "pcm" else None
    if fmt == "pcm":
        assert len(data) == pytest.approx(2 * 24000 * 1.5, abs=200)  # OpenAI's pcm: 24 kHz s16le
    _check_tone(decode_audio(data, LIMITS, content_type=ctype), seconds=1.5)


def test_a_whole_wav_has_its_sizes_filled_in():
    data = audio_encode.encode_all(tone(), 16000, "wav")
    assert struct.unpack("<I", data[40:44])[0] == len(data) - 44
    import wave

    with wave.open(io.BytesIO(data)) as w:
        assert (w.getframerate(), w.getnframes(), w.getsampwidth()) == (16000, 16000, 2)


# -- request shapes -----------------------------------------------------------------------------------


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: str | None = None
    timestamp_granularities: list[str] = []


def _app() -> FastAPI:
    app = FastAPI()

    @app.exception_handler(ServiceError)
    async def err(request: Request, exc: ServiceError):
        from fastapi.responses import JSONResponse

        return JSONResponse(openai_error(request, exc.status, exc.message, exc.type, exc.code), exc.status)

    @app.post("/t", openapi_extra=audio_request_openapi(Params))
    async def route(request: Request):
        audio, params = await read_audio_request(request, Params, LIMITS, list_fields=("timestamp_granularities",))
        return {
            "seconds": round(audio.duration_s, 2),
            "hz": round(dominant_hz(audio.samples, 16000)),
            "params": params.model_dump(),
        }

    return app


def test_the_three_request_shapes(serve):
    url = serve(_app()).url + "/t"
    data = wav(tone(440, 1.0, 16000), 16000)
    b64 = base64.b64encode(data).decode()
    cases = [
        {"files": {"file": ("a.wav", data, "audio/wav")}, "data": {"language": "en"}},
        {"files": {"file": ("a.wav", data, "application/octet-stream")}},
        {"content": data, "headers": {"content-type": "audio/wav"}, "params": {"language": "en"}},
        {"json": {"file": b64, "language": "en"}},
        {"json": {"file": "data:audio/wav;base64," + b64}},
        {"files": {"file": (None, b64)}},  # base64 as a text field of the form
    ]
    for kwargs in cases:
        r = httpx.post(url, **kwargs)
        assert r.status_code == 200, (kwargs.keys(), r.text)
        assert r.json()["seconds"] == 1.0 and r.json()["hz"] == 440
    r = httpx.post(
        url,
        files=[
            ("file", ("a.wav", data, "audio/wav")),
            ("timestamp_granularities[]", (None, "word")),
            ("timestamp_granularities[]", (None, "segment")),
        ],
    )
    assert r.json()["params"]["timestamp_granularities"] == ["word", "segment"]


def test_request_shape_errors(serve):
    url = serve(_app()).url + "/t"
    data = wav(tone(), 16000)
    expect = [
        (415, {"content": data, "headers": {"content-type": "application/x-www-form-urlencoded"}}),
        (415, {"content": b"x", "headers": {"content-type": "text/plain"}}),
        (400, {"files": {"audio": ("a.wav", data, "audio/wav")}}),  # the wrong field
        (400, {"json": {"audio": "abc"}}),
        (400, {"json": {"file": "%%% not base64"}}),
        (400, {"json": {"file": "https://example.com/a.wav"}}),
        (400, {"content": b"", "headers": {"content-type": "audio/wav"}}),
        (400, {"files": {"file": ("a.wav", data, "audio/wav")}, "data": {"nope": "1"}}),
        (415, {"files": {"file": ("a.png", data, "image/png")}}),
    ]
    for status, kwargs in expect:
        r = httpx.post(url, **kwargs)
        assert r.status_code == status, (kwargs, r.text)
        assert r.json()["error"]["message"]


def test_the_openapi_marks_the_audio_field():
    spec = _app().openapi()["paths"]["/t"]["post"]["requestBody"]["content"]
    assert spec["multipart/form-data"]["schema"]["properties"]["file"]["contentMediaType"] == "audio/*"
    assert {"audio/*", "application/json", "multipart/form-data"} <= set(spec)

"""hailo-whisper's OpenAI audio API with the official ``openai`` client, unchanged: Piper's speech comes
back word for word in every response format, streamed with ``stream=True``, translated, and from every
upload shape and container; bad audio is a clear 4xx in OpenAI's error shape."""

from __future__ import annotations

import base64
import io
import re

import httpx
import numpy as np
import openai
import pytest

from hailo_services.core.audio import resample
from speech_samples import SENTENCE, container, piper_speech, wav


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def speech_wav() -> bytes:
    samples, rate = piper_speech()
    return wav(samples, rate)


@pytest.fixture(scope="module")
def client(whisper) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{whisper.url}/v1", api_key="unused", max_retries=0)


def test_json_text_srt_vtt_and_verbose_json(client, speech_wav):
    def create(**kw):
        return client.audio.transcriptions.create(model="whisper-1", file=("s.wav", speech_wav, "audio/wav"), **kw)

    assert words(create().text) == words(SENTENCE)
    text = create(response_format="text")
    assert isinstance(text, str) and words(text) == words(SENTENCE)
    srt = create(response_format="srt")
    assert re.match(r"1\n00:00:00,\d{3} --> 00:00:0\d,\d{3}\nThe quick brown fox", srt), srt
    vtt = create(response_format="vtt")
    assert vtt.startswith("WEBVTT\n\n00:00:00.") and "kitchen lights" in vtt
    verbose = create(response_format="verbose_json", timestamp_granularities=["word", "segment"], language="en")
    assert verbose.language == "english" and verbose.duration == pytest.approx(4.5, abs=1.0)
    assert words(" ".join(s.text for s in verbose.segments)) == words(SENTENCE)
    assert words(" ".join(w.word for w in verbose.words)) == words(SENTENCE)
    assert all(w.end >= w.start for w in verbose.words)


def test_stream_true_gives_deltas_then_done(client):
    samples, rate = piper_speech()
    pause = np.zeros(rate * 25, np.float32)
    long_wav = wav(np.concatenate([samples, pause, samples]), rate)  # two of Whisper's 30 s windows
    stream = client.audio.transcriptions.create(model="whisper-1", file=("s.wav", long_wav, "audio/wav"), stream=True)
    events = list(stream)
    assert [e.type for e in events][-1] == "transcript.text.done"
    deltas = [e.delta for e in events if e.type == "transcript.text.delta"]
    assert len(deltas) >= 2  # one per segment, each sent as it is decoded
    assert "".join(deltas) == events[-1].text and words(events[-1].text) == words(SENTENCE) * 2


def test_translation_of_english_speech_is_the_english_text(client, speech_wav):
    result = client.audio.translations.create(model="whisper-1", file=("s.wav", speech_wav, "audio/wav"))
    assert words(result.text) == words(SENTENCE)


@pytest.mark.parametrize(
    ("name", "ctype", "make"),
    [
        ("s.mp3", "audio/mpeg", lambda x: container(x, 16000, "mp3", "libmp3lame")),
        ("s.ogg", "audio/ogg", lambda x: container(x, 16000, "ogg", "libopus", out_rate=48000)),
        ("s.webm", "audio/webm", lambda x: container(x, 16000, "webm", "libopus", out_rate=48000)),
        ("s.m4a", "audio/mp4", lambda x: container(x, 16000, "ipod", "aac")),
        ("s.flac", "audio/flac", lambda x: container(x, 16000, "flac", "flac")),
    ],
)
def test_every_container_through_the_client(client, name, ctype, make):
    samples, rate = piper_speech()
    data = make(resample(samples, rate, 16000))
    assert words(client.audio.transcriptions.create(model="whisper-1", file=(name, data, ctype)).text) == words(
        SENTENCE
    )


def test_raw_body_and_json_base64(whisper, speech_wav):
    raw = httpx.post(
        f"{whisper.url}/v1/audio/transcriptions?response_format=text",
        content=speech_wav,
        headers={"content-type": "audio/wav"},
        timeout=60,
    )
    assert raw.status_code == 200 and raw.headers["content-type"].startswith("text/plain")
    assert words(raw.text) == words(SENTENCE)
    body = {"file": "data:audio/wav;base64," + base64.b64encode(speech_wav).decode(), "model": "tiny.en"}
    r = httpx.post(f"{whisper.url}/v1/audio/transcriptions", json=body, timeout=60)
    assert r.status_code == 200 and words(r.json()["text"]) == words(SENTENCE)
    assert r.json()["usage"] == {"type": "duration", "seconds": 5}


def test_silence_is_an_empty_transcript(client):
    result = client.audio.transcriptions.create(
        model="whisper-1", file=("quiet.wav", wav(np.zeros(16000 * 5, np.float32), 16000), "audio/wav")
    )
    assert result.text == ""


def test_bad_audio_is_a_clear_4xx(whisper, client, speech_wav):
    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (32, 32)).save(jpeg, format="JPEG")
    hour = container(np.zeros(16000 * 3600, np.float32), 16000, "flac", "flac")
    cases = [
        (400, "not a recognised audio file", {"files": {"file": ("r.wav", np.random.default_rng(2).bytes(8000))}}),
        (400, "truncated", {"files": {"file": ("t.wav", speech_wav[: len(speech_wav) // 3], "audio/wav")}}),
        (415, "jpeg", {"files": {"file": ("p.wav", jpeg.getvalue(), "audio/wav")}}),
        (415, "image/png", {"files": {"file": ("p.png", jpeg.getvalue(), "image/png")}}),
        (413, "audio.max_duration_s", {"files": {"file": ("h.flac", hour, "audio/flac")}}),
        (400, "expected the audio in multipart field 'file'", {"files": {"audio": ("s.wav", speech_wav, "audio/wav")}}),
        (400, "temperature", {"files": {"file": ("s.wav", speech_wav)}, "data": {"temperature": "2"}}),
        (400, "response_format", {"files": {"file": ("s.wav", speech_wav)}, "data": {"response_format": "xml"}}),
        (400, "English-only", {"files": {"file": ("s.wav", speech_wav)}, "data": {"language": "de"}}),
        (404, "model 'large-v9' not found", {"files": {"file": ("s.wav", speech_wav)}, "data": {"model": "large-v9"}}),
    ]
    for status, message, kwargs in cases:
        r = httpx.post(f"{whisper.url}/v1/audio/transcriptions", timeout=60, **kwargs)
        assert r.status_code == status, (message, r.status_code, r.text)
        assert message in r.json()["error"]["message"], r.text
    with pytest.raises(openai.BadRequestError, match="not a recognised audio file"):
        client.audio.transcriptions.create(model="whisper-1", file=("x.wav", b"RIFF garbage here", "audio/wav"))
    with pytest.raises(openai.NotFoundError):
        client.audio.transcriptions.create(model="nope", file=("s.wav", speech_wav, "audio/wav"), stream=True)


def test_models_lists_the_catalog(client):
    models = {m.id: m for m in client.models.list()}
    assert {"tiny.en", "base", "small"} <= set(models)
    assert models["tiny.en"].model_extra["present"] and models["tiny.en"].model_extra["default"]
    assert not models["base"].model_extra["present"]

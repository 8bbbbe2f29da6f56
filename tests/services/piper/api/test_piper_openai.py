"""hailo-piper's OpenAI speech API with the official ``openai`` client: ``with_streaming_response`` gets
the audio a sentence at a time, every response format decodes to the same speech, the voices are listed,
and bad requests are clear 4xx in OpenAI's error shape."""

from __future__ import annotations

import base64
import json

import httpx
import openai
import pytest

from hailo_services.core.audio import decode_audio, is_silent
from hailo_services.core.settings import AudioInputSettings

TEXT = "Good morning. The coffee is ready. Your first meeting starts at nine."
LIMITS = AudioInputSettings()


@pytest.fixture(scope="module")
def client(piper) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{piper.url}/v1", api_key="unused", max_retries=0)


def test_with_streaming_response_gets_the_audio_sentence_by_sentence(client):
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm"
    ) as response:
        assert response.headers["content-type"] == "audio/pcm" and response.headers["x-sample-rate"] == "24000"
        chunks = list(response.iter_bytes(chunk_size=None))
    # One HTTP chunk per sentence (three), each sent when Piper had made it.
    assert len(chunks) >= 3 and all(chunks)
    audio = decode_audio(b"".join(chunks), LIMITS, content_type="audio/pcm;rate=24000")
    assert 3.0 < audio.duration_s < 10.0 and not audio.silent


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_every_format_is_the_same_speech(client, fmt):
    data = client.audio.speech.create(model="tts-1", voice="alloy", input=TEXT, response_format=fmt).read()
    reference = client.audio.speech.create(model="tts-1", voice="joe", input=TEXT, response_format="wav").read()
    ctype = "audio/pcm;rate=24000" if fmt == "pcm" else None
    got, ref = decode_audio(data, LIMITS, content_type=ctype), decode_audio(reference, LIMITS)
    assert got.duration_s == pytest.approx(ref.duration_s, abs=0.15)  # codecs pad a frame at most
    assert not is_silent(got.samples)


def test_the_default_format_is_mp3_and_speed_changes_the_length(client):
    r = client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there, how are you?")
    assert r.response.headers["content-type"] == "audio/mpeg"
    normal = decode_audio(r.read(), LIMITS).duration_s
    slow = decode_audio(
        client.audio.speech.create(model="tts-1", voice="alloy", input="Hello there, how are you?", speed=0.5).read(),
        LIMITS,
    ).duration_s
    assert slow > 1.5 * normal


def test_sse_stream_format(piper):
    body = {"input": TEXT, "response_format": "pcm", "stream_format": "sse"}
    with httpx.stream("POST", f"{piper.url}/v1/audio/speech", json=body, timeout=60) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) >= 3 and events[-1]["type"] == "speech.audio.done" and events[-1]["seconds"] > 3
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert len(pcm) == pytest.approx(events[-1]["seconds"] * 24000 * 2, rel=0.02)


def test_voices_are_listed(client, piper):
    for path in ("/v1/voices", "/v1/audio/voices"):
        voices = {v["id"]: v for v in httpx.get(piper.url + path).json()["voices"]}
        joe = voices["en_US-joe-medium"]
        assert joe["installed"] and joe["default"] and joe["sample_rate"] == 22050 and joe["language"] == "en_US"
        assert (
            not voices["de_DE-thorsten-medium"]["installed"] and voices["de_DE-thorsten-medium"]["language"] == "de_DE"
        )


def test_bad_requests_are_clear_4xx(client, piper):
    cases = [
        (400, "empty", {"input": "   "}),
        (413, "over the limit of 2000 (speech.max_input_chars)", {"input": "word " * 500}),
        (404, "voice 'klaus' not found", {"input": "Hi.", "voice": "klaus"}),
        (404, "voice 'not-installed' not found", {"input": "Hi.", "voice": "not-installed"}),
        (400, "speed", {"input": "Hi.", "speed": 10}),
        (400, "response_format", {"input": "Hi.", "response_format": "ogg"}),
        (400, "input", {"voice": "alloy"}),
    ]
    for status, message, body in cases:
        r = httpx.post(f"{piper.url}/v1/audio/speech", json=body, timeout=30)
        assert r.status_code == status, (body, r.text)
        assert message in r.json()["error"]["message"], r.text
    # A catalog voice whose files are not on disk is a 404 naming the missing file and how to get it.
    r = httpx.post(f"{piper.url}/v1/audio/speech", json={"input": "Hi.", "voice": "thorsten"}, timeout=30)
    assert r.status_code == 404 and "hailo-services pull hailo-piper de_DE-thorsten-medium" in r.text
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice="klaus", input="Hi.")  # type: ignore[arg-type]


def test_punctuation_only_is_a_valid_empty_file(piper):
    r = httpx.post(f"{piper.url}/v1/audio/speech", json={"input": "...", "response_format": "wav"}, timeout=30)
    assert r.status_code == 200 and r.content[:4] == b"RIFF"

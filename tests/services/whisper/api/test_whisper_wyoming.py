"""hailo-whisper's Wyoming ASR server with the ``wyoming`` library's client, as Home Assistant uses it:
``describe`` -> ``info``; ``transcribe`` + audio -> streamed and whole transcript of Piper's speech, at
the client's own audio format; garbage, a client that leaves mid-stream and a 100 MB chunk are closed
with an error while the server keeps serving the others."""

from __future__ import annotations

import asyncio
import re

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info

from hailo_services.core.audio_encode import to_pcm16
from speech_samples import SENTENCE, piper_speech

pytestmark = pytest.mark.anyio


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


async def transcribe(port: int, pcm: bytes, rate: int, *, width: int = 2, channels: int = 1, **request) -> list[Event]:
    """Send one utterance as Home Assistant does; the events up to the transcript."""
    async with AsyncTcpClient("127.0.0.1", port) as client:
        await client.write_event(Transcribe(**request).event())
        await client.write_event(AudioStart(rate=rate, width=width, channels=channels).event())
        step = rate * width * channels // 10  # 100 ms chunks
        for i in range(0, len(pcm), step):
            await client.write_event(
                AudioChunk(rate=rate, width=width, channels=channels, audio=pcm[i : i + step]).event()
            )
        await client.write_event(AudioStop().event())
        events = []
        while True:
            event = await asyncio.wait_for(client.read_event(), 60)
            assert event is not None, events
            events.append(event)
            if Transcript.is_type(event.type) or event.type == "error":
                return events


async def test_describe_gives_the_asr_program(whisper):
    async with AsyncTcpClient("127.0.0.1", whisper.wyoming_port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await asyncio.wait_for(client.read_event(), 10))
    (asr,) = info.asr
    assert asr.name == "hailo-whisper" and asr.installed and asr.supports_transcript_streaming
    assert asr.attribution.name == "OpenAI" and asr.attribution.url.startswith("https://")
    models = {m.name: m for m in asr.models}
    assert models["tiny.en"].installed and models["tiny.en"].languages == ["en"]
    assert not models["base"].installed and "de" in models["base"].languages


async def test_piper_speech_is_transcribed_and_streamed(whisper):
    samples, rate = piper_speech()
    events = await transcribe(whisper.wyoming_port, to_pcm16(samples), rate, language="en")
    types = [e.type for e in events]
    assert types[0] == "transcript-start" and types[-2:] == ["transcript-stop", "transcript"], types
    chunks = "".join(e.data["text"] for e in events if e.type == "transcript-chunk")
    final = Transcript.from_event(events[-1])
    assert words(final.text) == words(SENTENCE) == words(chunks) and final.language == "en"


async def test_the_clients_own_format_is_converted(whisper):
    samples, rate = piper_speech()
    stereo = np.repeat(samples[:, None], 2, axis=1).reshape(-1)  # 22.05 kHz stereo
    events = await transcribe(whisper.wyoming_port, to_pcm16(stereo), rate, channels=2)
    assert words(events[-1].data["text"]) == words(SENTENCE)


async def test_silence_is_an_empty_transcript_and_bad_requests_an_error(whisper):
    events = await transcribe(whisper.wyoming_port, b"\0" * 32000, 16000)
    assert [e.type for e in events] == ["transcript"] and events[0].data["text"] == ""
    events = await transcribe(whisper.wyoming_port, b"\0" * 3200, 16000, name="large-v9")
    assert events[-1].type == "error" and "large-v9" in events[-1].data["text"]
    events = await transcribe(whisper.wyoming_port, b"\0" * 3200, 16000, language="de")
    assert events[-1].type == "error" and "English-only" in events[-1].data["text"]
    async with AsyncTcpClient("127.0.0.1", whisper.wyoming_port) as client:
        await client.write_event(AudioStart(rate=16000, width=3, channels=1).event())
        error = await asyncio.wait_for(client.read_event(), 10)
        assert error.type == "error" and error.data["code"] == "unsupported_audio"


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    got = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return got


async def test_garbage_disconnects_and_huge_chunks_do_not_stop_the_server(whisper):
    port = whisper.wyoming_port
    got = await _raw(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b'"type": "error"' in got and b"invalid_event" in got
    # A 100 MB audio chunk is refused from its header, before any of it is read.
    header = (
        b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, "payload_length": 100000000}\n'
    )
    got = await _raw(port, header + b"\0" * 65536)
    assert b"event_too_large" in got
    # A client that leaves in the middle of its audio.
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b'{"type": "transcribe"}\n{"type": "audio-start", "data": {"rate": 16000, "width": 2, "channels": 1}}\n'
    )
    writer.write(
        b'{"type": "audio-chunk", "data": {"rate": 16000, "width": 2, "channels": 1}, "payload_length": 32000}\n'
    )
    writer.write(b"\0" * 1000)
    await writer.drain()
    writer.close()
    # Audio over audio.max_duration_s (120 s here) is refused while it streams.
    long = await transcribe(port, b"\0" * (16000 * 2 * 121), 16000)
    assert long[-1].type == "error" and long[-1].data["code"] == "audio_too_long"
    # Everyone else is still served, two at once.
    samples, rate = piper_speech()
    results = await asyncio.gather(*(transcribe(port, to_pcm16(samples), rate) for _ in range(2)))
    assert all(words(r[-1].data["text"]) == words(SENTENCE) for r in results)

"""hailo-piper's Wyoming TTS server with the ``wyoming`` library's client, as Home Assistant uses it:
``describe`` -> voices; ``synthesize`` -> audio; streaming synthesis speaks each sentence as soon as its
text is complete (audio arrives before the client has sent synthesize-stop), ignoring the compatibility
``synthesize``; bad requests get error events; garbage and 100 MB chunks are closed, others still served."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeVoice

pytestmark = pytest.mark.anyio


async def read_until(client: AsyncTcpClient, *types: str) -> list[Event]:
    events = []
    while True:
        event = await asyncio.wait_for(client.read_event(), 60)
        assert event is not None, [e.type for e in events]
        events.append(event)
        if event.type in types or event.type == "error":
            return events


def pcm_of(events: list[Event]) -> np.ndarray:
    data = b"".join(AudioChunk.from_event(e).audio for e in events if AudioChunk.is_type(e.type))
    return np.frombuffer(data, "<i2")


async def test_describe_lists_the_voices(piper):
    async with AsyncTcpClient("127.0.0.1", piper.wyoming_port) as client:
        await client.write_event(Describe().event())
        info = Info.from_event(await asyncio.wait_for(client.read_event(), 10))
    (tts,) = info.tts
    assert tts.name == "hailo-piper" and tts.supports_synthesize_streaming and tts.installed
    voices = {v.name: v for v in tts.voices}
    assert voices["en_US-joe-medium"].installed and voices["en_US-joe-medium"].languages == ["en_US"]
    assert not voices["de_DE-thorsten-medium"].installed


async def test_synthesize_gives_audio(piper):
    async with AsyncTcpClient("127.0.0.1", piper.wyoming_port) as client:
        await client.write_event(
            Synthesize(text="Hello there. How are you?", voice=SynthesizeVoice(language="en_US")).event()
        )
        events = await read_until(client, "audio-stop")
    start = AudioStart.from_event(events[0])
    assert (start.rate, start.width, start.channels) == (22050, 2, 1)
    assert AudioStop.is_type(events[-1].type)
    pcm = pcm_of(events)
    assert 1.0 < pcm.size / 22050 < 5.0 and np.abs(pcm).max() > 3000


async def test_streaming_speaks_each_sentence_before_the_text_is_complete(piper):
    async with AsyncTcpClient("127.0.0.1", piper.wyoming_port) as client:
        await client.write_event(SynthesizeStart(voice=SynthesizeVoice(name="joe")).event())
        for word in ["The", "weather", "today", "is", "sunny.", "Tomorrow"]:
            await client.write_event(SynthesizeChunk(text=word + " ").event())
        # The first sentence is complete: its audio comes while the client is still "writing".
        early = await read_until(client, "audio-chunk")
        assert [e.type for e in early] == ["audio-start", "audio-chunk"]
        for word in ["it", "will", "rain.", "Bring", "an", "umbrella."]:
            await client.write_event(SynthesizeChunk(text=word + " ").event())
        await client.write_event(Synthesize(text="The weather today is sunny. Tomorrow it will rain.").event())
        await client.write_event(SynthesizeStop().event())
        rest = await read_until(client, "synthesize-stopped")
    types = [e.type for e in early + rest]
    assert types.count("audio-start") == 1 and types.count("audio-stop") == 1  # the compat synthesize is ignored
    assert types[-2:] == ["audio-stop", "synthesize-stopped"]
    assert pcm_of(early + rest).size / 22050 > 3.0  # three sentences


async def test_bad_requests_get_an_error_and_the_connection_stays(piper):
    async with AsyncTcpClient("127.0.0.1", piper.wyoming_port) as client:
        await client.write_event(Synthesize(text="Hi.", voice=SynthesizeVoice(name="klaus")).event())
        (error,) = await read_until(client, "audio-stop")
        assert error.type == "error" and "klaus" in error.data["text"]
        await client.write_event(Synthesize(text="  ").event())
        (error,) = await read_until(client, "audio-stop")
        assert error.data["code"] == "empty_input"
        await client.write_event(SynthesizeChunk(text="orphan").event())
        (error,) = await read_until(client, "audio-stop")
        assert error.data["code"] == "no_stream"
        await client.write_event(Synthesize(text="Still here.").event())
        events = await read_until(client, "audio-stop")
        assert events[-1].type == "audio-stop" and pcm_of(events).size > 0


async def _raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    got = await asyncio.wait_for(reader.read(), 20)
    writer.close()
    return got


async def test_garbage_and_huge_events_do_not_stop_the_server(piper):
    port = piper.wyoming_port
    assert b"invalid_event" in await _raw(port, b"\x00\xff garbage \xfe\n")
    huge = b'{"type": "synthesize", "data_length": 100000000}\n'
    assert b"event_too_large" in await _raw(port, huge + b"{" * 1000)
    _, writer = await asyncio.open_connection("127.0.0.1", port)  # leaves in the middle of a stream
    writer.write(b'{"type": "synthesize-start"}\n{"type": "synthesize-chunk", "data": {"text": "Hello there. And"}}\n')
    await writer.drain()
    writer.close()
    results = []
    for _ in range(2):
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Synthesize(text="Served.").event())
            results.append(await read_until(client, "audio-stop"))
    assert all(r[-1].type == "audio-stop" for r in results)

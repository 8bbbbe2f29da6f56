"""The honest test of both speech services: hailo-piper speaks a sentence and hailo-whisper transcribes it,
word for word, through the HTTP APIs with the official ``openai`` client (every compressed format too,
streamed) and through Wyoming with the ``wyoming`` library's client, as Home Assistant chains them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import openai
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from harness import Service, free_port, start_service, stop_service
from speech_samples import SENTENCE


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, int]]:
    port = free_port()
    svc = start_service("hailo-whisper", tmp_path_factory.mktemp("whisper"), {"wyoming": {"port": port}}, timeout=120)
    try:
        yield svc, port
    finally:
        stop_service(svc)


@pytest.mark.parametrize("fmt", ["wav", "mp3", "opus", "aac", "flac"])
def test_openai_hears_what_piper_says(piper, whisper, fmt):
    speaker = openai.OpenAI(base_url=f"{piper.url}/v1", api_key="unused", max_retries=0)
    listener = openai.OpenAI(base_url=f"{whisper[0].url}/v1", api_key="unused", max_retries=0)
    with speaker.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=SENTENCE, response_format=fmt
    ) as response:
        audio = b"".join(response.iter_bytes())
    text = listener.audio.transcriptions.create(model="whisper-1", file=(f"speech.{fmt}", audio)).text
    assert words(text) == words(SENTENCE), text


async def _speak(port: int, *, streamed: bool) -> list:
    """Piper's audio events for SENTENCE over Wyoming (plain synthesize, or streamed a word at a time)."""
    async with AsyncTcpClient("127.0.0.1", port) as tts:
        if streamed:
            await tts.write_event(SynthesizeStart().event())
            for word in SENTENCE.split(" "):
                await tts.write_event(SynthesizeChunk(text=word + " ").event())
            await tts.write_event(SynthesizeStop().event())
        else:
            await tts.write_event(Synthesize(text=SENTENCE).event())
        events = []
        while True:
            event = await asyncio.wait_for(tts.read_event(), 60)
            events.append(event)
            if AudioStop.is_type(event.type):
                return events


async def _hear(port: int, audio_events: list) -> str:
    async with AsyncTcpClient("127.0.0.1", port) as asr:
        await asr.write_event(Transcribe(language="en").event())
        for event in audio_events:  # audio-start / audio-chunk... / audio-stop, as Piper sent them
            await asr.write_event(event)
        while True:
            event = await asyncio.wait_for(asr.read_event(), 60)
            if Transcript.is_type(event.type):
                return Transcript.from_event(event).text


@pytest.mark.parametrize("streamed", [False, True], ids=["synthesize", "streaming-synthesis"])
def test_wyoming_hears_what_piper_says(piper, whisper, streamed):
    async def chain() -> str:
        events = await _speak(piper.wyoming_port, streamed=streamed)
        assert AudioStart.is_type(events[0].type) and sum(AudioChunk.is_type(e.type) for e in events) >= 2
        return await _hear(whisper[1], events)

    text = asyncio.run(chain())
    assert words(text) == words(SENTENCE), text

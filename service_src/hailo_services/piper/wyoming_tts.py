"""hailo-piper's Wyoming TTS server (Home Assistant's text-to-speech protocol; core/wyoming.py runs it).

``describe`` -> ``info`` with the voices; ``synthesize`` -> ``audio-start`` / ``audio-chunk``... /
``audio-stop``; streaming synthesis as Home Assistant's streaming TTS uses it: ``synthesize-start``,
``synthesize-chunk``s of text (an LLM's answer as it is written), ``synthesize-stop`` -> audio for each
sentence as soon as it is complete, one ``audio-start`` ... ``audio-stop`` for the whole, then
``synthesize-stopped``. A streaming client also sends the whole text as a ``synthesize`` for servers that
do not stream; inside a stream that one is ignored, as wyoming-piper does.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..core.audio_encode import to_pcm16
from ..core.errors import NotFound
from ..core.streaming import Finished
from ..core.wyoming import WyomingHandler, WyomingRequestError
from .api import voices
from .engine import SpeechOptions
from .synthesis import SentenceBuffer, check_text, resolve_voice, speak

CHUNK_SECONDS = 0.5  # audio-chunk size: small enough that playback starts early


def tts_info(app: Any) -> Any:
    from wyoming.info import Attribution, Info, TtsProgram, TtsVoice

    manager = app.state.manager
    out = []
    for voice in voices(manager):
        spec = manager.catalog.get(voice["id"])
        out.append(
            TtsVoice(
                name=voice["id"],
                attribution=Attribution(name=spec.attribution, url=spec.attribution_url),
                installed=voice["installed"],
                description=voice["description"],
                version=None,
                languages=[voice["language"]],
            )
        )
    program = TtsProgram(
        name="hailo-piper",
        attribution=Attribution(name="Piper (Open Home Foundation)", url="https://github.com/OHF-Voice/piper1-gpl"),
        installed=True,
        description="Piper text to speech (hailo-services)",
        version=__version__,
        voices=out,
        supports_synthesize_streaming=True,
    )
    return Info(tts=[program])


@dataclass
class _Stream:
    voice: str | None
    buffer: SentenceBuffer = field(default_factory=SentenceBuffer)
    chars: int = 0


class TtsHandler(WyomingHandler):
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, runtime: Any):
        super().__init__(reader, writer, runtime)
        self._stream: _Stream | None = None
        self._audio_open: int | None = None  # the rate of the audio-start sent, until its audio-stop

    @property
    def _app(self) -> Any:
        return self.runtime.app

    def _voice(self, requested: Any) -> str | None:
        manager = self._app.state.manager
        if requested is None:
            return None
        if requested.name:
            return resolve_voice(manager, requested.name)
        if requested.language:
            lang = requested.language.replace("-", "_").lower()
            installed = [v for v in voices(manager) if v["installed"]]
            for match in (
                lambda v: v["language"].lower() == lang,
                lambda v: v["language"].lower().split("_")[0] == lang,
            ):
                found = [v for v in installed if match(v)]
                if found:
                    return found[0]["id"]
            raise NotFound(f"no installed voice speaks {requested.language!r}", code="voice_not_found")
        return None

    async def handle_event(self, event: Any) -> bool:
        from wyoming.info import Describe
        from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop, SynthesizeStopped

        settings = self._app.state.settings
        if Describe.is_type(event.type):
            await self.write_event(tts_info(self._app).event())
        elif Synthesize.is_type(event.type):
            if self._stream is not None:
                return True  # the compatibility copy of a streamed text: already being spoken
            request = Synthesize.from_event(event)
            text = check_text(request.text, settings)
            await self._say(self._voice(request.voice), text, close=True)
        elif SynthesizeStart.is_type(event.type):
            self._stream = _Stream(voice=self._voice(SynthesizeStart.from_event(event).voice))
        elif SynthesizeChunk.is_type(event.type):
            stream = self._require_stream()
            piece = SynthesizeChunk.from_event(event).text
            stream.chars += len(piece)
            if stream.chars > settings.speech.max_input_chars:
                self._stream = None
                raise WyomingRequestError(
                    f"the streamed text is over {settings.speech.max_input_chars} characters (speech.max_input_chars)",
                    "input_too_long",
                )
            for sentence in stream.buffer.add(piece):
                await self._say(stream.voice, sentence, close=False)
        elif SynthesizeStop.is_type(event.type):
            stream = self._require_stream()
            self._stream = None
            await self._say(stream.voice, stream.buffer.rest(), close=True)
            await self.write_event(SynthesizeStopped().event())
        return True

    def _require_stream(self) -> _Stream:
        if self._stream is None:
            raise WyomingRequestError("synthesize-chunk / synthesize-stop without synthesize-start", "no_stream")
        return self._stream

    async def _say(self, voice: str | None, text: str, *, close: bool) -> None:
        from wyoming.audio import AudioChunk, AudioStart, AudioStop

        settings = self._app.state.settings
        options = SpeechOptions(noise_scale=settings.speech.noise_scale, noise_w_scale=settings.speech.noise_w_scale)
        rate = self._audio_open
        if text.strip():

            async def gone() -> bool:
                return self.writer.is_closing()

            async for item in speak(self._app.state.manager, voice, text, options, disconnected=gone):
                if isinstance(item, Finished):
                    rate = rate or item.result.sample_rate
                    break
                rate, samples = item
                if self._audio_open is None:
                    await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
                    self._audio_open = rate
                step = int(rate * CHUNK_SECONDS)
                for i in range(0, samples.size, step):
                    pcm = to_pcm16(samples[i : i + step])
                    await self.write_event(AudioChunk(rate=rate, width=2, channels=1, audio=pcm).event())
        if close:
            if self._audio_open is None:  # nothing was said (empty or punctuation only): an empty stream
                rate = rate or self._default_rate()
                await self.write_event(AudioStart(rate=rate, width=2, channels=1).event())
            await self.write_event(AudioStop().event())
            self._audio_open = None

    def _default_rate(self) -> int:
        for voice in voices(self._app.state.manager):
            if voice["default"] and voice["sample_rate"]:
                return int(voice["sample_rate"])
        return 22050

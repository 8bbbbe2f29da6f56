"""hailo-whisper's Wyoming ASR server (Home Assistant's speech-to-text protocol; core/wyoming.py runs it).

``describe`` -> ``info`` (the asr program, its models and languages, attribution);
``transcribe`` (optional: model name, language) + ``audio-start`` / ``audio-chunk``... / ``audio-stop``
-> ``transcript-start``, one ``transcript-chunk`` per segment as the engine decodes it, ``transcript-stop``
and the whole ``transcript`` (clients that do not stream read only that). The transcription goes
through the same model manager and queue as the HTTP API (one engine, one queue per model).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np

from .. import __version__
from ..core.audio import pcm16_to_float
from ..core.errors import NotFound
from ..core.streaming import Finished
from ..core.wyoming import WyomingHandler, WyomingRequestError
from . import processing
from .engine import SAMPLE_RATE, Segment, TranscribeOptions, Transcription

ATTRIBUTION = ("OpenAI", "https://github.com/openai/whisper")


def asr_info(app: Any) -> Any:
    from wyoming.info import AsrModel, AsrProgram, Attribution, Info

    manager = app.state.manager
    present = {spec.name for spec, _ in manager.available()}
    models = []
    for spec in manager.catalog.values():
        if not spec.artifacts(manager.engine_kind):
            continue
        models.append(
            AsrModel(
                name=spec.name,
                attribution=Attribution(name=spec.attribution, url=spec.attribution_url),
                installed=spec.name in present,
                description=spec.description,
                version=None,
                languages=list(spec.languages) or list(processing.LANGUAGES),
            )
        )
    program = AsrProgram(
        name="hailo-whisper",
        attribution=Attribution(name=ATTRIBUTION[0], url=ATTRIBUTION[1]),
        installed=True,
        description=f"Whisper on the {'Hailo-10H NPU' if manager.engine_kind == 'hailo' else 'CPU'} (hailo-services)",
        version=__version__,
        models=models,
        supports_transcript_streaming=True,
    )
    return Info(asr=[program])


class AsrHandler(WyomingHandler):
    """One Wyoming connection. Audio is converted to 16 kHz 16-bit mono as it arrives (the library's
    AudioChunkConverter) and held until ``audio-stop``, at most ``audio.max_duration_s`` of it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, runtime: Any):
        super().__init__(reader, writer, runtime)
        self._request: Any = None
        self._audio: bytearray | None = None
        self._converter: Any = None

    @property
    def _settings(self) -> Any:
        return self.runtime.app.state.settings

    def _max_bytes(self) -> int:
        return int(self._settings.audio.max_duration_s * SAMPLE_RATE * 2)

    def _begin(self, rate: int, width: int, channels: int) -> None:
        from wyoming.audio import AudioChunkConverter

        if not 1000 <= rate <= 192_000 or width not in (1, 2, 4) or channels not in (1, 2):
            raise WyomingRequestError(
                f"unsupported audio format rate={rate} width={width} channels={channels} "
                "(rate 1000..192000, width 1/2/4 bytes, 1 or 2 channels)",
                "unsupported_audio",
            )
        self._audio = bytearray()
        self._converter = AudioChunkConverter(rate=SAMPLE_RATE, width=2, channels=1)

    async def handle_event(self, event: Any) -> bool:
        from wyoming.asr import Transcribe
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.info import Describe

        if Describe.is_type(event.type):
            await self.write_event(asr_info(self.runtime.app).event())
        elif Transcribe.is_type(event.type):
            self._request = Transcribe.from_event(event)
            self._audio = None
        elif AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            self._begin(int(start.rate), int(start.width), int(start.channels))
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            if self._audio is None:  # audio without audio-start: take the chunk's own format
                self._begin(int(chunk.rate), int(chunk.width), int(chunk.channels))
            assert self._audio is not None
            self._audio += self._converter.convert(chunk).audio
            if len(self._audio) > self._max_bytes():
                self._audio = None
                await self.error(
                    f"the audio is longer than {self._settings.audio.max_duration_s:g} s (audio.max_duration_s)",
                    "audio_too_long",
                )
                return False
        elif AudioStop.is_type(event.type):
            if self._audio is None:
                raise WyomingRequestError("audio-stop without audio", "no_audio")
            audio, self._audio = bytes(self._audio), None
            request, self._request = self._request, None
            await self._transcribe(pcm16_to_float(audio), request)
        # Other events (ping, run-pipeline, ...) are not for an ASR server: ignored, as Wyoming's own do.
        return True

    async def _transcribe(self, samples: np.ndarray, request: Any) -> None:
        from wyoming.asr import Transcript, TranscriptChunk, TranscriptStart, TranscriptStop

        manager = self.runtime.app.state.manager
        model = (request.name if request is not None else None) or None
        if model is not None and manager.catalog.resolve(model) is None:
            raise NotFound(f"model '{model}' not found")
        settings = self._settings
        options = TranscribeOptions(
            language=(request.language if request is not None else None) or settings.transcription.language,
            vad_filter=settings.transcription.vad_filter,
            beam_size=settings.transcription.beam_size,
            prompt=_prompt(request),
        )

        async def gone() -> bool:
            return self.writer.is_closing()

        stream = manager.stream(
            model, lambda engine, emit: processing.transcribe(engine, samples, options, emit), disconnected=gone
        )
        started = False
        result: Transcription | None = None
        async for item in stream:
            if isinstance(item, Finished):
                result = item.result
            elif isinstance(item, Segment):
                if not started:
                    await self.write_event(TranscriptStart(language=options.language).event())
                    started = True
                await self.write_event(TranscriptChunk(text=item.text).event())
        assert result is not None
        if started:
            await self.write_event(TranscriptStop().event())
        await self.write_event(Transcript(text=result.text, language=result.language).event())


def _prompt(request: Any) -> str | None:
    """Home Assistant's names and terms (entity and area names) as Whisper's initial prompt, which is
    how Whisper is biased towards words it should expect."""
    if request is None:
        return None
    words = [*(request.transcript_names or ()), *(request.transcript_terms or ())]
    words = [str(w) for w in words if str(w).strip()][:100]
    return ", ".join(words)[:1000] or None

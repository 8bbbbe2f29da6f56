"""hailo-whisper's NPU engine: the Whisper-Base HEF through HailoRT 5.x's ``hailo_platform.genai.Speech2Text``
on the process's shared VDevice (core/hailo_device.py).

What HailoRT documents for it (docs/hailo-models.md; HailoRT 5.x ``hailo_platform.genai``):
``Speech2Text(vdevice, hef_path)``; ``generate_all_segments(audio_data, task=Speech2TextTask.TRANSCRIBE,
language=None, repetition_penalty=1.0, timeout_ms=10000)`` -> segments with ``start_sec``, ``end_sec``,
``text``; audio is 16 kHz mono float32 PCM in [-1, 1); ``language=None`` detects it, otherwise an
ISO 639-1 code; ``release()`` before the VDevice is released. The audio goes to the device in
windows of the catalog's ``window_s`` (Whisper's 30 s), cut at quiet points (processing.windows), and
each window's segments are emitted as soon as it is done, with times from the start of the audio.
HailoRT gives no word timings, log-probabilities or detected language: word timestamps are refused
(400), and the language reported is the requested one.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from ..core.hailo_device import acquire_vdevice, release_vdevice
from ..core.models import EngineError, UnsupportedRequest
from . import processing
from .engine import EmitSegment, Segment, TranscribeOptions, Transcription, WhisperEngine, WhisperModelSpec

log = logging.getLogger(__name__)

# HailoRT's own default is 10 s per call; a 30 s window on a busy, shared device may need more.
TIMEOUT_MS_PER_WINDOW = 30_000


def _hailo_error(exc: BaseException) -> EngineError:
    text = str(exc).strip()
    return EngineError(f"HailoRT: {text}" if text else f"HailoRT: {type(exc).__name__}")


class HailoWhisperEngine(WhisperEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED", *, timeout_ms: int = TIMEOUT_MS_PER_WINDOW):
        self._group_id = group_id
        self._timeout_ms = timeout_ms
        self._model: Any = None
        self._spec: WhisperModelSpec | None = None
        self._task_enum: Any = None

    def load(self, spec: WhisperModelSpec, paths: list[Path]) -> None:
        self.unload()
        from hailo_platform.genai import Speech2Text, Speech2TextTask

        vdevice = acquire_vdevice(self._group_id)
        try:
            model = Speech2Text(vdevice, str(paths[0]))
        except Exception as exc:
            release_vdevice()
            raise _hailo_error(exc) from None
        self._model, self._spec, self._task_enum = model, spec, Speech2TextTask

    def unload(self) -> None:
        model, self._model, self._spec = self._model, None, None
        if model is None:
            return
        try:
            model.release()
        finally:
            release_vdevice()

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, emit: EmitSegment | None = None
    ) -> Transcription:
        model, spec = self.held()
        if options.word_timestamps:
            raise UnsupportedRequest(
                "word timestamps are not available on the Hailo engine (HailoRT gives segment times)"
            )
        task = self._task_enum.TRANSLATE if options.task == "translate" else self._task_enum.TRANSCRIBE
        pcm = np.ascontiguousarray(np.clip(audio, -1.0, 1.0 - 2**-15), dtype="<f4")
        segments: list[Segment] = []
        for offset, window in processing.windows(pcm, spec.window_s):
            if processing.is_silent(window):
                continue  # nothing to hear: HailoRT would only be asked to hallucinate
            try:
                found = model.generate_all_segments(
                    np.ascontiguousarray(window), task=task, language=options.language, timeout_ms=self._timeout_ms
                )
            except Exception as exc:
                raise _hailo_error(exc) from None
            for info in found:
                text = str(info.text)
                if not text.strip():
                    continue
                seg = processing.shifted(
                    Segment(
                        id=0,
                        start=float(info.start_sec),
                        end=float(info.end_sec),
                        text=_spaced(text),
                        temperature=options.temperature,
                    ),
                    offset,
                    len(segments),
                )
                segments.append(seg)
                if emit is not None and emit(seg):
                    return Transcription(options.language or "unknown", audio.shape[0] / 16000, segments)
        return Transcription(options.language or "unknown", audio.shape[0] / 16000, segments)


def _spaced(text: str) -> str:
    # Whisper's segments start with a space ("  Hello"), which is how the texts join; keep one.
    return " " + text.strip()

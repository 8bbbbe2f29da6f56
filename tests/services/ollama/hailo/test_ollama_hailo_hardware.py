"""HailoLLMEngine on a real Hailo-10H (run on a Pi: ``pytest -m hailo tests/hailo``).

Deselected by default (the project's pytest config adds ``-m 'not hailo'``); skips without
/dev/hailo0, without HailoRT's ``hailo_platform`` or without an LLM HEF (env HAILO_TEST_HEF, or the
model store's Qwen2.5-1.5B-Instruct.hef / Qwen2-1.5B-Instruct.hef). Timings are printed, not asserted.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hailo_services.core import hailo_device
from hailo_services.ollama.catalog import ModelSpec
from hailo_services.ollama.engine import Sampling
from hailo_services.ollama.hailo import HailoLLMEngine

pytestmark = [pytest.mark.hailo, pytest.mark.usefixtures("hailo_hw")]

MODELS_DIR = Path("/var/lib/hailo-services/models")
CANDIDATES = ("Qwen2.5-1.5B-Instruct.hef", "Qwen2-1.5B-Instruct.hef")


def find_hef() -> Path | None:
    env = os.environ.get("HAILO_TEST_HEF")
    if env:
        return Path(env) if Path(env).is_file() else None
    return next((MODELS_DIR / n for n in CANDIDATES if (MODELS_DIR / n).is_file()), None)


def spec_for(hef: Path) -> ModelSpec:
    return ModelSpec(
        name=hef.stem.lower(),
        description="hardware test",
        family="qwen2",
        parameter_size="1.5B",
        quantization="A8W4",
        context_length=2048,
        license="Apache-2.0",
        stop=("<|im_end|>", "<|endoftext|>"),
    )


@pytest.fixture(scope="module")
def hef() -> Path:
    path = find_hef()
    if path is None:
        pytest.skip("no LLM HEF: set HAILO_TEST_HEF or put one in /var/lib/hailo-services/models")
    return path


@pytest.fixture(scope="module")
def engine(hef: Path) -> Iterator[HailoLLMEngine]:
    # Module-scoped: loading a 1.5B HEF takes ~8 s.
    eng = HailoLLMEngine()
    started = time.perf_counter()
    eng.load(spec_for(hef), [hef], num_ctx=2048)
    print(f"\nload {hef.name}: {time.perf_counter() - started:.2f} s")
    yield eng
    eng.unload()


class Collect:
    def __init__(self, cancel_after: int | None = None):
        self.chunks: list[str] = []
        self.times: list[float] = []
        self.cancel_after = cancel_after

    def __call__(self, text: str) -> bool:
        self.chunks.append(text)
        self.times.append(time.perf_counter())
        return self.cancel_after is not None and len(self.chunks) >= self.cancel_after

    @property
    def text(self) -> str:
        return "".join(self.chunks)


GREEDY = Sampling(temperature=0.0, max_tokens=48)
QUESTION = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Name three colours of the rainbow."},
]


def test_load_reports_the_hef_context(engine: HailoLLMEngine) -> None:
    assert engine.context_length() > 0
    print(f"context capacity: {engine.context_length()} tokens")


def test_short_chat_returns_text(engine: HailoLLMEngine) -> None:
    out = Collect()
    stats = engine.chat(QUESTION, GREEDY, out)
    print(f"reply: {out.text!r} ({stats})")
    assert out.text.strip()
    assert "<|im_end|>" not in out.text
    assert stats.completion_tokens > 0
    assert stats.finish_reason in ("stop", "length")


def test_streaming_yields_several_chunks_and_prints_speed(engine: HailoLLMEngine) -> None:
    out = Collect()
    messages = [{"role": "user", "content": "Count from one to twenty in words, separated by commas."}]
    stats = engine.chat(messages, Sampling(temperature=0.0, max_tokens=80), out)
    assert len(out.chunks) >= 3
    tps = stats.completion_tokens / stats.eval_s if stats.eval_s > 0 else float("nan")
    print(
        f"TTFT {stats.prompt_eval_s:.3f} s for {stats.prompt_tokens} prompt tokens; "
        f"{stats.completion_tokens} tokens at {tps:.2f} tokens/s"
    )


def test_follow_up_reuses_the_context(engine: HailoLLMEngine) -> None:
    first = Collect()
    engine.chat(QUESTION, Sampling(temperature=0.0, max_tokens=200), first)
    follow = [
        *QUESTION,
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "And one more?"},
    ]
    started = time.perf_counter()
    out = Collect()
    stats = engine.chat(follow, GREEDY, out)
    print(f"follow-up: cached {stats.cached_tokens} tokens, TTFT {stats.prompt_eval_s:.3f} s: {out.text!r}")
    assert out.text.strip()
    assert stats.cached_tokens > 0, "the first reply did not end naturally, or the context was cleared"
    print(f"follow-up total {time.perf_counter() - started:.2f} s")


def test_stop_string_and_cancel(engine: HailoLLMEngine) -> None:
    messages = [{"role": "user", "content": "Count from 1 to 30, one number per line."}]
    out = Collect()
    stats = engine.chat(messages, Sampling(temperature=0.0, max_tokens=120, stop=["5"]), out)
    assert "5" not in out.text
    assert stats.finish_reason == "stop"

    out = Collect(cancel_after=3)
    stats = engine.chat(messages, Sampling(temperature=0.0, max_tokens=120), out)
    assert stats.finish_reason == "cancelled"
    assert len(out.chunks) == 3

    # The generator was released: the model answers the next request.
    out = Collect()
    engine.chat(QUESTION, GREEDY, out)
    assert out.text.strip()


def test_two_engines_in_one_process_share_the_vdevice(engine: HailoLLMEngine, hef: Path) -> None:
    second = HailoLLMEngine()
    second.load(spec_for(hef), hef, num_ctx=2048)
    try:
        assert hailo_device._users >= 2
        a, b = Collect(), Collect()
        engine.chat(QUESTION, GREEDY, a)
        second.chat(QUESTION, GREEDY, b)
        assert a.text.strip() and b.text.strip()
    finally:
        second.unload()
    out = Collect()
    engine.chat(QUESTION, GREEDY, out)  # the first engine still works after the second released
    assert out.text.strip()

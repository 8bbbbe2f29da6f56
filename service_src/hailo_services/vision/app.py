"""hailo-vision's app: hailo-ollama's Ollama and OpenAI routers (one implementation of both APIs for
the LLM and the VLM service) on a vision catalog and engines, plus the seed's /v1/vision/analyze."""

from __future__ import annotations

from fastapi import FastAPI

from ..core.app import create_model_app
from ..ollama import api_ollama, api_openai
from ..ollama.app import name_example_model, render_error
from ..ollama.engine import LLMEngine
from ..ollama.metrics import LLMMetrics
from . import api
from .catalog import ModelSpec, catalog
from .settings import Settings


def engine_factory(kind: str, settings: Settings):
    def make(spec: ModelSpec) -> LLMEngine:
        if kind == "hailo":
            from .hailo import HailoVLMEngine

            return HailoVLMEngine(group_id=settings.hailo.group_id)
        from .cpu import LlamaVisionEngine

        return LlamaVisionEngine(threads=settings.threads, parallel=settings.num_parallel)

    return make


def create_app(settings: Settings, *, exit_on_load_failure: bool = False) -> FastAPI:
    app = create_model_app(
        settings,
        catalog=catalog(),
        engine_factory=engine_factory,
        render_error=render_error,
        routers=[api_ollama.router, api_openai.router, api.router],
        metrics_class=LLMMetrics,
        load_options={"num_ctx": settings.num_ctx},
        reload_on_new_options=True,
        exit_on_load_failure=exit_on_load_failure,
    )
    name_example_model(app)
    return app

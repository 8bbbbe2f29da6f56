"""hailo-ollama's app: the core model app + the Ollama and OpenAI routers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.requests import Request

from ..core.app import create_model_app
from ..core.errors import openai_error, plain_error
from . import api_embeddings, api_ollama, api_openai
from .catalog import ModelSpec, catalog
from .engine import LLMEngine
from .metrics import LLMMetrics
from .schemas import EXAMPLE_MODEL
from .settings import Settings


def render_error(request: Request, status: int, message: str, type_: str, code: str | None) -> dict[str, Any]:
    """OpenAI's shape under /v1, Ollama's plain ``{"error": ...}`` everywhere else."""
    if request.url.path.startswith("/v1"):
        return openai_error(request, status, message, type_, code)
    return plain_error(request, status, message, type_, code)


def engine_factory(kind: str, settings: Settings):
    def make(spec: ModelSpec) -> LLMEngine:
        if kind == "hailo":
            from .hailo import HailoLLMEngine

            return HailoLLMEngine(group_id=settings.hailo.group_id)
        from .cpu import LlamaCppEngine

        return LlamaCppEngine(threads=settings.threads, parallel=settings.num_parallel)

    return make


def name_example_model(app: FastAPI) -> None:
    """The request examples in /docs name the model this service loads (the schemas are shared by
    hailo-ollama and hailo-vision, whose catalogs differ), so each one's examples work as written; the
    conformance suite starts from them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _rename_model(build(), app.state.manager.default_model)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _rename_model(node: Any, model: str, in_examples: bool = False) -> None:
    if isinstance(node, dict):
        if in_examples and node.get("model") == EXAMPLE_MODEL:
            node["model"] = model
        for key, value in node.items():
            _rename_model(value, model, in_examples or key in ("examples", "example"))
    elif isinstance(node, list):
        for item in node:
            _rename_model(item, model, in_examples)


def create_app(settings: Settings, *, exit_on_load_failure: bool = False) -> FastAPI:
    app = create_model_app(
        settings,
        catalog=catalog(),
        engine_factory=engine_factory,
        render_error=render_error,
        routers=[api_ollama.router, api_openai.router, api_embeddings.router],
        metrics_class=LLMMetrics,
        load_options={"num_ctx": settings.num_ctx},
        # Ollama reloads a model when a request asks for another num_ctx.
        reload_on_new_options=True,
        exit_on_load_failure=exit_on_load_failure,
    )
    name_example_model(app)
    return app

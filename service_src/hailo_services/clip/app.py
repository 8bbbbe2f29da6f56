"""hailo-clip's app: the core model app with the CLIP router."""

from __future__ import annotations

from fastapi import FastAPI

from ..core import model_routes
from ..core.app import create_model_app
from ..core.errors import openai_error
from . import api
from .engine import ClipEngine, ClipModelSpec, load_catalog
from .settings import Settings


def engine_factory(kind: str, settings: Settings):
    def make(spec: ClipModelSpec) -> ClipEngine:
        if kind == "hailo":
            from .hailo import HailoClipEngine

            return HailoClipEngine(group_id=settings.hailo.group_id)
        from .cpu import ClipOnnxEngine

        return ClipOnnxEngine(settings.threads)

    return make


def create_app(settings: Settings, *, exit_on_load_failure: bool = False) -> FastAPI:
    return create_model_app(
        settings,
        catalog=load_catalog(),
        engine_factory=engine_factory,
        render_error=openai_error,
        routers=[api.router, model_routes.router],
        exit_on_load_failure=exit_on_load_failure,
    )

"""hailo-detect's app: the core model app with the DeepStack / CodeProject.AI and COCO routers."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from prometheus_client import Counter
from starlette.requests import Request

from ..core import model_routes
from ..core.app import create_model_app
from ..core.errors import deepstack_error, openai_error
from ..core.metrics import ServiceMetrics
from . import api
from .engine import DetectEngine, DetectModelSpec, load_catalog
from .settings import Settings

DEEPSTACK_PATHS = ("/v1/vision/", "/v1/status/")


def render_error(request: Request, status: int, message: str, type_: str, code: str | None) -> dict[str, Any]:
    """DeepStack's ``{"success": false, "error", "code"}`` on its paths, OpenAI's shape on the rest."""
    if request.url.path.startswith(DEEPSTACK_PATHS):
        return deepstack_error(request, status, message, type_, code)
    return openai_error(request, status, message, type_, code)


class DetectMetrics(ServiceMetrics):
    def __init__(self, service: str):
        super().__init__(service)
        self.objects = Counter(
            "hailo_objects_detected", "Objects returned", ["service", "model", "label"], registry=self.registry
        )


def engine_factory(kind: str, settings: Settings):
    def make(spec: DetectModelSpec) -> DetectEngine:
        if kind == "hailo":
            from .hailo import HailoDetectEngine

            return HailoDetectEngine(group_id=settings.hailo.group_id)
        from .cpu import make_cpu_engine

        return make_cpu_engine(spec, settings.threads)

    return make


def create_app(settings: Settings, *, exit_on_load_failure: bool = False) -> FastAPI:
    return create_model_app(
        settings,
        catalog=load_catalog(),
        engine_factory=engine_factory,
        render_error=render_error,
        routers=[api.deepstack, api.coco, model_routes.router],
        metrics_class=DetectMetrics,
        form_key_paths=("/v1/vision/",),
        exit_on_load_failure=exit_on_load_failure,
    )

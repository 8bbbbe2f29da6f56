"""FastAPI dependencies for route handlers: the service's model manager, settings and metrics.

``async def route(manager: ManagerDep, settings: SettingsDep)`` instead of reaching into
``request.app.state`` in every handler.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends
from starlette.requests import Request

from .metrics import ServiceMetrics
from .models import ModelManager
from .settings import ServiceSettings


def get_manager(request: Request) -> ModelManager:
    return request.app.state.manager


def get_settings(request: Request) -> Any:
    return request.app.state.settings


def get_metrics(request: Request) -> Any:
    return request.app.state.metrics


ManagerDep = Annotated[ModelManager, Depends(get_manager)]
SettingsDep = Annotated[ServiceSettings, Depends(get_settings)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]

"""Routes every model-serving service shares: ``GET /v1/models`` lists the catalog models this
engine can run, which are on disk, and which one is the default (OpenAI's list shape, with extras)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .deps import ManagerDep

router = APIRouter(tags=["models"])


@router.get("/v1/models", summary="The catalog models this engine can run, and which are on disk")
async def list_models(manager: ManagerDep) -> dict[str, Any]:
    present = {spec.name for spec, _ in manager.available()}
    return {
        "object": "list",
        "data": [
            {
                "id": spec.name,
                "object": "model",
                "owned_by": "hailo-services",
                "description": spec.description,
                "present": spec.name in present,
                "default": spec.name == manager.default_model,
                "engine": manager.engine_kind,
            }
            for spec in manager.catalog.values()
            if spec.artifacts(manager.engine_kind)
        ],
    }

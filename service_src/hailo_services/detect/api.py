"""hailo-detect's HTTP API.

- ``deepstack``: DeepStack / CodeProject.AI, what Frigate's ``deepstack`` detector, Blue Iris and
  Home Assistant's deepstack integrations call: ``POST /v1/vision/detection`` (multipart ``image``,
  ``min_confidence``, ``api_key``), ``/v1/vision/custom/{model}``, ``/v1/vision/custom/list``,
  ``/v1/status/ping``. Predictions are sorted by confidence, best first: Frigate stops reading at the
  first one below its threshold.
- ``coco``: ``POST /v1/detect`` with COCO-style results (``bbox`` = x, y, width, height) and
  ``GET /v1/models``.

Both take the image as multipart, a raw ``image/*`` body or JSON base64 (core/images.py), and answer
with an annotated PNG on ``?annotate=true`` or ``Accept: image/png``.
"""

from __future__ import annotations

import socket
import time
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import __version__
from ..core import drawing
from ..core.deps import ManagerDep, SettingsDep
from ..core.errors import BadRequest
from ..core.images import DecodedImage, image_request_openapi, read_image_request
from ..core.middleware import check_form_api_key
from ..core.models import ModelManager
from .engine import Detection, DetectParams
from .labels import COCO80, COCO90_TO_80, class_ids_for

MODULE_ID = "ObjectDetectionHailo"
MODULE_NAME = "Object Detection (hailo-services)"
COCO80_TO_90 = {idx: coco_id for coco_id, idx in COCO90_TO_80.items()}

deepstack = APIRouter(tags=["DeepStack / CodeProject.AI"])
coco = APIRouter(tags=["detection"])


# /docs and the conformance suite take the example: the CPU engine's packaged model.
ModelName = Annotated[
    str, PathParam(description="a model of the catalog (GET /v1/vision/custom/list)", examples=["ssd_mobilenet_v2"])
]


class DeepStackForm(BaseModel):
    """The form fields DeepStack clients send besides ``image``; others (Blue Iris adds some) are ignored."""

    model_config = ConfigDict(extra="ignore")

    min_confidence: float | None = Field(default=None, ge=0.0, le=1.0, description="default: the service's 0.4")
    api_key: str | None = Field(default=None, description="the API key, when the service has one")
    annotate: bool = Field(default=False, description="answer with the image and its boxes drawn (PNG)")


class DetectForm(BaseModel):
    """Parameters of ``POST /v1/detect``."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    confidence: float | None = Field(default=None, ge=0.0, le=1.0, description="lowest score returned")
    iou_threshold: float | None = Field(default=None, ge=0.0, le=1.0, description="NMS overlap threshold")
    max_detections: int = Field(default=100, ge=1, le=1000)
    classes: list[str] | None = Field(
        default=None, description="only these labels (a list, or one comma-separated string in a form)"
    )
    annotate: bool = False

    @field_validator("classes", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part for part in (p.strip() for p in value.split(",")) if part]
        return value


def _params(confidence: float, iou: float, max_detections: int = 100, classes: frozenset[int] | None = None):
    return DetectParams(confidence=confidence, iou_threshold=iou, max_detections=max_detections, classes=classes)


async def _detect(
    request: Request, manager: ModelManager, model: str | None, image: DecodedImage, params: DetectParams
) -> tuple[str, list[Detection], float]:
    """Run the engine; returns the model name, the detections (best first) and the engine's seconds."""
    name, found, engine_s = await manager.run_timed(
        model, lambda engine: engine.detect(image.rgb, params), disconnected=request.is_disconnected
    )
    found = sorted(found, key=lambda d: d.score, reverse=True)
    metrics = request.app.state.metrics
    for d in found:
        metrics.objects.labels(metrics.service, name, d.label).inc()
    return name, found, engine_s


def _annotated(image: DecodedImage, found: list[Detection]) -> Response:
    boxes = [(d.x_min, d.y_min, d.x_max, d.y_max, f"{d.label} {d.score:.2f}", d.label) for d in found]
    png = drawing.png_bytes(drawing.annotate(image.rgb, boxes=boxes))
    return Response(png, media_type="image/png")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _deepstack_body(found: list[Detection], engine_s: float, total_s: float, engine: str) -> dict[str, Any]:
    labels = list(dict.fromkeys(d.label for d in found))
    return {
        "success": True,
        "message": f"Found {', '.join(labels)}" if labels else "No objects found",
        "predictions": [
            {
                "label": d.label,
                "confidence": round(float(d.score), 4),
                "x_min": round(d.x_min),
                "y_min": round(d.y_min),
                "x_max": round(d.x_max),
                "y_max": round(d.y_max),
            }
            for d in found
        ],
        "count": len(found),
        "inferenceMs": _ms(engine_s),
        "processMs": _ms(total_s),
        "moduleId": MODULE_ID,
        "moduleName": MODULE_NAME,
        "command": "detect",
        "inferenceDevice": "Hailo-10H" if engine == "hailo" else "CPU",
        "code": 200,
    }


async def _deepstack_detect(request: Request, manager: ModelManager, settings: Any, model: str | None) -> Response:
    started = time.perf_counter()
    await check_form_api_key(request)
    image, form = await read_image_request(request, DeepStackForm, settings.images)
    confidence = settings.min_confidence if form.min_confidence is None else form.min_confidence
    _, found, engine_s = await _detect(request, manager, model, image, _params(confidence, settings.iou_threshold))
    if form.annotate or drawing.wants_image(request):
        return _annotated(image, found)
    return JSONResponse(_deepstack_body(found, engine_s, time.perf_counter() - started, manager.engine_kind))


@deepstack.post(
    "/v1/vision/detection",
    openapi_extra=image_request_openapi(DeepStackForm),
    summary="Detect objects (DeepStack / CodeProject.AI)",
)
async def vision_detection(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    return await _deepstack_detect(request, manager, settings, None)


# CodeProject.AI answers the list on GET and POST: two routes, so each has its own operation id.
@deepstack.get("/v1/vision/custom/list", summary="The models this service can run (CodeProject.AI's custom-model list)")
@deepstack.post(
    "/v1/vision/custom/list",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"api_key": {"type": "string"}}},
                }
            },
        }
    },
    summary="The models this service can run (CodeProject.AI's custom-model list)",
)
async def custom_list(request: Request, manager: ManagerDep) -> dict[str, Any]:
    await check_form_api_key(request)
    return {
        "success": True,
        "models": [spec.name for spec, _ in manager.available()],
        "moduleId": MODULE_ID,
        "moduleName": MODULE_NAME,
        "command": "list-custom",
        "code": 200,
    }


@deepstack.post(
    "/v1/vision/custom/{model}",
    openapi_extra=image_request_openapi(DeepStackForm),
    summary="Detect objects with a named model (DeepStack custom models = our catalog)",
)
async def vision_custom(model: ModelName, request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    return await _deepstack_detect(request, manager, settings, model)


@deepstack.get("/v1/status/ping", summary="CodeProject.AI's liveness ping")
async def ping() -> dict[str, Any]:
    major, minor, patch = (int(p) if p.isdigit() else 0 for p in [*__version__.split("."), "0", "0"][:3])
    return {
        "success": True,
        "code": 200,
        "hostname": socket.gethostname(),
        "message": f"hailo-services {__version__}",
        "version": {"major": major, "minor": minor, "patch": patch, "preRelease": None, "build": 0},
    }


@coco.post(
    "/v1/detect",
    openapi_extra=image_request_openapi(DetectForm),
    summary="Detect objects (COCO-style results)",
)
async def detect(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    started = time.perf_counter()
    image, form = await read_image_request(request, DetectForm, settings.images)
    try:
        classes = class_ids_for(form.classes) if form.classes else None
    except ValueError as exc:
        raise BadRequest(f"classes: {exc}; known: {', '.join(COCO80)}", code="invalid_request") from None
    params = _params(
        settings.min_confidence if form.confidence is None else form.confidence,
        settings.iou_threshold if form.iou_threshold is None else form.iou_threshold,
        form.max_detections,
        classes,
    )
    name, found, engine_s = await _detect(request, manager, form.model, image, params)
    if form.annotate or drawing.wants_image(request):
        return _annotated(image, found)
    return JSONResponse(
        {
            "model": name,
            "detections": [
                {
                    "bbox": [round(d.x_min, 1), round(d.y_min, 1), round(d.width, 1), round(d.height, 1)],
                    "category_id": COCO80_TO_90.get(d.class_id, d.class_id),
                    "label": d.label,
                    "score": round(float(d.score), 4),
                }
                for d in found
            ],
            "count": len(found),
            "image": {"width": image.width, "height": image.height},
            "inference_ms": round(engine_s * 1000, 2),
            "total_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    )

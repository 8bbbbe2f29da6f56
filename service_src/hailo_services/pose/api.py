"""hailo-pose's HTTP API: ``POST /v1/pose/detect`` (people, boxes, 17 COCO keypoints, skeleton) and
``GET /v1/models``. The image comes as multipart ``image``, a raw ``image/*`` body or JSON base64
(core/images.py); ``?annotate=true`` or ``Accept: image/png`` answers with the skeletons drawn."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from ..core import drawing
from ..core.deps import ManagerDep, SettingsDep
from ..core.images import image_request_openapi, read_image_request
from .engine import Person, PoseParams
from .processing import KEYPOINT_NAMES, SKELETON, visible_skeleton

router = APIRouter(tags=["pose"])


class PoseForm(BaseModel):
    """Parameters of ``POST /v1/pose/detect`` (the seed service's names and defaults)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    confidence_threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="lowest person score returned")
    iou_threshold: float = Field(default=0.45, ge=0.0, le=1.0, description="NMS overlap threshold")
    max_detections: int = Field(default=10, ge=1, le=300)
    keypoint_threshold: float = Field(
        default=0.3, ge=0.0, le=1.0, description="keypoints below it are reported but left out of the skeleton"
    )
    annotate: bool = False


def _person(index: int, p: Person, keypoint_threshold: float) -> dict[str, Any]:
    return {
        "person_id": index,
        "bbox": {
            "x": round(p.x1, 1),
            "y": round(p.y1, 1),
            "width": round(p.x2 - p.x1, 1),
            "height": round(p.y2 - p.y1, 1),
        },
        "score": round(p.score, 4),
        "keypoints": [
            {"name": name, "x": round(float(x), 1), "y": round(float(y), 1), "score": round(float(s), 4)}
            for name, (x, y, s) in zip(KEYPOINT_NAMES, p.keypoints.tolist(), strict=True)
        ],
        "skeleton": [
            {"from": KEYPOINT_NAMES[a], "to": KEYPOINT_NAMES[b], "from_index": a, "to_index": b}
            for a, b in visible_skeleton(p, keypoint_threshold)
        ],
    }


@router.post(
    "/v1/pose/detect",
    openapi_extra=image_request_openapi(PoseForm),
    summary="Find people and their 17 COCO keypoints",
)
async def pose_detect(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    started = time.perf_counter()
    image, form = await read_image_request(request, PoseForm, settings.images)
    params = PoseParams(
        confidence=form.confidence_threshold,
        iou_threshold=form.iou_threshold,
        max_detections=form.max_detections,
        keypoint_threshold=form.keypoint_threshold,
    )
    name, people, engine_s = await manager.run_timed(
        form.model, lambda engine: engine.detect(image.rgb, params), disconnected=request.is_disconnected
    )
    people = sorted(people, key=lambda p: p.score, reverse=True)
    if form.annotate or drawing.wants_image(request):
        picture = drawing.annotate(
            image.rgb,
            boxes=[(p.x1, p.y1, p.x2, p.y2, f"person {p.score:.2f}", i) for i, p in enumerate(people)],
            keypoints=[p.keypoints.tolist() for p in people],
            skeleton=SKELETON,
            keypoint_threshold=params.keypoint_threshold,
        )
        return Response(drawing.png_bytes(picture), media_type="image/png")
    return JSONResponse(
        {
            "model": name,
            "poses": [_person(i, p, params.keypoint_threshold) for i, p in enumerate(people)],
            "count": len(people),
            "image_size": {"width": image.width, "height": image.height},
            "inference_ms": round(engine_s * 1000, 2),
            "total_ms": round((time.perf_counter() - started) * 1000, 2),
        }
    )

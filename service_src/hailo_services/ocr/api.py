"""hailo-ocr's HTTP API: ``POST /v1/ocr`` (lines with text, confidence and a 4-point box, the full text in
reading order), the seed's ``POST /v1/ocr/extract`` in its response shape, and ``GET /v1/models``.

The image comes as multipart ``image``, a raw ``image/*`` body or JSON base64 / data URI (core/images.py).
``?annotate=true`` or ``Accept: image/png`` answers with the boxes and their text drawn;
``Accept: text/plain`` with the text alone (``curl ... -H 'Accept: text/plain'`` in a shell).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..core import drawing
from ..core.deps import ManagerDep, SettingsDep
from ..core.images import image_request_openapi, read_image_request
from ..core.models import UnsupportedRequest
from .engine import OcrEngine, OcrParams, OcrResult

router = APIRouter(tags=["ocr"])

MAX_LANGUAGES = 8


class _Languages(BaseModel):
    languages: list[str] | None = Field(
        default=None,
        max_length=MAX_LANGUAGES,
        description='languages to read, e.g. ["en"] (or "en,ch" in a form or query); each must be one the '
        "model's recogniser reads (GET /v1/models); null = all of them",
    )

    @field_validator("languages", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # Forms and query strings carry one string: "en" or "en,ch".
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("languages")
    @classmethod
    def _short(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(len(v) > 16 or not v for v in value):
            raise ValueError("a language is a short code such as 'en'")
        return value


class OcrForm(_Languages):
    """Parameters of ``POST /v1/ocr`` (PaddleOCR's names in the descriptions)."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    det_threshold: float = Field(
        default=0.3,
        ge=0.0,
        le=1.0,
        description="a pixel of the detector's probability map is text above it (det_db_thresh)",
    )
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="lowest detection score of a text region: the mean probability inside its box (det_db_box_thresh)",
    )
    rec_threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="lines whose recognition score is lower are left out (drop_score)"
    )
    max_lines: int = Field(default=1000, ge=1, le=1000, description="most text regions read (the best-scored first)")
    annotate: bool = Field(default=False, description="answer with a PNG of the boxes and their text")


class ExtractForm(_Languages):
    """The seed service's ``POST /v1/ocr/extract`` body: ``image`` and ``languages``."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(default=None, description="catalog model (default: the service's)")
    det_threshold: float = Field(default=0.3, ge=0.0, le=1.0)
    rec_threshold: float = Field(default=0.5, ge=0.0, le=1.0)


def _check_languages(engine: OcrEngine, languages: list[str] | None) -> list[str]:
    _, spec = engine.held()
    supported = list(spec.languages_for(engine.kind))
    if not languages:
        return supported
    unknown = [lang for lang in languages if lang not in supported]
    if unknown:
        raise UnsupportedRequest(
            f"language(s) {', '.join(repr(u) for u in unknown)} not read by model {spec.name!r} on the "
            f"{engine.kind} engine; it reads {', '.join(supported)}"
        )
    return list(languages)


async def _read(
    request: Request, manager: Any, model: str | None, languages: list[str] | None, params: OcrParams, rgb: Any
) -> tuple[str, str, list[str], OcrResult]:
    def call(engine: OcrEngine) -> tuple[str, list[str], OcrResult]:
        langs = _check_languages(engine, languages)
        return engine.kind, langs, engine.read(rgb, params)

    name, (kind, langs, result), _ = await manager.run_timed(model, call, disconnected=request.is_disconnected)
    return name, kind, langs, result


def _box(points: Any) -> list[list[float]]:
    return [[round(float(x), 1), round(float(y), 1)] for x, y in points.tolist()]


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


OCR_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the text read (JSON); the text alone with `Accept: text/plain`; the annotated PNG "
        "with `?annotate=true` or `Accept: image/png`",
        "content": {"text/plain": {"schema": {"type": "string"}}, "image/png": {}},
    }
}


@router.post(
    "/v1/ocr",
    openapi_extra=image_request_openapi(OcrForm),
    responses=OCR_RESPONSES,
    summary="Read the text in an image",
)
async def ocr(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    started = time.perf_counter()
    image, form = await read_image_request(request, OcrForm, settings.images)
    params = OcrParams(
        det_threshold=form.det_threshold,
        min_confidence=form.min_confidence,
        rec_threshold=form.rec_threshold,
        max_lines=form.max_lines,
    )
    name, _, _, result = await _read(request, manager, form.model, form.languages, params, image.rgb)
    if form.annotate or drawing.wants_image(request):
        picture = drawing.annotate(
            image.rgb, polygons=[(line.box.tolist(), line.text, i) for i, line in enumerate(result.lines)]
        )
        return Response(drawing.png_bytes(picture), media_type="image/png")
    if drawing.prefers(request, "text/plain"):
        return PlainTextResponse(result.text + "\n" if result.text else "")
    return JSONResponse(
        {
            "model": name,
            "text": result.text,
            "lines": [
                {"text": line.text, "confidence": round(line.confidence, 4), "box": _box(line.box)}
                for line in result.lines
            ],
            "image_size": {"width": image.width, "height": image.height},
            "timings": {
                "detection_ms": _ms(result.detection_s),
                "recognition_ms": _ms(result.recognition_s),
                "total_ms": _ms(time.perf_counter() - started),
            },
        }
    )


@router.post(
    "/v1/ocr/extract",
    openapi_extra=image_request_openapi(ExtractForm),
    summary="Read the text in an image (the seed service's request and response shape)",
)
async def ocr_extract(request: Request, manager: ManagerDep, settings: SettingsDep) -> Response:
    started = time.perf_counter()
    image, form = await read_image_request(request, ExtractForm, settings.images)
    params = OcrParams(det_threshold=form.det_threshold, rec_threshold=form.rec_threshold)
    name, kind, langs, result = await _read(request, manager, form.model, form.languages, params, image.rgb)
    confidences = [line.confidence for line in result.lines]
    return JSONResponse(
        {
            "success": True,
            "text": result.text,
            "regions": [
                {"text": line.text, "confidence": round(line.confidence, 4), "bbox": _box(line.box), "type": "text"}
                for line in result.lines
            ],
            "languages_detected": langs,
            "statistics": {
                "total_regions": len(result.lines),
                "average_confidence": round(sum(confidences) / len(confidences), 4) if confidences else 0.0,
            },
            "performance": {
                "detection_time_ms": _ms(result.detection_s),
                "recognition_time_ms": _ms(result.recognition_s),
                "total_time_ms": _ms(time.perf_counter() - started),
            },
            "hailo_info": {"engine": kind, "model": name, "npu": kind == "hailo"},
        }
    )

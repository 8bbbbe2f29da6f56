"""The seed's ``POST /v1/vision/analyze``: one prompt, several images, one answer per image (each its
own fresh chat, one after another on the model's queue). Chat itself is the Ollama and OpenAI APIs."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ConfigDict, Field

from ..core.deps import ManagerDep
from ..core.request_body import json_body_openapi, parse_json
from ..ollama.chat_images import check_vision, decode_all
from ..ollama.generation import collect, generate, merge_sampling
from ..ollama.schemas import EXAMPLE_MODEL, INT32_MAX, Lenient, Seed

router = APIRouter(prefix="/v1/vision", tags=["vision"])

# A 2x2 red PNG: small enough for the documented example to run anywhere.
EXAMPLE_IMAGE = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGO8IyfHwMDAxMDAwMDAAAAOCAEc48H7QgAAAABJRU5ErkJggg=="
)


class AnalyzeRequest(Lenient):
    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"model": EXAMPLE_MODEL, "images": [EXAMPLE_IMAGE], "prompt": "What colour is this?", "max_tokens": 8}
            ]
        },
    )

    images: list[str] = Field(min_length=1, description="base64, data: URIs (or http(s) URLs when allowed)")
    prompt: str = Field(default="Describe this image.", max_length=100_000)
    model: str | None = Field(default=None, description="default: the service's model")
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=INT32_MAX)
    seed: Seed | None = None


@router.post(
    "/analyze",
    summary="One prompt over several images: an answer per image",
    openapi_extra=json_body_openapi(AnalyzeRequest),
)
async def analyze(request: Request, manager: ManagerDep) -> dict[str, Any]:
    req = await parse_json(request, AnalyzeRequest)
    model = req.model or manager.default_model
    spec = manager.spec(model)
    check_vision(manager, spec.name, len(req.images))
    frames = await decode_all(manager, req.images, "images")
    sampling = merge_sampling(
        spec, temperature=req.temperature, top_p=req.top_p, max_tokens=req.max_tokens, seed=req.seed
    )
    started = time.perf_counter()
    results = []
    for i, (source, rgb) in enumerate(zip(req.images, frames, strict=True)):
        pieces = generate(
            manager,
            request.app.state.metrics,
            model=spec.name,
            kind="chat",
            messages=[{"role": "user", "content": req.prompt, "images": [rgb]}],
            sampling=sampling,
            deadline_s=manager.settings.request_timeout_s,
            disconnected=request.is_disconnected,
        )
        got = await collect(pieces)
        stats = got.summary.stats
        results.append(
            {
                "index": i,
                "image_url": source[:64] + ("..." if len(source) > 64 else ""),
                "analysis": got.text.strip(),
                "prompt_tokens": stats.prompt_tokens,
                "completion_tokens": stats.completion_tokens,
                "finish_reason": stats.finish_reason,
                "inference_time_ms": round(got.summary.total_s * 1000, 1),
            }
        )
    return {
        "model": spec.name,
        "results": results,
        "total_inference_time_ms": round((time.perf_counter() - started) * 1000, 1),
    }

"""Embeddings from the loaded model in both APIs' shapes: Ollama's /api/embed and /api/embeddings,
OpenAI's /v1/embeddings. A router of its own, so that a service whose models only chat (hailo-vision)
does not offer them."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from ..core.deps import ManagerDep
from ..core.errors import BadRequest
from ..core.request_body import json_body_openapi, parse_json
from .api_ollama import _ns
from .embedding import embed
from .schemas import OllamaEmbeddingsRequest, OllamaEmbedRequest, OpenAIEmbeddingRequest

router = APIRouter()


@router.post("/api/embed", openapi_extra=json_body_openapi(OllamaEmbedRequest))
async def embed_route(request: Request, manager: ManagerDep) -> dict[str, Any]:
    req = await parse_json(request, OllamaEmbedRequest)
    inputs = [req.input] if isinstance(req.input, str) else req.input
    if inputs == [""] or not inputs:  # Ollama answers an empty input with no vectors, without loading
        manager.spec(req.model)
        return {"model": req.model, "embeddings": []}
    out = await embed(
        manager,
        request.app.state.metrics,
        model=req.model,
        inputs=inputs,
        truncate=req.truncate,
        dimensions=req.dimensions,
        options=req.options,
        keep_alive=req.keep_alive,
        disconnected=request.is_disconnected,
    )
    return {
        "model": req.model,
        "embeddings": out.vectors,
        "total_duration": _ns(out.total_s),
        "load_duration": _ns(out.load_s),
        "prompt_eval_count": out.prompt_tokens,
    }


@router.post("/api/embeddings", openapi_extra=json_body_openapi(OllamaEmbeddingsRequest))
async def embeddings_route(request: Request, manager: ManagerDep) -> dict[str, Any]:
    """Ollama's older endpoint: one prompt, its vector as the model gives it (not normalised)."""
    req = await parse_json(request, OllamaEmbeddingsRequest)
    if not req.prompt:
        manager.spec(req.model)
        return {"embedding": []}
    out = await embed(
        manager,
        request.app.state.metrics,
        model=req.model,
        inputs=[req.prompt],
        normalize=False,
        options=req.options,
        keep_alive=req.keep_alive,
        disconnected=request.is_disconnected,
    )
    return {"embedding": out.vectors[0]}


@router.post("/v1/embeddings", openapi_extra=json_body_openapi(OpenAIEmbeddingRequest))
async def embeddings(request: Request, manager: ManagerDep) -> dict[str, Any]:
    req = await parse_json(request, OpenAIEmbeddingRequest)
    inputs = [req.input] if isinstance(req.input, str) else req.input
    if not inputs:
        raise BadRequest("input must be a non-empty string or a non-empty list of strings")
    out = await embed(
        manager,
        request.app.state.metrics,
        model=req.model,
        inputs=inputs,
        dimensions=req.dimensions,
        disconnected=request.is_disconnected,
    )

    def encode(vector: list[float]) -> list[float] | str:
        if req.encoding_format == "base64":  # little-endian float32, as OpenAI sends it
            return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        return vector

    return {
        "object": "list",
        "data": [{"object": "embedding", "embedding": encode(v), "index": i} for i, v in enumerate(out.vectors)],
        "model": req.model,
        "usage": {"prompt_tokens": out.prompt_tokens, "total_tokens": out.prompt_tokens},
    }

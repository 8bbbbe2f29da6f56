"""Embeddings from the loaded model, as both APIs need them (Ollama's /api/embed and /api/embeddings,
OpenAI's /v1/embeddings): load (if needed), queue, run the engine, account."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import BadRequest
from ..core.models import ModelManager, call_engine
from .engine import Embeddings
from .generation import check_keep_alive, effective_num_ctx
from .metrics import LLMMetrics
from .schemas import OllamaOptions


@dataclass
class EmbedResult:
    model: str
    vectors: list[list[float]]
    prompt_tokens: int
    load_s: float
    total_s: float


def check_inputs(inputs: list[str]) -> None:
    for i, text in enumerate(inputs):
        if not text:
            raise BadRequest(f"input[{i}] is an empty string; every input needs some text")


async def embed(
    manager: ModelManager,
    metrics: LLMMetrics,
    *,
    model: str,
    inputs: list[str],
    truncate: bool = True,
    normalize: bool = True,
    dimensions: int | None = None,
    options: OllamaOptions | None = None,
    keep_alive: Any = None,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> EmbedResult:
    started = time.perf_counter()
    check_inputs(inputs)
    check_keep_alive(keep_alive)
    spec = manager.spec(model)
    num_ctx = effective_num_ctx(manager, spec, options)
    session = manager.session(spec.name, options={"num_ctx": num_ctx}, keep_alive=keep_alive, disconnected=disconnected)
    async with session as (lm, load_s):
        engine_started = time.perf_counter()
        result: Embeddings = await call_engine(
            lambda emit: lm.engine.embed(inputs, truncate=truncate, normalize=normalize),
            manager.settings.request_timeout_s,
            spec.name,
        )
        m = metrics
        m.inference_seconds.labels(m.service, spec.name).observe(time.perf_counter() - engine_started)
        m.tokens.labels(m.service, spec.name, "prompt").inc(result.prompt_tokens)
    vectors = result.vectors
    if dimensions is not None and vectors and dimensions < len(vectors[0]):
        vectors = shorten(vectors, dimensions)
    return EmbedResult(spec.name, vectors, result.prompt_tokens, load_s, time.perf_counter() - started)


def shorten(vectors: list[list[float]], dimensions: int) -> list[list[float]]:
    """The first ``dimensions`` of each vector, L2-normalised again (what Ollama's and OpenAI's
    ``dimensions`` do; a cut of a normalised vector is no longer unit length)."""
    cut = np.asarray(vectors, dtype=np.float64)[:, :dimensions]
    norms = np.linalg.norm(cut, axis=1, keepdims=True)
    return (cut / np.where(norms > 0, norms, 1.0)).tolist()

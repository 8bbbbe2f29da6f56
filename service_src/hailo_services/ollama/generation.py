"""One generation, as both APIs need it: load (if needed), queue, run the engine, stream, account."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..core.errors import BadRequest, EngineFailure, EngineTimeout
from ..core.keep_alive import parse_keep_alive
from ..core.models import ModelManager
from ..core.streaming import Finished, run_streaming
from .catalog import ModelSpec
from .engine import Emit, EngineError, GenerationStats, LLMEngine, Message, Sampling, Thinking, UnsupportedRequest
from .metrics import LLMMetrics
from .schemas import OllamaOptions
from .thinking import ThinkSplitter

log = logging.getLogger(__name__)


@dataclass
class Summary:
    model: str
    stats: GenerationStats
    load_s: float
    total_s: float
    first_token_s: float | None


@dataclass
class Collected:
    text: str
    thinking: str
    summary: Summary


async def collect(pieces: AsyncIterator[str | Summary]) -> Collected:
    """Drain a generation for a non-streaming answer: the answer, the thinking and the summary."""
    parts: list[str] = []
    thoughts: list[str] = []
    summary: Summary | None = None
    async for item in pieces:
        if isinstance(item, Summary):
            summary = item
        elif isinstance(item, Thinking):
            thoughts.append(item)
        else:
            parts.append(item)
    assert summary is not None, "generate() always ends with a Summary"
    return Collected("".join(parts), "".join(thoughts), summary)


def check_keep_alive(value: Any) -> None:
    """A request's keep_alive, refused with a 400 before any work when it is not a duration."""
    if value is None:
        return
    try:
        parse_keep_alive(value)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def effective_num_ctx(manager: ModelManager, spec: ModelSpec, options: OllamaOptions | None) -> int | None:
    """A request's ``options.num_ctx`` within what the model was trained for and the service allows.

    Ollama clamps a num_ctx past the model's trained context (and logs it) rather than refuse it:
    clients such as Open WebUI set it without knowing the model. We do the same, and also keep it
    under ``max_num_ctx`` so that a request cannot make the KV cache outgrow the Pi's memory.
    """
    requested = options.num_ctx if options else None
    if requested is None:
        return None
    limit = min(spec.context_limit, manager.settings.max_num_ctx)
    if requested > limit:
        log.warning("%s: num_ctx %d clamped to %d (the model's or the service's maximum)", spec.name, requested, limit)
        return limit
    return requested


def merge_sampling(spec: ModelSpec, **request: Any) -> Sampling:
    """Request values win over the model's catalog defaults; None means "not given"."""
    values = {k: v for k, v in spec.defaults.items() if k in Sampling.__dataclass_fields__}
    values.update({k: v for k, v in request.items() if v is not None})
    stop = values.get("stop") or []
    values["stop"] = [stop] if isinstance(stop, str) else list(stop)
    return Sampling(**values)


def run_engine(
    engine: LLMEngine,
    kind: Literal["chat", "complete"],
    *,
    messages: list[Message] | None,
    prompt: str | None,
    sampling: Sampling,
    emit: Emit,
) -> GenerationStats:
    """The engine call (in the worker thread), a reasoning model's thinking split from its answer."""
    splitter = None
    if sampling.think is not None:
        opened = sampling.think or not engine.think_switch_in_template
        splitter = emit = ThinkSplitter(emit, keep_thinking=sampling.think, opened=opened)
    if kind == "chat":
        stats = engine.chat(messages or [], sampling, emit)
    else:
        stats = engine.complete(prompt or "", sampling, emit)
    if splitter is not None:
        splitter.flush()
    return stats


async def generate(
    manager: ModelManager,
    metrics: LLMMetrics,
    *,
    model: str,
    kind: Literal["chat", "complete"],
    messages: list[Message] | None = None,
    prompt: str | None = None,
    sampling: Sampling,
    keep_alive: object = None,
    num_ctx: int | None = None,
    deadline_s: float,
    disconnected: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[str | Summary]:
    """Yield text pieces, then one :class:`Summary`. Errors before the first piece are ServiceErrors."""
    started = time.perf_counter()
    session = manager.session(model, options={"num_ctx": num_ctx}, keep_alive=keep_alive, disconnected=disconnected)
    async with session as (lm, load_s):
        engine_started = time.perf_counter()
        first: float | None = None

        def produce(emit: Callable[[str], bool]) -> GenerationStats:
            return run_engine(lm.engine, kind, messages=messages, prompt=prompt, sampling=sampling, emit=emit)

        stream = run_streaming(produce, deadline_s)
        try:
            async with contextlib.aclosing(stream):
                async for item in stream:
                    if isinstance(item, Finished):
                        stats: GenerationStats = item.result
                        break
                    if first is None:
                        first = time.perf_counter() - engine_started
                    yield item
        except TimeoutError:
            raise EngineTimeout(f"generation took longer than {deadline_s:g} s and was stopped") from None
        except UnsupportedRequest as exc:
            raise BadRequest(str(exc)) from None
        except EngineError as exc:
            raise EngineFailure(f"{lm.spec.name}: {exc}") from None
        engine_s = time.perf_counter() - engine_started
        name, m = lm.spec.name, metrics
        m.inference_seconds.labels(m.service, name).observe(engine_s)
        if first is not None:
            m.time_to_first_token.labels(m.service, name).observe(first)
        m.tokens.labels(m.service, name, "prompt").inc(stats.prompt_tokens)
        m.tokens.labels(m.service, name, "completion").inc(stats.completion_tokens)
        if stats.eval_s > 0 and stats.completion_tokens:
            m.tokens_per_second.labels(m.service, name).set(stats.completion_tokens / stats.eval_s)
    yield Summary(lm.spec.name, stats, load_s, time.perf_counter() - started, first)

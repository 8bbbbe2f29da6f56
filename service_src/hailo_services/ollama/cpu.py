"""The CPU engine: llama.cpp through the prebuilt ``xllamacpp`` wheel (no compiler needed).

xllamacpp embeds llama.cpp's server; we call its OpenAI-shaped handlers in-process and stream
through a callback that returns True to stop generation.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from .catalog import ModelSpec, template_text
from .engine import (
    Embeddings,
    Emit,
    EngineError,
    GenerationStats,
    LLMEngine,
    Message,
    Sampling,
    ToolCall,
    UnsupportedRequest,
)
from .truncation import fit_messages

log = logging.getLogger(__name__)


def _template_args(s: Sampling) -> dict[str, Any]:
    """How the chat template renders: the tools, and for a reasoning model whether it thinks (templates
    of such models read ``enable_thinking``, as Qwen3's and ours for R1-Distill do)."""
    args: dict[str, Any] = {"tools": s.tools} if s.tools else {}
    if s.think is not None:
        args["chat_template_kwargs"] = {"enable_thinking": s.think}
    return args


def _sampling_body(s: Sampling, n_ctx: int) -> dict[str, Any]:
    # The model's text as written: thinking is split from the answer by ollama/thinking.py for both
    # engines, not by llama.cpp (whose parser depends on recognising the template).
    body: dict[str, Any] = {"reasoning_format": "none"}
    for key, value in (
        ("temperature", s.temperature),
        ("top_p", s.top_p),
        ("top_k", s.top_k),
        ("min_p", s.min_p),
        ("seed", s.seed),
        ("repeat_penalty", s.repeat_penalty),
        ("frequency_penalty", s.frequency_penalty),
        ("presence_penalty", s.presence_penalty),
    ):
        if value is not None:
            body[key] = value
    if s.max_tokens is not None:
        # More than the context can never be generated; llama.cpp takes the count as a C int.
        body["max_tokens"] = min(s.max_tokens, n_ctx)
    if s.stop:
        body["stop"] = list(s.stop)
    body.update(_template_args(s))
    if s.tools:
        if s.tool_choice is not None:
            body["tool_choice"] = s.tool_choice
        if s.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = s.parallel_tool_calls
    if s.json_schema:
        body["response_format"] = {"type": "json_schema", "json_schema": {"schema": s.json_schema}}
    elif s.json_mode:
        body["response_format"] = {"type": "json_object"}
    return body


# Ollama's num_keep default: the first tokens its runner keeps when it cuts a prompt to the context.
NUM_KEEP = 4


class ContextExceeded(UnsupportedRequest):
    """llama.cpp refused a prompt longer than the context (before generating anything)."""


def _llama_error(err: Any) -> Exception:
    """llama.cpp's error object as ours. Its server says which errors are the request's (a 4xx
    ``code``: a prompt longer than the context, a bad parameter): those are the client's 400."""
    message = str(err.get("message", err) if isinstance(err, dict) else err)
    code = err.get("code") if isinstance(err, dict) else None
    if not isinstance(code, int) or not 400 <= code < 500:
        return EngineError(message)
    return ContextExceeded(message) if err.get("type") == "exceed_context_size_error" else UnsupportedRequest(message)


class LlamaCppEngine(LLMEngine):
    kind = "cpu"
    think_switch_in_template = True  # enable_thinking in chat_template_kwargs

    def __init__(self, threads: int | None = None, parallel: int = 1):
        self.threads = threads or os.cpu_count() or 2
        # llama.cpp slots: requests generated at once, interleaved in one batch (Ollama's
        # OLLAMA_NUM_PARALLEL). The work queue gives the model as many slots.
        self.parallel = max(1, parallel)
        self._server: Any = None
        self._n_ctx = 0
        self._size = 0
        self._stop: tuple[str, ...] = ()

    def load(self, spec: ModelSpec, paths: list[Path], *, num_ctx: int) -> None:
        path = paths[0]
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        if spec.chat_template:
            # Our template instead of the GGUF's (one that renders tools where the GGUF's does not).
            params.chat_template = template_text(spec.chat_template)
        # Every slot gets the whole num_ctx, as Ollama gives it (-c num_ctx*parallel -np parallel): llama.cpp
        # splits n_ctx between its slots, and a request must not see a smaller context because another
        # runs beside it. Each slot keeps its own prompt cache, so a background title generation does
        # not evict the conversation's.
        params.n_ctx = num_ctx * self.parallel
        params.n_parallel = self.parallel
        params.kv_unified = False
        params.cpuparams.n_threads = self.threads
        params.cpuparams_batch.n_threads = self.threads
        params.warmup = True
        # Embeddings (/api/embed) from the same loaded model, as Ollama serves them from any model:
        # mean pooling (the GGUF of a chat model names none, and llama.cpp's OpenAI embeddings refuse
        # "none"), and a physical batch as large as the context, since an input is embedded in one batch.
        # Chat output is unchanged by this (checked greedy, token for token); it costs ~14 MB for SmolLM2.
        # The batch spans every slot's context, as Ollama sizes it (num_ctx * parallel): smaller, llama.cpp
        # aborts the process (GGML_ASSERT in mul_mat) for some sizes, e.g. 3 slots, or 2 of an odd num_ctx.
        params.embedding = True
        params.pooling_type = xllamacpp.llama_pooling_type.LLAMA_POOLING_TYPE_MEAN
        params.n_batch = params.n_ubatch = params.n_ctx
        # xllamacpp also opens llama.cpp's own HTTP server on a random loopback port; a random key
        # keeps local users from reaching the model around our API key, limits and queue. We use it
        # only to tokenize (xllamacpp has no Python tokenizer).
        self._key = secrets.token_urlsafe(32)
        params.api_keys = [self._key]
        # llama.cpp logs every slot event at its default verbosity; keep the journal readable.
        params.verbosity = 3 if log.isEnabledFor(logging.DEBUG) else 0
        self._configure(params, spec, paths)
        try:
            self._server = xllamacpp.Server(params)
        except Exception as exc:  # bad or truncated GGUF
            raise EngineError(f"llama.cpp could not load {path}: {exc}") from exc
        self._n_ctx = num_ctx
        self._size = path.stat().st_size
        self._stop = spec.stop

    def _configure(self, params: Any, spec: ModelSpec, paths: list[Path]) -> None:
        """What a subclass adds to llama.cpp's parameters (vision/cpu.py: the mmproj)."""

    def unload(self) -> None:
        self._server = None  # xllamacpp frees the model in the destructor

    def context_length(self) -> int:
        return self._n_ctx

    def _listener(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A call to llama.cpp's own HTTP server (loopback, our random key): what xllamacpp has no
        Python handler for (tokenize, apply-template)."""
        r = httpx.post(
            f"{self._server.listening_address}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self._key}"},
            timeout=60,
        )
        if r.status_code != 200:
            raise EngineError(f"llama.cpp {path} failed: {r.status_code} {r.text[:200]}")
        return r.json()

    def _tokenize(self, text: str) -> list[int]:
        return list(self._listener("/tokenize", {"content": text, "add_special": True})["tokens"])

    def _prompt_tokens(self, messages: list[Message], sampling: Sampling) -> list[int]:
        """The prompt as llama.cpp will see it: the chat template (with the tools), then its tokenizer."""
        body: dict[str, Any] = {"messages": messages, **_template_args(sampling)}
        return self._tokenize(self._listener("/apply-template", body)["prompt"])

    def embed(self, inputs: list[str], *, truncate: bool, normalize: bool) -> Embeddings:
        if self._server is None:
            raise EngineError("model is not loaded")
        # Token lists, so that an input past the context is cut the way Ollama cuts it (its first
        # num_ctx tokens) instead of failing inside llama.cpp.
        tokens = [self._tokenize(text) for text in inputs]
        for i, ids in enumerate(tokens):
            if len(ids) > self._n_ctx:
                if not truncate:
                    raise UnsupportedRequest(
                        f"the input length exceeds the context length ({len(ids)} > {self._n_ctx} tokens)"
                    )
                tokens[i] = ids[: self._n_ctx]
        # One input per call: with several slots llama.cpp batches a list's inputs together and the
        # vectors come out different from the same text embedded alone (cosine 0.975 for SmolLM2);
        # alone they are identical whatever the slots and whatever else runs.
        vectors: list[list[float]] = []
        for ids in tokens:
            result = self._server.handle_embeddings({"input": [ids], "embd_normalize": 2 if normalize else -1})
            if "error" in result:
                raise _llama_error(result["error"])
            vectors.append(result["data"][0]["embedding"])
        return Embeddings(vectors, sum(len(ids) for ids in tokens))

    def memory_bytes(self) -> int:
        return self._size

    def chat(self, messages: list[Message], sampling: Sampling, emit: Emit) -> GenerationStats:
        body = {"messages": messages, **_sampling_body(sampling, self._n_ctx)}
        try:
            return self._run(self._server.handle_chat_completions, body, emit, chat=True)
        except ContextExceeded:
            # llama.cpp refuses before generating anything, so a chat that grew past the context
            # costs one extra round only when it happens: then drop old messages as Ollama does.
            if not sampling.truncate:
                raise
        fitted = fit_messages(messages, lambda m: len(self._prompt_tokens(m, sampling)), self._n_ctx)
        if len(fitted) < len(messages):
            log.info("chat of %d messages cut to %d for the %d-token context", len(messages), len(fitted), self._n_ctx)
            try:
                return self._run(self._server.handle_chat_completions, body | {"messages": fitted}, emit, chat=True)
            except ContextExceeded:
                pass
        # Even the system messages and the last message are too long (36 tools render to more than a
        # 2048-token context). Ollama sends the prompt anyway and its runner keeps the first num_keep
        # tokens and the newest ones; llama.cpp refuses instead, so we cut the tokens ourselves and
        # complete them raw. The model still answers; a tool call in that answer stays text.
        return self._complete_cut(self._prompt_tokens(fitted, sampling), sampling, emit)

    def _complete_cut(self, tokens: list[int], sampling: Sampling, emit: Emit) -> GenerationStats:
        # Leave room to answer: what was asked for, within a quarter to a half of the context.
        asked = sampling.max_tokens if sampling.max_tokens and sampling.max_tokens > 0 else 0
        room = min(max(asked, self._n_ctx // 4), self._n_ctx // 2)
        keep = self._n_ctx - room
        if len(tokens) > keep:
            log.info("prompt of %d tokens cut to %d (first %d and the newest)", len(tokens), keep, NUM_KEEP)
            tokens = tokens[:NUM_KEEP] + tokens[len(tokens) - (keep - NUM_KEEP) :]
        body = {"prompt": tokens, **_sampling_body(replace(sampling, tools=None), self._n_ctx)}
        return self._run(self._server.handle_completions, body, emit, chat=False)

    def complete(self, prompt: str, sampling: Sampling, emit: Emit) -> GenerationStats:
        body = {"prompt": prompt, **_sampling_body(sampling, self._n_ctx)}
        try:
            return self._run(self._server.handle_completions, body, emit, chat=False)
        except ContextExceeded:
            if not sampling.truncate:
                raise
        # A raw prompt past the context: cut as Ollama's runner cuts it.
        return self._complete_cut(self._tokenize(prompt), sampling, emit)

    def _run(self, handler: Any, body: dict[str, Any], emit: Emit, *, chat: bool) -> GenerationStats:
        if self._server is None:
            raise EngineError("model is not loaded")
        body.update(stream=True, stream_options={"include_usage": True})
        final: dict[str, Any] = {}
        calls: dict[int, dict[str, str]] = {}  # tool calls as their deltas arrive, by index
        finish: str | None = None
        cancelled = False
        error: Exception | None = None
        started = time.perf_counter()

        def on_chunk(chunk: dict[str, Any]) -> bool:
            nonlocal finish, cancelled, error
            if "error" in chunk:
                error = _llama_error(chunk["error"])
                return True
            if "usage" in chunk and chunk.get("usage"):
                final.update(usage=chunk["usage"], timings=chunk.get("timings", {}))
            for choice in chunk.get("choices", ()):
                for part in (choice.get("delta") or {}).get("tool_calls") or () if chat else ():
                    call = calls.setdefault(int(part.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                    fn = part.get("function") or {}
                    call["id"] = part.get("id") or call["id"]
                    call["name"] += fn.get("name") or ""
                    call["arguments"] += fn.get("arguments") or ""
                text = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                if text and emit(text):
                    cancelled = True
                    return True
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
            return False

        try:
            result = handler(body, on_chunk)
        except Exception as exc:
            raise EngineError(f"llama.cpp failed: {exc}") from exc
        if isinstance(result, dict) and "error" in result:
            error = _llama_error(result["error"])
        if error is not None:
            raise error
        usage = final.get("usage", {})
        timings = final.get("timings", {})
        elapsed = time.perf_counter() - started
        prompt_s = timings.get("prompt_ms", 0.0) / 1000
        return GenerationStats(
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            finish_reason="cancelled"
            if cancelled
            else ("length" if finish == "length" else "tool_calls" if calls else "stop"),
            prompt_eval_s=prompt_s,
            eval_s=timings.get("predicted_ms", 0.0) / 1000 if timings else max(elapsed - prompt_s, 0.0),
            cached_tokens=int((usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0)),
            tool_calls=[ToolCall(**calls[i]) for i in sorted(calls)],
        )

"""The Hailo-10H engine: an LLM HEF run by HailoRT 5.x's ``hailo_platform.genai.LLM``.

What HailoRT does for us, and what it leaves to us (HailoRT 5.x `hailo_platform.genai`; docs/architecture.md):

- A ``list`` prompt of ``{"role", "content"}`` dicts goes through the chat template stored in the
  HEF; a ``str`` prompt is inserted as-is. So chat() sends dicts and complete() sends the raw string.
- The KV context persists between ``generate`` calls until ``clear_context()``. Re-sending a whole
  conversation costs a full prefill (slow on the NPU), so when a request extends the previous one
  (same earlier messages + the reply we produced) we send only the new messages, like Hailo's own
  hailo-ollama does with its prompt-prefix check.
- System messages and tools (rendered by the HEF's template; the model's calls come back as text,
  parsed by tool_parser.py) are only accepted on a fresh context; only one generator may exist per
  model at a time; the 5.2 Python wrapper has no ``abort()``, so stopping early means leaving the
  ``with`` block, which releases the generator, and the context then holds a partial reply.
- Stop strings from the request and the model's own end tokens (``<|im_end|>``, the recovery
  sequence) come back as text; we trim and filter them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.hailo_device import acquire_vdevice, release_vdevice
from .catalog import ModelSpec
from .engine import (
    Embeddings,
    Emit,
    EngineError,
    GenerationStats,
    LLMEngine,
    Message,
    Sampling,
    UnsupportedRequest,
)
from .textscan import partial_suffix
from .tool_parser import ToolCallParser
from .truncation import fit_messages

log = logging.getLogger(__name__)

# hailo-apps' context manager treats the context as full at 95 % of its capacity; past that the
# reply would be cut short by the fixed KV size, so we start over with a cleared context instead.
CONTEXT_FULL_RATIO = 0.95
# Chat-template tokens around each message (ChatML: "<|im_start|>role\n ... <|im_end|>\n") that a
# plain tokenize() of the contents does not see; a rough allowance for the fullness estimate.
TEMPLATE_TOKENS_PER_MESSAGE = 5

_GENERATING = "GENERATING"
_NATURAL_END = "LOGICAL_END_OF_GENERATION"
_MAX_TOKENS = "MAX_TOKENS_REACHED"


def _status_name(status: Any) -> str:
    """The name of a ``LLMGeneratorCompletionStatus`` (a pybind11 enum whose str() is
    ``"LLMGeneratorCompletionStatus.NAME"``); the enum itself is not exported by ``genai``."""
    name = getattr(status, "name", None)
    return str(name if name is not None else status).rsplit(".", 1)[-1]


def _hailo_error(exc: BaseException) -> EngineError:
    text = str(exc).strip()
    return EngineError(f"HailoRT: {text}" if text else f"HailoRT: {type(exc).__name__}")


# Keys of ours on a chat dict (those starting with "_" are never sent to HailoRT): the message's frames,
# and their digest, so that the same text with another picture is not taken for the conversation the
# KV context holds.
MEDIA_KEY, FRAMES_KEY = "_media", "_frames"


def _chat_dict(message: Message) -> dict[str, Any]:
    """The dict HailoRT json.dumps() and feeds to the HEF's template: role and string content, plus
    tool_calls when present, since tool-aware templates render them. Their arguments go as objects:
    Qwen's and Llama's templates write them with ``tojson``, which would quote a JSON string again."""
    out: dict[str, Any] = {"role": str(message.get("role", "user")), "content": message.get("content") or ""}
    if message.get("tool_calls"):
        out["tool_calls"] = [_call_with_object_arguments(c) for c in message["tool_calls"]]
    return out


def _call_with_object_arguments(call: dict[str, Any]) -> dict[str, Any]:
    fn = dict(call.get("function") or {})
    if isinstance(fn.get("arguments"), str):
        # Not JSON: the template gets the text as the client sent it.
        with contextlib.suppress(json.JSONDecodeError):
            fn["arguments"] = json.loads(fn["arguments"])
    return {**call, "function": fn}


def _same_message(a: dict[str, Any], b: dict[str, Any]) -> bool:
    # Clients often strip the whitespace around a reply they send back; the tokens in the KV context
    # differ from a re-render by at most that whitespace, which does not change the conversation.
    return (
        a["role"] == b["role"]
        and str(a["content"]).strip() == str(b["content"]).strip()
        and a.get("tool_calls") == b.get("tool_calls")
        and a.get(MEDIA_KEY) == b.get(MEDIA_KEY)
    )


class _StopScanner:
    """Holds back streamed text until it can no longer be the start of a stop string, and finds the
    first complete stop string even when it arrives split across tokens."""

    def __init__(self, stops: list[str]):
        self.stops = [s for s in dict.fromkeys(stops) if s]
        self.pending = ""

    def feed(self, text: str) -> tuple[str, str | None, str]:
        """Returns (text safe to emit, the stop string found or None, text after that stop)."""
        self.pending += text
        hit_at, hit = -1, None
        for stop in self.stops:
            i = self.pending.find(stop)
            if i != -1 and (hit_at == -1 or i < hit_at or (i == hit_at and len(stop) > len(hit or ""))):
                hit_at, hit = i, stop
        if hit is not None:
            safe, rest = self.pending[:hit_at], self.pending[hit_at + len(hit) :]
            self.pending = ""
            return safe, hit, rest
        cut = len(self.pending) - partial_suffix(self.pending, self.stops)
        safe, self.pending = self.pending[:cut], self.pending[cut:]
        return safe, None, ""

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


class _ConsumerError(Exception):
    """Carries an exception raised by ``emit`` past the HailoRT error wrapping, unchanged."""


@dataclass
class _Outcome:
    text: str
    completion_tokens: int
    finish_reason: str
    clean: bool  # the KV context holds exactly prompt + ``text``: safe to extend next time
    first_token_s: float | None
    end_s: float


class HailoLLMEngine(LLMEngine):
    kind = "hailo"

    def __init__(self, group_id: str = "SHARED"):
        self.group_id = group_id
        self._llm: Any = None
        self._has_vdevice = False
        self._spec: ModelSpec | None = None
        self._path: Path | None = None
        self._capacity = 0
        self._end_tokens: list[str] = []
        self._recovery = ""
        # The conversation (normalised chat dicts, ending with our reply) that the KV context holds;
        # None when the context must be cleared before the next request.
        self._history: list[dict[str, Any]] | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    def load(self, spec: ModelSpec, paths: list[Path], *, num_ctx: int) -> None:
        path = paths[0]
        if self._llm is not None:
            self.unload()
        try:
            vdevice = acquire_vdevice(self.group_id)
        except Exception as exc:
            raise _hailo_error(exc) from exc
        self._has_vdevice = True
        try:
            self._llm = self._open_model(vdevice, path)
            self._capacity = int(self._llm.max_context_capacity())
            self._recovery = self._optional_str(self._llm.get_generation_recovery_sequence)
            hef_stops = self._optional_list(self._llm.get_stop_tokens)
        except Exception as exc:
            self.unload()
            raise _hailo_error(exc) from exc
        self._spec, self._path = spec, path
        self._end_tokens = [t for t in dict.fromkeys([*spec.stop, *hef_stops, self._recovery]) if t]
        self._history = None
        if num_ctx and num_ctx != self._capacity:
            log.info(
                "%s: num_ctx=%d ignored, a HEF's context is fixed at compile time (%d tokens)",
                spec.name,
                num_ctx,
                self._capacity,
            )

    def _open_model(self, vdevice: Any, path: Path) -> Any:
        """The genai object for the HEF (a subclass opens a VLM instead)."""
        from hailo_platform.genai import LLM

        return LLM(vdevice, str(path))

    def unload(self) -> None:
        llm, self._llm = self._llm, None
        self._history = None
        try:
            if llm is not None:
                llm.release()
        except Exception as exc:
            log.warning("releasing the LLM failed: %s", exc)
        finally:
            # The VDevice must outlive every LLM on it, so it goes last, and even if release failed.
            if self._has_vdevice:
                self._has_vdevice = False
                try:
                    release_vdevice()
                except Exception as exc:
                    log.warning("releasing the VDevice failed: %s", exc)

    def embed(self, inputs: list[str], *, truncate: bool, normalize: bool) -> Embeddings:
        # genai.LLM generates text and nothing else: no hidden states, no pooling (hailo-platform.md §6.1).
        raise UnsupportedRequest(
            "embeddings are not available on the Hailo engine: HailoRT's LLM API only generates text. "
            "Run an embedding model on a CPU-engine hailo-ollama (engine: cpu)"
        )

    def context_length(self) -> int:
        return self._capacity

    def memory_bytes(self) -> int:
        if self._spec is not None and self._spec.hailo is not None and self._spec.hailo.npu_footprint_mb:
            return self._spec.hailo.npu_footprint_mb * 1024 * 1024
        try:
            return self._path.stat().st_size if self._path is not None else 0
        except OSError:
            return 0

    # -- generation ------------------------------------------------------------------------------

    def chat(self, messages: list[Message], sampling: Sampling, emit: Emit) -> GenerationStats:
        llm = self._require_loaded()
        self._check_supported(sampling)
        conversation = [self._chat_dict(m) for m in messages]
        if not conversation:
            raise UnsupportedRequest("no messages to answer")

        tools = sampling.tools or None
        # HailoRT takes tools with the first prompt of a fresh context only, so a chat with tools is
        # sent whole each time (the template renders them in front of the conversation).
        new = None if tools else self._reusable_suffix(conversation)
        fresh = new is None
        to_send = conversation if new is None else new
        try:
            if fresh:
                self._history = None
                llm.clear_context()
            cached = 0 if fresh else int(llm.get_context_usage_size())
            tool_tokens = self._count_tokens(json.dumps(tools)) if tools else 0

            def content_tokens(msgs: list[dict[str, Any]]) -> int:
                # Approximate: HailoRT applies the template inside the runtime, so the template's own
                # tokens are not counted; only the message contents (and the tools) are tokenized.
                return self._count_tokens("\n".join(self._text_of(m) for m in msgs)) + self._media_tokens(msgs)

            def prompt_tokens(msgs: list[dict[str, Any]]) -> int:  # with an allowance for the template
                return content_tokens(msgs) + TEMPLATE_TOKENS_PER_MESSAGE * len(msgs) + tool_tokens

            if fresh and sampling.truncate:  # drop the oldest messages as Ollama does (truncation.py)
                fitted = fit_messages(conversation, prompt_tokens, self._capacity)
                if len(fitted) < len(conversation):
                    log.info("chat of %d messages cut to %d for the HEF's context", len(conversation), len(fitted))
                    conversation = to_send = fitted
            new_tokens = content_tokens(to_send)
        except Exception as exc:
            self._history = None
            raise _hailo_error(exc) from exc
        if fresh and new_tokens + tool_tokens >= self._capacity:
            raise UnsupportedRequest(
                f"the conversation is about {new_tokens} tokens"
                + (f" and its {len(tools)} tools about {tool_tokens}" if tools else "")
                + f", more than this model's context of {self._capacity} tokens"
                + ("; send fewer tools (Open WebUI: turn off Builtin Tools for this model)" if tools else "")
            )

        # Until this generation ends cleanly the context is in an unknown state.
        self._history = None
        parser = ToolCallParser(emit, {t["function"]["name"] for t in tools}) if tools else None
        outcome = self._generate(to_send, sampling, parser or emit, tools=tools)
        stats = self._stats(outcome, cached + new_tokens + tool_tokens, cached)
        if parser is not None:
            parser.flush()  # text held back as a possible call that was not one
            stats.tool_calls = parser.calls
            if parser.calls and stats.finish_reason == "stop":
                stats.finish_reason = "tool_calls"
        elif outcome.clean:
            self._history = [*conversation, {"role": "assistant", "content": outcome.text}]
        return stats

    def complete(self, prompt: str, sampling: Sampling, emit: Emit) -> GenerationStats:
        llm = self._require_loaded()
        self._check_supported(sampling)
        if not prompt:
            raise UnsupportedRequest("the prompt is empty")
        self._history = None
        try:
            llm.clear_context()
            prompt_tokens = self._count_tokens(prompt)
        except Exception as exc:
            raise _hailo_error(exc) from exc
        if prompt_tokens >= self._capacity:
            raise UnsupportedRequest(
                f"the prompt is about {prompt_tokens} tokens, more than this model's context of {self._capacity} tokens"
            )
        outcome = self._generate(prompt, sampling, emit)
        # A raw prompt leaves no chat in the context to extend.
        self._history = None
        return self._stats(outcome, prompt_tokens, 0)

    # -- internals -------------------------------------------------------------------------------

    # -- what a subclass for images changes (vision/hailo.py) -----------------------------------------

    def _chat_dict(self, message: Message) -> dict[str, Any]:
        return _chat_dict(message)

    @staticmethod
    def _text_of(chat: dict[str, Any]) -> str:
        return str(chat["content"])

    def _media_tokens(self, chats: list[dict[str, Any]]) -> int:
        """Tokens the messages' images take in the context (none for a text model)."""
        return 0

    def _media_kwargs(self, chats: list[dict[str, Any]]) -> dict[str, Any]:
        """What ``generate`` takes beside the prompt for these messages' images."""
        return {}

    def _require_loaded(self) -> Any:
        if self._llm is None:
            raise EngineError("no model is loaded")
        return self._llm

    @staticmethod
    def _check_supported(sampling: Sampling) -> None:
        if sampling.json_schema is not None or sampling.json_mode:
            raise UnsupportedRequest(
                "the Hailo NPU engine cannot constrain output to JSON (no grammar support in HailoRT)"
            )

    @staticmethod
    def _optional_str(getter: Any) -> str:
        try:
            return str(getter() or "")
        except Exception:
            return ""

    @staticmethod
    def _optional_list(getter: Any) -> list[str]:
        try:
            return [str(t) for t in (getter() or [])]
        except Exception:
            return []

    def _count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text)) if text else 0

    def _reusable_suffix(self, conversation: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The messages to send on top of the current KV context, or None to start afresh."""
        prev = self._history
        if prev is None or len(conversation) <= len(prev):
            return None
        if not all(_same_message(a, b) for a, b in zip(conversation, prev, strict=False)):
            return None
        new = conversation[len(prev) :]
        if any(m["role"] == "system" for m in new):
            return None  # HailoRT rejects system messages on a used context
        try:
            used = int(self._llm.get_context_usage_size())
            text = "\n".join(self._text_of(m) for m in new)
            estimate = used + self._count_tokens(text) + self._media_tokens(new)
            estimate += TEMPLATE_TOKENS_PER_MESSAGE * (len(new) + 1)
        except Exception:
            return None
        if estimate >= CONTEXT_FULL_RATIO * self._capacity:
            log.debug("context nearly full (%d of %d): starting over", estimate, self._capacity)
            return None
        return new

    def _generate_kwargs(self, sampling: Sampling) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        if sampling.temperature is not None:
            if sampling.temperature <= 0:
                # Greedy decoding; a temperature of 0 is not a valid sampling temperature.
                kw["do_sample"] = False
            else:
                kw["temperature"] = float(sampling.temperature)
                kw["do_sample"] = True
        if sampling.top_p is not None:
            kw["top_p"] = float(sampling.top_p)
        if sampling.top_k is not None:
            kw["top_k"] = int(sampling.top_k)
        # HailoRT has one repetition control. Ollama's repeat_penalty is what the zoo manifests set
        # (repetition_penalty 1.1), so it wins; an OpenAI frequency_penalty is passed through like
        # Hailo's own hailo-ollama does.
        penalty = sampling.repeat_penalty if sampling.repeat_penalty is not None else sampling.frequency_penalty
        if penalty is not None:
            kw["frequency_penalty"] = float(penalty)
        if sampling.max_tokens is not None and sampling.max_tokens > 0:
            # Never past the HEF's context, which fixes how much can be generated.
            kw["max_generated_tokens"] = min(int(sampling.max_tokens), self._capacity or int(sampling.max_tokens))
        if sampling.seed is not None and sampling.seed >= 0:  # Ollama's -1 means "random"
            kw["seed"] = int(sampling.seed) % (1 << 32)
        return kw

    def _generate(
        self,
        prompt: str | list[dict[str, Any]],
        sampling: Sampling,
        emit: Emit,
        tools: list[dict[str, Any]] | None = None,
    ) -> _Outcome:
        """Runs one generation and streams it through ``emit``. The generator is always released
        before returning (by leaving the ``with`` block), so the next call may create another."""
        llm = self._llm
        scanner = _StopScanner([*self._end_tokens, *(s for s in sampling.stop if s)])
        limit = sampling.max_tokens if sampling.max_tokens is not None and sampling.max_tokens > 0 else None
        parts: list[str] = []
        count = 0
        finish: str | None = None
        clean = False
        first: float | None = None
        started = time.perf_counter()

        def send(piece: str) -> bool:
            if not piece:
                return False
            parts.append(piece)
            try:
                return bool(emit(piece))
            except Exception as exc:
                raise _ConsumerError from exc

        try:
            kwargs = self._generate_kwargs(sampling) | ({"tools": tools} if tools else {})
            kwargs |= self._media_kwargs([] if isinstance(prompt, str) else prompt)
            if not isinstance(prompt, str):
                prompt = [{k: v for k, v in m.items() if not k.startswith("_")} for m in prompt]
            with llm.generate(prompt=prompt, **kwargs) as gen:
                tokens: Iterator[str] = iter(gen)
                while True:
                    try:
                        token = next(tokens)
                    except StopIteration:
                        break
                    if first is None:
                        first = time.perf_counter()
                    if token == self._recovery and (
                        (limit is not None and count >= limit) or _status_name(gen.generation_status) == _MAX_TOKENS
                    ):
                        # Injected by HailoRT when it cuts a generation short: not model output. Zoo
                        # HEFs use the EOS token as the sequence, so only skip it uncounted here.
                        continue
                    count += 1
                    safe, hit, rest = scanner.feed(token)
                    if send(safe):
                        finish = "cancelled"
                        break
                    if hit is not None:
                        finish = "stop"
                        # Only the model's own end token as its last token leaves the context holding
                        # exactly what we returned; a request stop string leaves text we trimmed.
                        clean = (
                            hit in self._end_tokens
                            and not rest.strip()
                            and _status_name(gen.generation_status) == _NATURAL_END
                        )
                        break
                    # HailoRT enforces max_generated_tokens itself; this is only a backstop.
                    if limit is not None and count >= limit and _status_name(gen.generation_status) == _GENERATING:
                        # Text held back as a possible stop-string start is output after all.
                        finish = "cancelled" if send(scanner.flush()) else "length"
                        break
                if finish is None:  # HailoRT ended the generation itself
                    status = _status_name(gen.generation_status)
                    if send(scanner.flush()):
                        finish = "cancelled"
                    elif status == _MAX_TOKENS:
                        finish = "length"
                    else:
                        finish = "stop"
                        clean = status == _NATURAL_END
        except _ConsumerError as exc:
            raise exc.__cause__ from None  # type: ignore[misc]
        except Exception as exc:
            raise _hailo_error(exc) from exc
        first_s = None if first is None else first - started
        return _Outcome("".join(parts), count, finish, clean, first_s, time.perf_counter() - started)

    @staticmethod
    def _stats(outcome: _Outcome, prompt_tokens: int, cached: int) -> GenerationStats:
        prompt_eval = outcome.first_token_s if outcome.first_token_s is not None else outcome.end_s
        return GenerationStats(
            prompt_tokens=prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            finish_reason=outcome.finish_reason,  # type: ignore[arg-type]
            prompt_eval_s=prompt_eval,
            eval_s=max(0.0, outcome.end_s - prompt_eval),
            cached_tokens=cached,
        )

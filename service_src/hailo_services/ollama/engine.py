"""The LLM engine interface that the hailo and cpu engines implement.

Engines are blocking and single-request: the model manager runs them in a worker thread behind a
per-model work queue. Output is pushed through ``emit(text) -> bool``; a True return means the
consumer has gone (client disconnect, deadline) and the engine must stop as soon as it can.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..core.models import EngineError, UnsupportedRequest
from .catalog import ModelSpec

# What each engine can do beyond plain completion (a model's catalog capabilities are cut to these).
# "vision": the engines of hailo-vision (vision/cpu.py, vision/hailo.py); only its catalog lists it.
ENGINE_CAPABILITIES = {
    "cpu": frozenset({"completion", "tools", "thinking", "vision"}),
    "hailo": frozenset({"completion", "tools", "thinking", "vision"}),
}

__all__ = [
    "ENGINE_CAPABILITIES",
    "Embeddings",
    "EngineError",
    "GenerationStats",
    "LLMEngine",
    "Message",
    "Sampling",
    "Thinking",
    "ToolCall",
    "UnsupportedRequest",
]

Emit = Callable[[str], bool]


class Thinking(str):
    """A piece of a reasoning model's thinking (``<think>…</think>``), emitted apart from its answer."""


# {"role": "system"|"user"|"assistant"|"tool", "content": str}, plus "images": [HxWx3 uint8 RGB] on a
# vision model's messages (decoded by ollama/chat_images.py), "tool_calls" / "tool_call_id" for tools.
Message = dict[str, Any]


@dataclass
class Sampling:
    """Generation options, already merged (request > model defaults). None = the engine's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    seed: int | None = None
    max_tokens: int | None = None  # None = until end of sequence or the context is full
    stop: list[str] = field(default_factory=list)
    repeat_penalty: float | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    json_schema: dict[str, Any] | None = None  # {} = any JSON object
    json_mode: bool = False
    # A chat past the context drops its oldest messages (Ollama's default); False: the engine refuses it.
    truncate: bool = True
    # Tools the model may call (OpenAI function definitions), as the chat template renders them.
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None  # OpenAI's "auto" | "none" | "required" | {"type": "function", ...}
    parallel_tool_calls: bool | None = None
    # A reasoning model: True = think and emit Thinking pieces, False = answer without them;
    # None = the model does not think (its output is all answer).
    think: bool | None = None


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it (parsed by the API layer that needs an object)


@dataclass
class GenerationStats:
    prompt_tokens: int
    completion_tokens: int
    finish_reason: Literal["stop", "length", "cancelled", "tool_calls"]
    prompt_eval_s: float
    eval_s: float
    cached_tokens: int = 0
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass
class Embeddings:
    vectors: list[list[float]]  # one per input, in input order
    prompt_tokens: int


class LLMEngine(ABC):
    kind: str
    # Requests it generates at once: the model's work queue gets this many slots.
    parallel: int = 1
    # Whether think: false reaches the chat template, which then closes the thinking block before the
    # model starts (the CPU engine's enable_thinking). A HEF's template cannot be told: its model
    # thinks anyway and the thinking is dropped.
    think_switch_in_template: bool = False

    @abstractmethod
    def load(self, spec: ModelSpec, paths: list[Path], *, num_ctx: int) -> None:
        """Load the model from ``paths[0]`` (the GGUF or HEF)."""

    @abstractmethod
    def unload(self) -> None: ...

    @abstractmethod
    def chat(self, messages: list[Message], sampling: Sampling, emit: Emit) -> GenerationStats:
        """Generate the assistant's reply to ``messages`` through the model's chat template."""

    @abstractmethod
    def complete(self, prompt: str, sampling: Sampling, emit: Emit) -> GenerationStats:
        """Continue ``prompt`` as raw text, with no chat template."""

    @abstractmethod
    def context_length(self) -> int: ...

    def embed(self, inputs: list[str], *, truncate: bool, normalize: bool) -> Embeddings:
        """One vector per input (mean-pooled hidden states; L2-normalised when ``normalize``). An input
        past the context is cut to it when ``truncate``, else UnsupportedRequest."""
        raise UnsupportedRequest(f"the {self.kind} engine cannot compute embeddings")

    def memory_bytes(self) -> int:
        """Memory the loaded model occupies (for /api/ps); 0 when unknown."""
        return 0

"""The CPU engine: llama.cpp multimodal (xllamacpp with the model's mmproj), on hailo-ollama's
llama.cpp engine. Images reach llama.cpp as data URIs of the frames processing.py made, so both
engines see the same pixels and llama.cpp never decodes a client's bytes or fetches a URL itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..ollama.catalog import ModelSpec as LLMSpec
from ..ollama.cpu import LlamaCppEngine
from ..ollama.engine import Emit, EngineError, GenerationStats, Message, Sampling
from .processing import frame_data_uri, to_frame


class LlamaVisionEngine(LlamaCppEngine):
    def __init__(self, threads: int | None = None, parallel: int = 1):
        super().__init__(threads=threads, parallel=parallel)
        self._frame_size: tuple[int, int] = (336, 336)

    def _configure(self, params: Any, spec: LLMSpec, paths: list[Path]) -> None:
        mmproj = next((p for p in paths[1:] if p.suffix == ".gguf"), None)
        if mmproj is None:
            raise EngineError(f"{spec.name}: needs the language model GGUF and its mmproj GGUF, got {paths}")
        params.mmproj.path = str(mmproj)
        # Embeddings are hailo-ollama's; a VLM's server only chats.
        params.embedding = False
        self._frame_size = tuple(getattr(spec, "frame_size", self._frame_size))  # type: ignore[assignment]

    def chat(self, messages: list[Message], sampling: Sampling, emit: Emit) -> GenerationStats:
        return super().chat([self._with_image_parts(m) for m in messages], sampling, emit)

    def _with_image_parts(self, message: Message) -> Message:
        """A message with images as OpenAI content parts: the images first, then the text, as Ollama's
        templates and hailo-apps place them."""
        images = message.get("images")
        if not images:
            return message
        out = {k: v for k, v in message.items() if k != "images"}
        parts: list[dict[str, Any]] = [
            {"type": "image_url", "image_url": {"url": frame_data_uri(to_frame(img, self._frame_size))}}
            for img in images
        ]
        if message.get("content"):
            parts.append({"type": "text", "text": message["content"]})
        out["content"] = parts
        return out

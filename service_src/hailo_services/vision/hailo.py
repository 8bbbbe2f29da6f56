"""The NPU engine: HailoRT ``genai.VLM`` (Qwen2-VL-2B-Instruct HEF) on hailo-ollama's HailoRT engine:
the same chat handling, context reuse, stop strings and tool parsing, with frames.

What ``genai.VLM`` adds (docs/hailo-models.md): ``generate(prompt, frames)`` with one
``{"type": "image"}`` placeholder in the chat content per frame, in order; ``frames`` are numpy arrays
of ``input_frame_shape()`` (336x336x3 uint8 RGB for Qwen2-VL; hailo-apps' example converts OpenCV's BGR
to RGB, and so must not we swap channels of an RGB image, as the seed did); an empty list is a
text-only turn. The context keeps earlier turns, frames included, so a follow-up question about the
same picture sends only the new message and no frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..ollama.engine import Message
from ..ollama.hailo import FRAMES_KEY, MEDIA_KEY, HailoLLMEngine, _chat_dict
from .processing import frame_tokens, frames_digest, to_frame


class HailoVLMEngine(HailoLLMEngine):
    def __init__(self, group_id: str = "SHARED"):
        super().__init__(group_id=group_id)
        self._frame_size: tuple[int, int] = (336, 336)

    def _open_model(self, vdevice: Any, path: Path) -> Any:
        from hailo_platform.genai import VLM

        vlm = VLM(vdevice, str(path))
        shape = tuple(int(x) for x in vlm.input_frame_shape())  # (height, width, channels)
        if len(shape) != 3 or shape[2] != 3:
            vlm.release()
            raise RuntimeError(f"{path.name}: unexpected VLM frame shape {shape} (expected HxWx3)")
        self._frame_size = (shape[1], shape[0])
        return vlm

    def _chat_dict(self, message: Message) -> dict[str, Any]:
        out = _chat_dict(message)
        images = message.get("images") or []
        if images:
            frames = [to_frame(img, self._frame_size) for img in images]
            parts: list[dict[str, Any]] = [{"type": "image"} for _ in frames]
            if out["content"]:
                parts.append({"type": "text", "text": out["content"]})
            out["content"] = parts
            out[FRAMES_KEY] = frames
            out[MEDIA_KEY] = frames_digest(frames)
        return out

    @staticmethod
    def _text_of(chat: dict[str, Any]) -> str:
        content = chat["content"]
        if isinstance(content, list):
            return "\n".join(str(p.get("text", "")) for p in content if p.get("type") == "text")
        return str(content)

    def _media_tokens(self, chats: list[dict[str, Any]]) -> int:
        return frame_tokens(self._frame_size) * sum(len(c.get(FRAMES_KEY) or ()) for c in chats)

    def _media_kwargs(self, chats: list[dict[str, Any]]) -> dict[str, Any]:
        # Always given: VLM.generate's frames are required, [] for a turn without images.
        return {"frames": [f for c in chats for f in c.get(FRAMES_KEY) or ()]}

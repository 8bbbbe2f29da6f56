"""hailo-vision's catalog (catalog.yaml): hailo-ollama's LLM entries plus the frame size of the model."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from ..ollama.catalog import LLMCatalog
from ..ollama.catalog import ModelSpec as LLMSpec


@dataclass(frozen=True)
class ModelSpec(LLMSpec):
    # The (width, height) images are resized to before the model sees them: the HEF's input frame
    # (genai.VLM.input_frame_shape()), and the same on the CPU so both engines see the same pixels.
    frame_size: tuple[int, int] = (336, 336)


class VisionCatalog(LLMCatalog):
    spec_class = ModelSpec


@cache
def catalog() -> VisionCatalog:
    return VisionCatalog.load_package(__package__)  # type: ignore[return-value]

"""hailo-ollama's model catalog (catalog.yaml): the core schema plus what an LLM entry needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from ..core.catalog import Catalog
from ..core.catalog import ModelSpec as BaseModelSpec
from ..core.model_store import Artifact


@dataclass(frozen=True)
class ModelSpec(BaseModelSpec):
    family: str = ""
    parameter_size: str = ""
    quantization: str = ""
    context_length: int = 2048
    max_context_length: int = 0  # trained context: the most num_ctx may ask for; 0 = context_length
    # What /api/show reports and requests are checked against (Ollama's names: completion, tools,
    # thinking, vision, embedding). Only what this server really does for the model.
    capabilities: tuple[str, ...] = ("completion",)
    # A Jinja chat template of ours (ollama/templates/) used instead of the GGUF's on the CPU engine.
    chat_template: str = ""
    stop: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def context_limit(self) -> int:
        return max(self.max_context_length, self.context_length)

    @property
    def hailo(self) -> Artifact | None:
        return self.artifact("hailo")

    @property
    def cpu(self) -> Artifact | None:
        return self.artifact("cpu")


class LLMCatalog(Catalog[ModelSpec]):
    spec_class = ModelSpec


def template_text(name: str) -> str:
    return resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8")


@cache
def catalog() -> LLMCatalog:
    return LLMCatalog.load_package(__package__)  # type: ignore[return-value]


def load_catalog() -> dict[str, ModelSpec]:
    return catalog().models


def resolve_name(name: str, models: dict[str, ModelSpec] | None = None) -> ModelSpec | None:
    """Ollama's name rules (core/catalog.py): ``name`` alone means the one ``name:tag`` there is."""
    return (LLMCatalog(models) if models is not None else catalog()).resolve(name)

"""hailo-ollama's settings (``/etc/hailo/hailo-ollama.yaml``; env ``HAILO_OLLAMA_<KEY>``)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator

from ..core.settings import ServiceSettings
from .catalog import load_catalog, resolve_name
from .keep_alive import parse_keep_alive


class OllamaSettings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-ollama"
    default_port: ClassVar[int] = 11434

    model: str = Field(default="smollm2:135m", description="default model, loaded at start when preload is on")
    keep_alive: str | int | float = Field(default="5m", description="Ollama duration; negative = forever")
    num_ctx: int = Field(default=2048, ge=256, le=131072)
    threads: int | None = Field(default=None, ge=1, le=64, description="CPU engine threads (null = all cores)")
    preload: bool = True
    allow_pull: bool = True
    max_loaded_models: int = Field(default=1, ge=1, le=8)

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        spec = resolve_name(value)
        if spec is None:
            raise ValueError(f"unknown model {value!r}; known: {', '.join(sorted(load_catalog()))}")
        return spec.name

    @field_validator("keep_alive", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        # "before": YAML true/false would otherwise become 1/0 seconds.
        parse_keep_alive(value)  # type: ignore[arg-type]
        return value

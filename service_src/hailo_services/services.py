"""The services this package provides: name, default port, settings class and app factory."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceInfo:
    name: str
    port: int
    extra: str
    description: str
    settings: str  # "module:Class"
    factory: str  # "module:function"
    cpu_modules: tuple[str, ...]  # imports the CPU engine needs

    def _load(self, ref: str) -> Any:
        module, _, attr = ref.partition(":")
        return getattr(importlib.import_module(module), attr)

    def settings_class(self) -> Any:
        return self._load(self.settings)

    def app_factory(self) -> Any:
        return self._load(self.factory)


SERVICES: dict[str, ServiceInfo] = {
    "hailo-ollama": ServiceInfo(
        name="hailo-ollama",
        port=11434,
        extra="ollama",
        description="Ollama + OpenAI compatible LLM server",
        settings="hailo_services.ollama.settings:OllamaSettings",
        factory="hailo_services.ollama.app:create_app",
        cpu_modules=("xllamacpp",),
    ),
}


def get(name: str) -> ServiceInfo:
    key = name if name.startswith("hailo-") else f"hailo-{name}"
    try:
        return SERVICES[key]
    except KeyError:
        raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICES)}") from None

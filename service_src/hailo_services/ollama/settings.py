"""hailo-ollama's settings (``/etc/hailo/hailo-ollama.yaml``; env ``HAILO_OLLAMA_<KEY>``).

The keys every service has (host, port, limits, model, keep_alive, ...) are in core/settings.py.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from ..core.catalog import Catalog
from ..core.settings import ServiceSettings
from .catalog import catalog


class Settings(ServiceSettings):
    service_name: ClassVar[str] = "hailo-ollama"

    keep_alive: str | int | float = Field(default="5m", description="Ollama duration; negative = forever")
    num_ctx: int = Field(default=2048, ge=256, le=131072)
    # A request's options.num_ctx reloads the model with that context (CPU engine). The KV cache grows
    # with it, so a client could ask for more memory than a Pi has; past this it is clamped.
    max_num_ctx: int = Field(default=8192, ge=256, le=131072, description="largest num_ctx a request may set")

    # Ollama's OLLAMA_NUM_PARALLEL. Two, so that a client's background request (Open WebUI's title and
    # tags) does not hold the user's next message; each slot's KV cache costs memory. The NPU runs
    # one generation per model whatever this says.
    num_parallel: int = Field(default=2, ge=1, le=8, description="requests generated at once (CPU engine)")

    @classmethod
    def catalog(cls) -> Catalog:
        return catalog()


OllamaSettings = Settings  # the name the tests and docs used first

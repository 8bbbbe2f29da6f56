"""The contract between the app factory and a service: load, report readiness, stop."""

from __future__ import annotations

from typing import Any, Protocol


class ModelNotPresent(Exception):
    """The configured model is not on disk: the service runs (so it can be pulled) but is not ready."""


class ServiceRuntime(Protocol):
    engine_name: str

    def model_name(self) -> str: ...

    async def start(self) -> None:
        """Load the default model. Raise ModelNotPresent to stay up but not ready."""

    async def stop(self) -> None: ...

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason)."""

    def health_details(self) -> dict[str, Any]: ...

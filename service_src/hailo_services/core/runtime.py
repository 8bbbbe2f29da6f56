"""The contract between the app factory and a service (load, readiness, stop), and the one
implementation every model-serving service uses: :class:`ModelRuntime` over a :class:`ModelManager`."""

from __future__ import annotations

from typing import Any, Protocol

from .models import ModelManager, ModelNotPresent


class ServiceRuntime(Protocol):
    engine_name: str

    def model_name(self) -> str: ...

    async def start(self) -> None:
        """Load the default model. Raise ModelNotPresent to stay up but not ready."""

    async def stop(self) -> None: ...

    def readiness(self) -> tuple[bool, str]:
        """(ready, reason)."""

    def health_details(self) -> dict[str, Any]: ...


class ModelRuntime:
    """Preloads the default model at start (when ``preload``), runs the keep_alive reaper, and reports
    readiness: ready once the default model has loaded (and after keep_alive unloads it, since the
    next request loads it again)."""

    def __init__(self, manager: ModelManager):
        self.manager = manager
        self.settings = manager.settings
        self.engine_name = manager.engine_kind
        self._started = False

    def model_name(self) -> str:
        return self.manager.default_model

    async def start(self) -> None:
        self.manager.start_reaper()
        if self.settings.preload:
            spec = self.manager.spec()
            reason = self.manager.missing_reason(spec)
            if reason is not None:
                raise ModelNotPresent(reason)
            lm, _ = await self.manager.acquire(spec.name)
            await self.manager.release(lm)
        self._started = True

    async def stop(self) -> None:
        await self.manager.stop_reaper()
        await self.manager.unload_all()

    def readiness(self) -> tuple[bool, str]:
        if not self._started:
            return False, "model_loading"
        if self.manager.get_loaded(self.model_name()):
            return True, "model loaded"
        return True, "model unloaded (keep_alive expired); it loads on the next request"

    def health_details(self) -> dict[str, Any]:
        return {
            "loaded_models": [
                {
                    "name": lm.spec.name,
                    "busy": lm.queue.busy,
                    "active": lm.queue.active,
                    "slots": lm.queue.slots,
                    "waiting": lm.queue.waiting,
                }
                for lm in self.manager.loaded()
            ]
        }

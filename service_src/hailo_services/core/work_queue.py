"""A bounded queue in front of one model: ``slots`` requests run, a few wait, the rest get 503.

The Hailo NPU runs one generation per model at a time (HailoRT allows one live generator per
model), so most models have one slot. llama.cpp can interleave several sequences in one batch
(Ollama's ``OLLAMA_NUM_PARALLEL``): an engine that can says so with its ``parallel`` attribute and
gets that many slots. A full queue answers 503 with Retry-After; a wait past ``timeout_s`` answers
504; a client that goes away while waiting gives its place up.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from .errors import ClientGone, EngineTimeout, QueueFull
from .metrics import ServiceMetrics

DisconnectCheck = Callable[[], Awaitable[bool]]


class WorkQueue:
    def __init__(
        self,
        name: str,
        *,
        max_waiting: int,
        timeout_s: float,
        metrics: ServiceMetrics | None = None,
        slots: int = 1,
    ):
        self.name = name
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self.slots = max(1, slots)
        self._metrics = metrics
        self._free = asyncio.Semaphore(self.slots)
        self._waiting = 0
        self._active = 0
        # Exponential average of how long a slot is held, for Retry-After.
        self._avg_hold_s = 1.0

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def active(self) -> int:
        """Requests running now (at most ``slots``)."""
        return self._active

    @property
    def busy(self) -> bool:
        """Every slot is taken: the next request waits."""
        return self._active >= self.slots

    def _gauge(self) -> None:
        if self._metrics:
            m = self._metrics
            m.queue_depth.labels(m.service, self.name).set(self._waiting)
            m.queue_active.labels(m.service, self.name).set(self._active)

    def _reject(self, reason: str) -> None:
        if self._metrics:
            self._metrics.queue_rejected.labels(self._metrics.service, self.name, reason).inc()

    def retry_after_s(self) -> float:
        return max(1.0, self._avg_hold_s * (self._waiting + 1) / self.slots)

    @contextlib.asynccontextmanager
    async def slot(self, disconnected: DisconnectCheck | None = None) -> AsyncIterator[None]:
        if self._free.locked() and self._waiting >= self.max_waiting:
            self._reject("full")
            raise QueueFull(
                f"model '{self.name}' is busy and {self._waiting} requests are already waiting; retry later",
                retry_after=self.retry_after_s(),
            )
        self._waiting += 1
        self._gauge()
        try:
            await self._acquire(disconnected)
        finally:
            self._waiting -= 1
            self._gauge()
        self._active += 1
        self._gauge()
        started = time.monotonic()
        try:
            yield
        finally:
            self._active -= 1
            self._avg_hold_s = 0.7 * self._avg_hold_s + 0.3 * (time.monotonic() - started)
            self._free.release()
            self._gauge()

    async def _acquire(self, disconnected: DisconnectCheck | None) -> None:
        acquire = asyncio.ensure_future(self._free.acquire())
        deadline = time.monotonic() + self.timeout_s
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._reject("timeout")
                    raise EngineTimeout(
                        f"model '{self.name}' stayed busy for {self.timeout_s:g} s; request timed out in the queue"
                    )
                done, _ = await asyncio.wait({acquire}, timeout=min(remaining, 0.25))
                if done:
                    acquire.result()
                    return
                if disconnected is not None and await disconnected():
                    raise ClientGone()
        except BaseException:
            if acquire.done() and not acquire.cancelled() and acquire.exception() is None:
                self._free.release()
            else:
                acquire.cancel()
            raise

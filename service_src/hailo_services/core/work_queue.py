"""A bounded queue in front of one model: one request runs, a few wait, the rest get 503.

The Hailo NPU runs one generation per model at a time (HailoRT allows one live generator per
model), and llama.cpp on two cores is no different in practice, so each loaded model gets one
:class:`WorkQueue`. A full queue answers 503 with Retry-After; a wait past ``timeout_s`` answers
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
    def __init__(self, name: str, *, max_waiting: int, timeout_s: float, metrics: ServiceMetrics | None = None):
        self.name = name
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self._metrics = metrics
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._busy = False
        # Exponential average of how long a slot is held, for Retry-After.
        self._avg_hold_s = 1.0

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def busy(self) -> bool:
        return self._busy

    def _gauge(self) -> None:
        if self._metrics:
            self._metrics.queue_depth.labels(self._metrics.service, self.name).set(self._waiting)

    def _reject(self, reason: str) -> None:
        if self._metrics:
            self._metrics.queue_rejected.labels(self._metrics.service, self.name, reason).inc()

    def retry_after_s(self) -> float:
        return max(1.0, self._avg_hold_s * (self._waiting + 1))

    @contextlib.asynccontextmanager
    async def slot(self, disconnected: DisconnectCheck | None = None) -> AsyncIterator[None]:
        if self._lock.locked() and self._waiting >= self.max_waiting:
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
        self._busy = True
        started = time.monotonic()
        try:
            yield
        finally:
            self._busy = False
            self._avg_hold_s = 0.7 * self._avg_hold_s + 0.3 * (time.monotonic() - started)
            self._lock.release()

    async def _acquire(self, disconnected: DisconnectCheck | None) -> None:
        acquire = asyncio.ensure_future(self._lock.acquire())
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
                self._lock.release()
            else:
                acquire.cancel()
            raise

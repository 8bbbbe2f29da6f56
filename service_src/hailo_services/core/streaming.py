"""Run a blocking, callback-driven producer (an engine) in a thread and consume it as an async iterator.

Engines call ``emit(item)`` for each piece of output; ``emit`` returns True once the consumer has
gone (client disconnect, deadline), which the engine takes as "stop now". The iterator does not
finish until the producer thread has returned, so a model's queue slot is never released while
its engine is still busy.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

Emit = Callable[[Any], bool]


@dataclass
class Finished(Generic[R]):
    result: R


_DONE = object()


async def run_streaming(produce: Callable[[Emit], R], deadline_s: float | None = None) -> AsyncIterator[Any]:
    """Yield each emitted item, then a :class:`Finished` holding ``produce``'s return value.

    Past ``deadline_s`` the producer is told to stop and the iterator raises TimeoutError. The timer
    lives here, not in the caller, because a streamed response is consumed in another task than the
    one that started it, and a task-bound timeout would cancel the wrong task.
    """
    loop = asyncio.get_running_loop()
    pending: collections.deque[Any] = collections.deque()
    ready = asyncio.Event()
    stop = threading.Event()
    lock = threading.Lock()
    wake_scheduled = False

    def wake() -> None:
        nonlocal wake_scheduled
        with lock:
            wake_scheduled = False
        ready.set()

    def push(item: Any) -> None:
        # One loop wake-up per burst, not per token: the engine thread can run ahead of the loop.
        nonlocal wake_scheduled
        pending.append(item)
        with lock:
            if wake_scheduled:
                return
            wake_scheduled = True
        loop.call_soon_threadsafe(wake)

    def emit(item: Any) -> bool:
        if not stop.is_set():
            push(item)
        return stop.is_set()

    def run() -> None:
        try:
            result = produce(emit)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            push((_DONE, exc, None))
            return
        push((_DONE, None, result))

    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        stop.set()
        ready.set()

    timer = loop.call_later(deadline_s, expire) if deadline_s is not None else None
    future = loop.run_in_executor(None, run)
    try:
        while True:
            await ready.wait()
            ready.clear()
            if expired:
                raise TimeoutError(f"no result within {deadline_s:g} s")
            while pending:
                item = pending.popleft()
                if isinstance(item, tuple) and len(item) == 3 and item[0] is _DONE:
                    if item[1] is not None:
                        raise item[1]
                    yield Finished(item[2])
                    return
                yield item
    finally:
        if timer is not None:
            timer.cancel()
        stop.set()
        # Wait for the engine to notice and return, even if we are being cancelled.
        await asyncio.shield(future)


async def prime(stream: AsyncIterator[T]) -> tuple[T | None, bool]:
    """(first item, exhausted): start a stream only once its first item exists, so errors raised before
    it (404, 503, 400) keep their HTTP status. Exceptions raised before the first item propagate."""
    try:
        return await anext(stream), False
    except StopAsyncIteration:
        return None, True


async def with_first(
    first: Any, exhausted: bool, stream: AsyncIterator[Any], on_error: Callable[[Exception], Any]
) -> AsyncIterator[Any]:
    """Re-attach the primed item; an error after the stream started becomes a last in-band item."""
    async with contextlib.aclosing(stream):  # type: ignore[type-var]
        if exhausted:
            return
        yield first
        try:
            async for item in stream:
                yield item
        except Exception as exc:
            yield on_error(exc)

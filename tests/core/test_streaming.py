"""run_streaming: a blocking producer thread consumed as an async iterator."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from hailo_services.core.streaming import Finished, run_streaming

pytestmark = pytest.mark.anyio

GUARD_S = 10.0


async def collect(agen) -> list:
    out = []
    async with asyncio.timeout(GUARD_S):
        async for item in agen:
            out.append(item)
    return out


async def test_items_in_order_then_finished():
    returns: list[bool] = []

    def produce(emit):
        for i in range(50):
            returns.append(emit(i))
        return {"tokens": 50}

    items = await collect(run_streaming(produce))
    assert items[:-1] == list(range(50))
    assert isinstance(items[-1], Finished)
    assert items[-1].result == {"tokens": 50}
    assert returns == [False] * 50  # the consumer never asked the producer to stop


async def test_producer_runs_in_another_thread():
    seen: list[int] = []

    def produce(emit):
        seen.append(threading.get_ident())
        emit("x")

    items = await collect(run_streaming(produce))
    assert items == ["x", Finished(None)]
    assert seen and seen[0] != threading.get_ident()


async def test_tuple_items_are_passed_through():
    def produce(emit):
        emit((1, 2, 3))
        emit(("a", None, None))
        return "ok"

    items = await collect(run_streaming(produce))
    assert items == [(1, 2, 3), ("a", None, None), Finished("ok")]


async def test_producer_exception_propagates_after_earlier_items():
    def produce(emit):
        emit("first")
        raise ValueError("engine exploded")

    agen = run_streaming(produce)
    got = []
    with pytest.raises(ValueError, match="engine exploded"):
        async with asyncio.timeout(GUARD_S):
            async for item in agen:
                got.append(item)
    assert got == ["first"]


async def test_early_close_stops_producer_and_waits_for_it():
    saw_stop = threading.Event()
    returned = threading.Event()
    emitted_after_stop: list[bool] = []

    def produce(emit):
        for i in range(100_000):
            if emit(i):
                saw_stop.set()
                # Another emit after stopping is refused too.
                emitted_after_stop.append(emit("late"))
                # Linger so that a close that does not wait would return before we do.
                time.sleep(0.3)
                returned.set()
                return "stopped"
            time.sleep(0.001)
        return "ran to the end"

    agen = run_streaming(produce)
    first = [await asyncio.wait_for(agen.__anext__(), GUARD_S) for _ in range(3)]
    assert first == [0, 1, 2]
    await asyncio.wait_for(agen.aclose(), GUARD_S)
    assert saw_stop.is_set(), "emit() never returned True after the consumer closed"
    assert returned.is_set(), "aclose() returned before the producer thread did"
    assert emitted_after_stop == [True]


async def test_cancelled_consumer_waits_for_producer():
    returned = threading.Event()
    first_item = asyncio.Event()

    def produce(emit):
        for _ in range(100_000):
            if emit("tick"):
                time.sleep(0.2)
                returned.set()
                return None
            time.sleep(0.005)
        return None

    async def consume() -> None:
        async for _ in run_streaming(produce):
            first_item.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first_item.wait(), GUARD_S)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, GUARD_S)
    assert returned.is_set(), "the consumer finished before the producer thread returned"

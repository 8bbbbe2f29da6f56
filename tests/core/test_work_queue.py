"""WorkQueue: one holder, bounded waiters (503), queue timeout (504), disconnected waiters (no leak)."""

from __future__ import annotations

import asyncio

import pytest

from hailo_services.core.errors import ClientGone, EngineTimeout, QueueFull
from hailo_services.core.metrics import ServiceMetrics
from hailo_services.core.work_queue import WorkQueue

pytestmark = pytest.mark.anyio

GUARD_S = 10.0  # generous bound so a regression hangs no longer than this


def depth(metrics: ServiceMetrics, model: str = "m") -> float | None:
    return metrics.registry.get_sample_value("hailo_queue_depth", {"service": "svc", "model": model})


def rejected(metrics: ServiceMetrics, reason: str, model: str = "m") -> float | None:
    return metrics.registry.get_sample_value(
        "hailo_queue_rejected_total", {"service": "svc", "model": model, "reason": reason}
    )


async def until(cond, what: str) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), GUARD_S)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


class Holder:
    """A task holding the queue's slot until ``release()``."""

    def __init__(self, queue: WorkQueue):
        self.queue = queue
        self.entered = asyncio.Event()
        self.leave = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async with self.queue.slot():
            self.entered.set()
            await self.leave.wait()

    async def wait_entered(self) -> None:
        await asyncio.wait_for(self.entered.wait(), GUARD_S)

    async def release(self) -> None:
        self.leave.set()
        await asyncio.wait_for(self.task, GUARD_S)


async def test_one_holder_at_a_time():
    q = WorkQueue("m", max_waiting=10, timeout_s=30)
    active = 0
    peak = 0
    order: list[int] = []

    async def job(i: int) -> None:
        nonlocal active, peak
        async with q.slot():
            active += 1
            peak = max(peak, active)
            assert q.busy
            await asyncio.sleep(0.02)
            order.append(i)
            active -= 1

    await asyncio.wait_for(asyncio.gather(*(job(i) for i in range(5))), GUARD_S)
    assert peak == 1
    assert sorted(order) == [0, 1, 2, 3, 4]
    assert not q.busy and q.waiting == 0


async def test_exception_inside_slot_releases_it():
    q = WorkQueue("m", max_waiting=1, timeout_s=30)
    with pytest.raises(RuntimeError, match="engine blew up"):
        async with q.slot():
            raise RuntimeError("engine blew up")
    assert not q.busy
    async with asyncio.timeout(GUARD_S), q.slot():
        assert q.busy


async def test_third_request_gets_queue_full():
    metrics = ServiceMetrics("svc")
    q = WorkQueue("m", max_waiting=1, timeout_s=30, metrics=metrics)
    holder = Holder(q)
    await holder.wait_entered()

    waiter_in = asyncio.Event()

    async def waiter() -> None:
        async with q.slot():
            waiter_in.set()

    waiter_task = asyncio.create_task(waiter())
    await until(lambda: q.waiting == 1, "the second request to wait")

    with pytest.raises(QueueFull) as info:
        async with q.slot():
            pytest.fail("a third request must not get the slot")
    err = info.value
    assert err.status == 503
    assert err.code == "queue_full"
    assert err.retry_after is not None and err.retry_after >= 1
    retry = err.headers()["Retry-After"]
    assert retry.isdigit() and int(retry) >= 1
    assert "'m'" in err.message
    assert rejected(metrics, "full") == 1
    assert q.waiting == 1  # the refused request did not take a place

    await holder.release()
    await asyncio.wait_for(waiter_task, GUARD_S)
    assert waiter_in.is_set()
    assert q.waiting == 0 and depth(metrics) == 0


async def test_max_waiting_zero_refuses_while_busy_only():
    q = WorkQueue("m", max_waiting=0, timeout_s=30)
    async with asyncio.timeout(GUARD_S), q.slot():
        pass  # free: no queueing needed
    holder = Holder(q)
    await holder.wait_entered()
    with pytest.raises(QueueFull):
        async with q.slot():
            pass
    await holder.release()


async def test_waiter_times_out():
    metrics = ServiceMetrics("svc")
    q = WorkQueue("m", max_waiting=4, timeout_s=0.3, metrics=metrics)
    holder = Holder(q)
    await holder.wait_entered()
    with pytest.raises(EngineTimeout) as info:
        async with asyncio.timeout(GUARD_S), q.slot():
            pytest.fail("the slot is held; the waiter must time out")
    assert info.value.status == 504
    assert info.value.code == "timeout"
    assert rejected(metrics, "timeout") == 1
    assert q.waiting == 0 and depth(metrics) == 0
    await holder.release()
    # The timed-out waiter left nothing behind: the next request gets the slot at once.
    async with asyncio.timeout(GUARD_S), q.slot():
        assert q.busy


async def test_disconnected_waiter_raises_client_gone_and_does_not_leak():
    metrics = ServiceMetrics("svc")
    q = WorkQueue("m", max_waiting=4, timeout_s=60, metrics=metrics)
    holder = Holder(q)
    await holder.wait_entered()
    gone = False
    checks = 0

    async def disconnected() -> bool:
        nonlocal checks
        checks += 1
        return gone

    async def waiter() -> None:
        async with q.slot(disconnected):
            pytest.fail("a disconnected client must not get the slot")

    task = asyncio.create_task(waiter())
    await until(lambda: q.waiting == 1 and checks >= 1, "the waiter to poll for disconnects")
    gone = True
    with pytest.raises(ClientGone):
        await asyncio.wait_for(task, GUARD_S)
    assert q.waiting == 0 and depth(metrics) == 0
    await holder.release()
    async with asyncio.timeout(GUARD_S), q.slot():
        assert q.busy
    assert not q.busy


async def test_disconnect_racing_with_release_does_not_leak_the_lock():
    """The client goes away just as the slot frees up: the waiter's acquired lock must be given back."""
    q = WorkQueue("m", max_waiting=4, timeout_s=60)
    holder = Holder(q)
    await holder.wait_entered()

    async def disconnected() -> bool:
        # Free the slot while the waiter is busy asking, so its pending acquire completes meanwhile.
        holder.leave.set()
        await asyncio.wait_for(holder.task, GUARD_S)
        await asyncio.sleep(0.05)
        return True

    with pytest.raises(ClientGone):
        async with asyncio.timeout(GUARD_S), q.slot(disconnected):
            pytest.fail("a disconnected client must not get the slot")
    assert not q.busy
    async with asyncio.timeout(GUARD_S), q.slot():
        assert q.busy


async def test_cancelled_waiter_does_not_leak():
    q = WorkQueue("m", max_waiting=4, timeout_s=60)
    holder = Holder(q)
    await holder.wait_entered()

    async def waiter() -> None:
        async with q.slot():
            pytest.fail("cancelled waiter got the slot")

    task = asyncio.create_task(waiter())
    await until(lambda: q.waiting == 1, "the waiter to queue")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert q.waiting == 0
    await holder.release()
    async with asyncio.timeout(GUARD_S), q.slot():
        assert q.busy


async def test_queue_depth_gauge_goes_up_and_back_to_zero():
    metrics = ServiceMetrics("svc")
    q = WorkQueue("m", max_waiting=5, timeout_s=30, metrics=metrics)
    holder = Holder(q)
    await holder.wait_entered()
    assert depth(metrics) == 0

    async def waiter() -> None:
        async with q.slot():
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(waiter()) for _ in range(3)]
    await until(lambda: q.waiting == 3, "three waiters")
    assert depth(metrics) == 3
    await holder.release()
    await asyncio.wait_for(asyncio.gather(*tasks), GUARD_S)
    assert depth(metrics) == 0
    assert q.waiting == 0


async def test_retry_after_grows_with_the_queue():
    q = WorkQueue("m", max_waiting=5, timeout_s=30)
    assert q.retry_after_s() >= 1
    holder = Holder(q)
    await holder.wait_entered()

    async def waiter() -> None:
        async with q.slot():
            pass

    before = q.retry_after_s()
    tasks = [asyncio.create_task(waiter()) for _ in range(3)]
    await until(lambda: q.waiting == 3, "three waiters")
    assert q.retry_after_s() > before
    await holder.release()
    await asyncio.wait_for(asyncio.gather(*tasks), GUARD_S)


async def test_slots_run_side_by_side_and_the_next_waits() -> None:
    metrics = ServiceMetrics("svc")
    q = WorkQueue("m", max_waiting=1, timeout_s=GUARD_S, metrics=metrics, slots=2)

    def active() -> float | None:
        return metrics.registry.get_sample_value("hailo_queue_active", {"service": "svc", "model": "m"})

    first, second = Holder(q), Holder(q)
    await first.wait_entered()
    await second.wait_entered()  # both slots taken at once: neither waits for the other
    assert q.active == 2 and q.busy and active() == 2
    third = Holder(q)
    await until(lambda: q.waiting == 1, "the third request to wait")
    assert not third.entered.is_set()
    with pytest.raises(QueueFull):  # two running, one waiting = full
        async with q.slot():
            pass
    await first.release()
    await third.wait_entered()
    assert q.active == 2 and q.waiting == 0
    await second.release()
    await third.release()
    assert q.active == 0 and not q.busy and active() == 0

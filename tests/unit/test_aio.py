from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from corral.aio import within

Waiter = Callable[[Awaitable[bool], float], Awaitable[bool]]


async def cancelled_as_it_completes(wait: Waiter) -> bool:
    """Whether a task whose deadline-wait completes in the very step it is cancelled ends cancelled."""
    event = asyncio.Event()
    laps = 0

    async def loop() -> None:
        nonlocal laps
        while True:  # a timer loop, as Marathon's and Chronos's
            laps += 1
            await wait(event.wait(), 10.0)
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0)
    event.set()  # the inner wait completes...
    task.cancel()  # ...and the task is cancelled before it runs again
    done, _ = await asyncio.wait({task}, timeout=1.0)
    if not done:
        task.cancel()
        await asyncio.wait({task})
    return bool(done) and task.cancelled()


async def test_within_keeps_a_cancellation_that_races_completion() -> None:
    assert await cancelled_as_it_completes(within)


async def test_asyncio_wait_for_loses_it_on_this_python() -> None:
    """The race `within` exists for (CPython gh-86296; 3.12 rewrote wait_for on asyncio.timeout)."""
    import sys

    if sys.version_info >= (3, 12):
        pytest.skip("fixed in Python 3.12")
    assert not await cancelled_as_it_completes(asyncio.wait_for)


async def test_within_times_out_and_returns_values() -> None:
    assert await within(asyncio.sleep(0, result=7), 1.0) == 7
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)

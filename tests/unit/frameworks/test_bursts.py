"""`bursts`: what arrived while the consumer was busy comes as one list, in order; the source's end and
errors reach the consumer after the events before them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from corral.frameworks.bursts import bursts


async def _from_queue(queue: asyncio.Queue[int | None]) -> AsyncIterator[int]:
    while (item := await queue.get()) is not None:
        yield item


async def test_events_that_arrive_while_the_consumer_is_busy_come_together() -> None:
    queue: asyncio.Queue[int | None] = asyncio.Queue()
    got: list[list[int]] = []
    queue.put_nowait(1)
    async for burst in bursts(_from_queue(queue)):
        got.append(burst)
        if burst == [1]:
            for item in (2, 3, 4):  # arrive while the consumer handles the first burst
                queue.put_nowait(item)
            await asyncio.sleep(0)  # the reader runs and queues them
            await asyncio.sleep(0)
        else:
            queue.put_nowait(None)
    assert got == [[1], [2, 3, 4]]


async def test_the_source_error_comes_after_its_events() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        yield 2
        raise RuntimeError("stream broke")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="stream broke"):
        async for burst in bursts(failing()):
            got += burst
    assert got == [1, 2]


async def test_leaving_early_stops_the_reader() -> None:
    stopped = asyncio.Event()

    async def endless() -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
                await asyncio.sleep(0)
        finally:
            stopped.set()

    stream = bursts(endless())
    async for _ in stream:
        break
    await stream.aclose()
    assert stopped.is_set()

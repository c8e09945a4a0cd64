"""A scheduler's events in bursts: whatever arrived while the last burst was being handled comes as one list.

A framework that reacts to every status update on its own repeats its whole decision per update; handed
the burst, it records them all and decides once. A task reads the source ahead into a queue, so nothing
waits on the reader; the source's end or error reaches the consumer after the events before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

T = TypeVar("T")


class _End:
    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


async def bursts(source: AsyncIterator[T]) -> AsyncGenerator[list[T], None]:
    """The first event that comes, with every other one already waiting; ends (or raises) as `source`."""
    queue: asyncio.Queue[T | _End] = asyncio.Queue()

    async def read() -> None:
        try:
            async for item in source:
                queue.put_nowait(item)
        except Exception as e:
            queue.put_nowait(_End(e))
        else:
            queue.put_nowait(_End())

    reader = asyncio.create_task(read(), name="bursts-reader")
    try:
        while True:
            burst: list[T] = []
            item = await queue.get()
            while not isinstance(item, _End):
                burst.append(item)
                if queue.empty():
                    break
                item = queue.get_nowait()
            if burst:
                yield burst
            if isinstance(item, _End):
                if item.error is not None:
                    raise item.error
                return
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader

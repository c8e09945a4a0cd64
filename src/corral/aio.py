"""Waiting with a deadline without losing a cancellation.

Python 3.11's `asyncio.wait_for` swallows a cancellation that arrives just as the awaited thing completes
(CPython gh-86296, fixed in 3.12): the task stays "cancelling" yet carries on, so a timer loop asked to stop
runs on and its daemon never exits after SIGTERM. `asyncio.timeout` has no such race; every deadline in
Corral goes through `within`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float | None) -> T:
    """`await awaitable`, raising TimeoutError after `seconds` (None: no deadline), as `asyncio.wait_for`."""
    async with asyncio.timeout(seconds):
        return await awaitable

"""Time as an argument: pure code takes `now` (epoch seconds); runtimes read a Clock."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...


def nanoseconds(seconds: float) -> int:
    return round(seconds * 1e9)

"""Run-time statistics per job: what `job/stat/{name}` and `stats/{percentile}` report.

Chronos kept a decaying Dropwizard histogram in memory (lost on failover) of `end - due` (queueing delay
included) and printed the median as the `mean`. Corral keeps the last `MAX_SAMPLES` run times (start to end,
seconds) in the store with the job's other counters, reports the real mean, and computes percentiles by
linear interpolation between closest ranks (numpy's default), so one sample is every percentile.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from corral.protocol.json import JsonObject, JsonValue, Reader

MAX_SAMPLES = 1000
PERCENTILE_KEYS: dict[str, float] = {
    "75thPercentile": 75.0,
    "95thPercentile": 95.0,
    "98thPercentile": 98.0,
    "99thPercentile": 99.0,
    "median": 50.0,
}


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) of `values`; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * min(max(p, 0.0), 100.0) / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True, kw_only=True)
class JobStats:
    """A job's bookkeeping beside its JSON: run times, skipped slots, the last cron slot handled."""

    durations: tuple[float, ...] = ()  # seconds, oldest first, at most MAX_SAMPLES
    skipped: int = 0
    handled_through: datetime | None = None  # cron schedules: every slot up to here was handled

    def with_duration(self, seconds: float) -> JobStats:
        return replace(self, durations=(*self.durations, seconds)[-MAX_SAMPLES:])

    def with_skipped(self, count: int) -> JobStats:
        return self if count == 0 else replace(self, skipped=self.skipped + count)

    def value(self, key: str) -> float | None:
        """A histogram key's value in seconds (`mean`, `count`, `median`, `99thPercentile`...), or None."""
        if key == "mean":
            return sum(self.durations) / len(self.durations) if self.durations else 0.0
        if key == "count":
            return float(len(self.durations))
        if key in PERCENTILE_KEYS:
            return percentile(self.durations, PERCENTILE_KEYS[key])
        return None

    def histogram(self) -> JsonObject:
        """`job/stat`'s histogram, in milliseconds as Chronos reports it."""
        out: JsonObject = {}
        for key in ("75thPercentile", "95thPercentile", "98thPercentile", "99thPercentile", "median", "mean"):
            out[key] = round((self.value(key) or 0.0) * 1000.0, 3)
        out["count"] = len(self.durations)
        return out

    def to_json(self) -> JsonObject:
        out: JsonObject = {"durations": list[JsonValue](self.durations), "skipped": self.skipped}
        if self.handled_through is not None:
            out["handledThrough"] = self.handled_through.isoformat()
        return out

    @classmethod
    def from_json(cls, obj: JsonValue) -> JobStats:
        r = Reader(obj)
        handled = r.opt_text("handledThrough")
        return cls(
            durations=tuple(float(x) for x in r.array("durations") if isinstance(x, int | float))[
                -MAX_SAMPLES:
            ],
            skipped=r.integer("skipped", 0),
            handled_through=None if handled is None else datetime.fromisoformat(handled),
        )


def stats_listing(stats: Iterable[tuple[str, JobStats]], key: str) -> list[JsonValue]:
    """`stats/{key}`: `[{"jobNameLabel", "time"}]` in seconds, slowest first; [] for an unknown key."""
    rows: list[tuple[float, str]] = []
    for name, s in stats:
        value = s.value(key)
        if value is None:
            return []
        rows.append((value, name))
    rows.sort(key=lambda row: (-row[0], row[1]))
    return [{"jobNameLabel": name, "time": value} for value, name in rows]

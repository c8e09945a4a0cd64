"""Run-time statistics (chronos.md c "Task status tracking and statistics"; `stats/{percentile}` in a.13):
percentiles by linear interpolation, a real mean (upstream printed the median), `stats/` in seconds, slowest
first, every job listed with 0.0 before any run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.chronos.stats import MAX_SAMPLES, JobStats, percentile, stats_listing


def test_percentiles_interpolate_between_closest_ranks() -> None:
    values = [1.0, 2.0, 3.0, 4.0]
    assert percentile(values, 50) == 2.5
    assert percentile(values, 75) == pytest.approx(3.25)
    assert percentile(values, 100) == 4.0
    assert percentile([], 99) == 0.0
    assert percentile([7.0], 99) == 7.0


@given(st.lists(st.floats(min_value=0, max_value=1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_a_percentile_lies_between_min_and_max(values: list[float], p: float) -> None:
    assert min(values) <= percentile(values, p) <= max(values) * (1 + 1e-12)


def test_histogram_is_in_milliseconds_with_a_real_mean() -> None:
    stats = JobStats(durations=(1.0, 1.0, 4.0))
    h = stats.histogram()
    assert h["median"] == 1000.0 and h["mean"] == 2000.0 and h["count"] == 3
    assert set(h) == {
        "75thPercentile",
        "95thPercentile",
        "98thPercentile",
        "99thPercentile",
        "median",
        "mean",
        "count",
    }


def test_stats_listing_sorts_slowest_first_and_lists_fresh_jobs() -> None:
    rows = stats_listing([("fast", JobStats(durations=(1.0,))), ("slow", JobStats(durations=(9.0,))),
                          ("new", JobStats())], "99thPercentile")  # fmt: skip
    assert rows == [
        {"jobNameLabel": "slow", "time": 9.0},
        {"jobNameLabel": "fast", "time": 1.0},
        {"jobNameLabel": "new", "time": 0.0},
    ]
    assert stats_listing([("fast", JobStats())], "nonsense") == []


def test_samples_are_capped_and_round_trip() -> None:
    stats = JobStats(skipped=2, handled_through=datetime(2026, 1, 1, tzinfo=UTC))
    for i in range(MAX_SAMPLES + 5):
        stats = stats.with_duration(float(i))
    assert len(stats.durations) == MAX_SAMPLES and stats.durations[0] == 5.0
    assert JobStats.from_json(stats.to_json()) == stats

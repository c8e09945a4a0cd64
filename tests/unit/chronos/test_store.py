"""Chronos's state in a Store: jobs, runs, stats and dependency progress survive a restart (a new leader
recovers everything, unlike upstream's #811 and #411); only what changed is written; deletions remove keys.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from corral.chronos.dag import DependencyProgress
from corral.chronos.model import Job
from corral.chronos.runs import Run, RunState
from corral.chronos.scheduler import ChronosState, put_job, runs_by_job
from corral.chronos.stats import JobStats
from corral.chronos.store import ChronosStore
from corral.coord.local import SqliteStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def job(name: str, **fields: object) -> Job:
    obj: dict[str, object] = {"name": name, "command": "true", **fields}
    if "parents" not in fields:
        obj["schedule"] = "R5/2026-01-01T00:00:00Z/PT1H"
    return Job.from_json(obj)  # type: ignore[arg-type]


async def test_state_round_trips_through_sqlite(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "chronos.db")
    store = ChronosStore(sqlite)
    run = Run(job="a b", due=T0, queued_at=T0, state=RunState.LAUNCHED, hostname="h1")
    state = put_job(put_job(ChronosState(), job("a b")), job("c", parents=["a b"]))
    state = ChronosState(
        jobs=state.jobs,
        runs=runs_by_job([run]),
        stats={"a b": JobStats(durations=(1.5,), skipped=2)},
        progress=DependencyProgress(succeeded=frozenset({("a b", "c")})),
    )
    assert await store.save(ChronosState(), state) == 5
    assert await store.save(state, state) == 0  # nothing changed, nothing written
    await store.save_framework_id("fw-1")
    await sqlite.close()

    reopened = SqliteStore(tmp_path / "chronos.db")
    loaded = await ChronosStore(reopened).load()
    assert loaded.runs == state.runs and loaded.stats == state.stats and loaded.progress == state.progress
    assert {n: j.to_json() for n, j in loaded.jobs.items()} == {n: j.to_json() for n, j in state.jobs.items()}
    assert await ChronosStore(reopened).framework_id() == "fw-1"

    store2 = ChronosStore(reopened)
    await store2.load()
    emptied = ChronosState(jobs={}, runs={}, stats={}, progress=state.progress)
    assert await store2.save(loaded, emptied) == 4
    assert (await store2.load()).jobs == {}
    await reopened.close()

"""What the Chronos web UI shows of a job (the summary's keys, chronos.md a #9, plus counts and the next run),
which jobs a change of state touched, and the preview of a schedule's next five due times."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from corral.chronos.model import Job
from corral.chronos.overview import changed_jobs, job_row, job_rows, preview
from corral.chronos.schedule import ScheduleError
from corral.chronos.scheduler import ChronosState, delete_job, put_job, run_now

NOW = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def job(name: str, schedule: str | None = "R/2026-01-01T00:00:00Z/PT1H", **fields: object) -> Job:
    obj: dict[str, object] = {"name": name, "command": f"echo {name}", "owner": "", **fields}
    if schedule is not None:
        obj["schedule"] = schedule
    return Job.from_json(obj, now=NOW)  # type: ignore[arg-type]


def state_of(*jobs: Job) -> ChronosState:
    state = ChronosState()
    for j in jobs:
        state = put_job(state, j)
    return state


def test_a_scheduled_jobs_row_has_the_summary_keys_counts_and_its_next_run() -> None:
    state = state_of(job("hourly"))
    assert job_row(state, "hourly", NOW) == {
        "name": "hourly",
        "description": "",
        "command": "echo hourly",
        "owner": "",
        "status": "fresh",
        "state": "idle",
        "schedule": "R/2026-01-01T00:00:00Z/PT1H",
        "scheduleTimeZone": "",
        "parents": [],
        "disabled": False,
        "successCount": 0,
        "errorCount": 0,
        "lastSuccess": None,
        "lastError": None,
        "nextRun": "2026-01-01T01:00:00.000Z",
    }


def test_dependent_and_disabled_jobs_have_no_next_run_and_a_manual_run_is_queued() -> None:
    state = state_of(
        job("parent"), job("child", schedule=None, parents=["parent"]), job("off", disabled=True)
    )
    state = run_now(state, "parent", NOW)
    rows = {r["name"]: r for r in job_rows(state, None, NOW) if isinstance(r, dict)}
    assert [rows["child"][k] for k in ("schedule", "parents", "nextRun")] == ["", ["parent"], None]
    assert rows["off"]["nextRun"] is None
    assert rows["parent"]["state"] == "queued"


def test_rows_of_named_jobs_skip_the_deleted_ones() -> None:
    state = state_of(job("a"), job("b"))
    assert [r["name"] for r in job_rows(state, {"b", "gone"}, NOW) if isinstance(r, dict)] == ["b"]


def test_changed_jobs_are_those_whose_definition_runs_or_stats_changed() -> None:
    before = state_of(job("a"), job("b"))
    assert changed_jobs(before, before) == set()
    assert changed_jobs(before, put_job(before, job("c"))) == {"c"}
    assert changed_jobs(before, put_job(before, job("a", command="echo again"))) == {"a"}
    assert changed_jobs(before, run_now(before, "b", NOW)) == {"b"}
    after, _ = delete_job(before, "a", NOW)
    assert changed_jobs(before, after) == {"a"}


def test_preview_lists_the_next_five_due_times_after_now() -> None:
    hourly = preview("R/2026-01-01T00:00:00Z/PT1H", "", NOW)
    assert hourly == [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(1, 6)]
    daily = preview("0 3 * * *", "Europe/Paris", NOW)  # 03:00 in Paris is 02:00 UTC in winter
    assert daily[0] == datetime(2026, 1, 1, 2, tzinfo=UTC)
    assert [b - a for a, b in itertools.pairwise(daily)] == [timedelta(days=1)] * 4


def test_preview_lists_no_more_times_than_runs_are_left() -> None:
    assert len(preview("R2/2026-01-01T01:00:00Z/PT1H", "", NOW)) == 2
    assert preview("R0/2026-01-01T01:00:00Z/PT1H", "", NOW) == []


@pytest.mark.parametrize("schedule", ["R/not-a-date/PT1H", "P1D", "61 * * * *"])
def test_preview_of_a_bad_schedule_says_what_is_wrong(schedule: str) -> None:
    with pytest.raises(ScheduleError, match=r"cannot parse"):
        preview(schedule, "", NOW)

"""What the Chronos web UI shows of each job, and which jobs a change of state touched.

A row is the summary's `name`/`status`/`state`/`schedule`/`parents`/`disabled` (chronos.md a, #9) plus the
counts, the last success and error, and the next due time, so the job table needs no other request. A
change is found as the store finds it: by comparing each job's definition, runs and stats by identity, so
telling which of 10,000 jobs changed costs one pointer comparison per job, and a false positive only
resends a row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from corral.chronos.model import Job
from corral.chronos.schedule import next_due, parse_schedule, upcoming
from corral.chronos.scheduler import ChronosState, job_state_text
from corral.chronos.wallclock import format_utc
from corral.protocol.json import JsonObject, JsonValue

PREVIEW_COUNT = 5


def _utc(t: datetime | None) -> JsonValue:
    return None if t is None else format_utc(t)


def next_run(job: Job, now: datetime) -> datetime | None:
    """The first due time after `now`; None for a disabled or dependent job, or one with no run left."""
    if job.disabled or job.schedule is None:
        return None
    return next_due(job.schedule, now)


def job_row(state: ChronosState, name: str, now: datetime) -> JsonObject:
    job = state.jobs[name]
    schedule = job.schedule
    return {
        "name": name,
        "description": job.description,
        "command": job.command,
        "owner": job.owner,
        "status": job.last_outcome.value,
        "state": job_state_text(state, name),
        "schedule": "" if schedule is None else schedule.text,
        "scheduleTimeZone": "" if schedule is None else schedule.time_zone,
        "parents": list[JsonValue](job.parents),
        "disabled": job.disabled,
        "successCount": job.success_count,
        "errorCount": job.error_count,
        "lastSuccess": _utc(job.last_success),
        "lastError": _utc(job.last_error),
        "nextRun": _utc(next_run(job, now)),
    }


def job_rows(state: ChronosState, names: set[str] | None, now: datetime) -> list[JsonValue]:
    """The rows of `names` (every job when None) that still exist, sorted by name."""
    chosen = state.jobs.keys() if names is None else names & state.jobs.keys()
    return [job_row(state, name, now) for name in sorted(chosen)]


def changed_jobs(before: ChronosState, after: ChronosState) -> set[str]:
    """Jobs whose definition, runs or stats differ between the two states (added and deleted ones too)."""
    return (
        _differing(before.jobs, after.jobs)
        | _differing(before.runs, after.runs)
        | _differing(before.stats, after.stats)
    )


def _differing(old: Mapping[str, object], new: Mapping[str, object]) -> set[str]:
    if old is new:
        return set()
    return {name for name in old.keys() | new.keys() if old.get(name) is not new.get(name)}


def preview(schedule: str, time_zone: str, now: datetime, count: int = PREVIEW_COUNT) -> list[datetime]:
    """The next `count` due times of a schedule being edited; `ScheduleError` names what is wrong."""
    return upcoming(parse_schedule(schedule, time_zone, now=now), now, count)

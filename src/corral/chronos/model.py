"""The Chronos job: every field of the 3.x API with its default, read and written in Chronos's exact shape.

`Job.to_json` is what GET /scheduler/jobs returns for a job: Chronos's keys in JobSerializer's order (name,
command, shell, ..., constraints, then `parents` or `schedule` + `scheduleTimeZone`), `fetch` and `uris`
mirrored into each other, then Corral's additions. Additions are written only when they carry something
(`epsilon`, `startingDeadlineSeconds`, `scheduleOrigin`) or always (`async`, `concurrencyPolicy`) so that a
job file re-posted from GET output means the same job, and tools that diff the keys they posted
(chronos-sync-jobs.py) see their keys echoed.

Corral's additions and choices:
- `concurrencyPolicy` ALLOW / FORBID / REPLACE beside Chronos's `concurrent` (true = ALLOW, false =
  FORBID: one run at a time; a due run waits for the running one, within the catch-up window, then runs
  once). Both may be sent if they agree.
- `epsilon` (2.x, ignored by 3.x) is honoured again, as the catch-up window; absent means unbounded (3.x).
  `startingDeadlineSeconds` is a launch deadline for any run (Metronome); the window is the smaller of the
  two.
- `maxCompletionTime` (upstream master, #881) is the run time limit in seconds; 0 is none.
- A job with neither `schedule` nor `parents` is a one-off `R1/<now>/PT24H`, as in 3.x.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from corral.chronos.container import Container
from corral.chronos.schedule import (
    IsoSchedule,
    Period,
    Schedule,
    ScheduleError,
    parse_period,
    parse_schedule,
    with_origin,
)
from corral.chronos.validation import choice, text, texts, timestamp
from corral.chronos.wallclock import UnknownTimeZone, format_instant, format_utc, zone_named
from corral.core.errors import DecodeError
from corral.protocol.json import JsonObject, JsonValue, Reader


class ConcurrencyPolicy(StrEnum):
    ALLOW = "ALLOW"  # runs may overlap (`concurrent: true`)
    FORBID = "FORBID"  # one run at a time; a due run waits within the catch-up window (`concurrent: false`)
    REPLACE = "REPLACE"  # a due run kills the running one and starts


class ConstraintOperator(StrEnum):
    EQUALS = "EQUALS"
    LIKE = "LIKE"  # the attribute matches a regex
    UNLIKE = "UNLIKE"


class LastOutcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    FRESH = "fresh"


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetch:
    uri: str
    executable: bool = False
    cache: bool = False
    extract: bool = True
    output_file: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class EnvironmentVariable:
    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    attribute: str
    operator: ConstraintOperator
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class JobDefaults:
    """Chronos's flags `--mesos_task_cpu`, `--mesos_task_mem`, `--mesos_task_disk`, `--user`."""

    cpus: float = 0.1
    mem: float = 128.0
    disk: float = 256.0
    run_as_user: str = "root"


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """Exactly one of `schedule` (a scheduled job) or `parents` (a dependent job) is set."""

    name: str
    command: str = ""
    shell: bool = True
    executor: str = ""
    executor_flags: str = ""
    task_info_data: str = ""
    retries: int = 2
    owner: str = ""
    owner_name: str = ""
    description: str = ""
    success_count: int = 0
    error_count: int = 0
    last_success: datetime | None = None
    last_error: datetime | None = None
    cpus: float = 0.1
    disk: float = 256.0
    mem: float = 128.0
    disabled: bool = False
    soft_error: bool = False
    data_processing_job_type: bool = False
    errors_since_last_success: int = 0
    fetch: tuple[Fetch, ...] = ()
    environment_variables: tuple[EnvironmentVariable, ...] = ()
    arguments: tuple[str, ...] = ()
    high_priority: bool = False
    run_as_user: str = "root"
    concurrency_policy: ConcurrencyPolicy = ConcurrencyPolicy.FORBID
    max_completion_time: int = 0  # seconds; 0 is no limit
    container: Container | None = None
    constraints: tuple[Constraint, ...] = ()
    parents: tuple[str, ...] = ()
    schedule: Schedule | None = None
    epsilon: Period | None = None
    async_: bool = False  # 2.x only; kept so it round-trips
    starting_deadline_seconds: int | None = None

    @property
    def is_dependent(self) -> bool:
        return self.schedule is None

    @property
    def concurrent(self) -> bool:
        return self.concurrency_policy is ConcurrencyPolicy.ALLOW

    @property
    def uris(self) -> tuple[str, ...]:
        return tuple(f.uri for f in self.fetch)

    @property
    def catch_up_window(self) -> timedelta | None:
        """How late a due run may still start: the smaller of `epsilon` and `startingDeadlineSeconds`."""
        windows: list[timedelta] = []
        if self.epsilon is not None and (epsilon := self.epsilon.as_timedelta()) is not None:
            windows.append(epsilon)
        if self.starting_deadline_seconds is not None:
            windows.append(timedelta(seconds=self.starting_deadline_seconds))
        return min(windows, default=None)

    @property
    def last_outcome(self) -> LastOutcome:
        """`fresh`, or whichever of lastSuccess and lastError is later (graph/Exporter.scala)."""
        if self.last_success is None:
            return LastOutcome.FRESH if self.last_error is None else LastOutcome.FAILURE
        if self.last_error is None or self.last_success > self.last_error:
            return LastOutcome.SUCCESS
        return LastOutcome.FAILURE

    def with_success(self, at: datetime) -> Job:
        return replace(
            self, success_count=self.success_count + 1, errors_since_last_success=0, last_success=at
        )

    def with_error(self, at: datetime) -> Job:
        """Retries exhausted: count the error (a retried failure is not one)."""
        return replace(
            self,
            error_count=self.error_count + 1,
            errors_since_last_success=self.errors_since_last_success + 1,
            last_error=at,
        )

    @classmethod
    def from_json(
        cls, obj: JsonValue, *, now: datetime | None = None, defaults: JobDefaults = JobDefaults()
    ) -> Job:
        """Decode a posted or stored job. `now` is needed only for a job without a schedule or parents."""
        r = Reader(obj)
        name = text(r, "name")
        if not name:
            raise DecodeError("name", "is required")
        parents, schedule = _parents_and_schedule(r, now)
        return cls(
            name=name,
            command=text(r, "command"),
            shell=r.flag("shell", True),
            executor=text(r, "executor"),
            executor_flags=text(r, "executorFlags"),
            task_info_data=text(r, "taskInfoData"),
            retries=r.integer("retries", 2),
            owner=text(r, "owner"),
            owner_name=text(r, "ownerName"),
            description=text(r, "description"),
            success_count=r.integer("successCount", 0),
            error_count=r.integer("errorCount", 0),
            last_success=timestamp(r, "lastSuccess"),
            last_error=timestamp(r, "lastError"),
            cpus=r.number("cpus", 0.0) or defaults.cpus,
            disk=r.number("disk", 0.0) or defaults.disk,
            mem=r.number("mem", 0.0) or defaults.mem,
            disabled=r.flag("disabled", False),
            soft_error=r.flag("softError", False),
            data_processing_job_type=r.flag("dataProcessingJobType", False),
            errors_since_last_success=r.integer("errorsSinceLastSuccess", 0),
            fetch=_fetch(r),
            environment_variables=r.each("environmentVariables", _environment_variable),
            arguments=texts(r, "arguments"),
            high_priority=r.flag("highPriority", False),
            run_as_user=text(r, "runAsUser", defaults.run_as_user),
            concurrency_policy=_concurrency_policy(r),
            max_completion_time=r.integer("maxCompletionTime", 0),
            container=None if (c := r.opt_child("container")) is None else Container.from_json(c),
            constraints=tuple(
                _constraint(item, f"constraints[{i}]") for i, item in enumerate(r.array("constraints"))
            ),
            parents=parents,
            schedule=schedule,
            epsilon=_epsilon(r),
            async_=r.flag("async", False),
            starting_deadline_seconds=r.opt_integer("startingDeadlineSeconds"),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "name": self.name,
            "command": self.command,
            "shell": self.shell,
            "executor": self.executor,
            "executorFlags": self.executor_flags,
            "taskInfoData": self.task_info_data,
            "retries": self.retries,
            "owner": self.owner,
            "ownerName": self.owner_name,
            "description": self.description,
            "successCount": self.success_count,
            "errorCount": self.error_count,
            "lastSuccess": "" if self.last_success is None else format_utc(self.last_success),
            "lastError": "" if self.last_error is None else format_utc(self.last_error),
            "cpus": float(self.cpus),
            "disk": float(self.disk),
            "mem": float(self.mem),
            "disabled": self.disabled,
            "softError": self.soft_error,
            "dataProcessingJobType": self.data_processing_job_type,
            "errorsSinceLastSuccess": self.errors_since_last_success,
            "fetch": [_fetch_json(f) for f in self.fetch],
            "uris": list[JsonValue](self.uris),
            "environmentVariables": [{"name": e.name, "value": e.value} for e in self.environment_variables],
            "arguments": list[JsonValue](self.arguments),
            "highPriority": self.high_priority,
            "runAsUser": self.run_as_user,
            "concurrent": self.concurrent,
            "maxCompletionTime": self.max_completion_time,
        }
        if self.container is not None:
            out["container"] = self.container.to_json()
        out["constraints"] = [[c.attribute, c.operator.value, c.value] for c in self.constraints]
        if self.schedule is None:
            out["parents"] = list[JsonValue](self.parents)
        else:
            out["schedule"] = self.schedule.text
            out["scheduleTimeZone"] = self.schedule.time_zone
            if isinstance(self.schedule, IsoSchedule) and self.schedule.has_drifting_start:
                out["scheduleOrigin"] = self.schedule.origin.isoformat()
        if self.epsilon is not None:
            out["epsilon"] = self.epsilon.text
        out["async"] = self.async_
        out["concurrencyPolicy"] = self.concurrency_policy.value
        if self.starting_deadline_seconds is not None:
            out["startingDeadlineSeconds"] = self.starting_deadline_seconds
        return out


def _parents_and_schedule(r: Reader, now: datetime | None) -> tuple[tuple[str, ...], Schedule | None]:
    parents = tuple(dict.fromkeys(texts(r, "parents")))  # a set upstream; keep the order given
    schedule_text = text(r, "schedule").strip()
    if parents:
        if schedule_text:
            raise DecodeError("schedule", "a job has a schedule or parents, not both")
        return parents, None
    if r.has("parents") and not schedule_text:
        raise DecodeError("parents", "a dependent job needs at least one parent")
    if not schedule_text:
        if now is None:
            raise DecodeError("schedule", "a job needs a schedule or parents")
        schedule_text = f"R1/{format_instant(now.astimezone(UTC))}/PT24H"  # 3.x: a one-off, now
    time_zone = text(r, "scheduleTimeZone")
    if time_zone not in ("", "null"):
        try:
            zone_named(time_zone)
        except UnknownTimeZone as e:
            raise DecodeError("scheduleTimeZone", str(e)) from None
    try:
        schedule = parse_schedule(schedule_text, time_zone, now=now)
    except ScheduleError as e:
        raise DecodeError("schedule", str(e)) from None
    origin = text(r, "scheduleOrigin")
    if origin and isinstance(schedule, IsoSchedule):
        try:
            schedule = with_origin(schedule, datetime.fromisoformat(origin))
        except ValueError:
            raise DecodeError("scheduleOrigin", f"expected a local date-time, got {origin!r}") from None
    return (), schedule


def _concurrency_policy(r: Reader) -> ConcurrencyPolicy:
    concurrent = r.flag("concurrent", False)
    if not text(r, "concurrencyPolicy"):
        return ConcurrencyPolicy.ALLOW if concurrent else ConcurrencyPolicy.FORBID
    policy = choice(r, "concurrencyPolicy", ConcurrencyPolicy, ConcurrencyPolicy.FORBID)
    if r.has("concurrent") and concurrent != (policy is ConcurrencyPolicy.ALLOW):
        raise DecodeError(
            "concurrencyPolicy", f"{policy.value} contradicts concurrent={str(concurrent).lower()}"
        )
    return policy


def _epsilon(r: Reader) -> Period | None:
    raw = text(r, "epsilon")
    if not raw:
        return None
    try:
        period = parse_period(raw, what="epsilon")
    except ScheduleError as e:
        raise DecodeError("epsilon", str(e)) from None
    if period.as_timedelta() is None:
        raise DecodeError("epsilon", f"{raw!r} has months or years, which have no fixed length")
    return period


def _fetch(r: Reader) -> tuple[Fetch, ...]:
    fetch = r.each(
        "fetch",
        lambda f: Fetch(
            uri=text(f, "uri"),
            executable=f.flag("executable", False),
            cache=f.flag("cache", False),
            extract=f.flag("extract", True),
            output_file=text(f, "output_file"),
        ),
    )
    uris = texts(r, "uris")
    if uris and fetch and uris != tuple(f.uri for f in fetch):
        raise DecodeError("uris", "give fetch or the deprecated uris, not both")
    return fetch or tuple(Fetch(uri=u) for u in uris)


def _fetch_json(f: Fetch) -> JsonObject:
    out: JsonObject = {"uri": f.uri, "executable": f.executable, "cache": f.cache, "extract": f.extract}
    if f.output_file:
        out["output_file"] = f.output_file
    return out


def _environment_variable(r: Reader) -> EnvironmentVariable:
    name = text(r, "name")
    if not name:
        raise DecodeError(f"{r.path}.name", "is required")
    return EnvironmentVariable(name=name, value=text(r, "value"))


def _constraint(item: JsonValue, path: str) -> Constraint:
    if not isinstance(item, list) or len(item) != 3 or not all(isinstance(x, str) for x in item):
        raise DecodeError(path, "expected [attribute, operator, value]")
    attribute, operator, value = (str(x) for x in item)
    try:
        op = ConstraintOperator(operator.upper())
    except ValueError:
        raise DecodeError(path, f"unknown operator {operator!r} (EQUALS, LIKE or UNLIKE)") from None
    if op is not ConstraintOperator.EQUALS:
        try:
            re.compile(value)
        except re.error as e:
            raise DecodeError(path, f"{value!r} is not a regular expression: {e}") from None
    return Constraint(attribute=attribute, operator=op, value=value)

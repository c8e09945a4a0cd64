"""One run of a Chronos job: its Mesos task id, where it is in its life, and how it ended.

Rule 1: a run is keyed by its task id, `ct:<due epoch ms>:<attempt>:<job name>:<arguments>` (Chronos's
format), so a slot of a schedule maps to exactly one attempt-0 run: re-planning the same slot (after a crash,
on a new leader) finds the existing record instead of launching again.
Rule 2: a run moves QUEUED -> LAUNCHED -> RUNNING -> one of SUCCEEDED, FAILED, KILLED; a queued run may
instead be SKIPPED (too late for its catch-up window, or its job was disabled or deleted). Terminal runs never
change again, so a duplicated status update changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from corral.chronos.wallclock import format_utc
from corral.core.ids import AgentId, TaskId
from corral.protocol.json import JsonObject, JsonValue, Reader

TASK_PREFIX = "ct"
_EXIT_STATUS = re.compile(r"exit(?:ed)?(?: with)?(?: status| code)? (-?\d+)", re.IGNORECASE)


class RunState(StrEnum):
    QUEUED = "queued"  # waiting for an offer (or for `not_before`, a retry's delay)
    LAUNCHED = "launched"  # accepted on an offer; no status yet
    RUNNING = "running"  # STAGING, STARTING or RUNNING reported
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"
    SKIPPED = "skipped"

    @property
    def is_terminal(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.KILLED, RunState.SKIPPED)

    @property
    def is_active(self) -> bool:
        """Holding (or about to hold) resources on an agent."""
        return self in (RunState.LAUNCHED, RunState.RUNNING)


def epoch_ms(t: datetime) -> int:
    return round(t.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def task_id_for(job: str, due: datetime, attempt: int, arguments: str = "") -> TaskId:
    return TaskId(f"{TASK_PREFIX}:{epoch_ms(due)}:{attempt}:{job}:{arguments}")


def is_chronos_task(task_id: str) -> bool:
    return task_id.startswith(f"{TASK_PREFIX}:")


def job_of_task(task_id: str) -> str | None:
    """The job name in a Chronos task id (no name rule allows a ':'), or None for another task."""
    parts = task_id.split(":", 4)
    return parts[3] if len(parts) == 5 and parts[0] == TASK_PREFIX else None


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    job: str
    due: datetime  # the slot (or the trigger time of a dependent or manual run)
    attempt: int = 0
    arguments: str = ""
    manual: bool = False
    state: RunState = RunState.QUEUED
    queued_at: datetime
    not_before: datetime | None = None  # a retry waits until then
    launched_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    agent_id: AgentId | None = None
    hostname: str = ""
    message: str = ""  # the last status message, or why it was skipped

    @property
    def task_id(self) -> TaskId:
        return task_id_for(self.job, self.due, self.attempt, self.arguments)

    @property
    def exit_status(self) -> int | None:
        """From the agent's message ("Command exited with status 3"); 0 for a success."""
        if self.state is RunState.SUCCEEDED:
            return 0
        m = _EXIT_STATUS.search(self.message)
        return int(m.group(1)) if m else None

    @property
    def duration(self) -> float | None:
        """Seconds from start (or launch) to end: queueing delay is not run time (unlike upstream)."""
        begin = self.started_at or self.launched_at
        if begin is None or self.ended_at is None:
            return None
        return max((self.ended_at - begin).total_seconds(), 0.0)

    def is_ready(self, now: datetime) -> bool:
        return self.state is RunState.QUEUED and (self.not_before is None or self.not_before <= now)

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "job": self.job,
            "due": epoch_ms(self.due),
            "attempt": self.attempt,
            "arguments": self.arguments,
            "manual": self.manual,
            "state": self.state.value,
            "queuedAt": epoch_ms(self.queued_at),
            "hostname": self.hostname,
            "message": self.message,
        }
        for key, value in (
            ("notBefore", self.not_before),
            ("launchedAt", self.launched_at),
            ("startedAt", self.started_at),
            ("endedAt", self.ended_at),
        ):
            if value is not None:
                out[key] = epoch_ms(value)
        if self.agent_id is not None:
            out["agentId"] = self.agent_id
        return out

    @classmethod
    def from_json(cls, obj: JsonValue) -> Run:
        r = Reader(obj)

        def at(key: str) -> datetime | None:
            value = r.opt_integer(key)
            return None if value is None else from_ms(value)

        agent = r.opt_text("agentId")
        return cls(
            job=r.text("job"),
            due=from_ms(r.integer("due")),
            attempt=r.integer("attempt", 0),
            arguments=r.opt_text("arguments") or "",
            manual=r.flag("manual", False),
            state=RunState(r.text("state")),
            queued_at=from_ms(r.integer("queuedAt")),
            not_before=at("notBefore"),
            launched_at=at("launchedAt"),
            started_at=at("startedAt"),
            ended_at=at("endedAt"),
            agent_id=None if agent is None else AgentId(agent),
            hostname=r.opt_text("hostname") or "",
            message=r.opt_text("message") or "",
        )


def format_chronos_time(t: datetime | None) -> str:
    """`job/stat` history times: `MM/dd/yy HH:mm:ss` (UTC), or `N/A`."""
    return "N/A" if t is None else t.astimezone(UTC).strftime("%m/%d/%y %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """`1d2h3m4s`, as Chronos's history prints durations."""
    if seconds is None:
        return "N/A"
    rest = int(seconds)
    days, rest = divmod(rest, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    out = "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (minutes, "m")) if n)
    return f"{out}{secs}s"


def history_item(run: Run, sandbox: str | None) -> JsonObject:
    """One `taskStatHistory` entry: Chronos's keys, then Corral's: the due, launch, start and end instants
    (ISO 8601, UTC, milliseconds; null until they happen), the agent's host, the exit status, the last status
    message and a link to the sandbox."""
    out: JsonObject = {
        "taskId": run.task_id,
        "jobName": run.job,
        "slaveId": run.agent_id or "",
        "startTime": format_chronos_time(run.started_at or run.launched_at),
        "endTime": format_chronos_time(run.ended_at),
        "duration": format_duration(run.duration),
        "status": run.state.value,
        "attempt": run.attempt,
        "due": format_utc(run.due),
        "launchedAt": _utc_or_null(run.launched_at),
        "startedAt": _utc_or_null(run.started_at),
        "endedAt": _utc_or_null(run.ended_at),
        "hostname": run.hostname,
        "exitStatus": run.exit_status,
        "message": run.message,
    }
    if sandbox is not None:
        out["sandbox"] = sandbox
    return out


def _utc_or_null(t: datetime | None) -> JsonValue:
    return None if t is None else format_utc(t)


def sandbox_path(framework_id: str, run: Run) -> str:
    """The master's virtual sandbox path of a command task (its executor id is its task id)."""
    return f"/frameworks/{framework_id}/executors/{run.task_id}/runs/latest"


def as_json_list(runs: list[Run]) -> list[JsonValue]:
    return [r.to_json() for r in runs]

"""An instance of an app: one task, where it runs, its condition and goal (marathon.md b.5, c.1, c.7).

Ids follow upstream: the instance id is `<safeAppId>.instance-<uuid>` and its task id the pre-1.8 form
`<safeAppId>.<uuid>` (`/prod/web` -> `prod_web.0f8e...`), which marathon-lb and the PyPI client parse;
`app_id_of_task` also reads the 1.8+ form `<safeAppId>.instance-<uuid>._app.<n>`.

Invariants: an instance is created (condition Provisioned) when its offer is accepted and is persisted
before the ACCEPT is sent; Mesos status updates move its condition (`with_status`); a kill never changes the
condition, only `goal` (Decommissioned: do not replace) and `kill_requested_at` (for retries). App versions
are upstream's timestamps (`2015-09-30T09:09:17.614Z`), all written by one formatter, so they sort as
strings.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import NewType

from corral.core.attributes import Attribute
from corral.core.ids import AgentId, TaskId
from corral.core.task_state import TaskState
from corral.marathon.paths import PathId
from corral.marathon.strategies import KillSelection, UnreachableEnabled, UnreachableStrategy
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import TaskStatus

InstanceId = NewType("InstanceId", str)

_TASK_ID_18 = re.compile(r"^(.+)\.(?:instance|marathon)-([^._]+)\.(?:_app|[^.]+)(?:\.\d+)?$")
_TASK_ID_LEGACY = re.compile(r"^(.+)[._]([^._]+)$")
_INSTANCE_ID = re.compile(r"^(.+)\.(?:instance|marathon)-([^._]+)$")


@functools.lru_cache(maxsize=1 << 16)
def format_timestamp(seconds: float) -> str:
    """Upstream's `Timestamp.toString`: ISO 8601, UTC, milliseconds (`2015-09-30T09:09:17.614Z`).

    Cached: listing 10,000 tasks formats 20,000 timestamps, mostly the same as at the last listing."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def instance_id_for(app_id: PathId, uuid: str) -> InstanceId:
    return InstanceId(f"{app_id.safe_id}.instance-{uuid}")


def task_id_for(instance_id: InstanceId) -> TaskId:
    match = _INSTANCE_ID.match(instance_id)
    if match is None:
        raise ValueError(f"not an instance id: {instance_id}")
    return TaskId(f"{match[1]}.{match[2]}")


def app_id_of_task(task_id: str) -> PathId | None:
    """The app a task id belongs to, in either upstream format; None if it is not a Marathon task id."""
    match = _TASK_ID_18.match(task_id) or _TASK_ID_LEGACY.match(task_id)
    return PathId.from_safe_id(match[1]) if match else None


def instance_id_of_task(task_id: str) -> InstanceId | None:
    match = _TASK_ID_18.match(task_id) or _TASK_ID_LEGACY.match(task_id)
    return InstanceId(f"{match[1]}.instance-{match[2]}") if match else None


class Condition(StrEnum):
    """Upstream's instance conditions; Provisioned is "offer accepted, no status yet"."""

    PROVISIONED = "Provisioned"
    STAGING = "Staging"
    STARTING = "Starting"
    RUNNING = "Running"
    KILLING = "Killing"
    UNREACHABLE = "Unreachable"
    FINISHED = "Finished"
    FAILED = "Failed"
    KILLED = "Killed"
    ERROR = "Error"
    DROPPED = "Dropped"
    GONE = "Gone"
    GONE_BY_OPERATOR = "GoneByOperator"
    UNKNOWN = "Unknown"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_CONDITIONS


TERMINAL_CONDITIONS = frozenset(
    {
        Condition.FINISHED,
        Condition.FAILED,
        Condition.KILLED,
        Condition.ERROR,
        Condition.DROPPED,
        Condition.GONE,
        Condition.GONE_BY_OPERATOR,
        Condition.UNKNOWN,
    }
)
# Failures that lengthen the launch delay (upstream NotifyRateLimiterStep.limitWorthy); KILLED does not.
LIMIT_WORTHY = frozenset(
    {Condition.DROPPED, Condition.ERROR, Condition.FAILED, Condition.GONE, Condition.FINISHED}
)
_BY_STATE = {
    TaskState.TASK_STAGING: Condition.STAGING,
    TaskState.TASK_STARTING: Condition.STARTING,
    TaskState.TASK_RUNNING: Condition.RUNNING,
    TaskState.TASK_KILLING: Condition.KILLING,
    TaskState.TASK_FINISHED: Condition.FINISHED,
    TaskState.TASK_FAILED: Condition.FAILED,
    TaskState.TASK_KILLED: Condition.KILLED,
    TaskState.TASK_ERROR: Condition.ERROR,
    TaskState.TASK_DROPPED: Condition.DROPPED,
    TaskState.TASK_UNREACHABLE: Condition.UNREACHABLE,
    TaskState.TASK_GONE: Condition.GONE,
    TaskState.TASK_GONE_BY_OPERATOR: Condition.GONE_BY_OPERATOR,
    TaskState.TASK_UNKNOWN: Condition.UNKNOWN,
}
# TASK_LOST (frameworks that are not partition-aware): these reasons mean the agent may come back.
_MIGHT_COME_BACK = frozenset(
    {
        "REASON_AGENT_DISCONNECTED",
        "REASON_SLAVE_DISCONNECTED",
        "REASON_MASTER_DISCONNECTED",
        "REASON_AGENT_REMOVED",
        "REASON_SLAVE_REMOVED",
    }
)


def condition_of(status: TaskStatus) -> Condition:
    if status.state is TaskState.TASK_LOST:
        return Condition.UNREACHABLE if status.reason in _MIGHT_COME_BACK else Condition.GONE
    return _BY_STATE[status.state]


class Goal(StrEnum):
    RUNNING = "Running"
    DECOMMISSIONED = "Decommissioned"  # killed on purpose: not replaced, expunged once terminal


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentPlacement:
    """Where an instance runs, as constraints read it (`hostname`, `@region`, `@zone`, attributes)."""

    agent_id: AgentId
    hostname: str
    attributes: tuple[Attribute, ...] = ()
    region: str | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Instance:
    instance_id: InstanceId
    task_id: TaskId
    app_id: PathId
    version: str  # the app version it was launched with (MARATHON_APP_VERSION)
    agent: AgentPlacement
    host_ports: tuple[int, ...] = ()
    staged_at: float
    since: float  # when the condition last changed
    condition: Condition = Condition.PROVISIONED
    state: TaskState | None = None  # the last Mesos state
    goal: Goal = Goal.RUNNING
    started_at: float | None = None  # first TASK_RUNNING
    healthy: bool | None = None  # None: no health information
    unreachable_since: float | None = None
    kill_requested_at: float | None = None
    ip_addresses: tuple[str, ...] = ()
    message: str | None = None

    @staticmethod
    def provision(
        *,
        app_id: PathId,
        version: str,
        agent: AgentPlacement,
        host_ports: tuple[int, ...],
        uuid: str,
        now: float,
    ) -> Instance:
        instance_id = instance_id_for(app_id, uuid)
        return Instance(
            instance_id=instance_id,
            task_id=task_id_for(instance_id),
            app_id=app_id,
            version=version,
            agent=agent,
            host_ports=host_ports,
            staged_at=now,
            since=now,
        )

    @property
    def is_terminal(self) -> bool:
        return self.condition.is_terminal

    @property
    def is_running(self) -> bool:
        return self.condition is Condition.RUNNING

    @property
    def is_unreachable(self) -> bool:
        return self.condition is Condition.UNREACHABLE

    @property
    def is_kill_requested(self) -> bool:
        return self.kill_requested_at is not None

    def with_status(self, status: TaskStatus, now: float) -> Instance:
        """Apply a Mesos status update. Health comes along when the executor runs a Mesos-side check."""
        condition = condition_of(status)
        started_at = self.started_at
        if started_at is None and condition is Condition.RUNNING:
            started_at = now
        return replace(
            self,
            condition=condition,
            state=status.state,
            since=self.since if condition is self.condition else now,
            started_at=started_at,
            healthy=status.healthy if status.healthy is not None else self.healthy,
            unreachable_since=(self.unreachable_since or now) if condition is Condition.UNREACHABLE else None,
            message=status.message if status.message is not None else self.message,
        )

    def with_health(self, healthy: bool | None) -> Instance:
        return replace(self, healthy=healthy)

    def with_kill_requested(self, now: float, *, decommission: bool) -> Instance:
        """A kill was sent. Decommissioned instances are not replaced; others (health kills) are."""
        goal = Goal.DECOMMISSIONED if decommission else self.goal
        return replace(self, kill_requested_at=now, goal=goal)

    def is_inactive(self, strategy: UnreachableStrategy, now: float) -> bool:
        """UnreachableInactive: unreachable for `inactiveAfterSeconds`; a replacement is launched for it."""
        if self.condition is not Condition.UNREACHABLE or not isinstance(strategy, UnreachableEnabled):
            return False
        since = self.unreachable_since if self.unreachable_since is not None else self.since
        return now - since >= strategy.inactive_after_seconds

    def is_expired(self, strategy: UnreachableStrategy, now: float) -> bool:
        """Unreachable for `expungeAfterSeconds`: the runtime expunges it (and kills it if it returns)."""
        if self.condition is not Condition.UNREACHABLE or not isinstance(strategy, UnreachableEnabled):
            return False
        since = self.unreachable_since if self.unreachable_since is not None else self.since
        return now - since >= strategy.expunge_after_seconds

    def counts_as_running(self, strategy: UnreachableStrategy, now: float) -> bool:
        """Counts toward the app's `instances` (upstream: goal Running and not UnreachableInactive)."""
        if self.goal is not Goal.RUNNING or self.condition in TERMINAL_CONDITIONS:
            return False
        return self.condition is not Condition.UNREACHABLE or not self.is_inactive(strategy, now)

    def is_launched_with(self, config_version: str) -> bool:
        """Runs the app's current configuration (launched at or after its last config change)."""
        return self.version >= config_version


# Upstream ScalingProposition: kill Unreachable first, then Staging, Starting, Running, then the rest.
_KILL_WEIGHT = {
    Condition.UNREACHABLE: 1,
    Condition.PROVISIONED: 2,
    Condition.STAGING: 2,
    Condition.STARTING: 3,
    Condition.RUNNING: 4,
}


def _kill_key(instance: Instance, selection: KillSelection) -> tuple[int, int, float, str]:
    weight = _KILL_WEIGHT.get(instance.condition, 5)
    if weight == 2:
        moment: float | None = instance.staged_at
    elif weight == 3:
        moment = instance.since
    else:
        moment = instance.started_at
    if moment is None:  # never started: first, as upstream orders a missing activeSince
        return (weight, 0, 0.0, instance.instance_id)
    age = -moment if selection is KillSelection.YOUNGEST_FIRST else moment
    return (weight, 1, age, instance.instance_id)


def kill_order(instances: Iterable[Instance], selection: KillSelection) -> list[Instance]:
    """Which instances to kill first on scale-down: by condition, then youngest or oldest first."""
    return sorted(instances, key=lambda i: _kill_key(i, selection))


def task_json(
    instance: Instance,
    *,
    service_ports: tuple[int, ...] = (),
    health_check_results: tuple[JsonObject, ...] = (),
) -> JsonObject:
    """One task as `/v2/tasks` and `?embed=apps.tasks` show it (marathon.md b.5); keys from clients.md 3.5."""
    agent = instance.agent
    active = instance.condition not in TERMINAL_CONDITIONS
    out: JsonObject = {"id": instance.task_id, "appId": str(instance.app_id), "host": agent.hostname}
    if active:
        ports: list[JsonValue] = [*instance.host_ports]
        out["ports"] = ports
    service: list[JsonValue] = [*service_ports]
    out["servicePorts"] = service
    if instance.ip_addresses:
        out["ipAddresses"] = [{"ipAddress": ip, "protocol": _ip_protocol(ip)} for ip in instance.ip_addresses]
    out["slaveId"] = agent.agent_id
    out["state"] = (instance.state or TaskState.TASK_STAGING).value
    if active:
        out["stagedAt"] = format_timestamp(instance.staged_at)
        if instance.started_at is not None:
            out["startedAt"] = format_timestamp(instance.started_at)
        out["version"] = instance.version
    if health_check_results:
        results: list[JsonValue] = [*health_check_results]
        out["healthCheckResults"] = results
    out["localVolumes"] = []
    if agent.region is not None:
        out["region"] = agent.region
    if agent.zone is not None:
        out["zone"] = agent.zone
    return out


class TaskJsonCache:
    """`task_json` of instances without health check results, kept while the instance is the same object.

    Instances are immutable (a change makes a new one), so a listing of 10,000 tasks re-encodes only those
    that changed since the last one. Entries live in two generations: the current one takes every lookup;
    when it holds `keep` entries it becomes the previous one, and what the next generation does not look
    up (expunged instances) is gone after the turn after. The JSON is shared: callers must not change it.
    """

    def __init__(self) -> None:
        self._current: dict[InstanceId, tuple[Instance, tuple[int, ...], JsonObject]] = {}
        self._previous: dict[InstanceId, tuple[Instance, tuple[int, ...], JsonObject]] = {}

    def task_json(self, instance: Instance, service_ports: tuple[int, ...], *, keep: int) -> JsonObject:
        key = instance.instance_id
        entry = self._current.get(key) or self._previous.get(key)
        if entry is None or entry[0] is not instance or entry[1] != service_ports:
            entry = (instance, service_ports, task_json(instance, service_ports=service_ports))
        if len(self._current) >= keep and key not in self._current:
            self._previous, self._current = self._current, {}
        self._current[key] = entry
        return entry[2]

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)


def _ip_protocol(ip: str) -> str:
    return "IPv6" if ":" in ip else "IPv4"

"""Corral's master<->agent protocol, version 1.

Built like the scheduler API: the agent POSTs `Register` to `POST /api/v1/agent` and keeps the response
open as a RecordIO stream of `MasterToAgent` messages; every other `AgentToMaster` message is a separate
POST answered with 202, carrying the `Corral-Agent-Id` header. Inside `corral dev` the same dataclasses
pass through an in-process link without being encoded.

A registration carries everything the agent runs, so a master that lost its state (a restart, a failover)
rebuilds frameworks, executors and tasks from re-registering agents, as Mesos does.

`UsageReport` is Corral's own: every few seconds the agent tells the master what its running tasks use
(upstream's agents answer `/monitor/statistics` only), so that `/master/state` shows it per task.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, Reader, b64encode, ident
from corral.protocol.mesos import (
    AgentInfo,
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    TaskInfo,
    TaskStatus,
    duration_seconds,
    encode_duration,
)

PROTOCOL_VERSION = 1
AGENT_ID_HEADER = "Corral-Agent-Id"

# ---------------------------------------------------------------- agent -> master


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentTask:
    """A task as the agent knows it, reported on (re-)registration."""

    framework_id: FrameworkId
    executor_id: ExecutorId | None
    task: TaskInfo
    state: TaskState
    latest_status: TaskStatus | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Register:
    """First registration (`agent_info.id` unset) or re-registration (set) with everything the agent runs."""

    agent_info: AgentInfo
    ip: str
    frameworks: tuple[FrameworkInfo, ...] = ()
    executors: tuple[tuple[FrameworkId, ExecutorInfo], ...] = ()
    tasks: tuple[AgentTask, ...] = ()
    version: int = PROTOCOL_VERSION


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusUpdate:
    """A reliable update: `status.uuid` is set and the agent resends it until the master acknowledges."""

    framework_id: FrameworkId
    status: TaskStatus
    latest_state: TaskState | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorExited:
    framework_id: FrameworkId
    executor_id: ExecutorId
    status: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorToFramework:
    framework_id: FrameworkId
    executor_id: ExecutorId
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Pong:
    """The answer to the master's Ping: an agent that stops answering is marked unreachable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceStatistics:
    """What a task's container uses and may use, in upstream's ResourceStatistics names; None: unknown."""

    timestamp: float
    cpus_user_time_secs: float | None = None
    cpus_system_time_secs: float | None = None
    cpus_limit: float | None = None
    mem_rss_bytes: int | None = None
    mem_limit_bytes: int | None = None

    def to_json(self) -> JsonObject:
        """Upstream's JSON: the fields known, the timestamp always."""
        out: JsonObject = {}
        for f in fields(self):
            if (value := getattr(self, f.name)) is not None:
                out[f.name] = value
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskUsage:
    framework_id: FrameworkId
    task_id: TaskId
    statistics: ResourceStatistics


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageReport:
    """The usage of the agent's running tasks, all sampled at `timestamp` (which is sent once). A report is
    complete: a task it leaves out has no usage to show (it ended, or its executor runs several tasks in one
    container, whose usage cannot be told apart)."""

    timestamp: float
    tasks: tuple[TaskUsage, ...] = ()


AgentToMaster = Register | StatusUpdate | ExecutorExited | ExecutorToFramework | Pong | UsageReport

# ---------------------------------------------------------------- master -> agent


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered:
    agent_id: AgentId
    master_info: MasterInfo
    heartbeat_interval_seconds: float = 15.0


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTask:
    framework_info: FrameworkInfo
    task: TaskInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class RunTaskGroup:
    framework_info: FrameworkInfo
    executor: ExecutorInfo
    tasks: tuple[TaskInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class KillTask:
    framework_id: FrameworkId
    task_id: TaskId
    grace_period: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ShutdownExecutor:
    framework_id: FrameworkId
    executor_id: ExecutorId


@dataclass(frozen=True, slots=True, kw_only=True)
class ShutdownFramework:
    framework_id: FrameworkId


@dataclass(frozen=True, slots=True, kw_only=True)
class AcknowledgeUpdate:
    framework_id: FrameworkId
    task_id: TaskId
    uuid: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkToExecutor:
    framework_id: FrameworkId
    executor_id: ExecutorId
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFrameworkInfo:
    framework_info: FrameworkInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class Ping:
    pass


MasterToAgent = (
    Registered
    | RunTask
    | RunTaskGroup
    | KillTask
    | ShutdownExecutor
    | ShutdownFramework
    | AcknowledgeUpdate
    | FrameworkToExecutor
    | UpdateFrameworkInfo
    | Ping
)

# ---------------------------------------------------------------- codec


def _fid(r: Reader) -> FrameworkId:
    return FrameworkId(r.value("framework_id"))


def encode_agent_message(message: AgentToMaster) -> JsonObject:
    match message:
        case Register():
            tasks: list[JsonValue] = []
            for t in message.tasks:
                entry: JsonObject = {
                    "framework_id": ident(t.framework_id),
                    "task": t.task.to_json(),
                    "state": t.state.value,
                }
                if t.executor_id is not None:
                    entry["executor_id"] = ident(t.executor_id)
                if t.latest_status is not None:
                    entry["latest_status"] = t.latest_status.to_json()
                tasks.append(entry)
            executors: list[JsonValue] = [
                {"framework_id": ident(f), "executor_info": e.to_json()} for f, e in message.executors
            ]
            frameworks: list[JsonValue] = [f.to_json() for f in message.frameworks]
            body: JsonObject = {
                "agent_info": message.agent_info.to_json(),
                "ip": message.ip,
                "frameworks": frameworks,
                "executors": executors,
                "tasks": tasks,
                "version": message.version,
            }
            return {"type": "REGISTER", "register": body}
        case StatusUpdate():
            update: JsonObject = {
                "framework_id": ident(message.framework_id),
                "status": message.status.to_json(),
            }
            if message.latest_state is not None:
                update["latest_state"] = message.latest_state.value
            return {"type": "STATUS_UPDATE", "status_update": update}
        case ExecutorExited():
            exited: JsonObject = {
                "framework_id": ident(message.framework_id),
                "executor_id": ident(message.executor_id),
                "status": message.status,
            }
            return {"type": "EXECUTOR_EXITED", "executor_exited": exited}
        case ExecutorToFramework():
            msg: JsonObject = {
                "framework_id": ident(message.framework_id),
                "executor_id": ident(message.executor_id),
                "data": b64encode(message.data),
            }
            return {"type": "EXECUTOR_MESSAGE", "executor_message": msg}
        case Pong():
            return {"type": "PONG"}
        case UsageReport():
            # The ids are plain strings here, and the timestamp is the report's: 500 tasks every few seconds.
            usage: list[JsonValue] = [
                {
                    "framework_id": u.framework_id,
                    "task_id": u.task_id,
                    **{k: v for k, v in u.statistics.to_json().items() if k != "timestamp"},
                }
                for u in message.tasks
            ]
            return {"type": "USAGE", "usage": {"timestamp": message.timestamp, "tasks": usage}}


def _task_usage(r: Reader, timestamp: float) -> TaskUsage:
    statistics = ResourceStatistics(
        timestamp=timestamp,
        cpus_user_time_secs=r.opt_number("cpus_user_time_secs"),
        cpus_system_time_secs=r.opt_number("cpus_system_time_secs"),
        cpus_limit=r.opt_number("cpus_limit"),
        mem_rss_bytes=r.opt_integer("mem_rss_bytes"),
        mem_limit_bytes=r.opt_integer("mem_limit_bytes"),
    )
    return TaskUsage(
        framework_id=FrameworkId(r.text("framework_id")),
        task_id=TaskId(r.text("task_id")),
        statistics=statistics,
    )


def decode_agent_message(obj: JsonValue) -> AgentToMaster:
    r = Reader(obj)
    kind = r.text("type")
    match kind:
        case "REGISTER":
            b = r.child("register")
            tasks = tuple(
                AgentTask(
                    framework_id=_fid(t),
                    executor_id=ExecutorId(v) if (v := t.opt_value("executor_id")) else None,
                    task=TaskInfo.from_json(t.child("task")),
                    state=t.enum("state", TaskState),  # type: ignore[arg-type]
                    latest_status=TaskStatus.from_json(s) if (s := t.opt_child("latest_status")) else None,
                )
                for t in b.objs("tasks")
            )
            return Register(
                agent_info=AgentInfo.from_json(b.child("agent_info")),
                ip=b.text("ip"),
                frameworks=b.each("frameworks", FrameworkInfo.from_json),
                executors=tuple(
                    (_fid(e), ExecutorInfo.from_json(e.child("executor_info"))) for e in b.objs("executors")
                ),
                tasks=tasks,
                version=b.integer("version", PROTOCOL_VERSION),
            )
        case "STATUS_UPDATE":
            b = r.child("status_update")
            latest = b.enum("latest_state", TaskState, required=False)
            return StatusUpdate(
                framework_id=_fid(b), status=TaskStatus.from_json(b.child("status")), latest_state=latest
            )
        case "EXECUTOR_EXITED":
            b = r.child("executor_exited")
            return ExecutorExited(
                framework_id=_fid(b),
                executor_id=ExecutorId(b.value("executor_id")),
                status=b.integer("status"),
            )
        case "EXECUTOR_MESSAGE":
            b = r.child("executor_message")
            return ExecutorToFramework(
                framework_id=_fid(b),
                executor_id=ExecutorId(b.value("executor_id")),
                data=b.blob("data") or b"",
            )
        case "PONG":
            return Pong()
        case "USAGE":
            b = r.child("usage")
            timestamp = b.number("timestamp")
            return UsageReport(
                timestamp=timestamp, tasks=tuple(_task_usage(t, timestamp) for t in b.objs("tasks"))
            )
    raise DecodeError("type", f"unknown agent message type {kind!r}")


def encode_master_message(message: MasterToAgent) -> JsonObject:
    match message:
        case Registered():
            body: JsonObject = {
                "agent_id": ident(message.agent_id),
                "master_info": message.master_info.to_json(),
                "heartbeat_interval_seconds": message.heartbeat_interval_seconds,
            }
            return {"type": "REGISTERED", "registered": body}
        case RunTask():
            run: JsonObject = {
                "framework_info": message.framework_info.to_json(),
                "task": message.task.to_json(),
            }
            return {"type": "RUN_TASK", "run_task": run}
        case RunTaskGroup():
            group: JsonObject = {
                "framework_info": message.framework_info.to_json(),
                "executor": message.executor.to_json(),
                "tasks": [t.to_json() for t in message.tasks],
            }
            return {"type": "RUN_TASK_GROUP", "run_task_group": group}
        case KillTask():
            kill: JsonObject = {
                "framework_id": ident(message.framework_id),
                "task_id": ident(message.task_id),
            }
            if message.grace_period is not None:
                kill["kill_policy"] = {"grace_period": encode_duration(message.grace_period)}
            return {"type": "KILL_TASK", "kill_task": kill}
        case ShutdownExecutor():
            shutdown: JsonObject = {
                "framework_id": ident(message.framework_id),
                "executor_id": ident(message.executor_id),
            }
            return {"type": "SHUTDOWN_EXECUTOR", "shutdown_executor": shutdown}
        case ShutdownFramework():
            return {
                "type": "SHUTDOWN_FRAMEWORK",
                "shutdown_framework": {"framework_id": ident(message.framework_id)},
            }
        case AcknowledgeUpdate():
            ack: JsonObject = {
                "framework_id": ident(message.framework_id),
                "task_id": ident(message.task_id),
                "uuid": b64encode(message.uuid),
            }
            return {"type": "ACKNOWLEDGE", "acknowledge": ack}
        case FrameworkToExecutor():
            msg: JsonObject = {
                "framework_id": ident(message.framework_id),
                "executor_id": ident(message.executor_id),
                "data": b64encode(message.data),
            }
            return {"type": "FRAMEWORK_MESSAGE", "framework_message": msg}
        case UpdateFrameworkInfo():
            return {
                "type": "UPDATE_FRAMEWORK",
                "update_framework": {"framework_info": message.framework_info.to_json()},
            }
        case Ping():
            return {"type": "PING"}


def decode_master_message(obj: JsonValue) -> MasterToAgent:
    r = Reader(obj)
    kind = r.text("type")
    match kind:
        case "REGISTERED":
            b = r.child("registered")
            return Registered(
                agent_id=AgentId(b.value("agent_id")),
                master_info=MasterInfo.from_json(b.child("master_info")),
                heartbeat_interval_seconds=b.number("heartbeat_interval_seconds", 15.0),
            )
        case "RUN_TASK":
            b = r.child("run_task")
            return RunTask(
                framework_info=FrameworkInfo.from_json(b.child("framework_info")),
                task=TaskInfo.from_json(b.child("task")),
            )
        case "RUN_TASK_GROUP":
            b = r.child("run_task_group")
            return RunTaskGroup(
                framework_info=FrameworkInfo.from_json(b.child("framework_info")),
                executor=ExecutorInfo.from_json(b.child("executor")),
                tasks=b.each("tasks", TaskInfo.from_json),
            )
        case "KILL_TASK":
            b = r.child("kill_task")
            policy = b.opt_child("kill_policy")
            return KillTask(
                framework_id=_fid(b),
                task_id=TaskId(b.value("task_id")),
                grace_period=duration_seconds(policy.opt_child("grace_period")) if policy else None,
            )
        case "SHUTDOWN_EXECUTOR":
            b = r.child("shutdown_executor")
            return ShutdownExecutor(framework_id=_fid(b), executor_id=ExecutorId(b.value("executor_id")))
        case "SHUTDOWN_FRAMEWORK":
            return ShutdownFramework(framework_id=_fid(r.child("shutdown_framework")))
        case "ACKNOWLEDGE":
            b = r.child("acknowledge")
            return AcknowledgeUpdate(
                framework_id=_fid(b), task_id=TaskId(b.value("task_id")), uuid=b.blob("uuid") or b""
            )
        case "FRAMEWORK_MESSAGE":
            b = r.child("framework_message")
            return FrameworkToExecutor(
                framework_id=_fid(b),
                executor_id=ExecutorId(b.value("executor_id")),
                data=b.blob("data") or b"",
            )
        case "UPDATE_FRAMEWORK":
            b = r.child("update_framework")
            return UpdateFrameworkInfo(framework_info=FrameworkInfo.from_json(b.child("framework_info")))
        case "PING":
            return Ping()
    raise DecodeError("type", f"unknown master message type {kind!r}")

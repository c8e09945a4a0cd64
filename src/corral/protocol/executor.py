"""The v1 executor API (`POST /api/v1/executor` on the agent): calls in, events out.

`decode_call` applies upstream's `validation::executor::call::validate`; its DecodeError becomes a 400.
HEARTBEAT is recognised before anything else (upstream answers 202 even when its ids are dummies).
Lookups that need the agent's state ("Framework cannot be found", "Executor is not subscribed") are the
agent's business, not the codec's.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.core.errors import DecodeError
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, Reader, b64encode, ident
from corral.protocol.mesos import (
    AgentInfo,
    ExecutorInfo,
    FrameworkInfo,
    Source,
    TaskInfo,
    TaskStatus,
    encode_duration,
)

UUID_BYTES = 16

# ---------------------------------------------------------------- calls


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    framework_id: FrameworkId
    executor_id: ExecutorId
    unacknowledged_tasks: tuple[TaskInfo, ...] = ()
    unacknowledged_updates: tuple[TaskStatus, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    framework_id: FrameworkId
    executor_id: ExecutorId
    status: TaskStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    framework_id: FrameworkId
    executor_id: ExecutorId
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    """Both the HEARTBEAT call (its ids are ignored, as upstream does) and the HEARTBEAT event."""


Call = Subscribe | Update | Message | Heartbeat


def _validate_status(status: TaskStatus, executor_id: ExecutorId, path: str) -> None:
    if status.executor_id is not None and status.executor_id != executor_id:
        raise DecodeError(
            f"{path}.executor_id",
            f"ExecutorID in Call: {executor_id} does not match ExecutorID in TaskStatus: "
            f"{status.executor_id}",
        )
    if status.source != Source.SOURCE_EXECUTOR:
        raise DecodeError(f"{path}.source", "invalid source, expecting 'SOURCE_EXECUTOR'")
    if status.state == TaskState.TASK_STAGING:
        raise DecodeError(f"{path}.state", "executors may not send TASK_STAGING")
    if status.uuid is None:
        raise DecodeError(f"{path}.uuid", "is required")
    if len(status.uuid) != UUID_BYTES:
        raise DecodeError(f"{path}.uuid", "must be a base64-encoded 16-byte UUID")


def decode_call(obj: JsonValue) -> Call:
    r = Reader(obj)
    kind = r.text("type")
    if kind == "HEARTBEAT":
        return Heartbeat()
    if kind not in ("SUBSCRIBE", "UPDATE", "MESSAGE"):
        raise DecodeError("type", f"unknown call type {kind!r}")
    framework_id = FrameworkId(r.value("framework_id"))
    executor_id = ExecutorId(r.value("executor_id"))
    match kind:
        case "SUBSCRIBE":
            body = r.opt_child("subscribe")
            if body is None:
                raise DecodeError("subscribe", "is required for SUBSCRIBE")
            updates = tuple(
                TaskStatus.from_json(u.child("status")) for u in body.objs("unacknowledged_updates")
            )
            for i, status in enumerate(updates):
                _validate_status(status, executor_id, f"subscribe.unacknowledged_updates[{i}].status")
            return Subscribe(
                framework_id=framework_id,
                executor_id=executor_id,
                unacknowledged_tasks=body.each("unacknowledged_tasks", TaskInfo.from_json),
                unacknowledged_updates=updates,
            )
        case "UPDATE":
            body = r.opt_child("update")
            if body is None:
                raise DecodeError("update", "is required for UPDATE")
            status = TaskStatus.from_json(body.child("status"))
            _validate_status(status, executor_id, "update.status")
            return Update(framework_id=framework_id, executor_id=executor_id, status=status)
        case _:
            body = r.opt_child("message")
            data = body.blob("data") if body is not None else None
            if data is None:
                raise DecodeError("message.data", "is required for MESSAGE")
            return Message(framework_id=framework_id, executor_id=executor_id, data=data)


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribed:
    executor_info: ExecutorInfo
    framework_info: FrameworkInfo
    agent_info: AgentInfo
    container_id: ContainerId


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    task: TaskInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchGroup:
    tasks: tuple[TaskInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Kill:
    task_id: TaskId
    grace_period: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledged:
    task_id: TaskId
    uuid: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkMessage:
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    pass


Event = (
    Subscribed | Launch | LaunchGroup | Kill | Acknowledged | FrameworkMessage | Error | Shutdown | Heartbeat
)


def encode_event(event: Event) -> JsonObject:
    """Events with nested bodies, as pymesos' executor driver reads them (`event[type.lower()]`)."""
    match event:
        case Subscribed():
            subscribed: JsonObject = {
                "executor_info": event.executor_info.to_json(),
                "framework_info": event.framework_info.to_json(),
                "agent_info": event.agent_info.to_json(),
                "container_id": ident(event.container_id),
            }
            return {"type": "SUBSCRIBED", "subscribed": subscribed}
        case Launch():
            return {"type": "LAUNCH", "launch": {"task": event.task.to_json()}}
        case LaunchGroup():
            tasks: list[JsonValue] = [t.to_json() for t in event.tasks]
            return {"type": "LAUNCH_GROUP", "launch_group": {"task_group": {"tasks": tasks}}}
        case Kill():
            kill: JsonObject = {"task_id": ident(event.task_id)}
            if event.grace_period is not None:
                kill["kill_policy"] = {"grace_period": encode_duration(event.grace_period)}
            return {"type": "KILL", "kill": kill}
        case Acknowledged():
            ack: JsonObject = {"task_id": ident(event.task_id), "uuid": b64encode(event.uuid)}
            return {"type": "ACKNOWLEDGED", "acknowledged": ack}
        case FrameworkMessage():
            return {"type": "MESSAGE", "message": {"data": b64encode(event.data)}}
        case Error():
            return {"type": "ERROR", "error": {"message": event.message}}
        case Shutdown():
            return {"type": "SHUTDOWN"}
        case Heartbeat():
            return {"type": "HEARTBEAT"}

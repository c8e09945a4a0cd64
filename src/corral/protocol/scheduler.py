"""The v1 scheduler API (`POST /api/v1/scheduler`): calls in, events out.

`decode_call` applies upstream's call validation (`validation::scheduler::call::validate`); its DecodeError
becomes a 400. Semantic problems (stale offers, unknown tasks) are not decode errors: the master answers
202 and reports them asynchronously, because pymesos dies on any non-2xx from inside a callback.

Framework, agent, task and executor ids become directory names, so each one a call names must pass
`core.ids.id_problem` (upstream's `validateID`), or the call is a 400. The exception is LAUNCH and
LAUNCH_GROUP: as upstream, their task and executor ids are judged per task by the master's offer
validation, and a bad one is that task's TASK_ERROR while the rest of the ACCEPT goes ahead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.protocol.json import JsonObject, JsonValue, Reader, b64encode, ident
from corral.protocol.mesos import (
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    Offer,
    ReservationOperation,
    TaskInfo,
    TaskStatus,
    checked_id,
    decode_filters,
    decode_reservation_operation,
    duration_seconds,
)

HEARTBEAT_INTERVAL_SECONDS = 15.0

# ---------------------------------------------------------------- offer operations


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    tasks: tuple[TaskInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchGroup:
    executor: ExecutorInfo
    tasks: tuple[TaskInfo, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsupportedOperation:
    """RESERVE, CREATE, ...: accepted on the wire, answered with OPERATION_ERROR when it has an id."""

    type: str
    operation_id: str | None


Operation = Launch | LaunchGroup | ReservationOperation | UnsupportedOperation


def _launched_task(r: Reader) -> TaskInfo:
    return TaskInfo.from_json(r, check_ids=False)


def _decode_operation(r: Reader) -> Operation:
    kind = r.text("type")
    if kind == "LAUNCH":
        return Launch(tasks=r.child("launch").each("task_infos", _launched_task))
    if kind == "LAUNCH_GROUP":
        body = r.child("launch_group")
        group = body.child("task_group")
        return LaunchGroup(
            executor=ExecutorInfo.from_json(body.child("executor"), check_ids=False),
            tasks=group.each("tasks", _launched_task),
        )
    if kind in ("RESERVE", "UNRESERVE"):
        return decode_reservation_operation(r)
    return UnsupportedOperation(type=kind, operation_id=r.opt_value("id"))


# ---------------------------------------------------------------- calls


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe:
    framework_info: FrameworkInfo
    suppressed_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Teardown:
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept:
    offer_ids: tuple[OfferId, ...]
    operations: tuple[Operation, ...]
    refuse_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Decline:
    offer_ids: tuple[OfferId, ...]
    refuse_seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Revive:
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Suppress:
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Kill:
    task_id: TaskId
    agent_id: AgentId | None = None
    grace_period: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Shutdown:
    executor_id: ExecutorId
    agent_id: AgentId


@dataclass(frozen=True, slots=True, kw_only=True)
class Acknowledge:
    agent_id: AgentId
    task_id: TaskId
    uuid: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconcile:
    tasks: tuple[tuple[TaskId, AgentId | None], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    agent_id: AgentId
    executor_id: ExecutorId
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    requests: tuple[JsonObject, ...] = field(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFramework:
    framework_info: FrameworkInfo
    suppressed_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Ignored:
    """Calls Corral accepts (202) and has no work for: inverse offers, operation feedback."""

    type: str


Call = (
    Subscribe
    | Teardown
    | Accept
    | Decline
    | Revive
    | Suppress
    | Kill
    | Shutdown
    | Acknowledge
    | Reconcile
    | Message
    | Request
    | UpdateFramework
    | Ignored
)

_BODY_REQUIRED = {
    "ACCEPT": "accept",
    "DECLINE": "decline",
    "ACCEPT_INVERSE_OFFERS": "accept_inverse_offers",
    "DECLINE_INVERSE_OFFERS": "decline_inverse_offers",
    "KILL": "kill",
    "SHUTDOWN": "shutdown",
    "ACKNOWLEDGE": "acknowledge",
    "ACKNOWLEDGE_OPERATION_STATUS": "acknowledge_operation_status",
    "RECONCILE": "reconcile",
    "RECONCILE_OPERATIONS": "reconcile_operations",
    "MESSAGE": "message",
    "REQUEST": "request",
    "UPDATE_FRAMEWORK": "update_framework",
}
KNOWN_CALLS = frozenset({"SUBSCRIBE", "TEARDOWN", "REVIVE", "SUPPRESS", *_BODY_REQUIRED})


class UnknownCall(DecodeError):
    """`type` is UNKNOWN or not a call type Mesos defines (501 for UNKNOWN, 400 otherwise)."""


def decode_call(obj: JsonValue) -> tuple[FrameworkId | None, Call]:
    """Decode and validate a scheduler Call. Returns the call's top-level framework id and the call."""
    r = Reader(obj)
    kind = r.text("type")
    if kind == "UNKNOWN" or kind not in KNOWN_CALLS:
        raise UnknownCall("type", f"unknown call type {kind!r}")
    framework_id = FrameworkId(v) if (v := _opt_id(r, "framework_id")) else None
    if kind != "SUBSCRIBE" and framework_id is None:
        raise DecodeError("framework_id", "is required for every call but SUBSCRIBE")
    if kind in _BODY_REQUIRED and not r.has(_BODY_REQUIRED[kind]):
        raise DecodeError(_BODY_REQUIRED[kind], f"is required for {kind}")
    if kind == "ACKNOWLEDGE_OPERATION_STATUS" and not r.child(_BODY_REQUIRED[kind]).has("agent_id"):
        raise DecodeError("acknowledge_operation_status.agent_id", "is required")
    call = _decode_body(kind, r)
    if isinstance(call, Subscribe | UpdateFramework) and framework_id != call.framework_info.id:
        body = "subscribe" if isinstance(call, Subscribe) else "update_framework"
        raise DecodeError("framework_id", f"'framework_id' differs from '{body}.framework_info.id'")
    return framework_id, call


def _opt_id(r: Reader, key: str) -> str | None:
    return checked_id(r, key) if r.has(key) else None


def _decode_body(kind: str, r: Reader) -> Call:
    match kind:
        case "SUBSCRIBE":
            body = r.child("subscribe")
            return Subscribe(
                framework_info=FrameworkInfo.from_json(body.child("framework_info")),
                suppressed_roles=tuple(body.strs("suppressed_roles")),
            )
        case "TEARDOWN":
            return Teardown()
        case "ACCEPT":
            body = r.child("accept")
            return Accept(
                offer_ids=tuple(OfferId(o.text("value")) for o in body.objs("offer_ids")),
                operations=body.each("operations", _decode_operation),
                refuse_seconds=decode_filters(body.opt_child("filters")),
            )
        case "DECLINE":
            body = r.child("decline")
            return Decline(
                offer_ids=tuple(OfferId(o.text("value")) for o in body.objs("offer_ids")),
                refuse_seconds=decode_filters(body.opt_child("filters")),
            )
        case "REVIVE" | "SUPPRESS":
            body_reader = r.opt_child(kind.lower())
            roles = tuple(body_reader.strs("roles")) if body_reader else ()
            return Revive(roles=roles) if kind == "REVIVE" else Suppress(roles=roles)
        case "KILL":
            body = r.child("kill")
            policy = body.opt_child("kill_policy")
            return Kill(
                task_id=TaskId(checked_id(body, "task_id")),
                agent_id=AgentId(v) if (v := _opt_id(body, "agent_id")) else None,
                grace_period=duration_seconds(policy.opt_child("grace_period")) if policy else None,
            )
        case "SHUTDOWN":
            body = r.child("shutdown")
            return Shutdown(
                executor_id=ExecutorId(checked_id(body, "executor_id")),
                agent_id=AgentId(checked_id(body, "agent_id")),
            )
        case "ACKNOWLEDGE":
            body = r.child("acknowledge")
            uuid = body.blob("uuid")
            if uuid is None or len(uuid) != 16:
                raise DecodeError("acknowledge.uuid", "must be a base64-encoded 16-byte UUID")
            return Acknowledge(
                agent_id=AgentId(checked_id(body, "agent_id")),
                task_id=TaskId(checked_id(body, "task_id")),
                uuid=uuid,
            )
        case "RECONCILE":
            body = r.child("reconcile")
            tasks = tuple(
                (TaskId(checked_id(t, "task_id")), AgentId(a) if (a := _opt_id(t, "agent_id")) else None)
                for t in body.objs("tasks")
            )
            return Reconcile(tasks=tasks)
        case "MESSAGE":
            body = r.child("message")
            data = body.blob("data")
            if data is None:
                raise DecodeError("message.data", "is required")
            return Message(
                agent_id=AgentId(checked_id(body, "agent_id")),
                executor_id=ExecutorId(checked_id(body, "executor_id")),
                data=data,
            )
        case "REQUEST":
            return Request(requests=tuple(x.obj for x in r.child("request").objs("requests")))
        case "UPDATE_FRAMEWORK":
            body = r.child("update_framework")
            return UpdateFramework(
                framework_info=FrameworkInfo.from_json(body.child("framework_info")),
                suppressed_roles=tuple(body.strs("suppressed_roles")),
            )
        case _:
            return Ignored(type=kind)


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribed:
    framework_id: FrameworkId
    master_info: MasterInfo
    heartbeat_interval_seconds: float = HEARTBEAT_INTERVAL_SECONDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Offers:
    offers: tuple[Offer, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rescind:
    offer_id: OfferId


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    status: TaskStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkMessage:
    agent_id: AgentId
    executor_id: ExecutorId
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Failure:
    agent_id: AgentId | None = None
    executor_id: ExecutorId | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Error:
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Heartbeat:
    pass


Event = Subscribed | Offers | Rescind | Update | FrameworkMessage | Failure | Error | Heartbeat


def encode_event(event: Event, *, multi_role: bool = False) -> JsonObject:
    """Events with their bodies nested as the .proto says (not as the upstream docs show)."""
    match event:
        case Subscribed():
            return {
                "type": "SUBSCRIBED",
                "subscribed": {
                    "framework_id": ident(event.framework_id),
                    "heartbeat_interval_seconds": event.heartbeat_interval_seconds,
                    "master_info": event.master_info.to_json(),
                },
            }
        case Offers():
            offers: list[JsonValue] = [o.to_json(multi_role=multi_role) for o in event.offers]
            return {"type": "OFFERS", "offers": {"offers": offers}}
        case Rescind():
            return {"type": "RESCIND", "rescind": {"offer_id": ident(event.offer_id)}}
        case Update():
            return {"type": "UPDATE", "update": {"status": event.status.to_json()}}
        case FrameworkMessage():
            body: JsonObject = {
                "agent_id": ident(event.agent_id),
                "executor_id": ident(event.executor_id),
                "data": b64encode(event.data),
            }
            return {"type": "MESSAGE", "message": body}
        case Failure():
            failure: JsonObject = {}
            if event.agent_id is not None:
                failure["agent_id"] = ident(event.agent_id)
            if event.executor_id is not None:
                failure["executor_id"] = ident(event.executor_id)
            if event.status is not None:
                failure["status"] = event.status
            return {"type": "FAILURE", "failure": failure}
        case Error():
            return {"type": "ERROR", "error": {"message": event.message}}
        case Heartbeat():
            return {"type": "HEARTBEAT"}

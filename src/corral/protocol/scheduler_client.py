"""The v1 scheduler API seen from a framework: encode calls, decode events.

The mirror of `protocol.scheduler` (which decodes calls and encodes events for the master), so Corral's own
frameworks (Marathon, Chronos, benchmarks) speak the same wire format as pymesos.
"""

from __future__ import annotations

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId
from corral.core.resources import Resources
from corral.protocol.json import JsonObject, JsonValue, Reader, b64encode, ident
from corral.protocol.mesos import (
    MasterInfo,
    Offer,
    ReservationOperation,
    TaskStatus,
    decode_attributes,
    decode_resources,
    encode_duration,
)
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
    Error,
    Event,
    Failure,
    FrameworkMessage,
    Heartbeat,
    Ignored,
    Kill,
    Launch,
    LaunchGroup,
    Message,
    Offers,
    Operation,
    Reconcile,
    Request,
    Rescind,
    Revive,
    Shutdown,
    Subscribe,
    Subscribed,
    Suppress,
    Teardown,
    UnsupportedOperation,
    Update,
    UpdateFramework,
)


def _operation(op: Operation) -> JsonObject:
    match op:
        case Launch():
            infos: list[JsonValue] = [t.to_json() for t in op.tasks]
            return {"type": "LAUNCH", "launch": {"task_infos": infos}}
        case LaunchGroup():
            tasks: list[JsonValue] = [t.to_json() for t in op.tasks]
            group: JsonObject = {"executor": op.executor.to_json(), "task_group": {"tasks": tasks}}
            return {"type": "LAUNCH_GROUP", "launch_group": group}
        case ReservationOperation():
            return op.to_json()
        case UnsupportedOperation():
            out: JsonObject = {"type": op.type}
            if op.operation_id is not None:
                out["id"] = ident(op.operation_id)
            return out


def _filters(refuse_seconds: float) -> JsonObject:
    return {"refuse_seconds": refuse_seconds}


def encode_call(framework_id: FrameworkId | None, call: Call) -> JsonObject:
    out: JsonObject = {}
    if framework_id is not None:
        out["framework_id"] = ident(framework_id)
    match call:
        case Subscribe():
            info = call.framework_info
            body: JsonObject = {"framework_info": info.to_json()}
            if call.suppressed_roles:
                body["suppressed_roles"] = list(call.suppressed_roles)
            out.update(type="SUBSCRIBE", subscribe=body)
        case Teardown():
            out["type"] = "TEARDOWN"
        case Accept():
            ops: list[JsonValue] = [_operation(op) for op in call.operations]
            accept: JsonObject = {
                "offer_ids": [ident(o) for o in call.offer_ids],
                "operations": ops,
                "filters": _filters(call.refuse_seconds),
            }
            out.update(type="ACCEPT", accept=accept)
        case Decline():
            decline: JsonObject = {
                "offer_ids": [ident(o) for o in call.offer_ids],
                "filters": _filters(call.refuse_seconds),
            }
            out.update(type="DECLINE", decline=decline)
        case Revive():
            out["type"] = "REVIVE"
            if call.roles:
                out["revive"] = {"roles": list(call.roles)}
        case Suppress():
            out["type"] = "SUPPRESS"
            if call.roles:
                out["suppress"] = {"roles": list(call.roles)}
        case Kill():
            kill: JsonObject = {"task_id": ident(call.task_id)}
            if call.agent_id is not None:
                kill["agent_id"] = ident(call.agent_id)
            if call.grace_period is not None:
                kill["kill_policy"] = {"grace_period": encode_duration(call.grace_period)}
            out.update(type="KILL", kill=kill)
        case Shutdown():
            shutdown: JsonObject = {"executor_id": ident(call.executor_id), "agent_id": ident(call.agent_id)}
            out.update(type="SHUTDOWN", shutdown=shutdown)
        case Acknowledge():
            ack: JsonObject = {
                "agent_id": ident(call.agent_id),
                "task_id": ident(call.task_id),
                "uuid": b64encode(call.uuid),
            }
            out.update(type="ACKNOWLEDGE", acknowledge=ack)
        case Reconcile():
            tasks: list[JsonValue] = []
            for task_id, agent_id in call.tasks:
                entry: JsonObject = {"task_id": ident(task_id)}
                if agent_id is not None:
                    entry["agent_id"] = ident(agent_id)
                tasks.append(entry)
            out.update(type="RECONCILE", reconcile={"tasks": tasks})
        case Message():
            message: JsonObject = {
                "agent_id": ident(call.agent_id),
                "executor_id": ident(call.executor_id),
                "data": b64encode(call.data),
            }
            out.update(type="MESSAGE", message=message)
        case Request():
            requests: list[JsonValue] = list(call.requests)
            out.update(type="REQUEST", request={"requests": requests})
        case UpdateFramework():
            update: JsonObject = {"framework_info": call.framework_info.to_json()}
            if call.suppressed_roles:
                update["suppressed_roles"] = list(call.suppressed_roles)
            out.update(type="UPDATE_FRAMEWORK", update_framework=update)
        case Ignored():
            out["type"] = call.type
    return out


def _decode_offer(r: Reader) -> Offer:
    url = r.opt_child("url")
    address = url.opt_child("address") if url else None
    allocation = r.opt_child("allocation_info")
    resources: Resources = decode_resources(r, "resources")
    return Offer(
        id=OfferId(r.value("id")),
        framework_id=FrameworkId(r.value("framework_id")),
        agent_id=AgentId(r.value("agent_id")),
        hostname=r.text("hostname"),
        resources=resources,
        attributes=decode_attributes(r, "attributes"),
        executor_ids=tuple(ExecutorId(e.text("value")) for e in r.objs("executor_ids")),
        agent_ip=(address.opt_text("ip") or "") if address else "",
        agent_port=address.integer("port", 5051) if address else 5051,
        role=(allocation.opt_text("role") or "*") if allocation else "*",
    )


def decode_event(obj: JsonValue) -> Event:
    r = Reader(obj)
    kind = r.text("type")
    match kind:
        case "SUBSCRIBED":
            b = r.child("subscribed")
            master = b.opt_child("master_info")
            return Subscribed(
                framework_id=FrameworkId(b.value("framework_id")),
                master_info=MasterInfo.from_json(master)
                if master
                else MasterInfo(id="", ip="", port=0, hostname=""),
                heartbeat_interval_seconds=b.number("heartbeat_interval_seconds", 15.0),
            )
        case "OFFERS":
            return Offers(offers=r.child("offers").each("offers", _decode_offer))
        case "RESCIND":
            return Rescind(offer_id=OfferId(r.child("rescind").value("offer_id")))
        case "UPDATE":
            return Update(status=TaskStatus.from_json(r.child("update").child("status")))
        case "MESSAGE":
            b = r.child("message")
            return FrameworkMessage(
                agent_id=AgentId(b.value("agent_id")),
                executor_id=ExecutorId(b.value("executor_id")),
                data=b.blob("data") or b"",
            )
        case "FAILURE":
            b = r.child("failure")
            return Failure(
                agent_id=AgentId(v) if (v := b.opt_value("agent_id")) else None,
                executor_id=ExecutorId(v) if (v := b.opt_value("executor_id")) else None,
                status=b.opt_integer("status"),
            )
        case "ERROR":
            return Error(message=r.child("error").text("message"))
        case "HEARTBEAT":
            return Heartbeat()
    raise DecodeError("type", f"unknown event type {kind!r}")

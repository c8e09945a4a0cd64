"""Ids named by scheduler calls other than LAUNCH (reliability-security.md 4.3 #6): each must pass upstream's
`validateID`, or the call is a DecodeError (a 400) naming the field. LAUNCH and LAUNCH_GROUP ids are the
master's to judge per task (tests/unit/master/test_hostile_ids.py)."""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.protocol.json import JsonObject, dumps, loads
from corral.protocol.scheduler import decode_call
from corral.testing.hostile import HOSTILE_IDS

FRAMEWORK: JsonObject = {"value": "M-0000"}
OK: JsonObject = {"value": "ok"}
UUID = "dVqSCqKUTQ+DJ5NxekL7ZQ=="


def placed(bad: str) -> dict[str, tuple[JsonObject, str]]:
    """Every place a non-LAUNCH call names an id: the call with `bad` there, and the field's path."""
    v: JsonObject = {"value": bad}
    return {
        "framework_id": ({"type": "REVIVE", "framework_id": v}, "framework_id.value"),
        "subscribe": (
            {
                "type": "SUBSCRIBE",
                "framework_id": v,
                "subscribe": {"framework_info": {"user": "u", "name": "n", "id": v}},
            },
            "framework_id.value",
        ),
        "kill.task_id": ({"type": "KILL", "kill": {"task_id": v}}, "kill.task_id.value"),
        "kill.agent_id": ({"type": "KILL", "kill": {"task_id": OK, "agent_id": v}}, "kill.agent_id.value"),
        "shutdown.executor_id": (
            {"type": "SHUTDOWN", "shutdown": {"executor_id": v, "agent_id": OK}},
            "shutdown.executor_id.value",
        ),
        "shutdown.agent_id": (
            {"type": "SHUTDOWN", "shutdown": {"executor_id": OK, "agent_id": v}},
            "shutdown.agent_id.value",
        ),
        "acknowledge.agent_id": (
            {"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": v, "task_id": OK, "uuid": UUID}},
            "acknowledge.agent_id.value",
        ),
        "acknowledge.task_id": (
            {"type": "ACKNOWLEDGE", "acknowledge": {"agent_id": OK, "task_id": v, "uuid": UUID}},
            "acknowledge.task_id.value",
        ),
        "reconcile.task_id": (
            {"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": OK}, {"task_id": v}]}},
            "reconcile.tasks[1].task_id.value",
        ),
        "reconcile.agent_id": (
            {"type": "RECONCILE", "reconcile": {"tasks": [{"task_id": OK, "agent_id": v}]}},
            "reconcile.tasks[0].agent_id.value",
        ),
        "message.agent_id": (
            {"type": "MESSAGE", "message": {"agent_id": v, "executor_id": OK, "data": ""}},
            "message.agent_id.value",
        ),
        "message.executor_id": (
            {"type": "MESSAGE", "message": {"agent_id": OK, "executor_id": v, "data": ""}},
            "message.executor_id.value",
        ),
    }


PLACES = list(placed("x"))


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("bad", HOSTILE_IDS.values(), ids=list(HOSTILE_IDS))
def test_a_hostile_id_is_a_decode_error_naming_the_field(bad: str, place: str) -> None:
    body, path = placed(bad)[place]
    body = {"framework_id": FRAMEWORK, **body}
    with pytest.raises(DecodeError) as refused:
        decode_call(loads(dumps(body)))  # through the codec, as the master reads it
    assert refused.value.path == path


@pytest.mark.parametrize("place", PLACES)
def test_the_same_calls_with_good_ids_decode(place: str) -> None:
    body, _ = placed("M-0000" if place in ("framework_id", "subscribe") else "web.1-x_y")[place]
    decode_call(loads(dumps({"framework_id": FRAMEWORK, **body})))


@pytest.mark.parametrize(
    ("uuid", "problem"),
    [
        ("not base64!", "is not valid base64"),
        ("c2hvcnQ=", "must be a base64-encoded 16-byte UUID"),  # 5 bytes
        ("", "must be a base64-encoded 16-byte UUID"),
        (None, "must be a base64-encoded 16-byte UUID"),
    ],
)
def test_an_acknowledge_with_a_malformed_uuid_is_a_decode_error(uuid: str | None, problem: str) -> None:
    ack: JsonObject = {"agent_id": OK, "task_id": OK}
    if uuid is not None:
        ack["uuid"] = uuid
    with pytest.raises(DecodeError) as refused:
        decode_call({"type": "ACKNOWLEDGE", "framework_id": FRAMEWORK, "acknowledge": ack})
    assert refused.value.path == "acknowledge.uuid" and refused.value.problem == problem

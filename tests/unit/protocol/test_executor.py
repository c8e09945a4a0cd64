"""The v1 executor API codec (`mesos.md` b.2, b.3), as pymesos 0.3.15's executor driver speaks it."""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.protocol import executor as ex
from corral.protocol.json import JsonObject, Reader
from corral.protocol.mesos import AgentInfo, ExecutorInfo, FrameworkInfo, TaskInfo

IDS: JsonObject = {"framework_id": {"value": "M-0000"}, "executor_id": {"value": "e1"}}
UUID = "dVqSCqKUTQ+DJ5NxekL7ZQ=="


def update(**status: object) -> JsonObject:
    body: JsonObject = {
        "task_id": {"value": "t1"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "uuid": UUID,
    }
    body.update(status)  # type: ignore[arg-type]
    return {"type": "UPDATE", **IDS, "update": {"status": {k: v for k, v in body.items() if v is not None}}}


def test_pymesos_subscribe_decodes() -> None:
    call = ex.decode_call(
        {"type": "SUBSCRIBE", **IDS, "subscribe": {"unacknowledged_tasks": [], "unacknowledged_updates": []}}
    )
    assert call == ex.Subscribe(framework_id=FrameworkId("M-0000"), executor_id=ExecutorId("e1"))


def test_pymesos_update_decodes_with_its_integer_timestamp() -> None:
    call = ex.decode_call(update(timestamp=1700000000))
    assert isinstance(call, ex.Update)
    assert (call.status.task_id, call.status.state, call.status.timestamp) == (
        "t1",
        "TASK_RUNNING",
        1700000000.0,
    )
    assert call.status.uuid is not None and len(call.status.uuid) == 16


@pytest.mark.parametrize(
    ("status", "problem"),
    [
        ({"uuid": None}, "update.status.uuid: is required"),
        ({"uuid": "aGk="}, "16-byte"),
        ({"source": "SOURCE_AGENT"}, "SOURCE_EXECUTOR"),
        ({"source": None}, "SOURCE_EXECUTOR"),
        ({"state": "TASK_STAGING"}, "TASK_STAGING"),
        ({"executor_id": {"value": "other"}}, "does not match"),
    ],
)
def test_invalid_updates_are_refused(status: dict[str, object], problem: str) -> None:
    with pytest.raises(DecodeError, match=problem):
        ex.decode_call(update(**status))


def test_heartbeat_is_accepted_before_anything_else_and_unknown_types_are_not() -> None:
    assert ex.decode_call({"type": "HEARTBEAT"}) == ex.Heartbeat()
    with pytest.raises(DecodeError, match="unknown call type"):
        ex.decode_call({"type": "UNKNOWN", **IDS})
    with pytest.raises(DecodeError, match="framework_id"):
        ex.decode_call({"type": "MESSAGE", "executor_id": {"value": "e1"}, "message": {"data": "aGk="}})
    with pytest.raises(DecodeError, match=r"message\.data"):
        ex.decode_call({"type": "MESSAGE", **IDS, "message": {}})
    assert ex.decode_call({"type": "MESSAGE", **IDS, "message": {"data": "aGk="}}) == ex.Message(
        framework_id=FrameworkId("M-0000"), executor_id=ExecutorId("e1"), data=b"hi"
    )


def test_events_are_nested_as_pymesos_reads_them() -> None:
    framework = FrameworkInfo.from_json(Reader({"user": "u", "name": "n"})).with_id(FrameworkId("M-0000"))
    executor = ExecutorInfo.from_json(Reader({"executor_id": {"value": "e1"}, "command": {"value": "x"}}))
    subscribed = ex.encode_event(
        ex.Subscribed(
            executor_info=executor,
            framework_info=framework,
            agent_info=AgentInfo(hostname="h", id=None),
            container_id=ContainerId("c0"),
        )
    )
    body = subscribed["subscribed"]
    assert isinstance(body, dict)
    assert body["executor_info"]["executor_id"] == {"value": "e1"}  # type: ignore[index,call-overload]
    assert body["framework_info"]["id"] == {"value": "M-0000"}  # type: ignore[index,call-overload]
    assert body["container_id"] == {"value": "c0"}

    task = TaskInfo.from_json(
        Reader(
            {
                "name": "t",
                "task_id": {"value": "t1"},
                "agent_id": {"value": "S"},
                "data": "aGk=",
                "command": {"value": "x"},
            }
        )
    )
    assert ex.encode_event(ex.Launch(task=task)) == {"type": "LAUNCH", "launch": {"task": task.raw}}
    assert ex.encode_event(ex.LaunchGroup(tasks=(task,))) == {
        "type": "LAUNCH_GROUP",
        "launch_group": {"task_group": {"tasks": [task.raw]}},
    }
    assert ex.encode_event(ex.Kill(task_id=TaskId("t1"), grace_period=3.0)) == {
        "type": "KILL",
        "kill": {"task_id": {"value": "t1"}, "kill_policy": {"grace_period": {"nanoseconds": 3_000_000_000}}},
    }
    assert ex.encode_event(ex.Acknowledged(task_id=TaskId("t1"), uuid=b"\x75" * 16))["acknowledged"] == {
        "task_id": {"value": "t1"},
        "uuid": "dXV1dXV1dXV1dXV1dXV1dQ==",
    }
    assert ex.encode_event(ex.FrameworkMessage(data=b"hi")) == {
        "type": "MESSAGE",
        "message": {"data": "aGk="},
    }
    assert ex.encode_event(ex.Error(message="no")) == {"type": "ERROR", "error": {"message": "no"}}
    assert ex.encode_event(ex.Shutdown()) == {"type": "SHUTDOWN"}
    assert ex.encode_event(ex.Heartbeat()) == {"type": "HEARTBEAT"}

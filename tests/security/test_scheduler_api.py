"""The v1 scheduler API against hostile frameworks, on a real master (reliability-security.md 4.3 #6, #12;
upstream `SchedulerHttpApiTest.TeardownWithoutStreamId`, `TeardownWrongStreamId`, `MalformedUUID`):

- ids: a LAUNCH whose task ids are hostile is accepted (202) and each such task is a TASK_ERROR, while the
  valid task beside them runs; only its sandbox appears on the agent. A hostile id in any other call is a 400.
- stream misuse: a call without `Mesos-Stream-Id` or with another framework's, a SUBSCRIBE carrying one, a
  call from a framework that is not subscribed, and an ACKNOWLEDGE with a malformed uuid are each refused.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest

from corral.core.ids import TaskId
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, dumps
from corral.protocol.scheduler import Offers
from corral.testing.hostile import HOSTILE_IDS
from corral.testing.procs import DevProcess, wait_for

from .cluster import assert_all_serving
from .scheduler import JSON, subscribe_body, subscribed

pytestmark = pytest.mark.integration

RESOURCES: list[JsonValue] = [
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.01}},
    {"name": "mem", "type": "SCALAR", "scalar": {"value": 8}},
]


def command_task(task_id: str, agent_id: str) -> JsonObject:
    return {
        "name": "hostile",
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": RESOURCES,
        "command": {"value": "sleep 60"},
    }


async def sandboxes(dev: DevProcess, framework_id: str) -> list[str]:
    """The executor directories the agent made for `framework_id`, once there is one."""

    def made() -> list[str]:
        return sorted(p.name for p in dev.work_dir.glob(f"**/frameworks/{framework_id}/executors/*"))

    return await asyncio.to_thread(wait_for, made, timeout=15, what="a sandbox")


async def test_hostile_task_ids_are_task_errors_and_make_no_directory(cluster: DevProcess) -> None:
    before = sorted(os.listdir(cluster.work_dir.parent))
    async with subscribed(cluster.url, "hostile-launch") as scheduler:
        offer = (await scheduler.next_of(Offers)).offers[0]
        tasks = [command_task(bad, offer.agent_id) for bad in HOSTILE_IDS.values()]
        launch: JsonObject = {
            "type": "LAUNCH",
            "launch": {"task_infos": [*tasks, command_task("good", offer.agent_id)]},
        }
        accept: JsonObject = {"offer_ids": [{"value": offer.id}], "operations": [launch]}
        response = await scheduler.post(scheduler.call("ACCEPT", accept=accept))
        assert response.status_code == 202, response.text
        states: dict[TaskId, TaskState] = {}
        while len(states) < len(HOSTILE_IDS) or states.get(TaskId("good")) != TaskState.TASK_RUNNING:
            status = await scheduler.update()
            states[status.task_id] = status.state
        assert {t: s for t, s in states.items() if t != "good"} == dict.fromkeys(
            HOSTILE_IDS.values(), TaskState.TASK_ERROR
        )
        assert await sandboxes(cluster, scheduler.framework_id) == ["good"]
    assert sorted(os.listdir(cluster.work_dir.parent)) == before


OTHER_CALLS: dict[str, JsonObject] = {
    "KILL": {"kill": {"task_id": {"value": "@"}}},
    "SHUTDOWN": {"shutdown": {"executor_id": {"value": "@"}, "agent_id": {"value": "ok"}}},
    "ACKNOWLEDGE": {
        "acknowledge": {
            "agent_id": {"value": "@"},
            "task_id": {"value": "t"},
            "uuid": "dVqSCqKUTQ+DJ5NxekL7ZQ==",
        }
    },
    "RECONCILE": {"reconcile": {"tasks": [{"task_id": {"value": "@"}}]}},
    "MESSAGE": {"message": {"agent_id": {"value": "ok"}, "executor_id": {"value": "@"}, "data": ""}},
}


async def test_a_hostile_id_in_any_other_call_is_a_400(cluster: DevProcess) -> None:
    async with subscribed(cluster.url, "hostile-calls") as scheduler:
        wrong: list[str] = []
        for kind, fields in OTHER_CALLS.items():
            for name, bad in HOSTILE_IDS.items():
                body = dumps(scheduler.call(kind, **fields)).replace(b'"@"', dumps(bad))
                response = await scheduler.post(body)
                if response.status_code != 400 or "Failed to convert JSON into Call" not in response.text:
                    wrong.append(f"{kind} {name}: {response.status_code} {response.text[:100]}")
        assert wrong == []
        for name, bad in HOSTILE_IDS.items():  # the framework id itself
            revive: JsonObject = {"type": "REVIVE", "framework_id": {"value": bad}}
            assert (await scheduler.post(revive)).status_code == 400, name


async def test_stream_misuse_is_refused(cluster: DevProcess) -> None:
    async with (
        subscribed(cluster.url, "stream-misuse") as scheduler,
        subscribed(cluster.url, "other") as other,
    ):
        revive = scheduler.call("REVIVE")
        response = await scheduler.post(revive, stream_id=None)
        assert response.status_code == 400
        assert "should include the 'Mesos-Stream-Id' header" in response.text
        for wrong in (other.stream_id, "not-a-stream", "x" * 1000):
            response = await scheduler.post(revive, stream_id=wrong)
            assert response.status_code == 400 and "didn't match" in response.text, wrong
        response = await scheduler.post(subscribe_body("again"), stream_id=scheduler.stream_id)
        assert response.status_code == 400 and "should not include the 'Mesos-Stream-Id'" in response.text
        for uuid in ("not base64!", "c2hvcnQ=", "", None):
            ack: JsonObject = {"agent_id": {"value": "a"}, "task_id": {"value": "t"}}
            if uuid is not None:
                ack["uuid"] = uuid
            response = await scheduler.post(scheduler.call("ACKNOWLEDGE", acknowledge=ack))
            assert response.status_code == 400 and "acknowledge.uuid" in response.text, uuid
        assert (await scheduler.post(revive)).status_code == 202  # the stream itself was never harmed
        framework_id = scheduler.framework_id
    # The framework is gone (torn down): a call for it now, whatever stream id it names, is refused.
    async with httpx.AsyncClient(base_url=cluster.url, timeout=10, trust_env=False) as client:
        body = dumps({"type": "REVIVE", "framework_id": {"value": framework_id}})
        response = await client.post(
            "/api/v1/scheduler", content=body, headers={**JSON, "Mesos-Stream-Id": "x"}
        )
        assert response.status_code in (400, 403)
        never = dumps({"type": "REVIVE", "framework_id": {"value": "never-subscribed"}})
        response = await client.post(
            "/api/v1/scheduler", content=never, headers={**JSON, "Mesos-Stream-Id": "x"}
        )
        assert (response.status_code, response.text) == (400, "Framework cannot be found")
    assert_all_serving(cluster)


async def test_a_call_from_a_framework_whose_stream_closed_is_a_403(cluster: DevProcess) -> None:
    async with subscribed(cluster.url, "reconnects", failover_timeout=60, teardown=False) as scheduler:
        pass
    # The stream is closed: the framework is kept for its failover timeout, but is not subscribed.
    headers = {**JSON, "Mesos-Stream-Id": scheduler.stream_id}

    def refused(kind: str) -> httpx.Response | None:
        body = dumps(scheduler.call(kind))
        response = httpx.post(
            f"{cluster.url}/api/v1/scheduler", content=body, headers=headers, trust_env=False
        )
        return None if response.status_code == 202 else response  # the master may not have seen it close yet

    response = await asyncio.to_thread(wait_for, lambda: refused("REVIVE"), timeout=10, what="a refusal")
    assert (response.status_code, response.text) == (403, "Framework is not subscribed")
    teardown = refused("TEARDOWN")
    assert teardown is not None and teardown.status_code == 403

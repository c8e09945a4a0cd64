"""The agent's HTTP API: the executor endpoint's status codes (`mesos.md` b.1) and the operator endpoints
(c.5, c.6), in process. The SUBSCRIBE stream itself is exercised with a real pymesos executor in
tests/integration/test_agent_runtime.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from corral.agent.core import AgentCore
from corral.agent.effects import Effect, Inbound, ProcessStarted, SendToMaster
from corral.agent.files import READ_CAP
from corral.agent.http_api import EventQueue, build_app
from corral.core.ids import ContainerId, ExecutorId, FrameworkId
from corral.protocol.agent import RunTask, StatusUpdate
from corral.protocol.json import JsonObject, JsonValue, dumps

from .builders import (
    CONFIG,
    FRAMEWORK,
    command_task,
    executor_task,
    framework_info,
    make_core,
    registered,
    subscribe,
)

NOW = 1_700_000_100.0
IDS: JsonObject = {"framework_id": {"value": FRAMEWORK}, "executor_id": {"value": "e1"}}


def running(**status: JsonValue) -> JsonObject:
    """pymesos' UPDATE for TASK_RUNNING, with `status` fields replaced."""
    body: JsonObject = {
        "task_id": {"value": "t1"},
        "state": "TASK_RUNNING",
        "source": "SOURCE_EXECUTOR",
        "uuid": "dVqSCqKUTQ+DJ5NxekL7ZQ==",
        **status,
    }
    return {"type": "UPDATE", **IDS, "update": {"status": body}}


RUNNING = running()


class Service:
    """The runtime's part, minus I/O: calls go to the core and its effects are kept for the test."""

    def __init__(self, core: AgentCore) -> None:
        self.core = core
        self.effects: list[Effect] = []

    def now(self) -> float:
        return NOW

    def deliver(self, message: Inbound) -> None:
        self.effects += self.core.handle(message, NOW)

    def attach_executor(self, framework_id: FrameworkId, executor_id: ExecutorId) -> EventQueue:
        return asyncio.Queue()

    def detach_executor(self, framework_id: FrameworkId, executor_id: ExecutorId, queue: EventQueue) -> None:
        pass


@pytest.fixture
def service(tmp_path: Path) -> Service:
    core = make_core(replace(CONFIG, work_dir=tmp_path))
    registered(core, NOW)
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), NOW)
    core.handle(ProcessStarted(container_id=ContainerId("c0"), pid=321), NOW)
    return Service(core)


@pytest.fixture
async def http(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(service))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        yield client


async def post(
    http: httpx.AsyncClient, body: JsonObject | bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    content = body if isinstance(body, bytes) else httpx.Request("POST", "/", json=body).content
    return await http.post("/api/v1/executor", content=content, headers=headers)


async def test_content_type_method_and_malformed_calls_are_refused_without_a_5xx(
    http: httpx.AsyncClient,
) -> None:
    assert (await post(http, RUNNING, content_type=None)).status_code == 400
    assert (await post(http, RUNNING, content_type="application/json; charset=utf-8")).status_code == 415
    assert (await post(http, RUNNING, content_type="application/x-protobuf")).status_code == 415
    assert (await http.get("/api/v1/executor")).status_code == 405
    for body in (b"{", b"[]", b'{"type": 3}', b'{"type": "UPDATE"}', b'{"type": "NOPE"}'):
        response = await post(http, body)
        assert response.status_code == 400, body
    task: JsonObject = {"name": "t", "task_id": {"value": "t"}, "agent_id": {"value": "a"}}
    huge = (
        b'{"type":"SUBSCRIBE","framework_id":{"value":"f"},"executor_id":{"value":"e"},'
        b'"subscribe":{"unacknowledged_tasks":['
        + dumps(task)[:-1]
        + b',"max_completion_time":{"nanoseconds":1e999}}]}}'
    )
    assert (await post(http, huge)).status_code == 400


async def test_unknown_frameworks_and_executors_and_unsubscribed_executors(http: httpx.AsyncClient) -> None:
    unknown_framework: JsonObject = {**RUNNING, "framework_id": {"value": "nope"}}
    response = await post(http, unknown_framework)
    assert (response.status_code, response.text) == (400, "Framework cannot be found")
    unknown_executor: JsonObject = {**RUNNING, "executor_id": {"value": "nope"}}
    response = await post(http, unknown_executor)
    assert (response.status_code, response.text) == (400, "Executor cannot be found")
    response = await post(http, RUNNING)
    assert (response.status_code, response.text) == (403, "Executor is not subscribed")


async def test_updates_messages_and_heartbeats_get_202_with_an_empty_body(
    http: httpx.AsyncClient, service: Service
) -> None:
    heartbeat = await post(http, {"type": "HEARTBEAT"})
    assert (heartbeat.status_code, heartbeat.headers["content-length"]) == (202, "0")
    service.deliver(subscribe())

    response = await post(http, RUNNING)
    assert (response.status_code, response.headers["content-length"], response.content) == (202, "0", b"")
    [update] = [
        e.message
        for e in service.effects
        if isinstance(e, SendToMaster) and isinstance(e.message, StatusUpdate)
    ]
    assert (update.status.state, update.status.executor_id) == ("TASK_RUNNING", "e1")
    message = await post(http, {"type": "MESSAGE", **IDS, "message": {"data": "aGk="}})
    assert message.status_code == 202
    assert (await post(http, running(state="TASK_STAGING"))).status_code == 400


async def test_state_version_health_and_metrics(http: httpx.AsyncClient, service: Service) -> None:
    for path in ("/state", "/state.json", "/slave(1)/state"):
        state = (await http.get(path)).json()
        assert state["id"] == "M-S0" and state["pid"] == "slave(1)@10.0.0.7:5051"
        [framework] = state["frameworks"]
        [executor] = framework["executors"]
        assert (executor["id"], executor["container"]) == ("e1", "c0")
        assert [t["id"] for t in executor["queued_tasks"]] == ["t1"]
        assert executor["queued_tasks"][0]["state"] == "TASK_STAGING"
    assert (await http.get("/version")).json()["version"] == "1.11.0"
    assert (await http.get("/health")).status_code == 200
    metrics = (await http.get("/metrics/snapshot")).json()
    assert metrics["slave/registered"] == 1.0
    assert metrics["slave/executors_registering"] == 1.0
    assert metrics["slave/tasks_staging"] == 1.0
    assert metrics["slave/cpus_used"] == 0.1


async def test_files_are_served_from_sandboxes_only(
    http: httpx.AsyncClient, service: Service, tmp_path: Path
) -> None:
    service.deliver(RunTask(framework_info=framework_info(), task=command_task("cmd")))
    directory = service.core.state.frameworks[FRAMEWORK].executors[ExecutorId("cmd")].directory
    directory.mkdir(parents=True)
    (directory.parent / "latest").symlink_to(directory.name)
    (directory / "stdout").write_bytes(b"x" * (READ_CAP + 10))
    (directory / "escape").symlink_to(tmp_path)
    virtual = f"/frameworks/{FRAMEWORK}/executors/cmd/runs/latest"

    listing = (await http.get("/files/browse", params={"path": virtual})).json()
    assert [(e["path"], e["size"]) for e in listing if e["path"].endswith("stdout")] == [
        (f"{virtual}/stdout", READ_CAP + 10)
    ]
    assert {"path", "nlink", "size", "mtime", "mode", "uid", "gid"} <= set(listing[0])
    probe = (await http.get("/files/read", params={"path": f"{virtual}/stdout", "offset": -1})).json()
    assert probe == {"data": "", "offset": READ_CAP + 10}
    read = (await http.get("/files/read", params={"path": str(directory / "stdout"), "offset": 5})).json()
    assert (len(read["data"]), read["offset"]) == (READ_CAP, 5)
    tail = (
        await http.get("/files/read", params={"path": f"{virtual}/stdout", "offset": READ_CAP + 10})
    ).json()
    assert tail == {"data": "", "offset": READ_CAP + 10}
    download = await http.get("/files/download", params={"path": f"{virtual}/stdout"})
    assert download.content == b"x" * (READ_CAP + 10)
    assert virtual in (await http.get("/files/debug")).json()

    assert (await http.get("/files/read")).status_code == 400
    assert (await http.get("/files/read", params={"path": virtual})).status_code == 400  # a directory
    climbing = f"{virtual}/../../../../../etc/passwd"
    assert (await http.get("/files/read", params={"path": climbing, "offset": 0})).status_code == 400
    for outside in (
        "/etc/passwd",
        f"{virtual}/escape",
        f"{virtual}/nope",
    ):
        assert (await http.get("/files/read", params={"path": outside, "offset": 0})).status_code == 404, (
            outside
        )
        assert (await http.get("/files/browse", params={"path": outside})).status_code == 404, outside

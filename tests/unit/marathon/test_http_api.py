"""The v2 REST API against a runtime with a fake driver, through ASGI (no sockets): shapes and status codes
from marathon.md a.1-a.2 and clients.md 3.3-3.7."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from corral.marathon.http_api import MarathonApi

from .test_runtime import Harness, make_harness

HELLO2 = {
    "id": "hello2",
    "cmd": "echo hello; sleep 10",
    "mem": 16,
    "cpus": 0.1,
    "instances": 1,
    "disk": 0,
    "ports": [0],
}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    h = await make_harness(tmp_path)
    await h.subscribe()
    yield h
    await h.sqlite.close()


@pytest.fixture
async def client(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=MarathonApi(harness.runtime).app)
    async with httpx.AsyncClient(transport=transport, base_url="http://marathon") as c:
        yield c


async def test_post_answers_201_with_the_app_and_its_deployment(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/apps", json=HELLO2)
    assert r.status_code == 201
    body = r.json()
    assert body["id"] == "/hello2" and "version" in body and body["tasksRunning"] == 0
    assert body["deployments"] == [{"id": r.headers["Marathon-Deployment-Id"]}]
    assert body["portDefinitions"][0]["port"] == 10000
    assert (await client.post("/v2/apps", json=HELLO2)).status_code == 409


async def test_get_list_and_one(client: httpx.AsyncClient) -> None:
    await client.post("/v2/apps", json=HELLO2)
    apps = (await client.get("/v2/apps?embed=apps.tasks&embed=apps.counts")).json()["apps"]
    assert [a["id"] for a in apps] == ["/hello2"] and apps[0]["tasks"] == []
    one = (await client.get("/v2/apps//hello2", headers=JSON)).json()["app"]  # double slash tolerated
    assert one["id"] == "/hello2" and "tasks" in one and one["versionInfo"]["lastConfigChangeAt"]


async def test_missing_app_is_404_with_upstreams_message(client: httpx.AsyncClient) -> None:
    r = await client.get("/v2/apps/x")
    assert (r.status_code, r.json()) == (404, {"message": "App '/x' does not exist"})
    assert (await client.delete("/v2/apps/x")).status_code == 404
    assert (await client.patch("/v2/apps/x", json={"instances": 2})).status_code == 404


async def test_invalid_app_is_422_and_malformed_json_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/apps", json={"id": "/Bad_Id", "cmd": "x"})
    assert r.status_code == 422
    assert r.json()["details"][0]["path"] == "/id"
    r = await client.post("/v2/apps", content=b"{not json", headers=JSON)
    assert r.status_code == 400 and r.json()["message"] == "Invalid JSON"


async def test_put_scales_and_conflicts_while_deploying(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v2/apps", json=HELLO2)).headers["Marathon-Deployment-Id"]
    r = await client.put("/v2/apps/hello2", json={"instances": 3})
    assert r.status_code == 409 and r.json()["deployments"] == [{"id": first}]
    r = await client.put("/v2/apps/hello2?force=True", json={"instances": 3})
    assert r.status_code == 200 and set(r.json()) == {"version", "deploymentId"}
    assert (await client.get("/v2/apps/hello2")).json()["app"]["instances"] == 3
    deployments = (await client.get("/v2/deployments")).json()
    assert [d["id"] for d in deployments] == [r.json()["deploymentId"]]


async def test_put_creates_an_unknown_app_with_201(client: httpx.AsyncClient) -> None:
    r = await client.put("/v2/apps/new", json={"cmd": "sleep 100", "cpus": 0.1, "mem": 16})
    assert r.status_code == 201 and set(r.json()) == {"version", "deploymentId"}


async def test_delete_answers_a_deployment_result(client: httpx.AsyncClient) -> None:
    await client.post("/v2/apps", json=HELLO2)
    r = await client.delete("/v2/apps/hello2?force=true")
    assert r.status_code == 200 and set(r.json()) == {"version", "deploymentId"}
    assert (await client.get("/v2/apps")).json() == {"apps": []}


async def test_tasks_queue_info_ping(client: httpx.AsyncClient, harness: Harness) -> None:
    await client.post("/v2/apps", json=HELLO2)
    queue = (await client.get("/v2/queue")).json()["queue"]
    assert queue[0]["app"]["id"] == "/hello2" and queue[0]["count"] == 1 and "role" not in queue[0]
    await harness.offer()
    tasks = (await client.get("/v2/tasks?status=staging")).json()["tasks"]
    assert [t["appId"] for t in tasks] == ["/hello2"] and tasks[0]["servicePorts"] == [10000]
    assert (await client.get("/v2/tasks?status=running")).json()["tasks"] == []
    killed = await client.post("/v2/tasks/delete", json={"ids": [tasks[0]["id"]]})
    assert killed.status_code == 200 and len(killed.json()["tasks"]) == 1
    info = (await client.get("/v2/info")).json()
    assert {"marathon_config", "zookeeper_config", "http_config"} <= set(info)
    assert info["frameworkId"] == "fw-1"
    assert (await client.get("/ping")).text == "pong"
    assert (await client.get("/v2/leader")).json() == {"leader": "127.0.0.1:8080"}
    assert (await client.get("/v2/apps/hello2/versions")).json()["versions"]


async def test_events_need_the_event_stream_accept_header(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v2/events")).status_code == 405

"""The v2 REST API against a runtime with a fake driver, through ASGI (no sockets): shapes and status codes
from marathon.md a.1-a.2 and clients.md 3.3-3.7."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.core.task_state import TaskState
from corral.marathon.http_api import MarathonApi
from corral.marathon.paths import PathId
from corral.protocol.scheduler import Kill

from .test_runtime import Harness, launched_tasks, make_harness

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


# ---------------------------------------------------------------- groups (marathon.md a.2, clients.md 3.3)

GROUP_KEYS = {"id", "apps", "groups", "pods", "dependencies", "version"}  # the PyPI client's MarathonGroup
PROD = {
    "id": "/prod",
    "groups": [
        {"id": "db", "apps": [{"id": "store", "cmd": "sleep 100", "cpus": 0.1, "mem": 16}]},
        {
            "id": "web",
            "dependencies": ["../db"],
            "apps": [{"id": "server", "cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 2}],
        },
    ],
}


def group_ids(group: dict[str, Any]) -> list[str]:
    return [group["id"], *(i for g in group.get("groups", []) for i in group_ids(g))]


async def test_post_a_nested_group_then_read_it_back(client: httpx.AsyncClient) -> None:
    r = await client.post("/v2/groups", json=PROD)
    assert r.status_code == 201 and set(r.json()) == {"version", "deploymentId"}
    assert r.headers["Location"] == "/v2/groups/prod"
    assert r.headers["Marathon-Deployment-Id"] == r.json()["deploymentId"]
    root = (await client.get("/v2/groups")).json()
    assert set(root) == GROUP_KEYS and group_ids(root) == ["/", "/prod", "/prod/db", "/prod/web"]
    web = (await client.get("/v2/groups/prod/web")).json()
    assert web["dependencies"] == ["/prod/db"] and web["version"] == root["version"]
    assert [a["id"] for a in web["apps"]] == ["/prod/web/server"] and "tasksRunning" not in web["apps"][0]
    [deployment] = (await client.get("/v2/deployments")).json()
    assert [s["actions"][0]["app"] for s in deployment["steps"][1:]] == ["/prod/db/store", "/prod/web/server"]
    again = await client.post("/v2/groups/prod", json={})
    assert again.status_code == 409
    assert again.json() == {"message": "Group /prod is already created. Use PUT to change this group."}
    assert (await client.get("/v2/groups/nothing")).json() == {"message": "Group '/nothing' does not exist"}


async def test_group_embeds_choose_what_is_nested(client: httpx.AsyncClient) -> None:
    await client.post("/v2/groups", json=PROD)
    only_groups = (await client.get("/v2/groups?embed=group.groups")).json()
    assert "apps" not in only_groups and "pods" not in only_groups and len(only_groups["groups"]) == 1
    counted = (await client.get("/v2/groups/prod/db?embed=group.apps&embed=group.apps.counts")).json()
    assert counted["apps"][0]["tasksStaged"] == 0 and "groups" not in counted
    assert "deployments" not in counted["apps"][0]
    apps = (await client.get("/v2/groups/prod/apps")).json()
    assert [a["id"] for a in apps] == ["/prod/db/store", "/prod/web/server"]
    assert [a["portDefinitions"][0]["port"] for a in apps] == [10000, 10001]  # service ports, each its own


async def test_an_invalid_group_is_422_with_the_nested_path(client: httpx.AsyncClient) -> None:
    body = {"id": "/prod", "groups": [{"id": "db", "apps": [{"id": "/elsewhere/x", "cmd": "sleep 1"}]}]}
    r = await client.put("/v2/groups/prod", json=body)
    assert r.status_code == 422 and r.json()["message"] == "Object is not valid"
    assert [d["path"] for d in r.json()["details"]] == ["/groups(0)/apps(0)/id"]
    x, y = {"id": "x", "cmd": "sleep 1"}, {"id": "y", "cmd": "sleep 1"}
    a = {"id": "a", "dependencies": ["../b"], "apps": [x]}
    r = await client.post(
        "/v2/groups", json={"id": "/c", "groups": [a, {"id": "b", "dependencies": ["../a"], "apps": [y]}]}
    )
    cycle = r.json()["details"][0]["errors"]
    assert r.status_code == 422 and cycle == ["Dependency graph has cyclic dependencies."]
    assert (await client.post("/v2/groups", content=b"{", headers=JSON)).status_code == 400


async def test_apps_posted_with_nested_ids_appear_in_their_groups(client: httpx.AsyncClient) -> None:
    await client.post("/v2/apps", json={**HELLO2, "id": "/prod/web/app"})
    web = (await client.get("/v2/groups/prod/web")).json()
    assert [a["id"] for a in web["apps"]] == ["/prod/web/app"]
    await client.delete("/v2/apps/prod/web/app")
    assert (await client.get("/v2/groups/prod/web")).json()["apps"] == []  # the group stays, as upstream's
    r = await client.post("/v2/apps", json={**HELLO2, "id": "/prod"})  # an app where a busy group is
    assert r.status_code == 422
    assert r.json()["details"][0]["errors"] == ["Groups and Applications may not have the same identifier."]


async def test_scale_by_rollback_and_dry_run(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v2/groups", json=PROD)).json()["version"]
    r = await client.put("/v2/groups/prod", json={"scaleBy": 2})
    assert r.status_code == 409  # the creating deployment still holds the apps
    r = await client.put("/v2/groups/prod?force=true", json={"scaleBy": 2})
    assert r.status_code == 200 and set(r.json()) == {"version", "deploymentId"}
    apps = (await client.get("/v2/groups/prod/apps")).json()
    assert [a["instances"] for a in apps] == [2, 4]
    assert apps[1]["versionInfo"]["lastConfigChangeAt"] == first  # a scale is not a config change
    assert (await client.get("/v2/groups/prod/versions")).json() == [r.json()["version"], first]
    old = (await client.get(f"/v2/groups/prod/versions/{first}")).json()
    assert old["version"] == first and old["groups"][1]["apps"][0]["instances"] == 2
    dry = await client.put("/v2/groups/prod?dryRun=true", json={"version": first})
    assert dry.json() == {
        "steps": [
            {"actions": [{"action": "ScaleApplication", "app": "/prod/db/store"}]},
            {"actions": [{"action": "ScaleApplication", "app": "/prod/web/server"}]},
        ]
    }
    r = await client.put(f"/v2/groups/prod/versions/{first}?force=True")  # the PyPI client's rollback_group
    assert r.status_code == 200
    assert [a["instances"] for a in (await client.get("/v2/groups/prod/apps")).json()] == [1, 2]
    r = await client.put("/v2/groups/prod", json={"version": "2000-01-01T00:00:00.000Z"})
    assert r.status_code == 422 and "not available in version" in r.json()["message"]


async def test_delete_a_group_or_the_root(client: httpx.AsyncClient) -> None:
    await client.post("/v2/groups", json=PROD)
    await client.post("/v2/apps", json=HELLO2)
    r = await client.delete("/v2/groups/prod/web?force=true")
    assert r.status_code == 200 and set(r.json()) == {"version", "deploymentId"}
    assert group_ids((await client.get("/v2/groups")).json()) == ["/", "/prod", "/prod/db"]
    assert (await client.get("/v2/groups/prod/web")).status_code == 404
    assert (await client.delete("/v2/groups/prod/web")).status_code == 404
    assert (await client.delete("/v2/groups?force=true")).status_code == 200
    root = (await client.get("/v2/groups")).json()
    assert (root["apps"], root["groups"]) == ([], [])
    assert (await client.get("/v2/apps")).json() == {"apps": []}


async def test_a_group_starts_what_others_depend_on_first_and_stops_all_when_deleted(
    client: httpx.AsyncClient, harness: Harness
) -> None:
    events = harness.runtime.events.subscribe(["deployment_info"])
    await client.post("/v2/groups", json=PROD)
    event: Any = events.queue.get_nowait()
    root = (await client.get("/v2/groups")).json()
    assert event["plan"]["original"]["groups"] == [] and group_ids(event["plan"]["target"]) == group_ids(root)
    first = launched_tasks(await harness.offer())
    assert [t.split(".")[0] for t in first] == ["prod_db_store"]  # web waits for its dependency
    for instance in harness.instances(PathId.parse("/prod/db/store")):
        await harness.update(instance, TaskState.TASK_RUNNING)
    second = launched_tasks(await harness.offer())
    assert [t.split(".")[0] for t in second] == ["prod_web_server"] * 2
    harness.driver.take()
    await client.delete("/v2/groups/prod?force=true")
    killed = {c.task_id for c in harness.driver.take() if isinstance(c, Kill)}
    assert killed == {*first, *second}
    assert harness.runtime.apps == {}

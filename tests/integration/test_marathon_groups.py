"""Marathon groups inside `corral dev` (marathon.md a.2, c.1): a group whose `/prod/web` depends on `../db`
starts db's task before web's, `scaleBy` scales every app, an update changes one subgroup, and deleting the
group kills its tasks; driven by the unmodified PyPI `marathon` client and plain HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.marathon_dev import marathon_dev, marathon_http

from corral.testing.procs import DevProcess, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"
SLEEPER: dict[str, Any] = {"cmd": "sleep 1000", "cpus": 0.1, "mem": 16}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with marathon_dev(tmp_path_factory.mktemp("groups"), RESOURCES) as process:
        yield process


@pytest.fixture
def http(dev: DevProcess) -> Iterator[httpx.Client]:
    with marathon_http(dev) as client:
        yield client


def running(http: httpx.Client, app: str) -> list[str]:
    tasks = http.get(f"/v2/apps/{app}/tasks").json().get("tasks", [])
    return [t["id"] for t in tasks if t["state"] == "TASK_RUNNING"]


def no_deployments(http: httpx.Client) -> bool:
    deployments: list[Any] = http.get("/v2/deployments").json()
    return not deployments


def events_until(stream: httpx.Response, done: Any, *, timeout: float) -> list[dict[str, Any]]:
    """The stream's events up to and including the first for which `done(event)` holds, with a deadline."""
    deadline = time.monotonic() + timeout
    seen: list[dict[str, Any]] = []
    for line in stream.iter_lines():
        if line.startswith("data:"):
            seen.append(json.loads(line.removeprefix("data:")))
            if done(seen[-1]):
                return seen
        if time.monotonic() > deadline:
            break
    raise TimeoutError(f"no matching event within {timeout}s; saw {[e['eventType'] for e in seen]}")


def test_a_group_deploys_db_before_web_scales_updates_and_is_deleted(
    dev: DevProcess, http: httpx.Client
) -> None:
    from marathon.exceptions import NotFoundError
    from marathon.models import MarathonGroup
    from marathon.models.events import EventFactory
    from support.marathon_client import MarathonApp, MarathonClient

    client = MarathonClient(f"http://{dev.marathon}")
    group = MarathonGroup(
        id="/prod",
        groups=[
            MarathonGroup(id="db", apps=[MarathonApp(id="store", instances=1, **SLEEPER)]),
            MarathonGroup(id="web", dependencies=["../db"], apps=[MarathonApp(id="server", **SLEEPER)]),
        ],
    )
    wanted = {"event_type": ["status_update_event", "deployment_info"]}
    with http.stream("GET", "/v2/events", params=wanted, headers={"Accept": "text/event-stream"}) as stream:
        created = client.create_group(group)
        assert set(created) == {"version", "deploymentId"}
        events = events_until(
            stream,
            lambda e: e.get("appId") == "/prod/web/server" and e.get("taskStatus") == "TASK_RUNNING",
            timeout=20,
        )
    statuses = [(e["appId"], e["taskStatus"]) for e in events if e["eventType"] == "status_update_event"]
    first_web = next(i for i, (app, _) in enumerate(statuses) if app == "/prod/web/server")
    assert ("/prod/db/store", "TASK_RUNNING") in statuses[:first_web]  # web launched only once db ran
    info = next(e for e in events if e["eventType"] == "deployment_info")
    plan = EventFactory().process(info).plan  # the client reads the plan's root groups
    assert [g["id"] for g in plan.target.groups] == ["/prod"]

    assert [g.id for g in client.list_groups()] == ["/prod"]
    prod = client.get_group("/prod")
    assert [g.id for g in prod.groups] == ["/prod/db", "/prod/web"]
    assert http.get("/v2/groups/prod/web").json()["dependencies"] == ["/prod/db"]
    wait_for(lambda: no_deployments(http), timeout=10, what="the group's deployment to finish")

    assert "deploymentId" in client.scale_group("/prod", 2)
    wait_for(lambda: len(running(http, "prod/web/server")) == 2, timeout=20, what="web scaled to 2")
    wait_for(lambda: len(running(http, "prod/db/store")) == 2, timeout=20, what="db scaled to 2")
    wait_for(lambda: no_deployments(http), timeout=10, what="the scaling to finish")

    web = MarathonGroup(id="/prod/web", apps=[MarathonApp(id="server", instances=3, **SLEEPER)])
    assert "deploymentId" in client.update_group("/prod/web", web)
    wait_for(lambda: len(running(http, "prod/web/server")) == 3, timeout=20, what="web updated to 3")
    tasks = set(running(http, "prod/web/server")) | set(running(http, "prod/db/store"))

    assert "deploymentId" in client.delete_group("/prod", force=True)
    wait_for(lambda: not tasks & _master_running(dev), timeout=20, what="the group's tasks to be killed")
    with pytest.raises(NotFoundError):
        client.get_group("/prod")
    assert http.get("/v2/apps").json() == {"apps": []}


def _master_running(dev: DevProcess) -> set[str]:
    frameworks: list[dict[str, Any]] = dev.get_json("/master/state")["frameworks"]  # type: ignore[assignment]
    return {str(t["id"]) for f in frameworks for t in f.get("tasks", []) if t["state"] == "TASK_RUNNING"}

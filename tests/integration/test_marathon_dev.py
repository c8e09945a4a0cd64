"""Marathon inside `corral dev`: the tutorial's hello2 over plain HTTP (what curl sends), scaling,
self-healing after a task dies, deletion, and the unmodified PyPI `marathon` client."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.marathon_dev import marathon_dev

from corral.testing.procs import DevProcess, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"
HELLO2: dict[str, Any] = {
    "id": "hello2",
    "cmd": "echo hello; sleep 10",
    "mem": 16,
    "cpus": 0.1,
    "instances": 1,
    "disk": 0,
    "ports": [0],
}
JSON = {"Content-type": "application/json"}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with marathon_dev(tmp_path_factory.mktemp("marathon"), RESOURCES) as process:
        yield process


@pytest.fixture
def http(dev: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{dev.marathon}", timeout=5.0, trust_env=False) as client:
        wait_for(lambda: _framework_id(client), timeout=15, what="marathon to subscribe")
        yield client


def _framework_id(http: httpx.Client) -> str | None:
    try:
        value = http.get("/v2/info").json().get("frameworkId")
    except httpx.HTTPError:
        return None
    return value if isinstance(value, str) else None


def running(http: httpx.Client, app: str) -> list[dict[str, Any]]:
    tasks = http.get(f"/v2/apps/{app}/tasks").json()["tasks"]
    return [t for t in tasks if t["state"] == "TASK_RUNNING"]


def master_tasks(dev: DevProcess, state: str = "TASK_RUNNING") -> set[str]:
    frameworks: list[dict[str, Any]] = dev.get_json("/master/state")["frameworks"]  # type: ignore[assignment]
    return {
        str(t["id"])
        for f in frameworks
        if f.get("name") == "marathon"
        for t in f.get("tasks", [])
        if t["state"] == state
    }


def kill_task_processes(task_id: str) -> int:
    """SIGKILL every process whose environment carries MESOS_TASK_ID=<task_id>: the task dies under Mesos."""
    needle = f"MESOS_TASK_ID={task_id}".encode()
    killed = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in environ:
            try:
                os.kill(int(pid), signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


def test_tutorial_hello2_runs_and_shows_in_the_master(dev: DevProcess, http: httpx.Client) -> None:
    r = http.post("/v2/apps", json=HELLO2, headers=JSON)
    assert r.status_code == 201, r.text
    [task] = wait_for(lambda: running(http, "hello2") or None, timeout=20, what="hello2 to run")
    assert task["appId"] == "/hello2" and task["servicePorts"] == [10000] and len(task["ports"]) == 1
    assert task["id"] in master_tasks(dev)
    wait_for(lambda: http.get("/v2/deployments").json() == [], timeout=10, what="the deployment to finish")
    assert http.delete("/v2/apps/hello2").status_code == 200
    wait_for(lambda: not master_tasks(dev) & {task["id"]}, timeout=20, what="hello2 to be killed")


def test_scale_heal_and_delete(dev: DevProcess, http: httpx.Client) -> None:
    app = {"id": "/web", "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, "instances": 1, "backoffSeconds": 1}
    assert http.post("/v2/apps", json=app, headers=JSON).status_code == 201
    wait_for(lambda: len(running(http, "web")) == 1, timeout=20, what="web to run")
    wait_for(lambda: http.get("/v2/deployments").json() == [], timeout=10, what="the deployment to finish")

    r = http.put("/v2/apps/web", json={"instances": 3}, headers=JSON)
    assert r.status_code == 200 and set(r.json()) == {"version", "deploymentId"}
    tasks = wait_for(lambda: ts if len(ts := running(http, "web")) == 3 else None, timeout=20, what="3 tasks")
    assert {t["id"] for t in tasks} <= master_tasks(dev)

    victim = tasks[0]["id"]
    assert kill_task_processes(victim) >= 1
    wait_for(
        lambda: len(now := running(http, "web")) == 3 and victim not in {t["id"] for t in now},
        timeout=30,
        what="Marathon to replace the dead task",
    )
    failure = http.get("/v2/apps/web").json()["app"].get("lastTaskFailure")
    assert failure is not None and failure["taskId"] == victim

    assert http.delete("/v2/apps/web").status_code == 200
    wait_for(
        lambda: not any(t.startswith("web.") for t in master_tasks(dev)),
        timeout=20,
        what="web's tasks killed",
    )
    assert http.get("/v2/apps/web").status_code == 404


def test_the_pypi_marathon_client(dev: DevProcess, http: httpx.Client) -> None:
    from support.marathon_client import MarathonApp, MarathonClient

    client = MarathonClient(f"http://{dev.marathon}")
    created = client.create_app("py", MarathonApp(cmd="sleep 1000", cpus=0.1, mem=16, instances=1))
    assert created.id == "/py"
    assert "/py" in [a.id for a in client.list_apps()]
    wait_for(lambda: client.get_app("py").tasks_running == 1, timeout=20, what="py to run")
    wait_for(lambda: http.get("/v2/deployments").json() == [], timeout=10, what="the deployment to finish")
    result = client.scale_app("py", instances=2)
    assert "deploymentId" in result
    wait_for(lambda: len(client.list_tasks("py")) == 2, timeout=20, what="2 tasks of py")
    assert {t.app_id for t in client.list_tasks()} >= {"/py"}
    assert client.get_info().framework_id
    assert client.delete_app("py", force=True)["deploymentId"]
    wait_for(lambda: "/py" not in [a.id for a in client.list_apps()], timeout=10, what="py to go")

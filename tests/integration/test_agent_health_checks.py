"""Mesos-style health checks run by the agent (`mesos.md` b.6 "Health checks"; marathon.md b.2: COMMAND and
MESOS_* checks run on the agent and reach Marathon as `healthy` in status updates).

First the probes themselves against real sockets and processes, then Marathon apps inside `corral dev`."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.marathon_dev import marathon_dev, marathon_http

from corral.agent.effects import HealthProbe
from corral.agent.health_probes import HealthProbes
from corral.core.ids import FrameworkId, TaskId
from corral.protocol.json import JsonObject, Reader
from corral.protocol.mesos import HealthCheck
from corral.testing.procs import DevProcess, wait_for

pytestmark = pytest.mark.integration

JSON = {"Content-type": "application/json"}


# ---------------------------------------------------------------- the probes


def probe(check: JsonObject, sandbox: Path, **environment: str) -> HealthProbe:
    return HealthProbe(
        framework_id=FrameworkId("F"),
        task_id=TaskId("t"),
        attempt=1,
        check=HealthCheck.from_json(Reader(check)),
        sandbox=sandbox,
        environment=tuple({"PATH": os.environ["PATH"], **environment}.items()),
    )


@pytest.fixture
async def probes() -> AsyncIterator[HealthProbes]:
    runner = HealthProbes()
    yield runner
    await runner.aclose()


async def http_server(status: int) -> asyncio.Server:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:  # a TCP probe: connected, then gone
            writer.close()
            return
        writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        writer.close()

    return await asyncio.start_server(answer, "127.0.0.1", 0)


def port_of(server: asyncio.Server) -> int:
    port: int = server.sockets[0].getsockname()[1]
    return port


@pytest.mark.parametrize(
    ("status", "statuses", "healthy"),
    [(200, [], True), (302, [], True), (503, [], False), (503, [503], True), (200, [204], False)],
)
async def test_http_is_healthy_on_200_to_399_or_the_statuses_given(
    probes: HealthProbes, tmp_path: Path, status: int, statuses: list[int], healthy: bool
) -> None:
    async with await http_server(status) as server:
        port = port_of(server)
        http: JsonObject = {"port": port, "path": "/health", "statuses": list(statuses)}
        result = await probes.run(probe({"type": "HTTP", "http": http}, tmp_path))
    assert result == (healthy, f"GET http://127.0.0.1:{port}/health answered {status}")


async def test_tcp_is_healthy_when_a_connection_opens(probes: HealthProbes, tmp_path: Path) -> None:
    async with await http_server(200) as server:
        port = port_of(server)
        healthy, _ = await probes.run(probe({"type": "TCP", "tcp": {"port": port}}, tmp_path))
        assert healthy
    healthy, why = await probes.run(probe({"type": "TCP", "tcp": {"port": port}}, tmp_path))
    assert not healthy and why.startswith(f"connecting to 127.0.0.1 port {port}: ")


async def test_a_command_runs_in_the_sandbox_with_the_task_environment(
    probes: HealthProbes, tmp_path: Path
) -> None:
    check: JsonObject = {"type": "COMMAND", "command": {"value": 'test -f healthy && test "$PORT0" = 31000'}}
    assert await probes.run(probe(check, tmp_path, PORT0="31000")) == (False, "command exited with status 1")
    (tmp_path / "healthy").touch()
    assert await probes.run(probe(check, tmp_path, PORT0="31000")) == (True, "command exited with status 0")
    noisy: JsonObject = {"type": "COMMAND", "command": {"value": "echo checked >&2"}}
    await probes.run(probe(noisy, tmp_path))
    assert (tmp_path / "stderr").read_text() == "checked\n"  # the check's output lands in the sandbox


async def test_a_command_that_cannot_run_is_a_failure_not_a_crash(
    probes: HealthProbes, tmp_path: Path
) -> None:
    check: JsonObject = {"type": "COMMAND", "command": {"value": "true"}}
    healthy, why = await probes.run(probe(check, tmp_path, BAD="a\0b"))
    assert not healthy and why.startswith("could not run the command: ")
    healthy, why = await probes.run(probe(check, tmp_path / "gone"))
    assert not healthy and why.startswith("could not run the command: ")


async def test_a_command_that_times_out_is_killed_with_its_process_group(
    probes: HealthProbes, tmp_path: Path
) -> None:
    check: JsonObject = {
        "type": "COMMAND",
        "command": {"value": "sleep 60 & echo $! > child; wait"},
        "timeout_seconds": 0.5,
    }
    assert await probes.run(probe(check, tmp_path)) == (False, "timed out after 0.5 s")
    child = int((tmp_path / "child").read_text())
    wait_for(lambda: not _alive(child), timeout=5, what="the check's child to be killed")


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# ---------------------------------------------------------------- Marathon apps in `corral dev`

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"
FAST: dict[str, Any] = {"delaySeconds": 0, "intervalSeconds": 1, "timeoutSeconds": 1, "gracePeriodSeconds": 0}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    with marathon_dev(tmp_path_factory.mktemp("health"), RESOURCES) as process:
        yield process


@pytest.fixture
def http(dev: DevProcess) -> Iterator[httpx.Client]:
    with marathon_http(dev) as client:
        yield client


def app(app_id: str, cmd: str, check: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": app_id,
        "cmd": cmd,
        "cpus": 0.1,
        "mem": 32,
        "instances": 1,
        "portDefinitions": [{"port": 0}],
        "backoffSeconds": 1,
        "healthChecks": [{**FAST, **check}],
    }


def tasks_of(http: httpx.Client, app_id: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = http.get(f"/v2/apps/{app_id}/tasks").json()["tasks"]
    return tasks


def healthy_task(http: httpx.Client, app_id: str) -> dict[str, Any] | None:
    tasks = tasks_of(http, app_id)
    results = [r for t in tasks for r in t.get("healthCheckResults", [])]
    counted = http.get(f"/v2/apps/{app_id}").json()["app"]["tasksHealthy"]
    return tasks[0] if counted == 1 and results and all(r["alive"] for r in results) else None


def master_task(dev: DevProcess, task_id: str) -> dict[str, Any] | None:
    frameworks: list[dict[str, Any]] = dev.get_json("/master/state")["frameworks"]  # type: ignore[assignment]
    for framework in frameworks:
        for task in framework.get("tasks", []) + framework.get("completed_tasks", []):
            if task["id"] == task_id:
                return task  # type: ignore[no-any-return]
    return None


@pytest.mark.parametrize(
    ("app_id", "cmd", "check"),
    [
        (
            "cmdcheck",
            "touch healthy && exec sleep 600",
            {"protocol": "COMMAND", "command": {"value": "test -f healthy"}},
        ),
        (
            "httpcheck",
            "exec python3 -m http.server $PORT0 --bind 127.0.0.1",
            {"protocol": "MESOS_HTTP", "path": "/"},
        ),
        ("tcpcheck", "exec python3 -m http.server $PORT0 --bind 127.0.0.1", {"protocol": "MESOS_TCP"}),
    ],
)
def test_a_passing_mesos_check_makes_the_task_healthy(
    dev: DevProcess, http: httpx.Client, app_id: str, cmd: str, check: dict[str, Any]
) -> None:
    r = http.post("/v2/apps", json=app(app_id, cmd, check), headers=JSON)
    assert r.status_code == 201, r.text
    task = wait_for(lambda: healthy_task(http, app_id), timeout=20, what=f"{app_id} to be healthy")
    wait_for(
        lambda: (t := master_task(dev, task["id"])) and t["statuses"][-1].get("healthy") is True,
        timeout=5,
        what="the master to show the task healthy",
    )
    assert http.delete(f"/v2/apps/{app_id}").status_code == 200


def test_a_failing_command_check_kills_the_task_and_marathon_relaunches_it(
    dev: DevProcess, http: httpx.Client
) -> None:
    check = {"protocol": "COMMAND", "command": {"value": "test -f healthy"}, "maxConsecutiveFailures": 2}
    assert http.post("/v2/apps", json=app("sick", "exec sleep 600", check), headers=JSON).status_code == 201
    [first] = wait_for(lambda: tasks_of(http, "sick") or None, timeout=20, what="sick to launch")

    def replaced() -> dict[str, Any] | None:
        now = tasks_of(http, "sick")
        return now[0] if now and now[0]["id"] != first["id"] else None

    wait_for(replaced, timeout=25, what="the unhealthy task to be killed and replaced")
    killed = wait_for(
        lambda: t if (t := master_task(dev, first["id"])) and t["state"] == "TASK_KILLED" else None,
        timeout=10,
        what="the master to see the kill",
    )
    assert killed["statuses"][-1]["healthy"] is False
    assert http.delete("/v2/apps/sick").status_code == 200

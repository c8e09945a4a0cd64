"""Marathon's own health and readiness checks against real tasks (marathon.md b.2): the prober on its own
against a local server, then `corral dev` with a tiny HTTP server as an app that becomes healthy and ready,
and apps failing an HTTP or a TCP check that are killed and relaunched."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from support.marathon_dev import marathon_dev, marathon_http

from corral.core.ids import TaskId
from corral.marathon.checks import HealthCheck, HealthCheckProtocol, ReadinessCheck
from corral.marathon.health import HealthProbe, HealthVerdict
from corral.marathon.instance import InstanceId
from corral.marathon.paths import PathId
from corral.marathon.probes import HttpProber
from corral.marathon.readiness import HttpResponse, ProbeFailure, ReadinessProbe
from corral.testing.procs import DevProcess, free_ports, wait_for

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
FAST: dict[str, Any] = {  # checks every second; the second failure in a row kills
    "intervalSeconds": 1,
    "gracePeriodSeconds": 1,
    "maxConsecutiveFailures": 1,
    "timeoutSeconds": 1,
}


# ------------------------------------------------------------------ the prober against a local server


class Handler(BaseHTTPRequestHandler):
    release: threading.Event

    def do_GET(self) -> None:
        if self.path == "/slow":
            self.release.wait(30)
        status = {"/ok": 200, "/moved": 302, "/ready": 200}.get(self.path, 500)
        body = b'{"ready":true}' if self.path == "/ready" else b"x"
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    release = threading.Event()
    handler = type("Released", (Handler,), {"release": release})
    httpd = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def health_probe(port: int | None, protocol: HealthCheckProtocol, path: str = "/") -> HealthProbe:
    check = HealthCheck(protocol=protocol, path=path, timeout_seconds=1)
    return HealthProbe(instance_id=InstanceId("web.instance-1"), check=check, host=HOST, port=port)


async def test_http_and_tcp_probes_give_upstream_verdicts(server: int) -> None:
    [closed] = free_ports(1)
    prober = HttpProber()
    try:
        http = HealthCheckProtocol.HTTP
        assert await prober.health(health_probe(server, http, "/ok")) == HealthVerdict(healthy=True)
        assert await prober.health(health_probe(server, http, "moved")) == HealthVerdict(healthy=True)
        failed = await prober.health(health_probe(server, http, "/fail"))
        assert failed == HealthVerdict(healthy=False, cause="500 Internal Server Error")
        slow = await prober.health(health_probe(server, http, "/slow"))
        assert slow == HealthVerdict(healthy=False, cause="TimeoutError: no answer within 1 s")
        tcp = HealthCheckProtocol.TCP
        assert await prober.health(health_probe(server, tcp)) == HealthVerdict(healthy=True)
        refused = await prober.health(health_probe(closed, tcp))
        assert refused is not None and not refused.healthy
        assert refused.cause.startswith("ConnectionRefusedError: ")
        unaddressed = await prober.health(health_probe(None, tcp))
        assert unaddressed is not None and "effectivePort" in unaddressed.cause
    finally:
        await prober.aclose()


async def test_readiness_probes_return_the_answer_or_why_there_was_none(server: int) -> None:
    [closed] = free_ports(1)
    check = ReadinessCheck(timeout_seconds=1)
    probe = ReadinessProbe(
        deployment_id="d1",
        app_id=PathId.parse("/web"),
        instance_id=InstanceId("web.instance-1"),
        task_id=TaskId("web.1"),
        check=check,
        url=f"http://{HOST}:{server}/ready",
    )
    prober = HttpProber()
    try:
        answer = await prober.readiness(probe)
        assert answer == HttpResponse(status=200, content_type="application/json", body='{"ready":true}')
        failure = await prober.readiness(replace(probe, url=f"http://{HOST}:{closed}/"))
        assert isinstance(failure, ProbeFailure) and failure.message.startswith("ConnectError")
    finally:
        await prober.aclose()


# ------------------------------------------------------------------ Marathon in `corral dev`


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    """Task ports the OS just called free, not 31000+ where other clusters' tasks may listen: a closed
    port must stay closed for the TCP check to fail."""
    port, *task_ports = free_ports(17)
    ranges = ",".join(f"{p}-{p}" for p in sorted(task_ports))
    resources = f"cpus:8;mem:8192;disk:10000;ports:[{ranges}]"
    with marathon_dev(tmp_path_factory.mktemp("marathon-health"), resources, marathon_port=port) as process:
        yield process


@pytest.fixture
def http(dev: DevProcess) -> Iterator[httpx.Client]:
    with marathon_http(dev) as client:
        yield client


@pytest.fixture
def apps(dev: DevProcess, http: httpx.Client) -> Iterator[list[str]]:
    """The ids of the apps a test posts: deleted afterwards, and their tasks waited out (tasks outlive
    `corral dev`)."""
    posted: list[str] = []
    yield posted
    for app_id in posted:
        http.delete(f"/v2/apps{app_id}", params={"force": "true"})
    wait_for(lambda: not marathon_tasks(dev), timeout=20, what="the apps' tasks to be killed")


def marathon_tasks(dev: DevProcess) -> list[Any]:
    frameworks: list[dict[str, Any]] = dev.get_json("/master/state")["frameworks"]  # type: ignore[assignment]
    return [t for f in frameworks if f.get("name") == "marathon" for t in f.get("tasks", [])]


def post_app(http: httpx.Client, apps: list[str], app_id: str, cmd: str, **fields: Any) -> None:
    body = {"id": app_id, "cmd": cmd, "cpus": 0.1, "mem": 32, "instances": 1, **fields}
    response = http.post("/v2/apps", json=body)
    assert response.status_code == 201, response.text
    apps.append(app_id)


def app_info(http: httpx.Client, app_id: str) -> dict[str, Any]:
    app: dict[str, Any] = http.get(f"/v2/apps/{app_id}", params={"embed": "app.tasks"}).json()["app"]
    return app


def running_task_ids(http: httpx.Client, app_id: str) -> set[str]:
    return {t["id"] for t in app_info(http, app_id)["tasks"] if t["state"] == "TASK_RUNNING"}


def test_a_served_app_becomes_healthy_and_ready_and_failing_ones_are_replaced(
    http: httpx.Client, apps: list[str]
) -> None:
    server = f"{sys.executable} -m http.server $PORT0 --bind 127.0.0.1"
    post_app(
        http,
        apps,
        "/served",
        server,
        portDefinitions=[{"port": 0, "name": "http-api"}],
        healthChecks=[{"protocol": "HTTP", "path": "/", "portIndex": 0, **FAST}],
        readinessChecks=[{"path": "/", "portName": "http-api", "intervalSeconds": 2, "timeoutSeconds": 1}],
    )
    post_app(  # http.server answers 404 for a missing file
        http, apps, "/notfound", server, healthChecks=[{"protocol": "HTTP", "path": "/missing", **FAST}]
    )
    post_app(http, apps, "/closed", "sleep 300", healthChecks=[{"protocol": "TCP", **FAST}])

    def healthy() -> dict[str, Any] | None:
        app = app_info(http, "/served")
        return app if app["tasksHealthy"] == 1 and not app["deployments"] else None

    app = wait_for(healthy, timeout=15, what="/served to be healthy and its deployment done")
    [task] = app["tasks"]
    [result] = task["healthCheckResults"]
    assert result["alive"] is True and result["consecutiveFailures"] == 0 and result["lastSuccess"]

    for app_id in ("/notfound", "/closed"):
        wait_for_replacement(http, app_id)


def wait_for_replacement(http: httpx.Client, app_id: str) -> None:
    """A running task, then another in its place: the first was killed for failing its check."""
    first = wait_for(lambda: running_task_ids(http, app_id), timeout=15, what=f"{app_id} to run")
    wait_for(
        lambda: running_task_ids(http, app_id) - first,
        timeout=20,
        what=f"{app_id} to be killed for failing its health check and relaunched",
    )

"""`corral lb` with a real HAProxy 2.6 in front of `corral dev`'s Marathon (marathon.md e): a service port
reaches the healthy instances only, and reloads under a loop of requests drop none. Also: the golden configs
of tests/unit/lb are valid for `haproxy -c`, and `corral dev` runs the load balancer itself.

Apps are tiny HTTP servers answering their own task id, so a response names the backend that served it.
Every app gets an explicit service port the OS just called free (Marathon would pick 10000+, where other
clusters on this machine may listen), and task ports come from free ports too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.lb.haproxy import find_binary
from corral.lb.runtime import LbConfig, LbRuntime
from corral.lb.services import Options
from corral.protocol.json import JsonObject
from corral.testing.procs import DevProcess, clean_env, corral_command, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
GOLDEN = Path(__file__).parent.parent / "unit" / "lb" / "golden"
TASK_ID_SERVER = """\
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["MESOS_TASK_ID"].encode()
        self.send_response(500 if self.path == "/fail" else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), Handler).serve_forever()
"""
SERVER_CMD = f"exec {shlex.quote(sys.executable)} -c {shlex.quote(TASK_ID_SERVER)}"


def haproxy() -> str:
    binary = find_binary()
    assert binary is not None, "haproxy is not installed: run scripts/install-system-deps.sh"
    return binary


def task_ports_resource(count: int) -> str:
    ranges = ",".join(f"{p}-{p}" for p in sorted(free_ports(count)))
    return f"cpus:8;mem:8192;disk:10000;ports:[{ranges}]"


# ------------------------------------------------------------------ the golden configs


def self_signed_pem(directory: Path) -> Path:
    key, cert = directory / "key.pem", directory / "cert.pem"
    subject = ["-subj", "/CN=shop.example.com", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *subject],
        check=True,
        capture_output=True,
    )
    pem = directory / "shop.pem"
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    return pem


@pytest.mark.parametrize("name", ["empty.cfg", "tcp.cfg", "http.cfg"])
def test_the_golden_configs_are_valid_without_a_warning(name: str, tmp_path: Path) -> None:
    text = (GOLDEN / name).read_text()
    if "/etc/ssl/shop.pem" in text:
        text = text.replace("/etc/ssl/shop.pem", str(self_signed_pem(tmp_path)))
    config = tmp_path / name
    config.write_text(text)
    result = subprocess.run([haproxy(), "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == "Configuration file is valid"


# ------------------------------------------------------------------ the runtime against a scripted Marathon


class ScriptedMarathon:
    """`/v2/apps?embed=apps.tasks` from a list the test edits, and an event stream it feeds."""

    def __init__(self) -> None:
        self.apps: list[JsonObject] = []
        self.fetches = 0
        self._events: asyncio.Queue[bytes] = asyncio.Queue()

    def publish(self, event_type: str) -> None:
        self._events.put_nowait(f"event: {event_type}\r\ndata: {{}}\r\n\r\n".encode())

    async def _stream(self) -> AsyncIterator[bytes]:
        while True:
            yield await self._events.get()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/apps":
            self.fetches += 1
            return httpx.Response(200, json={"apps": self.apps})
        if request.url.path == "/v2/events":
            return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=self._stream())
        return httpx.Response(404, json={"message": "not found"})


async def wait_until(check: Callable[[], Awaitable[bool]]) -> None:
    async with asyncio.timeout(15):
        while True:
            if await check():
                return
            await asyncio.sleep(0.02)


@pytest.fixture
def backend() -> Iterator[int]:
    """A server answering "backend" on a free port."""

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"backend")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def scripted_app(app_id: str, service_port: int, backend: int, **labels: str) -> JsonObject:
    return {
        "id": app_id,
        "labels": {"HAPROXY_GROUP": "external", **labels},
        "portDefinitions": [{"port": service_port}],
        "tasks": [{"id": f"{app_id[1:]}.1", "host": HOST, "state": "TASK_RUNNING", "ports": [backend]}],
    }


@asynccontextmanager
async def running_lb(tmp_path: Path, marathon: ScriptedMarathon) -> AsyncIterator[LbRuntime]:
    [stats_port] = free_ports(1)
    options = Options(bind_address=HOST, stats_port=stats_port)
    config = LbConfig(
        marathon="http://marathon", config_path=tmp_path / "haproxy.cfg", haproxy=haproxy(), options=options
    )
    runtime = LbRuntime(config, transport=httpx.MockTransport(marathon.handle))
    task = asyncio.create_task(runtime.run())
    try:
        yield runtime
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def answers(port: int) -> bool:
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=2.0) as client:
            return (await client.get(f"http://{HOST}:{port}/")).text == "backend"
    except httpx.HTTPError:
        return False


def logged(caplog: pytest.LogCaptureFixture, text: str, count: int = 1) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return caplog.text.count(text) >= count

    return check


async def test_a_port_held_elsewhere_or_a_refused_service_leaves_the_others_served(
    tmp_path: Path, backend: int, caplog: pytest.LogCaptureFixture
) -> None:
    held, served, refused = free_ports(3)
    marathon = ScriptedMarathon()
    marathon.apps = [
        scripted_app("/held", held, backend),
        scripted_app("/refused", refused, backend, HAPROXY_0_SSL_CERT="/nonexistent/cert.pem"),
        scripted_app("/served", served, backend),
    ]
    with socket.create_server((HOST, held)):
        async with running_lb(tmp_path, marathon):
            await wait_until(lambda: answers(served))
            await wait_until(
                logged(caplog, f"held_{held}: cannot bind {HOST}:{held}: Address already in use")
            )
            await wait_until(logged(caplog, f"refused_{refused}: haproxy -c refused it"))
            config = (tmp_path / "haproxy.cfg").read_text()
    assert f"frontend served_{served}" in config
    assert f"frontend held_{held}" not in config and f"frontend refused_{refused}" not in config
    assert "unable to stat SSL certificate from file '/nonexistent/cert.pem'" in caplog.text


async def test_only_a_changed_config_is_reloaded(
    tmp_path: Path, backend: int, caplog: pytest.LogCaptureFixture
) -> None:
    [port] = free_ports(1)
    marathon = ScriptedMarathon()
    marathon.apps = [scripted_app("/web", port, backend)]
    caplog.set_level(logging.INFO, logger="corral.lb.runtime")

    def fetched_more_than(count: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return marathon.fetches > count

        return check

    async with running_lb(tmp_path, marathon):
        await wait_until(logged(caplog, "haproxy reloaded: 1 services, 1 servers"))
        for _ in range(3):  # the same apps again: read, rendered, compared, not reloaded
            fetched = marathon.fetches
            marathon.publish("status_update_event")
            await wait_until(fetched_more_than(fetched))
        fetched = marathon.fetches
        marathon.publish("event_stream_attached")  # not relevant: no read
        marathon.apps = []
        marathon.publish("app_terminated_event")
        await wait_until(logged(caplog, "haproxy reloaded", 2))
        assert marathon.fetches == fetched + 1
    assert caplog.text.count("haproxy reloaded") == 2


# ------------------------------------------------------------------ corral lb against corral dev


@dataclass
class LbProcess:
    proc: subprocess.Popen[bytes]
    log_path: Path
    config_path: Path
    stats_port: int

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def reloads(self) -> int:
        return self.log().count("haproxy reloaded")

    def stats_answer(self) -> bool:
        try:
            url = f"http://{HOST}:{self.stats_port}/_haproxy_health_check"
            return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    [marathon_port] = free_ports(1)
    process = start_dev(
        tmp_path_factory.mktemp("lb-dev"),
        resources=task_ports_resource(12),
        marathon_port=marathon_port,
        extra_args=["--no_lb", "--no_dns"],
    )
    try:
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.fail(f"corral dev exited with {code} after SIGTERM")


@pytest.fixture(scope="module")
def lb(dev: DevProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LbProcess]:
    directory = tmp_path_factory.mktemp("lb")
    [stats_port] = free_ports(1)
    config_path = directory / "haproxy.cfg"
    args = [*corral_command(), "lb", "--marathon", dev.marathon, "--haproxy_config", str(config_path)]
    args += ["--bind_address", HOST, "--stats_port", str(stats_port), "--haproxy", haproxy()]
    log_path = directory / "lb.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env()
        )
    process = LbProcess(proc, log_path, config_path, stats_port)
    try:
        wait_for(process.stats_answer, timeout=15, what="haproxy's stats page")
        yield process
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(15)
        assert code == 0, process.log()
        assert not process.stats_answer(), "haproxy outlived corral lb"


@pytest.fixture
def http(dev: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{dev.marathon}", timeout=5.0, trust_env=False) as client:
        yield client


@dataclass
class Apps:
    """The apps a test posts, deleted afterwards with their tasks waited out (tasks outlive `corral dev`)."""

    http: httpx.Client
    ids: list[str] = field(default_factory=list)

    def post(self, app_id: str, service_port: int, **fields: Any) -> None:
        body = {
            "id": app_id,
            "cmd": SERVER_CMD,
            "cpus": 0.1,
            "mem": 32,
            "instances": 2,
            "portDefinitions": [{"port": service_port}],
            "labels": {"HAPROXY_GROUP": "external"},
            **fields,
        }
        response = self.http.post("/v2/apps", json=body)
        assert response.status_code == 201, response.text
        self.ids.append(app_id)

    def running(self, app_id: str) -> set[str]:
        tasks = self.http.get(f"/v2/apps{app_id}", params={"embed": "app.tasks"}).json()["app"]["tasks"]
        return {t["id"] for t in tasks if t["state"] == "TASK_RUNNING"}


@pytest.fixture
def apps(dev: DevProcess, http: httpx.Client, lb: LbProcess) -> Iterator[Apps]:
    posted = Apps(http)
    yield posted
    for app_id in posted.ids:
        http.delete(f"/v2/apps{app_id}", params={"force": "true"})
    wait_for(lambda: all(not _exists(http, a) for a in posted.ids), timeout=20, what="the apps to go")
    wait_for(lambda: not marathon_tasks(dev), timeout=20, what="the apps' tasks to be killed")


def _exists(http: httpx.Client, app_id: str) -> bool:
    return http.get(f"/v2/apps{app_id}").status_code == 200


def marathon_tasks(dev: DevProcess) -> list[Any]:
    frameworks: list[dict[str, Any]] = dev.get_json("/master/state")["frameworks"]  # type: ignore[assignment]
    return [t for f in frameworks if f.get("name") == "marathon" for t in f.get("tasks", [])]


def ask(client: httpx.Client, port: int, path: str = "/") -> httpx.Response | None:
    try:
        return client.get(f"http://{HOST}:{port}{path}")
    except httpx.HTTPError:
        return None


def fresh_connections() -> httpx.Client:
    """A connection per request, as most of a load balancer's clients make."""
    return httpx.Client(timeout=5.0, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0))


def served_by(port: int, expected: set[str], *, timeout: float = 20) -> set[str]:
    """Ask the service port until every expected task id has answered; the ids seen."""
    seen: set[str] = set()

    def all_seen() -> bool:
        response = ask(client, port)
        if response is not None and response.status_code == 200:
            seen.add(response.text)
        return expected <= seen

    with fresh_connections() as client:
        wait_for(all_seen, timeout=timeout, what=f"tasks {sorted(expected)} to answer on port {port}")
    return seen


def test_a_service_port_reaches_both_healthy_instances(apps: Apps, lb: LbProcess) -> None:
    [port] = free_ports(1)
    apps.post("/web", port)
    tasks = wait_for(
        lambda: ids if len(ids := apps.running("/web")) == 2 else None, timeout=20, what="2 tasks"
    )
    assert served_by(port, tasks) == tasks
    config = lb.config_path.read_text()
    assert f"frontend web_{port}\n  bind {HOST}:{port}\n  mode tcp\n" in config
    assert config.count("  server 127_0_0_1_") == 2


def test_an_app_failing_its_health_check_gets_no_traffic(apps: Apps, lb: LbProcess) -> None:
    [healthy_port, sick_port] = free_ports(2)
    check = {"protocol": "HTTP", "path": "/fail", "intervalSeconds": 1, "maxConsecutiveFailures": 0}
    apps.post("/sick", sick_port, instances=1, healthChecks=[check])
    wait_for(lambda: apps.running("/sick"), timeout=20, what="the sick app to run")
    # An app posted after it: once it is served, the load balancer has seen the sick task running too.
    apps.post("/well", healthy_port, instances=1)
    [well] = wait_for(lambda: apps.running("/well"), timeout=20, what="the healthy app to run")
    served_by(healthy_port, {well})
    assert "backend sick_" in lb.config_path.read_text()
    with fresh_connections() as client:
        answers = [ask(client, sick_port) for _ in range(20)]
    assert {a.status_code if a is not None else None for a in answers} == {503}  # HAProxy: no server


def test_reloads_under_a_loop_of_requests_drop_none(apps: Apps, lb: LbProcess) -> None:
    [port] = free_ports(1)
    apps.post("/scaled", port)
    first = wait_for(
        lambda: ids if len(ids := apps.running("/scaled")) == 2 else None, timeout=20, what="2 tasks"
    )
    served_by(port, first)
    reloads_before = lb.reloads()
    failures: list[str] = []
    seen: set[str] = set()
    done = threading.Event()

    def loop() -> None:
        """At least 500 requests, and on until the third instance has answered (at most 20000)."""
        with fresh_connections() as client:
            for i in range(20_000):
                response = ask(client, port)
                if response is None or response.status_code != 200:
                    failures.append(f"request {i}: {response.status_code if response else 'no answer'}")
                else:
                    seen.add(response.text)
                if i >= 500 and len(seen) >= 3:
                    break
        done.set()

    thread = threading.Thread(target=loop)
    thread.start()
    try:
        assert apps.http.put("/v2/apps/scaled", json={"instances": 3}).status_code == 200
    finally:
        thread.join(120)
    assert done.is_set()
    assert failures == []
    assert len(seen) == 3 and first < seen
    assert lb.reloads() > reloads_before


# ------------------------------------------------------------------ the load balancer inside corral dev


def test_corral_dev_runs_the_load_balancer_and_stops_it(tmp_path: Path) -> None:
    [marathon_port] = free_ports(1)
    dev = start_dev(tmp_path, marathon_port=marathon_port, extra_args=["--no_dns"])
    try:
        banner = wait_for(
            lambda: re.search(r"lb stats +(\S+)", dev.log_tail()), timeout=10, what="the banner"
        )
        stats = banner[1]
        assert stats.startswith(f"http://{HOST}:") and stats.endswith("/haproxy?stats")
        health = stats.removesuffix("/haproxy?stats") + "/_haproxy_health_check"
        wait_for(lambda: _answers(health), timeout=15, what="the load balancer's stats page")
        assert (dev.work_dir / "lb" / "haproxy.cfg").is_file()
        assert dev.stop() == 0
        assert not _answers(health), "haproxy outlived corral dev"
    finally:
        dev.stop()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False

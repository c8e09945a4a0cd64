"""Load balancer update latency: from a task turning healthy to HAProxy routing to it (target <= 1 s).

`corral dev` (Marathon) and `corral lb` (a real HAProxy 2.6) run as processes on loopback. An app of tiny
HTTP servers, each answering its own task id, is scaled up by one instance per run. A run's clock starts
when Marathon's `status_update_event` saying TASK_RUNNING for the new task reaches this process (the app
has no health checks, so running is healthy; the load balancer gets the same event at the same moment) and
stops when a request to the service port, on a fresh connection, is answered by the new task. Upstream's
figures for comparison: Mesos-DNS polls every 60 s; marathon-lb takes seconds.

The baseline, measured in the same run, is what a reload costs by itself: `haproxy -c` on a config of the
same shape, the atomic write, and a seamless reload of a standalone HAProxy until its new worker serves.

Prints readable lines, then one JSON line: `{"runs":..,"median_s":..,"max_s":..,"baseline_s":..,...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import queue
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson

from corral.lb.haproxy import Haproxy, find_binary, install
from corral.lb.labels import PortSettings
from corral.lb.render import render
from corral.lb.services import Options, Plan, Server, Service
from corral.testing.procs import DevProcess, clean_env, corral_command, free_ports, start_dev, wait_for

HOST = "127.0.0.1"
TARGET_SECONDS = 1.0
SERVER = """\
import http.server, os
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ["MESOS_TASK_ID"].encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT0"])), Handler).serve_forever()
"""


class RunningEvents:
    """Follows Marathon's `/v2/events` in a thread: (arrival time, task id) of every TASK_RUNNING."""

    def __init__(self, marathon: str) -> None:
        self.running: queue.Queue[tuple[float, str]] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(5.0, read=None), trust_env=False)
        self._url = f"http://{marathon}/v2/events"
        self._connected = threading.Event()
        threading.Thread(target=self._follow, daemon=True).start()
        if not self._connected.wait(10):
            raise RuntimeError("cannot follow Marathon's events")

    def _follow(self) -> None:
        headers = {"Accept": "text/event-stream"}
        params = {"event_type": "status_update_event"}
        try:
            with self._client.stream("GET", self._url, headers=headers, params=params) as response:
                self._connected.set()
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    event = orjson.loads(line.removeprefix("data:"))
                    if event.get("taskStatus") == "TASK_RUNNING":
                        self.running.put((time.monotonic(), event["taskId"]))
        except httpx.HTTPError:
            pass  # closed at the end of the benchmark

    def next_running(self, known: set[str], timeout: float = 30.0) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while True:
            arrived, task_id = self.running.get(timeout=max(0.0, deadline - time.monotonic()))
            if task_id not in known:
                return arrived, task_id

    def close(self) -> None:
        self._client.close()


def routed_at(port: int, task_id: str, timeout: float = 30.0) -> float:
    """When a request on a fresh connection to `port` is first answered by `task_id`."""
    deadline = time.monotonic() + timeout
    limits = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(timeout=2.0, trust_env=False, limits=limits) as client:
        while time.monotonic() < deadline:
            try:
                if client.get(f"http://{HOST}:{port}/").text == task_id:
                    return time.monotonic()
            except httpx.HTTPError:
                pass
    raise TimeoutError(f"task {task_id} never answered on port {port}")


def start_lb(dev: DevProcess, directory: Path, binary: str) -> tuple[subprocess.Popen[bytes], int]:
    [stats_port] = free_ports(1)
    args = [*corral_command(), "lb", "--marathon", dev.marathon, "--bind_address", HOST]
    args += ["--haproxy_config", str(directory / "haproxy.cfg"), "--stats_port", str(stats_port)]
    args += ["--haproxy", binary, "--log_level", "warning"]
    with (directory / "lb.log").open("wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=clean_env())

    def stats_up() -> bool:
        try:
            url = f"http://{HOST}:{stats_port}/_haproxy_health_check"
            return httpx.get(url, timeout=1.0, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(stats_up, timeout=15, what="corral lb's stats page")
    return proc, stats_port


def measure(dev: DevProcess, service_port: int, runs: int) -> list[float]:
    events = RunningEvents(dev.marathon)
    http = httpx.Client(base_url=f"http://{dev.marathon}", timeout=10.0, trust_env=False)
    try:
        app = {
            "id": "/bench-lb",
            "cmd": f"exec {shlex.quote(sys.executable)} -c {shlex.quote(SERVER)}",
            "cpus": 0.01,
            "mem": 16,
            "instances": 1,
            "portDefinitions": [{"port": service_port}],
            "labels": {"HAPROXY_GROUP": "external"},
        }
        http.post("/v2/apps", json=app).raise_for_status()
        known: set[str] = set()
        arrived, first = events.next_running(known)
        routed_at(service_port, first)
        known.add(first)
        latencies: list[float] = []
        for instances in range(2, runs + 2):
            http.put("/v2/apps/bench-lb", json={"instances": instances}).raise_for_status()
            arrived, task_id = events.next_running(known)
            latencies.append(routed_at(service_port, task_id) - arrived)
            known.add(task_id)
        return latencies
    finally:
        http.delete("/v2/apps/bench-lb", params={"force": "true"})
        wait_for(lambda: _no_tasks(dev), timeout=30, what="the app's tasks to be killed")
        http.close()
        events.close()


def _no_tasks(dev: DevProcess) -> bool:
    frameworks = dev.get_json("/master/state").get("frameworks")
    return not any(
        f.get("tasks") for f in (frameworks if isinstance(frameworks, list) else []) if isinstance(f, dict)
    )


async def reload_baseline(binary: str, directory: Path, servers: int, runs: int) -> list[float]:
    """`haproxy -c` + atomic write + seamless reload alone, on a config of the same shape."""
    stats_port, service_port = free_ports(2)
    options = Options(bind_address=HOST, stats_port=stats_port)
    path = directory / "baseline.cfg"

    def plan(count: int) -> Plan:
        members = tuple(Server(name=f"s{i}", address=HOST, port=31000 + i, id=i + 1) for i in range(count))
        service = Service(
            name=f"bench_{service_port}",
            app_id="/bench",
            service_port=service_port,
            bind_address=HOST,
            bind_port=service_port,
            settings=PortSettings(),
            servers=members,
        )
        return Plan(services=(service,))

    problem = await install(binary, path, render(plan(1), options))
    assert problem is None, problem
    haproxy = Haproxy(binary, path)
    await haproxy.start()
    timings: list[float] = []
    try:
        for i in range(runs):
            started = time.monotonic()
            problem = await install(binary, path, render(plan(min(i + 2, servers)), options))
            assert problem is None, problem
            outcome = await haproxy.reload()
            assert outcome.ok, outcome.lines
            timings.append(time.monotonic() - started)
    finally:
        await haproxy.stop()
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=7, help="new instances to time (default 7)")
    args = parser.parse_args()
    binary = find_binary()
    if binary is None:
        print("bench: haproxy is not installed (scripts/install-system-deps.sh)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-lb-") as tmp:
        directory = Path(tmp)
        [marathon_port, *task_ports] = free_ports(args.runs + 3)
        ranges = ",".join(f"{p}-{p}" for p in sorted(task_ports))
        dev = start_dev(
            directory,
            resources=f"cpus:4;mem:4096;disk:1000;ports:[{ranges}]",
            marathon_port=marathon_port,
            extra_args=["--no_lb", "--no_dns", "--log_level", "warning"],
        )
        lb, _ = start_lb(dev, directory, binary)
        try:
            [service_port] = free_ports(1)
            latencies = measure(dev, service_port, args.runs)
        finally:
            lb.send_signal(signal.SIGTERM)
            lb.wait(15)
            dev.stop()
        baseline = asyncio.run(reload_baseline(binary, directory, args.runs + 1, args.runs))
    median, worst, base = statistics.median(latencies), max(latencies), statistics.median(baseline)
    verdict = "meets" if median <= TARGET_SECONDS else "misses"
    print(
        f"healthy -> routed: median {median * 1000:.0f} ms, max {worst * 1000:.0f} ms over {args.runs} runs"
    )
    print(f"baseline:          haproxy -c + write + reload alone, median {base * 1000:.0f} ms")
    ratio = median / base
    print(f"ratio:             {ratio:.2f} x the reload alone ({verdict} the {TARGET_SECONDS:g} s target)")
    print(
        orjson.dumps(
            {
                "runs": args.runs,
                "median_s": round(median, 4),
                "max_s": round(worst, 4),
                "baseline_s": round(base, 4),
                "ratio": round(ratio, 3),
                "target_s": TARGET_SECONDS,
            }
        ).decode()
    )
    return 0 if median <= TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())

"""Marathon at upstream's scale-test sizes (issue 4): three figures, each with a baseline from the same run.

`scale`: one app (`sleep 3600`, 0.01 cpus, 1 MB, one dynamic port) scaled from 0 to 500 instances on
`corral dev` with 5 agents: seconds from the scale request (PUT) until Marathon counts 500 running (its
`/metrics` gauge, polled every 20 ms). Upstream Marathon 1.4 took 38.5 s on 5 agents; the target is
<= 5 s. Baseline: the same 500 tasks launched through the raw v1 scheduler API by bench/launch.py's minimal
framework (as many per offer as fit) on a fresh `corral dev` of the same shape, from its first ACCEPT to
the last TASK_RUNNING: what the master and the agents cost by themselves. The ratio is the baseline's
seconds over Marathon's (1.0: Marathon adds nothing).

`apps`: 1,000 such apps with one instance each, POSTed one by one (each POST waits for its 201): seconds
from the first POST until all 1,000 run. Upstream: 4 min 35 s for 500; the target is <= 30 s. Baseline:
1,000 tasks launched by the raw framework, as above.

Both also report the CPU time `corral dev` spent meanwhile, which other load on the machine does not
inflate as it does the seconds. The DNS server and the load balancer of `corral dev` are off (they follow
Marathon's apps; `--bridges` keeps them on). The tasks outlive the agents, as Mesos tasks do, so each run
ends its cluster's task processes when it is done.

`embed`: the latency of `GET /v2/apps?embed=apps.tasks` at 1,000 apps x 10 instances (10,000 tasks), with
simulated agents. A child process runs a `MarathonRuntime` (SQLite store under the work root, the daemons'
GC settings) whose driver is a simulated master: 100 roomy agents offered whenever Marathon has answered
the last offers and is not suppressed, and every launched task reporting TASK_RUNNING at once. The child
creates the apps one by one through the runtime, reports how long until all 10,000 instances run, then
serves Marathon's real HTTP API with uvicorn on 127.0.0.1. This process times GETs on one keep-alive
connection (a minimal HTTP/1.1 client on a socket, so the client adds little) and reports p50 and p99.
Upstream: 12 s at 1,000 tasks; the target is <= 100 ms. Baseline: orjson-encoding the same payload (the
parsed response) in this process, the floor for any server that builds this JSON; the ratio is the
baseline over the p50.

Each figure runs alone (`marathon_bench.py scale|apps|embed`; no argument runs all three), bounded by
`--timeout`. Readable lines per figure, then one JSON line each. Work dirs go under /dev/shm when it exists
(sandboxes and SQLite on tmpfs: no disk waits in the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from corral.cli.runner import GC_THRESHOLDS
from corral.coord.local import SqliteStore
from corral.core.ids import AgentId, FrameworkId, OfferId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.frameworks.driver import Disconnected
from corral.marathon.http_api import MarathonApi
from corral.marathon.model import AppDefinition
from corral.marathon.runtime import MarathonConfig, MarathonRuntime
from corral.marathon.store import MarathonStore
from corral.net.serve import make_socket, serve
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import MasterInfo, Offer, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
    Event,
    Launch,
    Offers,
    Revive,
    Subscribed,
    Suppress,
    Update,
)
from corral.testing.procs import DevProcess, ProcessError, free_ports, start_dev, wait_for

sys.path.insert(0, str(Path(__file__).parent))
from launch import Bench, cpu_seconds  # bench/launch.py: the raw v1 framework

AGENTS = 5
AGENT_RESOURCES = "cpus:64;mem:65536;disk:100000;ports:[31000-39999]"
APP: JsonObject = {"cmd": "sleep 3600", "cpus": 0.01, "mem": 1, "disk": 0, "instances": 1}
POLL_SECONDS = 0.02
TARGET_SCALE_S = 5.0
TARGET_APPS_S = 30.0
TARGET_EMBED_MS = 100.0
SIM_AGENTS = 100
SIM_FRAMEWORK = FrameworkId("sim-framework")


def work_root(given: str | None) -> str | None:
    if given is not None:
        return given
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ------------------------------------------------------------------ real processes: `corral dev`


@dataclass
class Marathon:
    """An HTTP client for the Marathon of a `corral dev`."""

    dev: DevProcess
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=f"http://{self.dev.marathon}", timeout=30.0, trust_env=False)

    def _subscribed(self) -> bool:
        try:
            return isinstance(self.http.get("/v2/info").json().get("frameworkId"), str)
        except httpx.HTTPError:
            return False

    def wait_subscribed(self, timeout: float) -> None:
        wait_for(self._subscribed, timeout=timeout, what="Marathon to subscribe")

    def running(self) -> int:
        return int(self.http.get("/metrics").json()["gauges"]["marathon.instances.running.gauge"]["value"])

    def wait_running(self, count: int, deadline: float) -> float:
        """Poll until `count` instances run; returns the moment they did (perf_counter)."""
        while (running := self.running()) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{running} of {count} instances running at the deadline")
            time.sleep(POLL_SECONDS)
        return time.perf_counter()

    def send(self, method: str, path: str, body: JsonObject, status: int) -> None:
        response = self.http.request(method, path, json=body)
        if response.status_code != status:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")


@contextlib.contextmanager
def cluster(args: argparse.Namespace) -> Iterator[tuple[DevProcess, Marathon]]:
    """A fresh `corral dev` with AGENTS agents and its Marathon subscribed; its tasks end with it."""
    [port] = free_ports(1)
    extra = ["--dns_port", "0", "--lb_stats_port", "0"] if args.bridges else ["--no_dns", "--no_lb"]
    with tempfile.TemporaryDirectory(prefix="corral-bench-", dir=args.root) as tmp:
        try:
            dev = start_dev(
                Path(tmp),
                agents=AGENTS,
                resources=AGENT_RESOURCES,
                marathon_port=port,
                extra_args=["--log_level", "warning", *extra],
                ready_timeout=60.0,
            )
            with dev:
                marathon = Marathon(dev)
                try:
                    marathon.wait_subscribed(30.0)
                    yield dev, marathon
                finally:
                    marathon.http.close()
        finally:
            end_tasks(tmp)


def end_tasks(work_dir: str) -> None:
    """SIGKILL the task supervisors running under `work_dir`, and every process below them."""
    parents: dict[int, int] = {}
    supervisors: list[int] = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                command = f.read()
            with open(f"/proc/{entry}/stat", "rb") as f:
                parents[int(entry)] = int(f.read().rsplit(b")", 1)[1].split()[1])
        except OSError:
            continue
        if work_dir.encode() in command:
            supervisors.append(int(entry))
    doomed, frontier = set(supervisors), list(supervisors)
    while frontier:
        pid = frontier.pop()
        below = [child for child, parent in parents.items() if parent == pid and child not in doomed]
        doomed.update(below)
        frontier += below
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def raw_framework(tasks: int, args: argparse.Namespace, deadline: float) -> float:
    """Seconds for the raw v1 framework to get `tasks` `sleep 3600` tasks running on a fresh cluster."""
    with cluster(args) as (dev, _):
        host, port = dev.master.rsplit(":", 1)
        bench = Bench(host, int(port), tasks, command="sleep 3600", until="TASK_RUNNING")
        rate = asyncio.run(bench.run(max(10.0, deadline - time.perf_counter())))
        if bench.failed:
            raise RuntimeError(f"baseline tasks failed: {bench.failed}")
        return tasks / rate


def report(name: str, count: int, *, what: str, seconds: float, cpu: float, base: float) -> JsonObject:
    ratio = base / seconds
    per = f"{cpu * 1000 / count:.2f} ms per {what}"
    print(f"  cpu:       `corral dev` used {cpu:.2f} s of CPU meanwhile ({per})")
    print(f"  baseline:  raw v1 framework, {count} tasks running in {base:.2f} s; ratio {ratio:.3f}")
    print(f"  load avg:  {load()}")
    return {
        "figure": name,
        "count": count,
        "seconds": round(seconds, 3),
        "dev_cpu_seconds": round(cpu, 3),
        "baseline_seconds": round(base, 3),
        "ratio": round(ratio, 4),
    }


def scale(args: argparse.Namespace) -> JsonObject:
    deadline = time.perf_counter() + args.timeout
    with cluster(args) as (dev, marathon):
        marathon.send("POST", "/v2/apps", {**APP, "id": "/scale", "instances": 0}, 201)
        start, cpu = time.perf_counter(), cpu_seconds(dev.proc.pid)
        marathon.send("PUT", "/v2/apps/scale", {"instances": args.instances}, 200)
        seconds = marathon.wait_running(args.instances, deadline) - start
        cpu = cpu_seconds(dev.proc.pid) - cpu
    base = raw_framework(args.instances, args, deadline)
    verdict = "meets" if seconds <= TARGET_SCALE_S else "misses"
    rate = args.instances / seconds
    print(f"scale:       0 -> {args.instances} instances in {seconds:.2f} s = {rate:.0f}/s", end="")
    print(f" ({verdict} the {TARGET_SCALE_S:g} s target; upstream 1.4: 38.5 s)")
    return report("scale", args.instances, what="instance", seconds=seconds, cpu=cpu, base=base)


def apps(args: argparse.Namespace) -> JsonObject:
    deadline = time.perf_counter() + args.timeout
    with cluster(args) as (dev, marathon):
        start, cpu = time.perf_counter(), cpu_seconds(dev.proc.pid)
        for i in range(args.apps):
            marathon.send("POST", "/v2/apps", {**APP, "id": f"/app-{i:04d}"}, 201)
            if time.perf_counter() > deadline:
                raise TimeoutError(f"only {i + 1} of {args.apps} apps posted at the deadline")
        posted = time.perf_counter() - start
        seconds = marathon.wait_running(args.apps, deadline) - start
        cpu = cpu_seconds(dev.proc.pid) - cpu
    base = raw_framework(args.apps, args, deadline)
    verdict = "meets" if seconds <= TARGET_APPS_S else "misses"
    print(f"apps:        {args.apps} one-instance apps running {seconds:.2f} s after the first POST", end="")
    print(f" ({verdict} the {TARGET_APPS_S:g} s target; upstream 1.4: 275 s for 500)")
    print(f"  posting:   {posted:.2f} s for {args.apps} POSTs = {posted * 1000 / args.apps:.1f} ms each")
    return {
        **report("apps", args.apps, what="app", seconds=seconds, cpu=cpu, base=base),
        "post_seconds": round(posted, 3),
    }


# ------------------------------------------------------------------ simulated agents: the embed latency


def get(sock: socket.socket, request: bytes) -> bytes:
    """One GET on a keep-alive connection: the body of its 200 response (Content-Length framed)."""
    sock.sendall(request)
    data = b""
    while (end := data.find(b"\r\n\r\n")) < 0:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        data += chunk
    head = data[:end].decode("latin-1").split("\r\n")
    if not head[0].startswith("HTTP/1.1 200"):
        raise RuntimeError(f"unexpected response: {head[0]}")
    length = next(int(h.split(":", 1)[1]) for h in head[1:] if h.lower().startswith("content-length:"))
    body = bytearray(data[end + 4 :])
    while len(body) < length:
        chunk = sock.recv(max(65536, length - len(body)))
        if not chunk:
            raise RuntimeError("the server closed the connection mid-body")
        body += chunk
    return bytes(body)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_embed_server(args: argparse.Namespace, work: str) -> tuple[subprocess.Popen[str], JsonObject, int]:
    """The `embed-server` child, once it serves: (process, its setup figures, its port)."""
    command = [sys.executable, __file__, "embed-server", "--apps", str(args.apps), "--work", work]
    command += ["--tasks-per-app", str(args.tasks_per_app), "--timeout", str(args.timeout)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    assert server.stdout is not None
    lines: dict[str, str] = {}
    while "port" not in lines:
        line = server.stdout.readline()  # EOF when the child exits (its setup is bounded by --timeout)
        if not line:
            server.wait(10)
            raise RuntimeError(f"the embed server exited with code {server.returncode} before serving")
        key, _, value = line.strip().partition(" ")
        lines[key] = value
    setup = orjson.loads(lines["setup"])
    assert isinstance(setup, dict)
    return server, setup, int(lines["port"])


def embed(args: argparse.Namespace) -> JsonObject:
    request = b"GET /v2/apps?embed=apps.tasks HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with tempfile.TemporaryDirectory(prefix="corral-bench-", dir=args.root) as tmp:
        server, setup, port = start_embed_server(args, tmp)
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                for _ in range(3):  # warm up
                    body = get(sock, request)
                latencies: list[float] = []
                end = time.perf_counter() + args.seconds
                while len(latencies) < args.gets and time.perf_counter() < end:
                    start = time.perf_counter()
                    body = get(sock, request)
                    latencies.append(time.perf_counter() - start)
        finally:
            server.terminate()
            server.wait(10)
    payload = orjson.loads(body)
    tasks = sum(len(a["tasks"]) for a in payload["apps"])
    encodes: list[float] = []
    for _ in range(max(5, min(len(latencies), 50))):
        start = time.perf_counter()
        orjson.dumps(payload)
        encodes.append(time.perf_counter() - start)
    p50, p99 = percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000
    base = statistics.median(encodes) * 1000
    verdict = "meets" if p50 <= TARGET_EMBED_MS else "misses"
    size = f"{len(payload['apps'])} apps, {tasks} tasks, {len(body) / 1e6:.1f} MB"
    print(f"embed:       GET /v2/apps?embed=apps.tasks ({size}), {len(latencies)} GETs:", end="")
    print(
        f" p50 {p50:.1f} ms, p99 {p99:.1f} ms ({verdict} the {TARGET_EMBED_MS:g} ms target; upstream: 12 s)"
    )
    print(f"  baseline:  orjson.dumps of the same payload {base:.1f} ms; ratio {base / p50:.3f}")
    print(
        f"  setup:     {setup['apps_s']:.2f} s to create the apps in the runtime; all {setup['tasks']}"
        f" instances running {setup['running_s']:.2f} s after the first"
        f" ({setup['rounds']} rounds of {SIM_AGENTS} offers)"
    )
    print(f"  load avg:  {load()}")
    return {
        "figure": "embed",
        "apps": len(payload["apps"]),
        "tasks": tasks,
        "bytes": len(body),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "baseline_ms": round(base, 3),
        "ratio": round(base / p50, 4),
        "setup_apps_s": setup["apps_s"],
        "setup_running_s": setup["running_s"],
    }


@dataclass
class SimulatedMaster:
    """The driver of the `embed` child: a master whose SIM_AGENTS agents start every task at once.

    Marathon's calls are answered in the same loop: each ACCEPT's tasks report TASK_RUNNING; once every
    offer of a round is answered and Marathon is not suppressed, the next round is offered (the real master
    allocates every second: this measures Marathon, not the master). `running` is set when `expected`
    RUNNING updates are acknowledged, that is recorded.
    """

    expected: int
    queue: asyncio.Queue[Event | Disconnected] = field(default_factory=asyncio.Queue)
    outstanding: set[OfferId] = field(default_factory=set)
    suppressed: bool = False
    rounds: int = 0
    acknowledged: int = 0
    running: asyncio.Event = field(default_factory=asyncio.Event)
    is_subscribed: bool = True

    async def events(self) -> AsyncIterator[Event | Disconnected]:
        yield Subscribed(
            framework_id=SIM_FRAMEWORK,
            master_info=MasterInfo(id="sim", ip="127.0.0.1", port=5050, hostname="sim"),
        )
        while True:
            yield await self.queue.get()

    def offer_round(self) -> None:
        if self.suppressed or self.outstanding or self.running.is_set():
            return
        self.rounds += 1
        resources = Resources.of(cpus=64, mem=65536, disk=100_000, ranges={"ports": [(31000, 32000)]})
        offers = tuple(
            Offer(
                id=OfferId(f"offer-{self.rounds}-{a}"),
                framework_id=SIM_FRAMEWORK,
                agent_id=AgentId(f"agent-{a}"),
                hostname=f"agent-{a}.sim",
                resources=resources,
            )
            for a in range(SIM_AGENTS)
        )
        self.outstanding = {o.id for o in offers}
        self.queue.put_nowait(Offers(offers=offers))

    async def call(self, call: Call) -> None:
        match call:
            case Accept():
                for task in (t for op in call.operations if isinstance(op, Launch) for t in op.tasks):
                    uuid = task.task_id.encode()
                    status = TaskStatus(
                        task_id=task.task_id, state=TaskState.TASK_RUNNING, agent_id=task.agent_id, uuid=uuid
                    )
                    self.queue.put_nowait(Update(status=status))
                self.outstanding -= set(call.offer_ids)
            case Decline():
                self.outstanding -= set(call.offer_ids)
            case Suppress():
                self.suppressed = True
            case Revive():
                self.suppressed = False
            case Acknowledge():
                self.acknowledged += 1
                if self.acknowledged >= self.expected:
                    self.running.set()
            case _:
                return
        self.offer_round()

    async def aclose(self) -> None:
        pass


async def embed_server(args: argparse.Namespace) -> None:
    """The child of `embed`: MarathonRuntime on simulated agents, then its HTTP API on a loopback port."""
    gc.freeze()  # as `corral marathon` runs (corral.cli.runner.run_daemon)
    gc.set_threshold(*GC_THRESHOLDS)
    master = SimulatedMaster(expected=args.apps * args.tasks_per_app)
    sqlite = SqliteStore(Path(args.work) / "marathon.db")
    runtime = MarathonRuntime(MarathonConfig(), MarathonStore(sqlite), lambda info: master)
    async with asyncio.TaskGroup() as group:
        group.create_task(runtime.run())
        async with asyncio.timeout(args.timeout):
            await runtime.wait_ready()
            start = time.perf_counter()
            for i in range(args.apps):
                body = {**APP, "id": f"/app-{i:04d}", "instances": args.tasks_per_app}
                await runtime.create_app(AppDefinition.from_json(body))
            apps_s = time.perf_counter() - start
            await master.running.wait()
            running_s = time.perf_counter() - start
        sock = make_socket("127.0.0.1", 0)
        sock.listen(16)  # connections wait in the backlog until uvicorn accepts them
        setup = {"apps_s": apps_s, "running_s": running_s, "tasks": master.expected, "rounds": master.rounds}
        print("setup", orjson.dumps(setup).decode(), flush=True)
        print("port", sock.getsockname()[1], flush=True)
        group.create_task(serve(MarathonApi(runtime).app, sock, name="marathon-sim"))


# ------------------------------------------------------------------ main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    figures: dict[str, Callable[[argparse.Namespace], JsonObject]] = {
        "scale": scale,
        "apps": apps,
        "embed": embed,
    }
    parser.add_argument("figure", nargs="?", choices=[*figures, "all", "embed-server"], default="all")
    parser.add_argument("--instances", type=int, default=500, help="scale: instances of the one app")
    parser.add_argument("--apps", type=int, default=1000, help="apps: apps posted; embed: apps served")
    parser.add_argument("--tasks-per-app", type=int, default=10, help="embed: instances per app")
    parser.add_argument("--gets", type=int, default=100, help="embed: timed GETs (at most)")
    parser.add_argument("--seconds", type=float, default=20.0, help="embed: time spent on GETs (at most)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up on a figure after this long")
    parser.add_argument(
        "--work-root", dest="root", default=None, help="where work dirs go (default /dev/shm)"
    )
    parser.add_argument(
        "--bridges",
        action="store_true",
        help="scale, apps: keep the DNS server and load balancer of `corral dev`",
    )
    parser.add_argument("--work", help=argparse.SUPPRESS)  # embed-server: its work dir
    args = parser.parse_args()
    args.root = work_root(args.root)
    if args.figure == "embed-server":
        asyncio.run(embed_server(args))
        return 0
    results: list[JsonValue] = []
    for name in figures if args.figure == "all" else [args.figure]:
        try:
            results.append(figures[name](args))
        except (ProcessError, RuntimeError, TimeoutError, OSError, httpx.HTTPError) as e:
            print(f"bench: {name}: {e}", file=sys.stderr)
            return 1
    for result in results:
        print(orjson.dumps(result).decode())
    return 0


if __name__ == "__main__":
    sys.exit(main())

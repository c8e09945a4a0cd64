"""Start `corral dev` as a real process on free loopback ports, wait until it is ready, and stop it.

Used by the integration tests and the benchmarks. Waiting is always polling with a deadline, never a bare
sleep; stopping is SIGTERM, then SIGKILL if the process outlives its grace period. The daemon's output goes to
a log file whose tail is attached to every failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx

from corral.protocol.json import JsonObject, JsonValue, loads_object

T = TypeVar("T")
HOST = "127.0.0.1"


class ProcessError(RuntimeError):
    """The daemon did not start, died, or a wait timed out; the message ends with the daemon's log tail."""


def free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` distinct ports that were free a moment ago (all bound at once, then released)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind((host, 0))
        return [sock.getsockname()[1] for sock in socks]


def wait_for(check: Callable[[], T | None], *, timeout: float, interval: float = 0.05, what: str) -> T:
    """Call `check` until it returns something truthy (not None, False, 0 or empty); TimeoutError at the
    deadline. An empty list is "not yet": a check returning the running tasks waits for one."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The current environment without MESOS_* variables (they would silently change the daemon's flags)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESOS_") and k != "CORRAL_MASTER"}
    env.update(extra or {})
    return env


@dataclass
class DevProcess:
    proc: subprocess.Popen[bytes]
    master: str  # host:port
    work_dir: Path
    log_path: Path
    agents: int
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0, trust_env=False))
    chronos: str = ""  # host:port of Chronos when start_dev was given a chronos port
    marathon: str = ""  # host:port of Marathon when start_dev was given a marathon port
    dns: str = ""  # host:port of the DNS server when start_dev was given a DNS port

    @property
    def url(self) -> str:
        return f"http://{self.master}"

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def fail(self, message: str) -> ProcessError:
        return ProcessError(f"{message}\n--- corral dev log ({self.log_path}) ---\n{self.log_tail()}")

    def get_json(self, path: str) -> JsonObject:
        response = self._http.get(self.url + path)
        response.raise_for_status()
        return loads_object(response.content)

    def state(self) -> JsonObject:
        return self.get_json("/master/state")

    def agent_addresses(self) -> list[str]:
        """host:port of each registered agent, from `/master/state` (`pid` is `slave(1)@host:port`)."""
        out: list[str] = []
        slaves = self.state().get("slaves")
        for slave in slaves if isinstance(slaves, list) else []:
            pid = slave.get("pid") if isinstance(slave, dict) else None
            if isinstance(pid, str) and "@" in pid:
                out.append(pid.split("@", 1)[1])
        return out

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise self.fail(f"corral dev exited with code {self.proc.returncode} while starting")
        try:
            return self._http.get(self.url + "/master/health").status_code == 200
        except httpx.HTTPError:
            return False

    def _agents_registered(self) -> bool:
        try:
            return len(self.agent_addresses()) >= self.agents
        except (httpx.HTTPError, ValueError):
            return False

    def wait_ready(self, timeout: float = 20.0) -> None:
        """Wait until the master answers `/master/health` and every agent has registered."""
        try:
            wait_for(self._healthy, timeout=timeout, what="/master/health")
            wait_for(self._agents_registered, timeout=timeout, what=f"{self.agents} agent(s) to register")
        except TimeoutError as e:
            raise self.fail(str(e)) from None

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        self._http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> DevProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def corral_command() -> list[str]:
    return [sys.executable, "-m", "corral.cli.main"]


def start_dev(
    base_dir: Path,
    *,
    agents: int = 1,
    resources: str | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    ready_timeout: float = 20.0,
    chronos_port: int = 0,
    marathon_port: int = 0,
    dns_port: int = 0,
    basic_auth: tuple[str, str] | None = None,
) -> DevProcess:
    """Start `corral dev` with its work dir under `base_dir`, the master on a free port, agents on any;
    `basic_auth` is what its own requests present (to a dev started with `--credentials`)."""
    [master_port] = free_ports(1)
    work_dir = base_dir / "work"
    log_path = base_dir / "corral-dev.log"
    args = [
        *corral_command(),
        "dev",
        "--work_dir",
        str(work_dir),
        "--ip",
        HOST,
        "--master_port",
        str(master_port),
        "--agent_port",
        "0",
        "--marathon_port",
        str(marathon_port),
        "--chronos_port",
        str(chronos_port),
        "--dns_port",  # never the default 8053: tests run side by side
        str(dns_port),
        "--lb_stats_port",  # nor the load balancer's 9090: a free port
        "0",
        "--agents",
        str(agents),
        *(["--resources", resources] if resources else []),
        *extra_args,
    ]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(env)
        )
    http = httpx.Client(timeout=5.0, trust_env=False, auth=basic_auth)
    dev = DevProcess(proc, f"{HOST}:{master_port}", work_dir, log_path, agents, http)
    if chronos_port:
        dev.chronos = f"{HOST}:{chronos_port}"
    if marathon_port:
        dev.marathon = f"{HOST}:{marathon_port}"
    if dns_port:
        dev.dns = f"{HOST}:{dns_port}"
    try:
        dev.wait_ready(ready_timeout)
    except BaseException:
        dev.stop()
        raise
    return dev


def json_list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []

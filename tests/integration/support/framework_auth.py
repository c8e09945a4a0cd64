"""Marathon and Chronos as their own processes with `--http_credentials`, beside a `corral dev` master or a
stand-in that records their SUBSCRIBEs, and the checks the authentication tests share: Basic headers, and
scans for secrets that must never show."""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import HOST, DevProcess, free_ports, start_dev, wait_for
from support.marathon_dev import stopping

USER = "ops"
# Random per run, so a hit in a scan can only be a leak of this very secret.
PASSWORD = f"pw-{secrets.token_hex(8)}"
MESOS_SECRET = f"mesos-{secrets.token_hex(8)}"
RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"


def basic(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def start_framework(
    command: str, name: str, master: str, root: Path, *extra: str, credentials: bool = True
) -> Daemon:
    """`corral marathon` or `corral chronos` on a free loopback port, framework `name`, answering /ping."""
    [port] = free_ports(1)
    args = ["--master", master, "--http_address", HOST, "--http_port", str(port)]
    args += ["--framework_name", name, "--work_dir", str(root / name), *extra]
    if credentials:
        args += ["--http_credentials", f"{USER}:{PASSWORD}"]
    daemon = start_daemon(name, command, args, address=f"{HOST}:{port}", log_dir=root)
    daemon.wait_answering("/ping")
    return daemon


def assert_no_secret(text: str, where: str, *hidden: str) -> None:
    """None of `hidden` (default: the HTTP password and the Mesos secret) appears in `text`."""
    for secret in hidden or (PASSWORD, MESOS_SECRET):
        assert secret not in text, f"a secret shows in {where}"


@contextlib.contextmanager
def dev_master(root: Path, resources: str = RESOURCES) -> Iterator[DevProcess]:
    """A `corral dev` (no load balancer, no DNS server) whose master the frameworks under test use."""
    with stopping(start_dev(root, resources=resources, extra_args=["--no_lb", "--no_dns"])) as process:
        yield process


@contextlib.contextmanager
def running_framework(command: str, name: str, master: str, root: Path, *extra: str) -> Iterator[Daemon]:
    """`start_framework`'s daemon; on exit it must stop cleanly, with no secret in its log."""
    daemon = start_framework(command, name, master, root, *extra)
    try:
        yield daemon
    finally:
        assert daemon.stop() == 0, daemon.log_tail()
        assert_no_secret(daemon.log_path.read_text(), f"{command}'s log")


@dataclass
class Subscription:
    authorization: str | None
    framework_info: dict[str, object]


@dataclass
class RecordingMaster:
    """A stand-in master that records each SUBSCRIBE (the Authorization header and the FrameworkInfo) and
    answers 503, so the framework keeps retrying without ever being subscribed."""

    address: str
    subscriptions: list[Subscription] = field(default_factory=list)


@contextlib.contextmanager
def recording_master() -> Iterator[RecordingMaster]:
    [port] = free_ports(1)
    master = RecordingMaster(f"{HOST}:{port}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            if body.get("type") == "SUBSCRIBE":
                info = body["subscribe"]["framework_info"]
                master.subscriptions.append(Subscription(self.headers.get("Authorization"), info))
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((HOST, port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield master
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextlib.contextmanager
def presenting_secret(
    command: str, principal: str, root: Path, *extra: str, secret_file: str = MESOS_SECRET
) -> Iterator[tuple[Daemon, Subscription]]:
    """`command` as `principal`, its secret in a file holding `secret_file`, with `extra` flags, against a
    `recording_master`: the running daemon and its first SUBSCRIBE (on exit, as `running_framework`)."""
    path = root / "secret"
    path.write_text(secret_file)
    flags = [*extra, "--mesos_authentication_principal", principal]
    flags += ["--mesos_authentication_secret_file", str(path)]
    with (
        recording_master() as master,
        running_framework(command, principal, master.address, root, *flags) as daemon,
    ):
        [first, *_] = wait_for(lambda: master.subscriptions, timeout=15, what="a SUBSCRIBE")
        yield daemon, first

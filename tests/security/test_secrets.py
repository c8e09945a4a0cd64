"""No secret in logs, state endpoints or error bodies (reliability-security.md 4.2 "secrets in logs",
mesosphere/marathon #7100; 4.3 #14). Master, agent, Marathon and Chronos run as separate daemons with
ZooKeeper credentials in every `zk://` flag; the password is then looked for, literally, in each daemon's
whole output and in every document they serve, errors included: 0 hits.

The password holds an `@`, since the last `@` of the authority ends the credentials: a masking that split
at the first one would print the password's tail.

SECRET_FLAGS is the one list of secret-bearing flags. A flag whose value is a file (`--credentials`) puts the
secret in the file's content; add it there with the file written by `secret_file`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import HOST, free_ports, wait_for
from corral.testing.zookeeper import ZkEnsemble, zookeeper_missing

pytestmark = pytest.mark.integration

PASSWORD = "p@ss-9d1e-NEVER-SHOWN"
SECRET = "9d1e-NEVER-SHOWN"  # what a leak would show, whole or masked at the wrong `@`
DAEMONS = ("master", "agent", "marathon", "chronos")


@dataclass(frozen=True)
class Env:
    zk: str  # host:port of the ensemble
    master: str  # host:port of the master
    root: Path

    def zk_url(self, path: str) -> str:
        return f"zk://corral:{PASSWORD}@{self.zk}{path}"


# daemon -> the flags that carry a secret, given where ZooKeeper and the master are
SECRET_FLAGS: dict[str, Callable[[Env], list[str]]] = {
    "master": lambda env: ["--zk", env.zk_url("/mesos"), "--quorum", "1"],
    "agent": lambda env: ["--master", env.zk_url("/mesos")],
    "marathon": lambda env: ["--master", env.zk_url("/mesos"), "--zk", env.zk_url("/marathon")],
    "chronos": lambda env: ["--master", env.zk_url("/mesos")],
}

# daemon -> (method, path, body) of what it serves: documents, and requests that fail
SCANNED: dict[str, list[tuple[str, str, bytes | None]]] = {
    "master": [
        ("GET", "/flags", None),
        ("GET", "/master/flags", None),
        ("GET", "/master/state", None),
        ("GET", "/state.json", None),
        ("GET", "/master/frameworks", None),
        ("GET", "/metrics/snapshot", None),
        ("GET", "/master/redirect", None),
        ("GET", "/no/such/endpoint", None),
        ("POST", "/api/v1", b'{"type":"GET_FLAGS"}'),
        ("POST", "/api/v1", b'{"type":"GET_STATE"}'),
        ("POST", "/api/v1", b'{"type":"GET_MASTER"}'),
        ("POST", "/api/v1", b'{"type":"NO_SUCH_CALL"}'),
        ("POST", "/api/v1/scheduler", b"{not json"),
    ],
    "agent": [
        ("GET", "/state", None),
        ("GET", "/metrics/snapshot", None),
        ("GET", "/files/debug", None),
        ("GET", "/no/such/endpoint", None),
        ("POST", "/api/v1/executor", b"{not json"),
    ],
    "marathon": [
        ("GET", "/v2/info", None),
        ("GET", "/v2/leader", None),
        ("GET", "/metrics", None),
        ("GET", "/v2/apps", None),
        ("GET", "/v2/no/such/endpoint", None),
        ("POST", "/v2/apps", b'{"id":"///","cmd":1}'),
        ("POST", "/v2/apps", b"{not json"),
    ],
    "chronos": [
        ("GET", "/v1/scheduler/leader", None),
        ("GET", "/v1/scheduler/jobs", None),
        ("GET", "/metrics", None),
        ("GET", "/v1/scheduler/no/such/endpoint", None),
        ("POST", "/v1/scheduler/iso8601", b'{"name":".."}'),
        ("POST", "/v1/scheduler/iso8601", b"{not json"),
    ],
}
READY = {
    "master": "/master/state",
    "agent": "/state",
    "marathon": "/v2/info",
    "chronos": "/v1/scheduler/jobs",
}


def secret_file(root: Path, name: str, content: str) -> str:
    """A file holding `content` (a credentials file), for a flag that takes a path."""
    path = root / name
    path.write_text(content)
    return str(path)


def start(env: Env, name: str) -> Daemon:
    [port] = free_ports(1)
    work = ["--work_dir", str(env.root / name)]
    where = {
        "master": ["--ip", HOST, "--port", str(port)],
        "agent": ["--ip", HOST, "--port", str(port), "--resources", "cpus:1;mem:256;disk:100"],
        "marathon": ["--http_address", HOST, "--http_port", str(port)],
        "chronos": ["--http_address", HOST, "--http_port", str(port)],
    }[name]
    if name == "master":
        port = int(env.master.rsplit(":", 1)[1])
        where = ["--ip", HOST, "--port", str(port)]
    args = [*where, *work, *SECRET_FLAGS[name](env)]
    return start_daemon(name, name, args, address=f"{HOST}:{port}", log_dir=env.root)


@pytest.fixture(scope="module")
def daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Daemon]]:
    if (reason := zookeeper_missing()) is not None:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("secrets")
    with ZkEnsemble(root / "zk") as zk:
        [master_port] = free_ports(1)
        env = Env(zk=zk.hosts, master=f"{HOST}:{master_port}", root=root)
        started: dict[str, Daemon] = {}
        try:
            for name in DAEMONS:
                started[name] = start(env, name)
            for name, daemon in started.items():
                daemon.wait_answering(READY[name], timeout=30)
            master = started["master"]
            wait_for(lambda: master.get("/master/state").json()["slaves"], timeout=30, what="the agent")
            yield started
        finally:
            for daemon in started.values():
                daemon.stop()


def test_the_credentials_are_in_effect(daemons: dict[str, Daemon]) -> None:
    # The scan means something only if the daemons did use the URLs: each names them, masked.
    for name, daemon in daemons.items():
        assert "corral:***@" in daemon.log_path.read_text(errors="replace"), daemon.fail(
            f"{name}: no masked URL"
        )
    flags = daemons["master"].get("/flags").json()["flags"]
    assert flags["zk"].startswith("zk://corral:***@")


@pytest.mark.parametrize("name", DAEMONS)
def test_no_endpoint_shows_the_secret(daemons: dict[str, Daemon], name: str) -> None:
    daemon = daemons[name]
    with httpx.Client(base_url=daemon.url, timeout=10, trust_env=False) as client:
        for method, path, body in SCANNED[name]:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            response = client.request(method, path, content=body, headers=headers)
            shown = response.text + "".join(f"{k}: {v}\n" for k, v in response.headers.items())
            assert SECRET not in shown, f"{name} {method} {path} ({response.status_code})"


def test_no_log_shows_the_secret(daemons: dict[str, Daemon]) -> None:
    for daemon in daemons.values():
        daemon.stop()  # whatever shutting down logs is scanned too
    leaks = {
        name: [line for line in daemon.log_path.read_text(errors="replace").splitlines() if SECRET in line]
        for name, daemon in daemons.items()
    }
    assert leaks == {name: [] for name in DAEMONS}


@pytest.mark.parametrize("flag", ["--zk", "--master"])
@pytest.mark.parametrize("where", ["@", "@127.0.0.1:99999"], ids=["no servers", "a bad port"])
def test_a_bad_url_is_refused_without_the_secret(tmp_path: Path, flag: str, where: str) -> None:
    command = "master" if flag == "--zk" else "agent"
    args = ["--work_dir", str(tmp_path / command), flag, f"zk://corral:{PASSWORD}{where}/mesos"]
    daemon = start_daemon(
        command,
        command,
        [*args, "--quorum", "1"] if command == "master" else args,
        address=f"{HOST}:1",
        log_dir=tmp_path,
    )
    try:
        daemon.proc.wait(30)
    finally:
        daemon.stop()
    output = daemon.log_path.read_text(errors="replace")
    assert daemon.proc.returncode == 2 and f"Invalid value for '{flag}'" in output, output
    assert SECRET not in output

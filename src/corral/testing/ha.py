"""A multi-process HA cluster on loopback for tests and benchmarks: masters, agents, Marathons, ZooKeeper.

Every daemon is its own `corral` process (`daemons.py`) on its own 127.0.0.x address, finding leaders through
`zk://`, so kill -9, SIGSTOP and restarts hit exactly one of them. Helpers read the leaders and the running
tasks through the public HTTP APIs, as an operator would.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import httpx

from corral.protocol.json import JsonObject, loads_object
from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import free_ports, json_list

SESSION = "2secs"


class Cluster:
    def __init__(self, zk_hosts: str, root: Path, *, session: str = SESSION) -> None:
        self.url = f"zk://{zk_hosts}/mesos"
        self.marathon_zk = f"zk://{zk_hosts}/marathon"
        self.session = session
        self.root = root
        self.masters: list[Daemon] = []
        self.others: list[Daemon] = []

    def start_master(self, ip: str) -> Daemon:
        [port] = free_ports(1, host=ip)
        name = f"master-{ip}"
        args = ["--ip", ip, "--port", str(port), "--zk", self.url, "--quorum", "2"]
        args += ["--zk_session_timeout", self.session, "--work_dir", str(self.root / name)]
        daemon = start_daemon(name, "master", args, address=f"{ip}:{port}", log_dir=self.root)
        self.masters.append(daemon)
        return daemon

    def start(self, name: str, command: str, ip: str, args: list[str]) -> Daemon:
        [port] = free_ports(1, host=ip)
        port_flag = "--http_port" if command == "marathon" else "--port"
        ip_flag = "--http_address" if command == "marathon" else "--ip"
        full = [ip_flag, ip, port_flag, str(port), "--work_dir", str(self.root / name), *args]
        daemon = start_daemon(name, command, full, address=f"{ip}:{port}", log_dir=self.root)
        self.others.append(daemon)
        return daemon

    def leader(self) -> Daemon | None:
        """The master every live master names as the leader, when they agree and it is alive."""
        named = set()
        for master in self.masters:
            if not master.alive:
                continue
            try:
                response = master.get("/master/redirect")
            except httpx.HTTPError:
                return None
            if response.status_code != 307:
                return None
            named.add(urlparse(response.headers["location"]).netloc)
        if len(named) != 1:
            return None
        [address] = named
        return next((m for m in self.masters if m.address == address and m.alive), None)

    def stop(self) -> None:
        for daemon in [*self.others, *self.masters]:
            daemon.stop()


def get_json(daemon: Daemon, path: str) -> JsonObject:
    response = daemon.get(path)
    response.raise_for_status()
    return loads_object(response.content)


def running_tasks(master: Daemon, agents: int = 1) -> set[str] | None:
    """Ids of TASK_RUNNING tasks in the master's state, once `agents` agents and a framework are back."""
    try:
        state = get_json(master, "/master/state")
    except httpx.HTTPError:
        return None
    frameworks = [f for f in json_list(state["frameworks"]) if isinstance(f, dict) and f.get("active")]
    if len(json_list(state["slaves"])) != agents or not frameworks:
        return None
    return {
        str(t["id"])
        for f in frameworks
        for t in json_list(f["tasks"])
        if isinstance(t, dict) and t["state"] == "TASK_RUNNING"
    }


def marathon_tasks(marathon: Daemon, app: str = "sleepy") -> set[str] | None:
    try:
        response = marathon.get(f"/v2/apps/{app}/tasks")
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return {str(t["id"]) for t in response.json()["tasks"]}


def leader_named_by(instances: list[Daemon], path: str = "/v2/leader") -> Daemon | None:
    """The instance every one of `instances` names as the leader at `path` (`{"leader": "host:port"}`:
    Marathon's /v2/leader, Chronos's /scheduler/leader), when they agree and it is alive."""
    named = set()
    for instance in instances:
        try:
            response = instance.get(path)
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        named.add(response.json()["leader"])
    if len(named) != 1:
        return None
    [address] = named
    return next((i for i in instances if i.address == address and i.alive), None)

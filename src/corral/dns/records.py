"""Mesos-DNS's record table, computed from the master's `/master/state` document.

Naming follows Mesos-DNS (docs/naming.md, records/generator.go) with its default configuration: RFC 1123
labels, IP sources `netinfo`, `mesos`, `host`, in that order. For a running task `T` of framework `F` in
domain `D` (names below are lower case and carry no trailing dot):

- A `T.F.D` -> the task's IPs (its container's, else its agent's); A `T.F.slave.D` -> the agent's;
- the canonical name `T-<hash>-<agent>.F.D` (and `.F.slave.D`): `<hash>` is five z-base-32 characters of the
  SHA-1 of the task id, `<agent>` the last `-` field of the agent id, so tasks of one name stay apart;
- SRV `_T._tcp.F.slave.D` and `_T._udp.F.slave.D` for each host port of the task's `ports` resource, target
  the canonical `.slave` name; without DiscoveryInfo also `_T._tcp.F.D` and `_T._udp.F.D` so;
- with DiscoveryInfo (a non-empty `discovery.name`), `T` is that name, and each discovery port gives SRV
  `_T._<protocol>.F.D` (both protocols when none is named) and `_<port name>._T._<protocol>.F.D`, target
  the canonical name, port the discovery port's number;
- A `F.D` -> the framework scheduler's host, SRV `_framework._tcp.F.D` when a v0 `pid` names its port;
- A `slave.D` -> every agent, SRV `_slave._tcp.D`; A `leader.D`, `master.D`, `master0.D` -> the leading
  master, SRV `_leader._tcp.D` and `_leader._udp.D`; A `ns1.D` -> the addresses DNS listens on.

Only tasks in TASK_RUNNING on a known agent count, as in Mesos-DNS. A task name becomes one label: lower
case, `.` and `_` turned into `-`, other characters dropped, at most 63 characters, no `-` at either end;
a framework name keeps its dots (each part becomes a label). Names that sanitise to nothing are skipped.
Mesos-DNS also inserts a DiscoveryInfo name unsanitised ("legacy"); Corral does not, as such a name may not
be a valid label. Host names that are not IP literals are looked up by the caller (`hosts_to_resolve`) and
passed in as `resolved`; pure code never resolves.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from corral.core.errors import DecodeError, ResourceParseError
from corral.core.resources import parse_resources
from corral.protocol.json import JsonObject, Reader

TASK_RUNNING = "TASK_RUNNING"
MAX_LABEL = 63  # RFC 1123; Mesos-DNS's EnforceRFC952 (off by default) would make it 24
ZBASE32 = "ybndrfg8ejkmcpqxot1uwisza345h769"
# Mesos-DNS's status labels for a container IP (its `mesos` source; the `docker` source is off by default).
MESOS_IP_LABEL = "MesosContainerizer.NetworkSettings.IPAddress"


# ---------------------------------------------------------------- the state document, typed


@dataclass(frozen=True, slots=True, kw_only=True)
class DiscoveryPort:
    number: int
    protocol: str
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskView:
    id: str
    name: str
    agent_id: str
    state: str
    ports: tuple[int, ...]
    discovery_name: str
    discovery_ports: tuple[DiscoveryPort, ...]
    netinfo_ips: tuple[str, ...]  # from the latest TASK_RUNNING status's container_status
    label_ips: tuple[str, ...]  # from the latest TASK_RUNNING status's MESOS_IP_LABEL labels


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkView:
    name: str
    host: str  # the v0 pid's host, else `hostname`
    port: int | None  # the v0 pid's port
    tasks: tuple[TaskView, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentView:
    id: str
    host: str  # the pid's host (`slave(1)@host:port`), else `hostname`
    port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterView:
    leader_host: str | None
    leader_port: int | None
    agents: tuple[AgentView, ...]
    frameworks: tuple[FrameworkView, ...]


def _pid(pid: str | None) -> tuple[str, int] | None:
    """`name@host:port` -> (host, port); None when absent or malformed."""
    if not pid or "@" not in pid:
        return None
    host, sep, port = pid.split("@", 1)[1].rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _ports(text: str | None, path: str) -> tuple[int, ...]:
    if not text:
        return ()
    try:
        ranges = parse_resources(f"ports:{text}").ports()
    except ResourceParseError as e:
        raise DecodeError(path, str(e)) from None
    return tuple(p for begin, end in ranges for p in range(begin, end + 1))


def _latest_running(statuses: list[Reader]) -> Reader | None:
    # Mesos does not promise the order of `statuses`: the newest TASK_RUNNING one wins, as in Mesos-DNS.
    running = [s for s in statuses if s.opt_text("state") == TASK_RUNNING]
    return max(running, key=lambda s: s.number("timestamp", 0.0), default=None)


def _netinfo_ips(status: Reader) -> tuple[str, ...]:
    container = status.opt_child("container_status")
    if container is None:
        return ()
    ips: list[str] = []
    for info in container.objs("network_infos"):
        addresses = info.objs("ip_addresses")
        ips += [a.text("ip_address") for a in addresses if a.has("ip_address")]
        if not addresses and info.has("ip_address"):  # the pre-0.26 single address
            ips.append(info.text("ip_address"))
    return tuple(ips)


def _label_ips(status: Reader) -> tuple[str, ...]:
    labels = status.raw("labels")
    items = Reader(labels).objs("labels") if isinstance(labels, dict) else status.objs("labels")
    return tuple(item.text("value") for item in items if item.opt_text("key") == MESOS_IP_LABEL)


def _discovery_port(reader: Reader) -> DiscoveryPort:
    return DiscoveryPort(
        number=reader.integer("number"),
        protocol=reader.opt_text("protocol") or "",
        name=reader.opt_text("name") or "",
    )


def _task(reader: Reader) -> TaskView:
    status = _latest_running(reader.objs("statuses"))
    discovery = reader.opt_child("discovery")
    ports = discovery.opt_child("ports") if discovery is not None else None
    resources = reader.opt_child("resources")
    return TaskView(
        id=reader.text("id"),
        name=reader.opt_text("name") or "",
        agent_id=reader.text("slave_id"),
        state=reader.text("state"),
        ports=_ports(resources.opt_text("ports"), f"{resources.path}.ports") if resources else (),
        discovery_name=(discovery.opt_text("name") or "") if discovery is not None else "",
        discovery_ports=ports.each("ports", _discovery_port) if ports is not None else (),
        netinfo_ips=_netinfo_ips(status) if status is not None else (),
        label_ips=_label_ips(status) if status is not None else (),
    )


def _framework(reader: Reader) -> FrameworkView:
    pid = _pid(reader.opt_text("pid"))
    return FrameworkView(
        name=reader.opt_text("name") or "",
        host=pid[0] if pid else reader.opt_text("hostname") or "",
        port=pid[1] if pid else None,
        tasks=reader.each("tasks", _task),
    )


def _agent(reader: Reader) -> AgentView:
    pid = _pid(reader.opt_text("pid"))
    return AgentView(
        id=reader.text("id"),
        host=pid[0] if pid else reader.opt_text("hostname") or "",
        port=pid[1] if pid else reader.integer("port", 5051),
    )


def parse_state(document: JsonObject) -> ClusterView:
    """The parts of `/master/state` DNS needs; DecodeError (naming the field) when it has another shape."""
    reader = Reader(document)
    leader = _pid(reader.opt_text("leader"))
    return ClusterView(
        leader_host=leader[0] if leader else None,
        leader_port=leader[1] if leader else None,
        agents=reader.each("slaves", _agent),
        frameworks=reader.each("frameworks", _framework),
    )


# ---------------------------------------------------------------- names


def label(name: str) -> str:
    """One DNS label from a name, as Mesos-DNS's RFC 1123 rule makes it (`My_App.v2` -> `my-app-v2`)."""
    mapped = "".join(
        "-" if c in "-._" else c.lower() for c in name if c.isascii() and (c.isalnum() or c in "-._")
    )
    trimmed = mapped.lstrip("-")
    return trimmed[:MAX_LABEL].rstrip("-")


def domain_fragment(name: str) -> str:
    """A framework name as dotted labels (`marathon.prod` stays, `Chronos 2` -> `chronos2`)."""
    return ".".join(part for part in (label(p) for p in name.split(".")) if part)


def parse_domain(text: str) -> str:
    """A domain to answer for (`mesos`, `corp.example.`) in canonical form; ValueError unless every part is
    already a valid label."""
    domain = text.strip().strip(".").lower()
    parts = domain.split(".")
    if not domain or len(domain) > 253 or any(label(p) != p or not p for p in parts):
        raise ValueError(f"{text!r} is not a domain name (labels of letters, digits and '-', dot-separated)")
    return domain


def task_hash(task_id: str) -> str:
    """The first five z-base-32 characters of SHA-1(task id): the first 25 bits, five at a time."""
    top = int.from_bytes(hashlib.sha1(task_id.encode()).digest()[:4], "big") >> 7
    return "".join(ZBASE32[(top >> (5 * (4 - i))) & 31] for i in range(5))


def agent_tail(agent_id: str) -> str:
    """`...-S3` -> `s3`: the last field of an agent id."""
    return agent_id.rsplit("-", 1)[-1].lower()


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- the table


@dataclass(frozen=True, slots=True, order=True)
class Srv:
    target: str
    port: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordTable:
    """Every name Corral answers for, lower case without the trailing dot; values sorted for stable output."""

    domain: str
    serial: int
    a: Mapping[str, tuple[str, ...]]
    aaaa: Mapping[str, tuple[str, ...]]
    srv: Mapping[str, tuple[Srv, ...]]
    names: frozenset[str]  # owners of records and their ancestors down to `domain` (RFC 8020's nodes)

    def exists(self, name: str) -> bool:
        return name in self.names


class _Builder:
    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.a: dict[str, set[str]] = {}
        self.aaaa: dict[str, set[str]] = {}
        self.srv: dict[str, set[Srv]] = {}

    def address(self, name: str, ips: Iterable[str]) -> None:
        for ip in ips:
            table = self.a if ipaddress.ip_address(ip).version == 4 else self.aaaa
            table.setdefault(f"{name}.{self.domain}", set()).add(ip)

    def service(self, name: str, target: str, port: int) -> None:
        self.srv.setdefault(f"{name}.{self.domain}", set()).add(Srv(f"{target}.{self.domain}", port))

    def build(self, serial: int) -> RecordTable:
        names = {self.domain}
        for owner in [*self.a, *self.aaaa, *self.srv]:
            labels = owner.removesuffix(f".{self.domain}").split(".")
            names.update(".".join([*labels[i:], self.domain]) for i in range(len(labels)))
        return RecordTable(
            domain=self.domain,
            serial=serial,
            a={k: tuple(sorted(v, key=ipaddress.ip_address)) for k, v in self.a.items()},
            aaaa={k: tuple(sorted(v, key=ipaddress.ip_address)) for k, v in self.aaaa.items()},
            srv={k: tuple(sorted(v)) for k, v in self.srv.items()},
            names=frozenset(names),
        )


def hosts_to_resolve(view: ClusterView) -> set[str]:
    """The leader's, agents' and framework schedulers' host names that are not IP literals."""
    hosts = {a.host for a in view.agents} | {f.host for f in view.frameworks} | {view.leader_host or ""}
    return {h for h in hosts if h and not is_ip(h)}


def _ips(host: str, resolved: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    if is_ip(host):
        return (host,)
    return tuple(ip for ip in resolved.get(host, ()) if is_ip(ip))


def _task_records(out: _Builder, framework: str, task: TaskView, agent_ips: tuple[str, ...]) -> None:
    name = label(task.discovery_name or task.name)
    if not name:
        return
    canonical = f"{name}-{task_hash(task.id)}-{agent_tail(task.agent_id)}"
    # Mesos-DNS's IP sources in its default order; the first that yields an address wins.
    sources = (task.netinfo_ips, task.label_ips, agent_ips)
    ips = next((ips for ips in (tuple(filter(is_ip, s)) for s in sources) if ips), ())
    for host in (name, canonical):
        out.address(f"{host}.{framework}", ips)
        out.address(f"{host}.{framework}.slave", agent_ips)
    # Host ports name the `.slave` target; the plain service names are DiscoveryInfo's when it is given.
    subdomains = (".slave",) if task.discovery_name else (".slave", "")
    target = f"{canonical}.{framework}.slave"
    for port in task.ports:
        for protocol in ("tcp", "udp"):
            for subdomain in subdomains:
                out.service(f"_{name}._{protocol}.{framework}{subdomain}", target, port)
    if not task.discovery_name:
        return
    for dport in task.discovery_ports:
        protocol = label(dport.protocol)
        port_name = label(dport.name)
        for proto in (protocol,) if protocol else ("tcp", "udp"):
            service = f"_{name}._{proto}.{framework}"
            out.service(service, f"{canonical}.{framework}", dport.number)
            if port_name:
                out.service(f"_{port_name}.{service}", f"{canonical}.{framework}", dport.number)


def build_table(
    view: ClusterView,
    *,
    domain: str,
    serial: int,
    listen_ips: tuple[str, ...] = (),
    resolved: Mapping[str, tuple[str, ...]] | None = None,
) -> RecordTable:
    """The records of `view` under `domain` (e.g. `mesos`); `serial` becomes the SOA serial."""
    known = resolved or {}
    out = _Builder(domain.strip(".").lower())
    agent_ips = {a.id: _ips(a.host, known) for a in view.agents}
    for agent in view.agents:
        out.address("slave", agent_ips[agent.id])
        if agent_ips[agent.id]:
            out.service("_slave._tcp", "slave", agent.port)
    if view.leader_host is not None and view.leader_port is not None:
        leader_ips = _ips(view.leader_host, known)
        for name in ("leader", "master", "master0"):
            out.address(name, leader_ips)
        for protocol in ("tcp", "udp"):
            out.service(f"_leader._{protocol}", "leader", view.leader_port)
    out.address("ns1", (ip for ip in listen_ips if is_ip(ip) and not ipaddress.ip_address(ip).is_unspecified))
    for framework in view.frameworks:
        fname = domain_fragment(framework.name)
        if not fname:
            continue
        host_ips = _ips(framework.host, known)
        out.address(fname, host_ips)
        if host_ips and framework.port is not None:
            out.service(f"_framework._tcp.{fname}", fname, framework.port)
        for task in framework.tasks:
            if task.state == TASK_RUNNING and task.agent_id in agent_ips:
                _task_records(out, fname, task, agent_ips[task.agent_id])
    return out.build(serial)

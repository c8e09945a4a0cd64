"""What `corral dev` runs, decided from its flags without touching sockets: configs for a master and N agents.

Invariants: agent i listens on `agent_port + i` (or an ephemeral port when `agent_port` is 0); every agent
has its own work dir `<work_dir>/agent-<i>`; with several agents the ports resource is split into disjoint
slices of (nearly) equal size, so two agents never offer the same port. With `--credentials`, the stack's
own clients (Marathon and Chronos as frameworks, the DNS server, the load balancer) present one of its
principals: `--principal`, else the file's first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from corral.agent.config import AgentConfig
from corral.core.attributes import Attribute
from corral.core.errors import CorralError
from corral.core.resources import Range, Resources, range_count
from corral.master.config import MasterConfig
from corral.net.tls import TlsConfig
from corral.security.credentials import Credential, Credentials

DEFAULT_PORTS: tuple[Range, ...] = ((31000, 32000),)


class PlanError(CorralError):
    """The flags of `corral dev` contradict each other."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DevOptions:
    work_dir: Path = Path(".corral")
    ip: str = "127.0.0.1"
    master_port: int = 5050
    agent_port: int = 5051
    marathon_port: int = 8080
    chronos_port: int = 4400
    dns_port: int | None = 8053  # None: no DNS server
    lb_stats_port: int | None = None  # None: no load balancer; 0: its stats page on any free port
    agents: int = 1
    resources: Resources | None = None
    attributes: tuple[Attribute, ...] = ()
    allocation_interval: float = 1.0
    credentials: Credentials | None = None  # None: the stack is open
    principal: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DevPlan:
    master: MasterConfig
    agents: tuple[AgentConfig, ...]
    marathon_port: int
    chronos_port: int
    dns_port: int | None = None
    lb_stats_port: int | None = None
    credential: Credential | None = None  # what the stack's own clients present

    @property
    def tls(self) -> TlsConfig:
        """The cluster's TLS: one setting for every daemon (the master's), as upstream's."""
        return self.master.tls

    def with_ports(self, master_port: int, agent_ports: list[int]) -> DevPlan:
        """The plan once sockets are bound (port 0 becomes a real port)."""
        master_address = f"{self.master.ip}:{master_port}"
        agents = tuple(
            replace(a, port=p, master=master_address) for a, p in zip(self.agents, agent_ports, strict=True)
        )
        return replace(self, master=replace(self.master, port=master_port), agents=agents)


def split_ports(ranges: tuple[Range, ...], parts: int) -> list[tuple[Range, ...]]:
    """Split `ranges` into `parts` disjoint slices whose sizes differ by at most one, in port order."""
    total = range_count(ranges)
    if parts < 1:
        raise PlanError("need at least one agent")
    if total < parts:
        raise PlanError(
            f"ports: {total} port(s) cannot be split among {parts} agents (need at least one each)"
        )
    sizes = [total // parts + (1 if i < total % parts else 0) for i in range(parts)]
    pieces: list[tuple[Range, ...]] = []
    pending = list(ranges)
    for size in sizes:
        slice_: list[Range] = []
        left = size
        while left:
            begin, end = pending[0]
            take = min(left, end - begin + 1)
            slice_.append((begin, begin + take - 1))
            left -= take
            if begin + take > end:
                pending.pop(0)
            else:
                pending[0] = (begin + take, end)
        pieces.append(tuple(slice_))
    return pieces


def _agent_resources(resources: Resources | None, agents: int) -> list[Resources | None]:
    if agents == 1:
        return [resources]
    base = resources or Resources()
    slices = split_ports(base.ports() or DEFAULT_PORTS, agents)
    return [Resources(base.scalars, {**base.ranges, "ports": s}, base.sets) for s in slices]


def _check_ports(options: DevOptions) -> None:
    agent_ports = [options.agent_port + i for i in range(options.agents)] if options.agent_port else []
    if agent_ports and agent_ports[-1] > 65535:
        raise PlanError(f"--agent_port {options.agent_port} + {options.agents} agents runs past port 65535")
    named = [("--master_port", options.master_port)]
    named += [(f"agent {i} (--agent_port + {i})", p) for i, p in enumerate(agent_ports)]
    named += [("--marathon_port", options.marathon_port), ("--chronos_port", options.chronos_port)]
    if options.dns_port is not None:  # its TCP listener clashes like any other
        named.append(("--dns_port", options.dns_port))
    if options.lb_stats_port is not None:
        named.append(("--lb_stats_port", options.lb_stats_port))
    seen: dict[int, str] = {}
    for what, port in named:
        if port and port in seen:
            raise PlanError(f"{what} and {seen[port]} both want port {port}")
        seen[port] = what


def _stack_credential(credentials: Credentials | None, principal: str | None) -> Credential | None:
    """The principal (and its secret) the stack's own clients present: `principal`, else the first."""
    if credentials is None:
        if principal is not None:
            raise PlanError("--principal names one of the --credentials: give them too")
        return None
    chosen = principal if principal is not None else next(iter(credentials.secrets))
    secret = credentials.secrets.get(chosen)
    if secret is None:
        raise PlanError(f"--principal {chosen!r} is not one of the --credentials")
    return Credential(chosen, secret)


def plan_dev(options: DevOptions) -> DevPlan:
    if options.agents < 1:
        raise PlanError("--agents must be at least 1")
    if options.allocation_interval <= 0:
        raise PlanError("--allocation_interval must be positive")
    _check_ports(options)
    credential = _stack_credential(options.credentials, options.principal)
    work_dir = options.work_dir.absolute()
    master = MasterConfig(
        ip=options.ip,
        port=options.master_port,
        work_dir=work_dir / "master",
        allocation_interval=options.allocation_interval,
    )
    master_address = f"{options.ip}:{options.master_port}"
    agents = tuple(
        AgentConfig(
            ip=options.ip,
            port=options.agent_port + i if options.agent_port else 0,
            work_dir=work_dir / f"agent-{i}",
            master=master_address,
            resources=resources,
            attributes=options.attributes,
        )
        for i, resources in enumerate(_agent_resources(options.resources, options.agents))
    )
    return DevPlan(
        master=master,
        agents=agents,
        marathon_port=options.marathon_port,
        chronos_port=options.chronos_port,
        dns_port=options.dns_port,
        lb_stats_port=options.lb_stats_port,
        credential=credential,
    )

"""From Marathon's apps to the services HAProxy serves: one per (app, service port), healthy tasks only.

Rules (marathon.md e.2, e.3):
- A service port is served when its groups (`HAPROXY_{n}_GROUP`, else `HAPROXY_GROUP`) meet the load
  balancer's groups; a load balancer in group `*` serves every app, labelled or not.
- Its name, for both the frontend and the backend, is `{app id, / -> _}_{servicePort}`; it binds
  `HAPROXY_{n}_BIND_ADDR` (else the load balancer's bind address) on `HAPROXY_{n}_PORT` (else the service
  port).
- Its servers are the app's serving tasks (`model.is_serving`): host and bridge networking use the task's
  host, resolved to an IP, and its host port at the same index; IP-per-task apps use the task's first IP
  and the container port.
- Two services never bind one port, nor the ports of the stats page and the vhost frontends: the first in
  (app id, service port) order keeps it, the others are skipped with a reason.
- Everything is sorted, so the same apps always give the same services whatever order Marathon lists them in.
"""

from __future__ import annotations

import ipaddress
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from corral.lb.labels import LabelErrors, PortSettings, port_settings, unsupported
from corral.lb.model import App, HealthCheck, NetworkMode, Task, is_serving

HTTP_FRONTEND = "marathon_http_in"
HTTPS_FRONTEND = "marathon_https_in"
MAX_SERVER_ID = 32767  # HAProxy's server `id` is a positive 16-bit-ish integer; marathon-lb hashes into it
_UNSAFE = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """The load balancer's own settings (its command-line flags)."""

    groups: frozenset[str] = frozenset({"external"})
    bind_address: str = "*"
    # The stats page shows every backend and task address: loopback unless the operator says otherwise.
    stats_address: str = "127.0.0.1"
    stats_port: int = 9090
    http_port: int = 80
    https_port: int = 443
    ssl_certs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Server:
    name: str
    address: str
    port: int
    id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Service:
    name: str
    app_id: str
    service_port: int
    bind_address: str
    bind_port: int
    settings: PortSettings
    health_check: HealthCheck | None = None
    servers: tuple[Server, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    services: tuple[Service, ...] = ()
    problems: tuple[str, ...] = ()  # why apps, ports or tasks are left out, one line each
    vhost_frontends: bool = True  # False once HAProxy could not bind the HTTP/HTTPS vhost ports

    @property
    def has_vhosts(self) -> bool:
        return self.vhost_frontends and any(s.settings.vhosts for s in self.services)

    def without(self, names: Iterable[str], reason: str) -> Plan:
        """The plan minus the named frontends (HAProxy refused them), each left out with `reason`."""
        dropped = frozenset(names)
        kept = tuple(s for s in self.services if s.name not in dropped)
        lines = [f"{name}: {reason}" for name in sorted(dropped)]
        return replace(
            self,
            services=kept,
            problems=(*self.problems, *lines),
            vhost_frontends=self.vhost_frontends and not dropped & {HTTP_FRONTEND, HTTPS_FRONTEND},
        )


def listeners(plan: Plan, options: Options) -> dict[str, tuple[str, int]]:
    """What each frontend of the plan binds, by frontend name (the vhost frontends included)."""
    out = {s.name: (s.bind_address, s.bind_port) for s in plan.services}
    if plan.has_vhosts:
        out[HTTP_FRONTEND] = (options.bind_address, options.http_port)
        if options.ssl_certs:
            out[HTTPS_FRONTEND] = (options.bind_address, options.https_port)
    return out


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def hosts_to_resolve(apps: Iterable[App]) -> frozenset[str]:
    """The task hosts that are names, not IP addresses (the runtime resolves them before planning)."""
    return frozenset(
        t.host for a in apps if a.network is not NetworkMode.CONTAINER for t in a.tasks if not is_ip(t.host)
    )


def serves_groups(lb_groups: frozenset[str], port_groups: frozenset[str]) -> bool:
    return "*" in lb_groups or bool(lb_groups & port_groups)


def server_name(address: str, port: int) -> str:
    return _UNSAFE.sub("_", f"{address}_{port}")


def _server_ids(servers: list[tuple[str, int]]) -> list[int]:
    """A stable id per server: a hash of address:port, moved to the next free id on a collision."""
    taken: set[int] = set()
    ids: list[int] = []
    for address, port in servers:
        wanted = zlib.crc32(f"{address}:{port}".encode()) % MAX_SERVER_ID
        while wanted + 1 in taken:
            wanted = (wanted + 1) % MAX_SERVER_ID
        taken.add(wanted + 1)
        ids.append(wanted + 1)
    return ids


def _endpoint(app: App, task: Task, index: int, addresses: Mapping[str, str]) -> tuple[str, int] | str:
    """(address, port) of a task's service port `index`, or why it has none."""
    if app.network is NetworkMode.CONTAINER:
        if not task.ip_addresses:
            return f"task {task.id} has no IP address"
        if index >= len(app.container_ports) or not app.container_ports[index]:
            return f"app {app.id} has no container port at index {index}"
        return task.ip_addresses[0], app.container_ports[index]
    address = task.host if is_ip(task.host) else addresses.get(task.host)
    if address is None:
        return f"task {task.id}: host {task.host!r} does not resolve"
    if index >= len(task.ports):
        return f"task {task.id} has no host port at index {index}"
    return address, task.ports[index]


def _servers(app: App, index: int, addresses: Mapping[str, str], problems: list[str]) -> tuple[Server, ...]:
    endpoints: set[tuple[str, int]] = set()
    for task in app.tasks:
        if not is_serving(app, task):
            continue
        endpoint = _endpoint(app, task, index, addresses)
        if isinstance(endpoint, str):
            problems.append(endpoint)
        else:
            endpoints.add(endpoint)
    ordered = sorted(endpoints)
    return tuple(
        Server(name=server_name(a, p), address=a, port=p, id=i)
        for (a, p), i in zip(ordered, _server_ids(ordered), strict=True)
    )


def _candidates(
    apps: Iterable[App], options: Options, addresses: Mapping[str, str], problems: list[str]
) -> list[Service]:
    """Every service port the labels allow, in (app id, service port) order, before port clashes."""
    out: list[Service] = []
    for app in sorted(apps, key=lambda a: a.id):
        ignored = unsupported(app.labels)
        if ignored:
            problems.append(f"app {app.id}: labels not supported, ignored: {', '.join(ignored)}")
        for index, service_port in enumerate(app.service_ports):
            check = app.health_check(index)
            settings = port_settings(app.labels, index, http_check=check is not None and check.is_http)
            if isinstance(settings, LabelErrors):
                problems += [f"app {app.id} service port {index}: {m}" for m in settings.messages]
                continue
            if not settings.enabled or not serves_groups(options.groups, settings.groups):
                continue
            if not service_port:
                problems.append(f"app {app.id} service port {index}: no service port assigned")
                continue
            out.append(
                Service(
                    name=f"{app.name}_{service_port}",
                    app_id=app.id,
                    service_port=service_port,
                    bind_address=settings.bind_address or options.bind_address,
                    bind_port=settings.port or service_port,
                    settings=settings,
                    health_check=check,
                    servers=_servers(app, index, addresses, problems),
                )
            )
    return sorted(out, key=lambda s: (s.app_id, s.service_port))


def plan_services(apps: Iterable[App], options: Options, addresses: Mapping[str, str]) -> Plan:
    """The services to render, and why anything was left out. `addresses` maps task host names to IPs."""
    problems: list[str] = []
    candidates = _candidates(apps, options, addresses, problems)
    reserved = {options.stats_port: "the stats page"}
    if any(s.settings.vhosts for s in candidates):
        reserved[options.http_port] = "the HTTP vhost frontend"
        if options.ssl_certs:
            reserved[options.https_port] = "the HTTPS vhost frontend"
    kept: list[Service] = []
    for service in candidates:
        owner = reserved.get(service.bind_port)
        if owner is not None:
            problems.append(f"{service.name}: port {service.bind_port} is already bound by {owner}")
            continue
        reserved[service.bind_port] = f"app {service.app_id}"
        kept.append(service)
    return Plan(services=tuple(kept), problems=tuple(problems))

"""What the load balancer reads from Marathon's `GET /v2/apps?embed=apps.tasks` (marathon.md e.1, e.2).

Only the fields the bridge uses are kept: an app's id, labels, networking, service ports and health checks,
and its tasks' hosts, ports, states and health results. Decoding is per app: an app whose JSON does not
have Marathon's shape is skipped with a reason naming the field, and the other apps are still served.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from corral.core.errors import DecodeError
from corral.protocol.json import JsonValue, Reader

RUNNING = "TASK_RUNNING"
# Health check protocols (marathon.md b.2) that make a service port speak HTTP.
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTPS", "MESOS_HTTP", "MESOS_HTTPS"})


class NetworkMode(StrEnum):
    HOST = "host"
    BRIDGE = "container/bridge"
    CONTAINER = "container"


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheck:
    protocol: str
    port_index: int = 0
    path: str = "/"
    interval_seconds: int = 60
    timeout_seconds: int = 20
    max_consecutive_failures: int = 3

    @property
    def is_http(self) -> bool:
        return self.protocol in HTTP_PROTOCOLS


@dataclass(frozen=True, slots=True, kw_only=True)
class Task:
    id: str
    host: str
    state: str
    ports: tuple[int, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    alive: tuple[bool, ...] = ()  # `healthCheckResults[].alive`, one per check that has reported


@dataclass(frozen=True, slots=True, kw_only=True)
class App:
    id: str
    labels: Mapping[str, str] = field(default_factory=dict)
    network: NetworkMode = NetworkMode.HOST
    service_ports: tuple[int, ...] = ()
    container_ports: tuple[int, ...] = ()  # `portMappings[].containerPort`, for IP-per-task apps
    health_checks: tuple[HealthCheck, ...] = ()
    tasks: tuple[Task, ...] = ()

    @property
    def name(self) -> str:
        """The app id as HAProxy section names spell it: `/shop/web` -> `shop_web`."""
        return self.id.strip("/").replace("/", "_")

    def health_check(self, port_index: int) -> HealthCheck | None:
        """The first health check of a service port, as marathon-lb picks it."""
        return next((c for c in self.health_checks if c.port_index == port_index), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Decoded:
    apps: tuple[App, ...]
    problems: tuple[str, ...]  # one line per skipped app


def is_serving(app: App, task: Task) -> bool:
    """Healthy only: a running task, and, when the app has health checks, every reported result alive."""
    if task.state != RUNNING:
        return False
    if not app.health_checks:
        return True
    return bool(task.alive) and all(task.alive)


def _network(app: Reader) -> NetworkMode:
    # The last `networks[].mode` wins (marathon-lb's rule); no networks means host networking.
    modes = [n.opt_text("mode") for n in app.objs("networks")]
    try:
        return NetworkMode(modes[-1]) if modes and modes[-1] else NetworkMode.HOST
    except ValueError:
        raise DecodeError("networks", f"unknown mode {modes[-1]!r}") from None


def _port_mappings(app: Reader) -> list[Reader]:
    container = app.opt_child("container")
    if container is None:
        return []
    mappings = container.objs("portMappings")
    docker = container.opt_child("docker")
    return mappings or (docker.objs("portMappings") if docker is not None else [])


def _service_ports(app: Reader, network: NetworkMode) -> tuple[int, ...]:
    if network is not NetworkMode.HOST:
        return tuple(m.integer("servicePort", 0) for m in _port_mappings(app))
    definitions = app.objs("portDefinitions")
    if definitions:
        return tuple(d.integer("port") for d in definitions)
    return tuple(_integers(app, "ports"))


def _integers(reader: Reader, key: str) -> list[int]:
    values = reader.array(key)
    integers = [v for v in values if isinstance(v, int) and not isinstance(v, bool)]
    if len(integers) != len(values):
        raise DecodeError(key, "expected an array of integers")
    return integers


def _health_check(check: Reader) -> HealthCheck:
    return HealthCheck(
        protocol=check.opt_text("protocol") or "HTTP",
        port_index=check.integer("portIndex", 0),
        path=check.opt_text("path") or "/",
        interval_seconds=check.integer("intervalSeconds", 60),
        timeout_seconds=check.integer("timeoutSeconds", 20),
        max_consecutive_failures=check.integer("maxConsecutiveFailures", 3),
    )


def _task(task: Reader) -> Task:
    return Task(
        id=task.text("id"),
        host=task.text("host"),
        state=task.opt_text("state") or "TASK_STAGING",
        ports=tuple(_integers(task, "ports")),
        ip_addresses=tuple(a.text("ipAddress") for a in task.objs("ipAddresses")),
        alive=tuple(r.flag("alive", False) for r in task.objs("healthCheckResults")),
    )


def _labels(app: Reader) -> dict[str, str]:
    labels = app.opt_child("labels")
    if labels is None:
        return {}
    out: dict[str, str] = {}
    for key, value in labels.obj.items():
        if not isinstance(value, str):
            raise DecodeError(f"labels.{key}", "expected a string")
        out[key] = value
    return out


def decode_app(value: JsonValue) -> App:
    """One AppInfo (marathon.md b.4) with embedded tasks; DecodeError names the offending field."""
    app = Reader(value)
    network = _network(app)
    return App(
        id=app.text("id"),
        labels=_labels(app),
        network=network,
        service_ports=_service_ports(app, network),
        container_ports=tuple(m.integer("containerPort", 0) for m in _port_mappings(app)),
        health_checks=app.each("healthChecks", _health_check),
        tasks=app.each("tasks", _task),
    )


def decode_apps(value: JsonValue) -> Decoded:
    """`{"apps": [...]}`; DecodeError only when the document itself is not that shape."""
    apps: list[App] = []
    problems: list[str] = []
    for i, item in enumerate(Reader(value).array("apps")):
        try:
            apps.append(decode_app(item))
        except DecodeError as e:
            name = item.get("id") if isinstance(item, dict) else None
            problems.append(f"app {name if isinstance(name, str) else f'#{i}'} skipped: {e}")
    return Decoded(apps=tuple(apps), problems=tuple(problems))

"""Mesos' shared messages (`mesos.proto`) as frozen dataclasses, with their protobuf-JSON codecs.

Encoding follows stout's rules: snake_case keys, enums as names, bytes as base64, ids as `{"value": ...}`,
defaulted optional fields written out. Messages that are relayed untouched (a TaskInfo sent on to an
executor, a FrameworkInfo echoed to an executor) keep the decoded `raw` object so nothing is lost.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from corral.core.attributes import Attribute
from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId, id_problem
from corral.core.reservations import (
    DEFAULT_ROLE,
    Reservation,
    ReservationType,
    dynamic,
    role_problem,
    static,
    sum_reserved,
)
from corral.core.resources import Range, Resources, normalize_ranges
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, Reader, b64encode, ident

MESOS_VERSION = "1.11.0"
DEFAULT_REFUSE_SECONDS = 5.0
MAX_REFUSE_SECONDS = 365 * 24 * 3600.0


# ---------------------------------------------------------------- resources and attributes


def _decode_resource(r: Reader) -> tuple[str, str, float | list[Range] | set[str]]:
    """One Resource object: its name, kind and value (a scalar, ranges or set items)."""
    name = r.text("name")
    kind = r.opt_text("type") or ("SCALAR" if r.has("scalar") else "RANGES" if r.has("ranges") else "SET")
    if kind == "SCALAR":
        value = r.child("scalar").number("value")
        if not 0 <= value < float("inf"):  # also rejects NaN ("Infinity" is for `limits` only)
            raise DecodeError(f"{r.path}.scalar.value", "must be a finite number >= 0")
        return name, kind, value
    if kind == "RANGES":
        out: list[Range] = []
        for rr in r.child("ranges").objs("range"):
            begin, end = rr.integer("begin"), rr.integer("end")
            if begin > end:
                raise DecodeError(rr.path, "begin is greater than end")
            out.append((begin, end))
        return name, kind, out
    if kind == "SET":
        return name, kind, set(r.child("set").strs("item"))
    raise DecodeError(f"{r.path}.type", f"unknown resource type {kind!r}")


def _bundle(items: list[tuple[str, str, float | list[Range] | set[str]]]) -> Resources:
    scalars: dict[str, float] = {}
    ranges: dict[str, list[Range]] = {}
    sets: dict[str, set[str]] = {}
    for name, kind, value in items:
        if kind == "SCALAR":
            assert isinstance(value, float | int)
            scalars[name] = scalars.get(name, 0.0) + value
        elif kind == "RANGES":
            assert isinstance(value, list)
            ranges.setdefault(name, []).extend(value)
        else:
            assert isinstance(value, set)
            sets.setdefault(name, set()).update(value)
    return Resources.of(ranges={k: normalize_ranges(v) for k, v in ranges.items()}, sets=sets, **scalars)


def decode_resources(reader: Reader, key: str) -> Resources:
    """All the resources under `key`, reserved or not, as one role-less bundle."""
    return _bundle([_decode_resource(r) for r in reader.objs(key)])


def decode_reservation(r: Reader) -> Reservation | None:
    """The reservation of one Resource object, in either format (mesos.md a.9): `reservations[]` (refinement,
    a stack) wins over `role` + `reservation` (pre-refinement); None means unreserved."""
    stack = r.objs("reservations")
    if stack:
        current: Reservation | None = None
        for layer in stack:
            role = layer.text("role")
            if (problem := role_problem(role)) is not None or role == DEFAULT_ROLE:
                raise DecodeError(f"{layer.path}.role", problem or "cannot reserve for role '*'")
            kind = layer.enum("type", ReservationType, required=False) or ReservationType.STATIC
            current = Reservation(role, kind, layer.opt_text("principal"), current)
        return current
    name = r.opt_text("role")
    if name is None or name == DEFAULT_ROLE:
        return None
    if (problem := role_problem(name)) is not None:
        raise DecodeError(f"{r.path}.role", problem)
    info = r.opt_child("reservation")
    if info is None:
        return static(name)
    return dynamic(name, info.opt_text("principal"))


def decode_reserved(reader: Reader, key: str) -> dict[Reservation, Resources]:
    """The reserved part of the resources under `key`, per reservation (empty: all unreserved)."""
    groups: dict[Reservation, list[tuple[str, str, float | list[Range] | set[str]]]] = {}
    for r in reader.objs(key):
        reservation = decode_reservation(r)
        if reservation is not None:
            groups.setdefault(reservation, []).append(_decode_resource(r))
    out = {k: _bundle(v) for k, v in groups.items()}
    return {k: v for k, v in out.items() if not v.is_empty()}


def reserved_in(raw: JsonObject, key: str = "resources") -> dict[Reservation, Resources]:
    """The reserved part of a message kept as raw JSON (a TaskInfo or ExecutorInfo a framework sent)."""
    if not raw.get(key):
        return {}
    return decode_reserved(Reader(raw), key)


def _encode_bundle(resources: Resources, extra: JsonObject) -> list[JsonValue]:
    out: list[JsonValue] = []
    for name, value in resources.scalars.items():
        out.append({"name": name, "type": "SCALAR", "scalar": {"value": value}, **extra})
    for name, rs in resources.ranges.items():
        rng: list[JsonValue] = [{"begin": b, "end": e} for b, e in rs]
        out.append({"name": name, "type": "RANGES", "ranges": {"range": rng}, **extra})
    for name, items in resources.sets.items():
        out.append({"name": name, "type": "SET", "set": {"item": list(sorted(items))}, **extra})
    return out


def encode_reservation(reservation: Reservation) -> JsonObject:
    """Both formats at once: `role` (+ `reservation{principal}` when dynamic) for pre-refinement readers,
    `reservations[]` for RESERVATION_REFINEMENT ones; parsers ignore the keys they do not know."""
    out: JsonObject = {"role": reservation.role}
    if reservation.is_dynamic:
        out["reservation"] = {"principal": reservation.principal} if reservation.principal else {}
    layers: list[JsonValue] = []
    for layer in reservation.stack():
        item: JsonObject = {"type": layer.type.value, "role": layer.role}
        if layer.principal is not None:
            item["principal"] = layer.principal
        layers.append(item)
    out["reservations"] = layers
    return out


def encode_resources(
    resources: Resources, role: str | None = None, reserved: Mapping[Reservation, Resources] | None = None
) -> list[JsonValue]:
    """Resource JSON. `role` set means a MULTI_ROLE framework's view, with `allocation_info`. `reserved` is
    the part of `resources` that is reserved, per reservation; the rest is written as `role: "*"`."""
    allocation: JsonObject = {"allocation_info": {"role": role}} if role is not None else {}
    if not reserved:
        return _encode_bundle(resources, {"role": "*", **allocation})
    unreserved = resources - sum_reserved(reserved)
    out = _encode_bundle(unreserved, {"role": "*", **allocation})
    for reservation in sorted(reserved, key=Reservation.sort_key):
        out += _encode_bundle(reserved[reservation], {**encode_reservation(reservation), **allocation})
    return out


def encode_attributes(attributes: tuple[Attribute, ...]) -> list[JsonValue]:
    out: list[JsonValue] = []
    for a in attributes:
        if a.scalar is not None:
            out.append({"name": a.name, "type": "SCALAR", "scalar": {"value": a.scalar}})
        elif a.ranges is not None:
            rng: list[JsonValue] = [{"begin": b, "end": e} for b, e in a.ranges]
            out.append({"name": a.name, "type": "RANGES", "ranges": {"range": rng}})
        elif a.items is not None:
            out.append({"name": a.name, "type": "SET", "set": {"item": list(sorted(a.items))}})
        else:
            out.append({"name": a.name, "type": "TEXT", "text": {"value": a.text or ""}})
    return out


def decode_attributes(reader: Reader, key: str) -> tuple[Attribute, ...]:
    out: list[Attribute] = []
    for r in reader.objs(key):
        name = r.text("name")
        if r.has("scalar"):
            out.append(Attribute(name, scalar=r.child("scalar").number("value")))
        elif r.has("ranges"):
            rs = [(x.integer("begin"), x.integer("end")) for x in r.child("ranges").objs("range")]
            out.append(Attribute(name, ranges=normalize_ranges(rs)))
        elif r.has("set"):
            out.append(Attribute(name, items=frozenset(r.child("set").strs("item"))))
        else:
            out.append(Attribute(name, text=r.child("text").text("value")))
    return tuple(out)


def duration_seconds(reader: Reader | None) -> float | None:
    """`{"nanoseconds": N}` -> seconds."""
    return None if reader is None else reader.integer("nanoseconds") / 1e9


def encode_duration(seconds: float) -> JsonObject:
    return {"nanoseconds": round(seconds * 1e9)}


def checked_id(reader: Reader, key: str) -> str:
    """A framework-chosen id (`{"value": ...}`), validated because it becomes a directory name."""
    value = reader.value(key)
    problem = id_problem(value)
    if problem:
        raise DecodeError(f"{reader.path}.{key}.value" if reader.path else f"{key}.value", problem)
    return value


# ---------------------------------------------------------------- framework


class Capability(StrEnum):
    REVOCABLE_RESOURCES = "REVOCABLE_RESOURCES"
    TASK_KILLING_STATE = "TASK_KILLING_STATE"
    GPU_RESOURCES = "GPU_RESOURCES"
    SHARED_RESOURCES = "SHARED_RESOURCES"
    PARTITION_AWARE = "PARTITION_AWARE"
    MULTI_ROLE = "MULTI_ROLE"
    RESERVATION_REFINEMENT = "RESERVATION_REFINEMENT"
    REGION_AWARE = "REGION_AWARE"


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkInfo:
    user: str
    name: str
    id: FrameworkId | None = None
    failover_timeout: float = 0.0
    checkpoint: bool = False
    roles: tuple[str, ...] = ("*",)
    hostname: str | None = None
    principal: str | None = None
    webui_url: str | None = None
    capabilities: frozenset[str] = frozenset()
    raw: JsonObject = field(default_factory=dict, compare=False)

    @property
    def is_multi_role(self) -> bool:
        return Capability.MULTI_ROLE in self.capabilities

    @property
    def is_partition_aware(self) -> bool:
        return Capability.PARTITION_AWARE in self.capabilities

    @property
    def has_task_killing_state(self) -> bool:
        return Capability.TASK_KILLING_STATE in self.capabilities

    @staticmethod
    def from_json(r: Reader) -> FrameworkInfo:
        caps = frozenset(c.text("type") for c in r.objs("capabilities") if c.opt_text("type"))
        roles = tuple(r.strs("roles"))
        if roles and Capability.MULTI_ROLE not in caps:
            raise DecodeError(f"{r.path}.roles", "requires the MULTI_ROLE capability")
        if not roles:
            roles = (r.opt_text("role") or "*",)
        failover = r.number("failover_timeout", 0.0)
        if failover < 0:
            raise DecodeError(f"{r.path}.failover_timeout", "must be >= 0")
        return FrameworkInfo(
            user=r.text("user"),
            name=r.text("name"),
            id=FrameworkId(v) if (v := r.opt_value("id")) else None,
            failover_timeout=failover,
            checkpoint=r.flag("checkpoint", False),
            roles=roles,
            hostname=r.opt_text("hostname"),
            principal=r.opt_text("principal"),
            webui_url=r.opt_text("webui_url"),
            capabilities=caps,
            raw=r.obj,
        )

    def with_id(self, framework_id: FrameworkId) -> FrameworkInfo:
        return replace(self, id=framework_id, raw={**self.raw, "id": ident(framework_id)})

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            **self.raw,
            "user": self.user,
            "name": self.name,
            "failover_timeout": self.failover_timeout,
            "checkpoint": self.checkpoint,
        }
        if self.id:
            out["id"] = ident(self.id)
        # The typed fields win over `raw`, so a FrameworkInfo built or changed in code encodes completely.
        if self.is_multi_role:
            out["roles"] = list(self.roles)
        else:
            out.pop("roles", None)
            if self.roles != ("*",) or "role" in self.raw:
                out["role"] = self.roles[0]
        if self.capabilities:
            out["capabilities"] = [{"type": c} for c in sorted(self.capabilities)]
        else:
            out.pop("capabilities", None)
        optional = {"hostname": self.hostname, "principal": self.principal, "webui_url": self.webui_url}
        for key, value in optional.items():
            if value is not None:
                out[key] = value
            else:
                out.pop(key, None)
        return out


# ---------------------------------------------------------------- commands, executors, tasks


@dataclass(frozen=True, slots=True, kw_only=True)
class Uri:
    value: str
    executable: bool = False
    extract: bool = True
    cache: bool = False
    output_file: str | None = None

    @staticmethod
    def from_json(r: Reader) -> Uri:
        return Uri(
            value=r.text("value"),
            executable=r.flag("executable", False),
            extract=r.flag("extract", True),
            cache=r.flag("cache", False),
            output_file=r.opt_text("output_file"),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "value": self.value,
            "executable": self.executable,
            "extract": self.extract,
            "cache": self.cache,
        }
        if self.output_file is not None:
            out["output_file"] = self.output_file
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandInfo:
    value: str | None = None
    shell: bool = True
    arguments: tuple[str, ...] = ()
    environment: tuple[tuple[str, str], ...] = ()
    uris: tuple[Uri, ...] = ()
    user: str | None = None

    @staticmethod
    def from_json(r: Reader) -> CommandInfo:
        env: list[tuple[str, str]] = []
        if (e := r.opt_child("environment")) is not None:
            for v in e.objs("variables"):
                if (v.opt_text("type") or "VALUE") == "VALUE":
                    env.append((v.text("name"), v.opt_text("value") or ""))
        shell = r.flag("shell", True)
        value = r.opt_text("value")
        if shell and value is None:
            raise DecodeError(f"{r.path}.value", "is required for a shell command")
        return CommandInfo(
            value=value,
            shell=shell,
            arguments=tuple(r.strs("arguments")),
            environment=tuple(env),
            uris=r.each("uris", Uri.from_json),
            user=r.opt_text("user"),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {"shell": self.shell}
        if self.value is not None:
            out["value"] = self.value
        if self.arguments:
            out["arguments"] = list(self.arguments)
        if self.environment:
            variables: list[JsonValue] = [
                {"name": name, "type": "VALUE", "value": value} for name, value in self.environment
            ]
            out["environment"] = {"variables": variables}
        if self.uris:
            out["uris"] = [u.to_json() for u in self.uris]
        if self.user is not None:
            out["user"] = self.user
        return out

    def argv(self) -> list[str]:
        """The process to exec: `/bin/sh -c value` for shell commands, else `arguments` run as `value`."""
        if self.shell:
            return ["/bin/sh", "-c", self.value or ""]
        return list(self.arguments) if self.arguments else [self.value or ""]

    def describe(self) -> str:
        if self.shell:
            return f"sh -c '{(self.value or '')[:12]}...'"
        return "[" + ", ".join([self.value or "", *self.arguments]) + "]"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorInfo:
    executor_id: ExecutorId
    framework_id: FrameworkId | None = None
    type: str = "CUSTOM"
    name: str | None = None
    command: CommandInfo | None = None
    resources: Resources = field(default_factory=Resources)
    shutdown_grace_period: float | None = None
    raw: JsonObject = field(default_factory=dict, compare=False)

    @staticmethod
    def from_json(r: Reader, *, check_ids: bool = True) -> ExecutorInfo:
        """`check_ids=False` leaves `executor_id` to the caller (the master answers a bad one of a LAUNCH
        with TASK_ERROR, not a 400)."""
        kind = r.opt_text("type") or "CUSTOM"
        if kind not in ("DEFAULT", "CUSTOM"):
            raise DecodeError(f"{r.path}.type", f"unknown executor type {kind!r}")
        command = CommandInfo.from_json(c) if (c := r.opt_child("command")) is not None else None
        if kind == "CUSTOM" and command is None:
            raise DecodeError(f"{r.path}.command", "is required for a CUSTOM executor")
        if kind == "DEFAULT" and command is not None:
            raise DecodeError(f"{r.path}.command", "must not be set for a DEFAULT executor")
        return ExecutorInfo(
            executor_id=ExecutorId(checked_id(r, "executor_id") if check_ids else r.value("executor_id")),
            framework_id=FrameworkId(v) if (v := r.opt_value("framework_id")) else None,
            type=kind,
            name=r.opt_text("name"),
            command=command,
            resources=decode_resources(r, "resources"),
            shutdown_grace_period=duration_seconds(r.opt_child("shutdown_grace_period")),
            raw=r.obj,
        )

    def to_json(self) -> JsonObject:
        """`raw` plus the typed fields; nested messages come from `raw` when it has them, else from the typed
        fields (an ExecutorInfo built in code has an empty `raw`)."""
        out: JsonObject = {**self.raw, "executor_id": ident(self.executor_id), "type": self.type}
        if self.framework_id:
            out["framework_id"] = ident(self.framework_id)
        if self.name is not None:
            out["name"] = self.name
        if self.command is not None:
            raw_command = self.raw.get("command")
            command = dict(raw_command) if isinstance(raw_command, dict) else self.command.to_json()
            command.setdefault("shell", self.command.shell)
            out["command"] = command
        if self.raw.get("resources") is None and not self.resources.is_empty():
            out["resources"] = encode_resources(self.resources)
        if self.shutdown_grace_period is not None and self.raw.get("shutdown_grace_period") is None:
            out["shutdown_grace_period"] = encode_duration(self.shutdown_grace_period)
        return out


# ---------------------------------------------------------------- health checks (mesos.md a.9 HealthCheck)


class HealthCheckType(StrEnum):
    COMMAND = "COMMAND"
    HTTP = "HTTP"
    TCP = "TCP"


class IpProtocol(StrEnum):
    """`NetworkInfo.Protocol`: which loopback address a check probes."""

    IPV4 = "IPv4"
    IPV6 = "IPv6"


def _check_port(r: Reader) -> int:
    port = r.integer("port")
    if not 0 <= port <= 65535:
        raise DecodeError(f"{r.path}.port", "must be a port number (0-65535)")
    return port


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpCheck:
    """`HealthCheck.HTTPCheckInfo`: GET `<scheme>://<loopback>:<port><path>`."""

    port: int
    scheme: str = "http"
    path: str | None = None
    statuses: tuple[int, ...] = ()  # the codes that count as healthy; none given: 200-399
    protocol: IpProtocol = IpProtocol.IPV4

    @staticmethod
    def from_json(r: Reader) -> HttpCheck:
        scheme = r.opt_text("scheme") or "http"
        if scheme not in ("http", "https"):
            raise DecodeError(f"{r.path}.scheme", "must be 'http' or 'https'")
        path = r.opt_text("path")
        if path is not None and not path.startswith("/"):
            raise DecodeError(f"{r.path}.path", "must start with '/'")
        statuses: list[int] = []
        for i, status in enumerate(r.array("statuses")):
            if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
                raise DecodeError(f"{r.path}.statuses[{i}]", "must be an HTTP status code (100-599)")
            statuses.append(status)
        return HttpCheck(
            port=_check_port(r),
            scheme=scheme,
            path=path,
            statuses=tuple(statuses),
            protocol=r.enum("protocol", IpProtocol, required=False) or IpProtocol.IPV4,
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {"port": self.port, "scheme": self.scheme, "protocol": self.protocol.value}
        if self.path is not None:
            out["path"] = self.path
        if self.statuses:
            out["statuses"] = list(self.statuses)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpCheck:
    """`HealthCheck.TCPCheckInfo`: healthy if a connection to `<loopback>:<port>` opens."""

    port: int
    protocol: IpProtocol = IpProtocol.IPV4

    @staticmethod
    def from_json(r: Reader) -> TcpCheck:
        protocol = r.enum("protocol", IpProtocol, required=False) or IpProtocol.IPV4
        return TcpCheck(port=_check_port(r), protocol=protocol)

    def to_json(self) -> JsonObject:
        return {"port": self.port, "protocol": self.protocol.value}


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheck:
    """A task's health check, run by its executor (for command tasks and DEFAULT executors: the agent).
    Exactly the field its `type` names is set; the timings default as upstream's proto does."""

    type: HealthCheckType
    command: CommandInfo | None = None
    http: HttpCheck | None = None
    tcp: TcpCheck | None = None
    delay_seconds: float = 15.0
    interval_seconds: float = 10.0
    timeout_seconds: float = 20.0  # 0: no timeout
    consecutive_failures: int = 3
    grace_period_seconds: float = 10.0

    @staticmethod
    def from_json(r: Reader) -> HealthCheck:
        kind = r.enum("type", HealthCheckType)
        assert kind is not None  # required: a missing or unknown type raises
        wanted = kind.value.lower()
        if not r.has(wanted):
            raise DecodeError(f"{r.path}.{wanted}", f"is required for a {kind} health check")

        def not_negative(key: str, default: float) -> float:
            value = r.number(key, default)
            if value < 0:
                raise DecodeError(f"{r.path}.{key}", "must not be negative")
            return value

        failures = r.integer("consecutive_failures", 3)
        if failures < 0:
            raise DecodeError(f"{r.path}.consecutive_failures", "must not be negative")
        return HealthCheck(
            type=kind,
            command=CommandInfo.from_json(r.child("command")) if kind is HealthCheckType.COMMAND else None,
            http=HttpCheck.from_json(r.child("http")) if kind is HealthCheckType.HTTP else None,
            tcp=TcpCheck.from_json(r.child("tcp")) if kind is HealthCheckType.TCP else None,
            delay_seconds=not_negative("delay_seconds", 15.0),
            interval_seconds=not_negative("interval_seconds", 10.0),
            timeout_seconds=not_negative("timeout_seconds", 20.0),
            consecutive_failures=failures,
            grace_period_seconds=not_negative("grace_period_seconds", 10.0),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "type": self.type.value,
            "delay_seconds": self.delay_seconds,
            "interval_seconds": self.interval_seconds,
            "timeout_seconds": self.timeout_seconds,
            "consecutive_failures": self.consecutive_failures,
            "grace_period_seconds": self.grace_period_seconds,
        }
        if self.command is not None:
            out["command"] = self.command.to_json()
        if self.http is not None:
            out["http"] = self.http.to_json()
        if self.tcp is not None:
            out["tcp"] = self.tcp.to_json()
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskInfo:
    name: str
    task_id: TaskId
    agent_id: AgentId
    resources: Resources
    command: CommandInfo | None = None
    executor: ExecutorInfo | None = None
    kill_grace_period: float | None = None
    max_completion_time: float | None = None
    data: bytes | None = None
    health_check: HealthCheck | None = None
    raw: JsonObject = field(default_factory=dict, compare=False)

    @staticmethod
    def from_json(r: Reader, *, check_ids: bool = True) -> TaskInfo:
        """`check_ids=False` leaves the task and executor ids to the caller, as ExecutorInfo's does."""
        command = CommandInfo.from_json(c) if (c := r.opt_child("command")) is not None else None
        e = r.opt_child("executor")
        executor = None if e is None else ExecutorInfo.from_json(e, check_ids=check_ids)
        kill_policy = r.opt_child("kill_policy")
        grace = duration_seconds(kill_policy.opt_child("grace_period")) if kill_policy else None
        return TaskInfo(
            name=r.text("name"),
            task_id=TaskId(checked_id(r, "task_id") if check_ids else r.value("task_id")),
            agent_id=AgentId(r.value("agent_id")),
            resources=decode_resources(r, "resources"),
            command=command,
            executor=executor,
            kill_grace_period=grace,
            max_completion_time=duration_seconds(r.opt_child("max_completion_time")),
            data=r.blob("data"),
            health_check=HealthCheck.from_json(h) if (h := r.opt_child("health_check")) is not None else None,
            raw=r.obj,
        )

    def to_json(self) -> JsonObject:
        """The TaskInfo as the framework sent it, with `executor.framework_id` filled in if known.

        Nested messages come from `raw` when it has them, else from the typed fields, so a TaskInfo built
        in code (empty `raw`) encodes completely.
        """
        out: JsonObject = {
            **self.raw,
            "name": self.name,
            "task_id": ident(self.task_id),
            "agent_id": ident(self.agent_id),
        }
        if self.raw.get("resources") is None and not self.resources.is_empty():
            out["resources"] = encode_resources(self.resources)
        if self.command is not None and self.raw.get("command") is None:
            out["command"] = self.command.to_json()
        if self.executor is not None:
            out["executor"] = self.executor.to_json()
        if self.kill_grace_period is not None and self.raw.get("kill_policy") is None:
            out["kill_policy"] = {"grace_period": encode_duration(self.kill_grace_period)}
        if self.max_completion_time is not None and self.raw.get("max_completion_time") is None:
            out["max_completion_time"] = encode_duration(self.max_completion_time)
        if self.data is not None:
            out["data"] = b64encode(self.data)
        if self.health_check is not None and self.raw.get("health_check") is None:
            out["health_check"] = self.health_check.to_json()
        return out

    @property
    def labels(self) -> list[JsonValue]:
        labels = self.raw.get("labels")
        if isinstance(labels, dict) and isinstance(labels.get("labels"), list):
            return labels["labels"]  # type: ignore[return-value]
        return []


# ---------------------------------------------------------------- status updates


class Source(StrEnum):
    SOURCE_MASTER = "SOURCE_MASTER"
    SOURCE_AGENT = "SOURCE_AGENT"
    SOURCE_EXECUTOR = "SOURCE_EXECUTOR"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStatus:
    task_id: TaskId
    state: TaskState
    message: str | None = None
    source: Source | None = None
    reason: str | None = None
    data: bytes | None = None
    agent_id: AgentId | None = None
    executor_id: ExecutorId | None = None
    timestamp: float | None = None
    uuid: bytes | None = None
    healthy: bool | None = None
    extra: JsonObject = field(default_factory=dict, compare=False)

    @staticmethod
    def from_json(r: Reader) -> TaskStatus:
        known = {"task_id", "state", "message", "source", "reason", "data", "agent_id", "executor_id"}
        known |= {"timestamp", "uuid", "healthy"}
        healthy = r.flag("healthy", False) if r.has("healthy") else None
        return TaskStatus(
            task_id=TaskId(r.value("task_id")),
            state=r.enum("state", TaskState),  # type: ignore[arg-type]
            message=r.opt_text("message"),
            source=r.enum("source", Source, required=False),
            reason=r.opt_text("reason"),
            data=r.blob("data"),
            agent_id=AgentId(v) if (v := r.opt_value("agent_id")) else None,
            executor_id=ExecutorId(v) if (v := r.opt_value("executor_id")) else None,
            timestamp=r.opt_number("timestamp"),
            uuid=r.blob("uuid"),
            healthy=healthy,
            extra={k: v for k, v in r.obj.items() if k not in known and v is not None},
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {**self.extra, "task_id": ident(self.task_id), "state": self.state.value}
        if self.message is not None:
            out["message"] = self.message
        if self.source is not None:
            out["source"] = self.source.value
        if self.reason is not None:
            out["reason"] = self.reason
        if self.data is not None:
            out["data"] = b64encode(self.data)
        if self.agent_id is not None:
            out["agent_id"] = ident(self.agent_id)
        if self.executor_id is not None:
            out["executor_id"] = ident(self.executor_id)
        if self.timestamp is not None:
            out["timestamp"] = self.timestamp
        if self.uuid is not None:
            out["uuid"] = b64encode(self.uuid)
        if self.healthy is not None:
            out["healthy"] = self.healthy
        return out


# ---------------------------------------------------------------- agents, masters, offers


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentInfo:
    hostname: str
    port: int = 5051
    id: AgentId | None = None
    resources: Resources = field(default_factory=Resources)
    attributes: tuple[Attribute, ...] = ()
    # The part of `resources` that is reserved (static reservations from `--resources 'cpus(eng):2'`).
    reservations: Mapping[Reservation, Resources] = field(default_factory=dict)

    @staticmethod
    def from_json(r: Reader) -> AgentInfo:
        return AgentInfo(
            hostname=r.text("hostname"),
            port=r.integer("port", 5051),
            id=AgentId(v) if (v := r.opt_value("id")) else None,
            resources=decode_resources(r, "resources"),
            attributes=decode_attributes(r, "attributes"),
            reservations=decode_reserved(r, "resources"),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {
            "hostname": self.hostname,
            "port": self.port,
            "resources": encode_resources(self.resources, reserved=self.reservations),
            "attributes": encode_attributes(self.attributes),
        }
        if self.id:
            out["id"] = ident(self.id)
        return out


def ipv4_as_network_order_int(ip: str) -> int:
    """MasterInfo.ip: IPv4 bytes in network order read as a little-endian int (127.0.0.1 -> 16777343)."""
    try:
        packed = ipaddress.IPv4Address(ip).packed
    except ValueError:  # a hostname or an IPv6 address: consumers use `address` instead
        return 0
    return int.from_bytes(packed, "little")


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterInfo:
    id: str
    ip: str
    port: int
    hostname: str
    version: str = MESOS_VERSION

    @property
    def pid(self) -> str:
        return f"master@{self.ip}:{self.port}"

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "ip": ipv4_as_network_order_int(self.ip),
            "port": self.port,
            "pid": self.pid,
            "hostname": self.hostname,
            "version": self.version,
            "address": {"hostname": self.hostname, "ip": self.ip, "port": self.port},
            "capabilities": [{"type": "AGENT_UPDATE"}],
        }

    @staticmethod
    def from_json(r: Reader) -> MasterInfo:
        address = r.opt_child("address")
        return MasterInfo(
            id=r.text("id"),
            ip=address.text("ip") if address else "0.0.0.0",
            port=r.integer("port", 5050),
            hostname=r.opt_text("hostname") or (address.opt_text("hostname") if address else None) or "",
            version=r.opt_text("version") or MESOS_VERSION,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    id: OfferId
    framework_id: FrameworkId
    agent_id: AgentId
    hostname: str
    resources: Resources
    attributes: tuple[Attribute, ...] = ()
    executor_ids: tuple[ExecutorId, ...] = ()
    agent_ip: str = ""
    agent_port: int = 5051
    role: str = "*"
    # The part of `resources` that is reserved, per reservation (allocatable to `role`).
    reservations: Mapping[Reservation, Resources] = field(default_factory=dict)

    def to_json(self, *, multi_role: bool) -> JsonObject:
        out: JsonObject = {
            "id": ident(self.id),
            "framework_id": ident(self.framework_id),
            "agent_id": ident(self.agent_id),
            "hostname": self.hostname,
            "url": {
                "scheme": "http",
                "address": {"hostname": self.hostname, "ip": self.agent_ip, "port": self.agent_port},
                "path": "/slave(1)",
            },
            "resources": encode_resources(
                self.resources, self.role if multi_role else None, self.reservations
            ),
            "attributes": encode_attributes(self.attributes),
            "executor_ids": [ident(e) for e in self.executor_ids],
        }
        if multi_role:
            out["allocation_info"] = {"role": self.role}
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ReservationOperation:
    """An ACCEPT's RESERVE or UNRESERVE operation (mesos.md a.5): `resources` with the reservations they are
    to get (RESERVE) or to lose (UNRESERVE); `reservations` is their reserved part, per reservation."""

    type: str
    resources: Resources
    reservations: Mapping[Reservation, Resources]
    operation_id: str | None = None

    @property
    def is_reserve(self) -> bool:
        return self.type == "RESERVE"

    def to_json(self) -> JsonObject:
        body: JsonObject = {"resources": encode_resources(self.resources, reserved=self.reservations)}
        out: JsonObject = {"type": self.type, self.type.lower(): body}
        if self.operation_id is not None:
            out["id"] = ident(self.operation_id)
        return out


def decode_reservation_operation(r: Reader) -> ReservationOperation:
    """`{"type":"RESERVE","reserve":{"resources":[...]}}` or UNRESERVE's `unreserve`."""
    kind = r.text("type")
    if kind not in ("RESERVE", "UNRESERVE"):
        raise DecodeError(f"{r.path}.type", f"{kind!r} is not RESERVE or UNRESERVE")
    body = r.child(kind.lower())
    return ReservationOperation(
        type=kind,
        resources=decode_resources(body, "resources"),
        reservations=decode_reserved(body, "resources"),
        operation_id=r.opt_value("id"),
    )


def decode_filters(r: Reader | None) -> float:
    """Filters -> refuse_seconds: absent or negative means 5 s; capped at 365 days."""
    if r is None:
        return DEFAULT_REFUSE_SECONDS
    seconds = r.number("refuse_seconds", DEFAULT_REFUSE_SECONDS)
    if not seconds >= 0:  # negative or NaN
        return DEFAULT_REFUSE_SECONDS
    return min(seconds, MAX_REFUSE_SECONDS)

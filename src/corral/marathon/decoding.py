"""From request JSON to a canonical, valid `AppDefinition`, in upstream's four stages (AppsResource):

1. read: JSON types and RAML bounds; failures are a 422 "Invalid JSON" with play-json codes;
2. check the deprecated API (`validation.validate_legacy`); failures are a 422 "Object is not valid";
3. normalize (`AppNormalization`): resolve ids against the base group, move `ports`, `uris`, `ipAddress`,
   `container.docker.network` and `container.docker.portMappings` to their canonical fields, fill defaults
   that depend on other fields (port definitions, port mappings, residency, upgrade and unreachable strategy);
4. validate the canonical app (`validation.validate_app`); failures are a 422 "Object is not valid".

A health check naming neither `port` nor `portIndex` is validated as upstream does (valid only if the app has
exactly one port) and then stored with `portIndex` 0, which is what it means, so that encoding round-trips.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from corral.marathon.checks import decode_health_check, decode_readiness_check
from corral.marathon.config import ValidationContext
from corral.marathon.container import decode_container
from corral.marathon.errors import INVALID_JSON, OBJECT_NOT_VALID, ValidationError, Violation
from corral.marathon.model import (
    DEFAULT_MAX_LAUNCH_DELAY_SECONDS,
    AppDefinition,
    EnvValue,
    FetchUri,
    SecretRef,
)
from corral.marathon.networking import (
    MAX_PORT,
    Network,
    PortDefinition,
    PortProtocol,
    decode_network,
    decode_port_definition,
    read_protocol,
)
from corral.marathon.normalization import normalize, with_default_port_index
from corral.marathon.paths import RAML_PATTERN, PathId
from corral.marathon.reader import EXPECTED_ARRAY, Fields, as_integer, as_string
from corral.marathon.strategies import (
    DEFAULT_UPGRADE,
    KillSelection,
    UnreachableEnabled,
    UpgradeStrategy,
    decode_residency,
    decode_unreachable_strategy,
    decode_upgrade_strategy,
)
from corral.marathon.validation import validate_app, validate_legacy
from corral.protocol.json import JsonValue

T = TypeVar("T")

EXECUTOR_PATTERN = re.compile(r"^(//cmd)|(/?[^/]+(/[^/]+)*)|$")


@dataclass(frozen=True, slots=True, kw_only=True)
class IpDiscoveryPort:
    number: int = 0
    name: str
    protocol: PortProtocol = PortProtocol.TCP


@dataclass(frozen=True, slots=True, kw_only=True)
class IpAddress:
    """Deprecated IP-per-task request, translated to `networks` (and port mappings)."""

    labels: dict[str, str]
    network_name: str | None
    discovery_ports: tuple[IpDiscoveryPort, ...]
    has_discovery: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Draft:
    """An app as read, before normalization: canonical fields in `app`, deprecated ones beside it."""

    app: AppDefinition
    present: frozenset[str]
    networks: tuple[Network, ...] | None
    port_definitions: tuple[PortDefinition, ...] | None
    constraints: tuple[tuple[str, ...], ...]
    ports: tuple[int, ...] | None
    uris: tuple[str, ...] | None
    ip_address: IpAddress | None
    docker_credential: bool  # `container.docker.credential` given (no longer supported)
    docker_pull_config: bool


# ---------------------------------------------------------------- stage 1: read


def _read_env(fields: Fields) -> dict[str, EnvValue]:
    env_fields = fields.child("env")
    if env_fields is None:
        return {}
    env: dict[str, EnvValue] = {}
    for name, value in env_fields.obj.items():
        if isinstance(value, dict):
            ref = Fields(value, env_fields.at(name), fields.errors).string("secret", required=True)
            if ref is not None:
                env[name] = SecretRef(secret=ref)
        elif (text := as_string(value, env_fields.at(name), fields.errors)) is not None:
            env[name] = text
    return env


def _read_secrets(fields: Fields) -> dict[str, str]:
    secrets_fields = fields.child("secrets")
    if secrets_fields is None:
        return {}
    secrets: dict[str, str] = {}
    for name, value in secrets_fields.obj.items():
        entry = Fields.of(value, secrets_fields.at(name), fields.errors)
        source = None if entry is None else entry.string("source", required=True)
        if source is not None:
            secrets[name] = source
    return secrets


def _read_constraints(fields: Fields) -> tuple[tuple[str, ...], ...]:
    out: list[tuple[str, ...]] = []
    for item, path in fields.array("constraints") or ():
        if not isinstance(item, list):
            fields.fail(path, EXPECTED_ARRAY)
            continue
        parts = [as_string(v, f"{path}({i})", fields.errors) for i, v in enumerate(item)]
        out.append(tuple(p for p in parts if p is not None))
    return tuple(out)


def _read_ports(fields: Fields) -> tuple[int, ...] | None:
    items = fields.array("ports")
    if items is None:
        return None
    ports = [as_integer(v, path, fields.errors, minimum=0, maximum=MAX_PORT) for v, path in items]
    return tuple(p for p in ports if p is not None)


def _decode_fetch(fields: Fields) -> FetchUri | None:
    uri = fields.string("uri", required=True, min_length=1, max_length=1024)
    extract, executable, cache = (
        fields.boolean("extract"),
        fields.boolean("executable"),
        fields.boolean("cache"),
    )
    dest_path = fields.string("destPath", min_length=1, max_length=1024)
    if uri is None:
        return None
    return FetchUri(
        uri=uri,
        extract=True if extract is None else extract,
        executable=executable or False,
        cache=cache or False,
        dest_path=dest_path,
    )


def _decode_discovery_port(fields: Fields) -> IpDiscoveryPort | None:
    number = fields.integer("number", minimum=0, maximum=MAX_PORT)
    name = fields.string("name", required=True)
    protocol = read_protocol(fields)
    if name is None:
        return None
    return IpDiscoveryPort(number=number or 0, name=name, protocol=protocol or PortProtocol.TCP)


def _read_ip_address(fields: Fields) -> IpAddress | None:
    ip = fields.child("ipAddress")
    if ip is None:
        return None
    ip.strings("groups")
    discovery = ip.child("discovery")
    ports = () if discovery is None else tuple(discovery.each("ports", _decode_discovery_port) or ())
    return IpAddress(
        labels=ip.string_map("labels") or {},
        network_name=ip.string("networkName", min_length=1),
        discovery_ports=ports,
        has_discovery=discovery is not None,
    )


def _unique(items: list[T] | None) -> tuple[T, ...]:
    """Upstream keeps constraints, health checks, dependencies and roles in sets: duplicates collapse."""
    return tuple(dict.fromkeys(items or ()))


def read_app(fields: Fields) -> Draft:
    """Stage 1: every field with its type and RAML bounds checked; problems land in `fields.errors`."""
    f = fields
    id_text = f.string("id", required=True, min_length=1, pattern=RAML_PATTERN)
    container_fields = f.child("container")
    docker_raw = None if container_fields is None else container_fields.obj.get("docker")
    docker_raw = docker_raw if isinstance(docker_raw, dict) else {}
    roles = f.strings("acceptedResourceRoles")
    networks = f.each("networks", decode_network)
    port_definitions = f.each("portDefinitions", decode_port_definition)
    f.string("version")
    app = AppDefinition(
        id=PathId.parse(id_text or "/"),
        cmd=f.string("cmd", min_length=1),
        args=tuple(f.strings("args") or ()),
        user=f.string("user"),
        env=_read_env(f),
        instances=_default(f.integer("instances", minimum=0), 1),
        cpus=_default(f.number("cpus", minimum=0.001), 1.0),
        mem=_default(f.number("mem", minimum=0.0), 128.0),
        disk=_default(f.number("disk", minimum=0.0), 0.0),
        gpus=_default(f.integer("gpus", minimum=0), 0),
        executor=f.string("executor", pattern=EXECUTOR_PATTERN) or "",
        fetch=tuple(f.each("fetch", _decode_fetch) or ()),
        store_urls=tuple(f.strings("storeUrls", min_length=1) or ()),
        backoff_seconds=_default(f.integer("backoffSeconds", minimum=0), 1),
        backoff_factor=_default(f.number("backoffFactor", minimum=1.0), 1.15),
        max_launch_delay_seconds=_default(
            f.integer("maxLaunchDelaySeconds", minimum=0), DEFAULT_MAX_LAUNCH_DELAY_SECONDS
        ),
        container=None if container_fields is None else decode_container(container_fields),
        health_checks=_unique(f.each("healthChecks", decode_health_check)),
        readiness_checks=tuple(f.each("readinessChecks", decode_readiness_check) or ()),
        dependencies=tuple(PathId.parse(d) for d in _unique(f.strings("dependencies", pattern=RAML_PATTERN))),
        upgrade_strategy=_upgrade(f) or DEFAULT_UPGRADE,
        labels=f.string_map("labels") or {},
        accepted_resource_roles=None if roles is None else _unique(roles),
        require_ports=f.boolean("requirePorts") or False,
        residency=None if (r := f.child("residency")) is None else decode_residency(r),
        secrets=_read_secrets(f),
        task_kill_grace_period_seconds=f.integer("taskKillGracePeriodSeconds", minimum=0),
        kill_selection=f.enum("killSelection", KillSelection) or KillSelection.YOUNGEST_FIRST,
        unreachable_strategy=f.read("unreachableStrategy", decode_unreachable_strategy)
        or UnreachableEnabled(),
        role=f.string("role"),
    )
    return Draft(
        app=app,
        present=frozenset(k for k, v in f.obj.items() if v is not None),
        networks=None if networks is None else tuple(networks),
        port_definitions=None if port_definitions is None else tuple(port_definitions),
        constraints=_read_constraints(f),
        ports=_read_ports(f),
        uris=None if (uris := f.strings("uris", min_length=1)) is None else tuple(uris),
        ip_address=_read_ip_address(f),
        docker_credential=docker_raw.get("credential") is not None,
        docker_pull_config=docker_raw.get("pullConfig") is not None,
    )


def _default(value: T | None, default: T) -> T:
    return default if value is None else value


def _upgrade(fields: Fields) -> UpgradeStrategy | None:
    child = fields.child("upgradeStrategy")
    return None if child is None else decode_upgrade_strategy(child)


# ---------------------------------------------------------------- the pipeline


def decode_app(obj: JsonValue, base_path: str | PathId, context: ValidationContext) -> AppDefinition:
    errors: list[Violation] = []
    fields = Fields.of(obj, "", errors)
    draft = None if fields is None else read_app(fields)
    if errors or draft is None:
        raise ValidationError(INVALID_JSON, errors)
    violations = validate_legacy(draft, context)
    if violations:
        raise ValidationError(OBJECT_NOT_VALID, violations)
    base = base_path if isinstance(base_path, PathId) else PathId.parse(base_path).canonical()
    app, violations = normalize(draft, base, context)
    violations += validate_app(app, context)
    if violations:
        raise ValidationError(OBJECT_NOT_VALID, violations)
    return with_default_port_index(app)

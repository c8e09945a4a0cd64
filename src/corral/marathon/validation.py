"""Marathon's semantic validation of apps: every rule, with upstream's message and path (marathon.md a.1, b).

Sources (upstream): `api/v2/validation/AppValidation.scala`, `SchedulingValidation.scala`,
`EnvVarValidation.scala`, `NetworkValidation.scala`, `state/PathId.scala`, `state/ResourceRole.scala`,
`state/UnreachableStrategy.scala`. Container rules are in `container_rules.py`.
Each rule returns `Violation`s; `ValidationError` (from `errors.py`) turns them into the 422 body. JSON type
and range errors ("Invalid JSON") are the reader's business, not this module's.

`validate_legacy` checks the deprecated API on an app as read; `validate_app` checks the canonical app.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import TYPE_CHECKING

from corral.marathon.checks import MESOS_PROTOCOLS, HealthCheckProtocol, IpProtocol
from corral.marathon.config import GPU_RESOURCES, SECRETS, ValidationContext, feature_disabled
from corral.marathon.container import EngineType
from corral.marathon.container_rules import container_violations, duplicates
from corral.marathon.errors import INVALID_JSON, OBJECT_NOT_VALID, ValidationError, Violation
from corral.marathon.networking import NetworkMode
from corral.marathon.paths import app_id_problems, segment_problems
from corral.marathon.strategies import UnreachableDisabled, UnreachableEnabled

if TYPE_CHECKING:
    from corral.marathon.decoding import Draft
    from corral.marathon.model import AppDefinition

__all__ = [
    "INVALID_JSON",
    "OBJECT_NOT_VALID",
    "ValidationContext",
    "ValidationError",
    "Violation",
    "validate_app",
    "validate_legacy",
]

CMD_ARGS_OR_CONTAINER = "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."
HEALTH_PORT_INDEX = (
    "Health check port indices must address an element of the ports array or container port mappings."
)
IPV6_HEALTH = "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp health checks"
ONE_MESOS_HEALTH_CHECK = "AppDefinition can contain at most one Mesos health check"
# Upper bounds the RAML leaves open. Mesos keeps a scalar resource as a 64-bit count of thousandths, so no
# larger cpus, mem or disk can be offered; and an app of more instances than any cluster runs is a typo or
# an attack that would queue launches without end.
MAX_SCALAR = (2**63 - 1) / 1000
MAX_INSTANCES = 100_000
_URI = re.compile(r"^(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


# ---------------------------------------------------------------- the deprecated API


def validate_legacy(draft: Draft, context: ValidationContext | None = None) -> list[Violation]:
    """`validateOldAppAPI`: the deprecated fields and how they combine with canonical ones."""
    context = context or ValidationContext()
    out: list[Violation] = []
    app, ip = draft.app, draft.ip_address
    container = app.container
    docker = container.docker if container else None
    if container is not None and docker is not None:
        if draft.docker_credential:
            out.append(Violation(path="/container/docker/credential", error="must be empty"))
        if draft.docker_pull_config:
            # Corral models no pullConfig: with the secrets feature on it is accepted and ignored.
            if container.type is EngineType.DOCKER:
                error = "pullConfig is not supported with Docker containerizer"
                out.append(Violation(path="/container/docker/pullConfig", error=error))
            elif SECRETS not in context.enabled_features:
                out.append(Violation(path="/container/docker/pullConfig", error=feature_disabled(SECRETS)))
        if container.type is EngineType.MESOS:
            if docker.docker_network is not None:
                out.append(Violation(path="/container/docker/network", error="must be empty"))
            if docker.parameters:
                out.append(Violation(path="/container/docker/parameters", error="must be empty"))
            if docker.legacy_port_mappings:
                out.append(Violation(path="/container/docker/portMappings", error="must be empty"))
        if duplicates(m.name for m in docker.legacy_port_mappings if m.name is not None):
            out.append(Violation(path="/container/docker/portMappings", error="Port names must be unique."))
    if ip is not None and ip.has_discovery and container is not None and container.type is EngineType.DOCKER:
        out.append(
            Violation(path="/ipAddress", error="ipAddress/discovery is not allowed for Docker containers")
        )
    for i, uri in enumerate(draft.uris or ()):
        if not _URI.fullmatch(uri):
            out.append(Violation(path=f"/uris({i})", error="URI has invalid syntax."))
    if draft.uris and app.fetch:
        out.append(Violation(path="/uris", error="may not be set in conjunction with fetch"))
    if docker is not None and docker.docker_network is not None and draft.networks:
        out.append(Violation(path="/", error="must not specify both container.docker.network and networks"))
    if ip is not None and draft.networks:
        out.append(Violation(path="/", error="must not specify both networks and ipAddress"))
    if duplicates(p for p in draft.ports or () if p != 0):
        out.append(Violation(path="/", error="ports must be unique"))
    if ip is not None and (draft.ports or draft.port_definitions):
        out.append(Violation(path="/", error="cannot specify both an IP address and port"))
    declared = None if draft.port_definitions is None else tuple(d.port for d in draft.port_definitions)
    if draft.ports is not None and declared is not None and declared != draft.ports:
        out.append(Violation(path="/", error="cannot specify both ports and port definitions"))
    return out


# ---------------------------------------------------------------- the canonical app


def validate_app(app: AppDefinition, context: ValidationContext | None = None) -> list[Violation]:
    """`validateCanonicalAppAPI` and `validBasicAppDefinition`, on a normalized app."""
    context = context or ValidationContext()
    rules = (
        _id_and_dependencies(app),
        _command(app),
        _resources(app, context),
        _ports(app),
        container_violations(app, context),
        _health_checks(app),
        _readiness_checks(app),
        _env_and_secrets(app, context),
        _roles(app),
        _scheduling(app),
        _networks(app, context),
        _artifacts(app),
    )
    return [v for rule in rules for v in rule]


def _id_and_dependencies(app: AppDefinition) -> Iterator[Violation]:
    for error in app_id_problems(app.id):
        yield Violation(path="/id", error=error)
    if app.id.is_root:
        yield Violation(path="/", error="must not be root")
    for i, dependency in enumerate(app.dependencies):
        for error in segment_problems(dependency):
            yield Violation(path=f"/dependencies({i})", error=error)


def _command(app: AppDefinition) -> Iterator[Violation]:
    if app.cmd is not None and len(app.cmd) <= 1:
        # Upstream's check is `cmd.length > 1`: a one-character command is refused too (marathon.md b.1).
        yield Violation(path="/", error="must not be an empty string")
    cmd, args = app.cmd is not None, bool(app.args)
    container = app.container is not None and app.container.docker is not None
    if not ((cmd != args) or (not (cmd and args) and container)):
        yield Violation(path="/", error=CMD_ARGS_OR_CONTAINER)


def _resources(app: AppDefinition, context: ValidationContext) -> Iterator[Violation]:
    if app.instances > MAX_INSTANCES:
        yield Violation(path="/instances", error=f"got {app.instances}, expected {MAX_INSTANCES} or less")
    for name, value in (("cpus", app.cpus), ("mem", app.mem), ("disk", app.disk)):
        if value > MAX_SCALAR:
            yield Violation(path=f"/{name}", error=f"got {value}, expected {MAX_SCALAR} or less")
    if app.gpus > 0:
        if app.container is not None and app.container.type is EngineType.DOCKER:
            yield Violation(path="/", error="GPU resources only work with the Mesos containerizer")
        if GPU_RESOURCES not in context.enabled_features:
            yield Violation(path="/", error=feature_disabled(GPU_RESOURCES))


def _ports(app: AppDefinition) -> Iterator[Violation]:
    definitions = app.port_definitions
    if duplicates(d.name for d in definitions if d.name is not None):
        yield Violation(path="/portDefinitions", error="Port names must be unique.")
    if duplicates(d.port for d in definitions if d.port != 0):
        yield Violation(path="/portDefinitions", error="Ports must be unique.")


def _health_checks(app: AppDefinition) -> Iterator[Violation]:
    ports = app.port_count
    docker = app.container is not None and app.container.type is EngineType.DOCKER
    mesos_ip_checks = {
        HealthCheckProtocol.MESOS_HTTP,
        HealthCheckProtocol.MESOS_HTTPS,
        HealthCheckProtocol.MESOS_TCP,
    }
    for i, check in enumerate(app.health_checks):
        if check.protocol in (HealthCheckProtocol.HTTP, HealthCheckProtocol.HTTPS, HealthCheckProtocol.TCP):
            if check.port_index is not None:
                addressed = 0 <= check.port_index < ports
            else:
                addressed = check.port is not None or ports == 1
            if not addressed:
                yield Violation(path=f"/healthChecks({i})", error=HEALTH_PORT_INDEX)
        if check.ip_protocol is IpProtocol.IPV6 and not (docker and check.protocol in mesos_ip_checks):
            yield Violation(path=f"/healthChecks({i})", error=IPV6_HEALTH)
    # COMMAND checks are exempt: earlier versions accepted several of them.
    mesos = [c for c in app.health_checks if c.protocol in MESOS_PROTOCOLS]
    if sum(1 for c in mesos if c.protocol is not HealthCheckProtocol.COMMAND) > 1:
        yield Violation(path="/", error=ONE_MESOS_HEALTH_CHECK)


def _readiness_checks(app: AppDefinition) -> Iterator[Violation]:
    count = len(app.readiness_checks)
    if count > 1:
        yield Violation(path="/readinessChecks", error=f"got {count}, expected 1 or less")
    names = {name for name in app.port_names if name is not None}
    for i, check in enumerate(app.readiness_checks):
        path = f"/readinessChecks({i})"
        if check.port_name not in names:
            error = f"No port definition reference for portName {check.port_name}"
            yield Violation(path=f"{path}/portName", error=error)
        if not check.timeout_seconds < check.interval_seconds:
            error = f"got {check.timeout_seconds}, expected less than {check.interval_seconds}"
            yield Violation(path=f"{path}/timeoutSeconds", error=error)


def _env_and_secrets(app: AppDefinition, context: ValidationContext) -> Iterator[Violation]:
    enabled = SECRETS in context.enabled_features
    if app.secrets and not enabled:
        yield Violation(path="/secrets", error=feature_disabled(SECRETS))
    for name, source in app.secrets.items():
        if not name:
            yield Violation(path="/secrets", error="must not be empty")
        if not source:
            yield Violation(path=f"/secrets/{name}/source", error="must not be empty")
    refs = [(name, value) for name, value in app.env.items() if not isinstance(value, str)]
    for name in app.env:
        if not name:
            yield Violation(path="/env", error="must not be empty")
        elif len(name) >= 255:
            yield Violation(path=f"/env/{name}", error="variable name must be 254 chars or less")
    if refs and not enabled:
        error = "use of secret-references in the environment requires the secrets feature to be enabled"
        yield Violation(path="/env", error=error)
    for name, ref in refs:
        if ref.secret not in app.secrets:
            yield Violation(path=f"/env/{name}/secret", error="references an undefined secret")


_ROLE_CHARS = {
    "\t": "horizontal tab (\\x09)",
    "\n": "line feed (\\x0a)",
    "\x0b": "vertical tab (\\x0b)",
    "\x0c": "form feed (\\x0c)",
    "\r": "carriage return (\\x0d)",
    " ": "space (\\x20)",
    "/": "slash (\\x2f)",
    "\x7f": "backspace (\\x7f)",
}


def role_problems(role: str) -> list[str]:
    """Mesos' role-name rules as upstream words them (`ResourceRole.validResourceRole`)."""
    problems = [
        f"A role name must not be {name}." for name in ('""', '"."', '".."') if role == name.strip('"')
    ]
    if role.startswith("-"):
        problems.append("A role name must not start with a '-'.")
    problems += [
        f"A role name must not include a {what} character." for c, what in _ROLE_CHARS.items() if c in role
    ]
    return problems


def _roles(app: AppDefinition) -> Iterator[Violation]:
    roles = app.accepted_resource_roles
    if roles is None:
        return
    if not roles:
        yield Violation(path="/acceptedResourceRoles", error="must not be empty")
    for role in roles:
        for problem in role_problems(role):
            yield Violation(path="/acceptedResourceRoles", error=problem)
    if app.is_resident and set(roles) != {"*"}:
        yield Violation(
            path="/acceptedResourceRoles", error='A resident app must have `acceptedResourceRoles = ["*"]`.'
        )


def _unreachable(app: AppDefinition) -> Iterator[Violation]:
    strategy = app.unreachable_strategy
    if app.is_resident and not isinstance(strategy, UnreachableDisabled):
        yield Violation(path="/", error="unreachableStrategy must be disabled for resident tasks")
    if isinstance(strategy, UnreachableEnabled):
        inactive, expunge = strategy.inactive_after_seconds, strategy.expunge_after_seconds
        path = "/unreachableStrategy/inactiveAfterSeconds"
        if inactive < 0:
            yield Violation(
                path=path, error=f"inactiveAfterSeconds ({inactive}) must be greater than or equal to 0"
            )
        elif inactive > expunge:
            error = (
                f"inactiveAfterSeconds ({inactive}) must be less or equal to expungeAfterSeconds, "
                f"which is {expunge}"
            )
            yield Violation(path=path, error=error)


def _scheduling(app: AppDefinition) -> Iterator[Violation]:
    labels = app.labels
    if labels.get("DCOS_MIGRATION_API_VERSION"):
        complies = (
            labels["DCOS_MIGRATION_API_VERSION"] == "v1"
            and bool(labels.get("DCOS_PACKAGE_FRAMEWORK_NAME"))
            and bool(labels.get("DCOS_MIGRATION_API_PATH"))
        )
        if not complies:
            yield Violation(
                path="/",
                error="DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be defined"
                " when using DCOS_MIGRATION_API_VERSION",
            )
    if (app.residency is not None) != app.is_resident:
        yield Violation(path="/", error="App must contain persistent volumes and define residency")
    strategy = app.upgrade_strategy
    if app.is_single_instance:
        if app.instances > 1:
            yield Violation(path="/", error="Single instance app may only have one instance")
        for key, value in (
            ("minimumHealthCapacity", strategy.minimum_health_capacity),
            ("maximumOverCapacity", strategy.maximum_over_capacity),
        ):
            if value != 0.0:
                yield Violation(path=f"/upgradeStrategy/{key}", error="does not equal 0.0")
    if app.is_resident and strategy.maximum_over_capacity != 0.0:
        yield Violation(path="/upgradeStrategy/maximumOverCapacity", error="does not equal 0.0")
    yield from _unreachable(app)


def _networks(app: AppDefinition, context: ValidationContext) -> Iterator[Violation]:
    networks = app.networks
    modes = Counter(n.mode for n in networks)
    if any(n.name or n.labels for n in networks if n.mode is NetworkMode.HOST):
        yield Violation(path="/networks", error="Host networks may not have names or labels")
    if any(n.name for n in networks if n.mode is NetworkMode.CONTAINER_BRIDGE):
        yield Violation(path="/networks", error="Bridge networks may not have names")
    unnamed = sum(1 for n in networks if n.name is None and n.mode is NetworkMode.CONTAINER)
    if unnamed > 1 or duplicates(n.name for n in networks if n.name is not None):
        yield Violation(path="/networks", error="Duplicate networks are not allowed")
    host, bridge, other = (
        modes[NetworkMode.HOST],
        modes[NetworkMode.CONTAINER_BRIDGE],
        modes[NetworkMode.CONTAINER],
    )
    if not (
        (host <= 1 and bridge == 0 and other == 0)
        or (host == 0 and bridge <= 1 and other == 0)
        or (host == 0 and bridge == 0 and other > 0)
    ):
        error = "May specify a single host network, single bridge network, or else 1-to-n container networks"
        yield Violation(path="/networks", error=error)
    if unnamed and context.default_network_name is None:
        error = "Network name must be specified when container network is selected."
        yield Violation(path="/networks", error=error)


def _artifacts(app: AppDefinition) -> Iterator[Violation]:
    for i, fetch in enumerate(app.fetch):
        if not _URI.fullmatch(fetch.uri):
            yield Violation(path=f"/fetch({i})/uri", error="URI has invalid syntax.")
    for i, url in enumerate(app.store_urls):
        if not _SCHEME.match(url):
            yield Violation(path=f"/storeUrls({i})", error=f"no protocol: {url}")

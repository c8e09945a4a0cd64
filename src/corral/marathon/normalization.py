"""Upstream's `AppNormalization`: deprecated fields to canonical ones, defaults that depend on other fields.

Order matters and follows upstream: networks are translated first (from `ipAddress` or
`container.docker.network`), then the container's port mappings are migrated, dropped (host networking),
defaulted and padded to the number of declared ports; then port definitions (host networking only), residency,
unreachable and upgrade strategies.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from corral.marathon.config import ValidationContext
from corral.marathon.constraints import Constraint, parse_constraint
from corral.marathon.container import (
    DEFAULT_PORT_MAPPINGS,
    Container,
    DockerNetwork,
    EngineType,
    PersistentVolume,
    PortMapping,
)
from corral.marathon.errors import OBJECT_NOT_VALID, ValidationError, Violation
from corral.marathon.model import AppDefinition, FetchUri
from corral.marathon.networking import (
    DEFAULT_PORT_DEFINITIONS,
    HOST_NETWORKS,
    Network,
    NetworkMode,
    PortDefinition,
    is_host_networking,
)
from corral.marathon.paths import PathId
from corral.marathon.strategies import (
    DEFAULT_UPGRADE,
    RESIDENT_UPGRADE,
    SINGLE_INSTANCE_UPGRADE,
    Residency,
    UnreachableDisabled,
    UnreachableEnabled,
    UnreachableStrategy,
    UpgradeStrategy,
)

if TYPE_CHECKING:
    from corral.marathon.decoding import Draft, IpAddress

# Fetched files with these endings are extracted (upstream FetchUri.isExtract), for `uris` moved to `fetch`.
_ARCHIVES = (".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip")
MIXED_NETWORK_APIS = "cannot mix deprecated and canonical network APIs"


def _fail(error: str) -> ValidationError:
    return ValidationError(OBJECT_NOT_VALID, [Violation(path="/", error=error)])


def _docker_network(network: DockerNetwork, labels: dict[str, str], name: str | None) -> tuple[Network, ...]:
    match network:
        case DockerNetwork.HOST:
            return HOST_NETWORKS
        case DockerNetwork.USER:
            return (Network(mode=NetworkMode.CONTAINER, name=name, labels=labels),)
        case DockerNetwork.BRIDGE:
            return (Network(mode=NetworkMode.CONTAINER_BRIDGE, labels=labels),)
        case DockerNetwork.NONE:
            raise _fail(f"unsupported docker network type {network.value}")


def translate_networks(draft: Draft, context: ValidationContext) -> tuple[Network, ...]:
    """`NetworkTranslation` then `Networks`: at most one of the three APIs, unnamed container networks get
    the default network name, and nothing at all means host networking."""
    ip = draft.ip_address
    docker = draft.app.container.docker if draft.app.container else None
    docker_network = docker.docker_network if docker else None
    given = draft.networks if draft.networks else None
    if given is not None and (ip is not None or docker_network is not None):
        raise _fail(MIXED_NETWORK_APIS)
    if docker_network is not None:
        networks = _docker_network(docker_network, ip.labels if ip else {}, ip.network_name if ip else None)
    elif ip is not None:
        if ip.network_name is not None and ip.network_name == context.mesos_bridge_name:
            networks = (Network(mode=NetworkMode.CONTAINER_BRIDGE, labels=ip.labels),)
        else:
            networks = (Network(mode=NetworkMode.CONTAINER, name=ip.network_name, labels=ip.labels),)
    else:
        networks = given or HOST_NETWORKS
    return tuple(
        dataclasses.replace(n, name=context.default_network_name)
        if n.mode is NetworkMode.CONTAINER and n.name is None
        else n
        for n in networks
    )


def _migrate_port_mappings(container: Container, ip: IpAddress | None) -> tuple[PortMapping, ...]:
    mappings = container.port_mappings
    legacy = container.docker.legacy_port_mappings if container.docker else ()
    if legacy:
        if mappings:
            raise _fail("cannot specify both portMappings and docker.portMappings")
        mappings = legacy
    if ip is not None and ip.discovery_ports:
        if container.type is not EngineType.MESOS:
            raise _fail(f"ipAddress.discovery.ports do not apply for container type {container.type.value}")
        if mappings:
            raise _fail("container.portMappings and ipAddress.discovery.ports must not both be set")
        mappings = tuple(
            PortMapping(container_port=p.number, name=p.name, protocol=p.protocol) for p in ip.discovery_ports
        )
    return mappings


def normalize_container(draft: Draft, networks: tuple[Network, ...], declared_ports: int) -> Container | None:
    container = draft.app.container
    if container is None and draft.ip_address is not None:
        container = Container(type=EngineType.MESOS)
    host = is_host_networking(networks)
    if container is None:
        return None if host else Container(type=EngineType.MESOS, port_mappings=DEFAULT_PORT_MAPPINGS)
    mappings = _migrate_port_mappings(container, draft.ip_address)
    if host:
        mappings = ()
    else:
        mappings = mappings or DEFAULT_PORT_MAPPINGS
        mappings += (PortMapping(),) * max(0, declared_ports - len(mappings))
        if any(n.mode is NetworkMode.CONTAINER_BRIDGE for n in networks):
            # Backwards compatibility: in BRIDGE mode a missing host port means a random one.
            mappings = tuple(
                dataclasses.replace(m, host_port=0) if m.host_port is None else m for m in mappings
            )
    docker = container.docker
    if docker is not None:
        docker = dataclasses.replace(docker, docker_network=None, legacy_port_mappings=())
    return dataclasses.replace(container, docker=docker, port_mappings=mappings)


def _parse_constraints(draft: Draft) -> tuple[tuple[Constraint, ...], list[Violation]]:
    constraints: list[Constraint] = []
    violations: list[Violation] = []
    for i, parts in enumerate(draft.constraints):
        parsed = parse_constraint(parts)
        if isinstance(parsed, str):
            violations.append(Violation(path=f"/constraints({i})", error=parsed))
        elif parsed not in constraints:
            constraints.append(parsed)
    return tuple(constraints), violations


def _with_port_index_zero(app: AppDefinition) -> AppDefinition:
    checks = tuple(
        dataclasses.replace(h, port_index=0) if h.uses_port and h.port is None and h.port_index is None else h
        for h in app.health_checks
    )
    return dataclasses.replace(app, health_checks=tuple(dict.fromkeys(checks)))


def normalize(
    draft: Draft, base: PathId, context: ValidationContext
) -> tuple[AppDefinition, list[Violation]]:
    """The canonical app, and the constraints that could not be parsed (reported with validation's)."""
    app = draft.app
    networks = translate_networks(draft, context)
    host = is_host_networking(networks)
    declared: tuple[PortDefinition, ...] | None = draft.port_definitions
    if declared is None and draft.ports is not None:
        declared = tuple(PortDefinition(port=p) for p in draft.ports)
    container = normalize_container(draft, networks, len(declared or ()))
    fetch = app.fetch
    if draft.uris and not fetch:
        fetch = tuple(FetchUri(uri=u, extract=u.endswith(_ARCHIVES)) for u in draft.uris)
    resident = container is not None and any(isinstance(v, PersistentVolume) for v in container.volumes)
    residency = app.residency if app.residency is not None or not resident else Residency()
    unreachable: UnreachableStrategy = app.unreachable_strategy
    if "unreachableStrategy" not in draft.present:
        unreachable = UnreachableDisabled() if resident else UnreachableEnabled()
    upgrade: UpgradeStrategy = app.upgrade_strategy
    if "upgradeStrategy" not in draft.present:
        single = app.labels.get("MARATHON_SINGLE_INSTANCE_APP") == "true"
        upgrade = SINGLE_INSTANCE_UPGRADE if single else RESIDENT_UPGRADE if resident else DEFAULT_UPGRADE
    constraints, violations = _parse_constraints(draft)
    app = dataclasses.replace(
        app,
        id=app.id.canonical(base),
        dependencies=tuple(dict.fromkeys(d.canonical(base) for d in app.dependencies)),
        fetch=fetch,
        networks=networks,
        container=container,
        port_definitions=(declared if declared is not None else DEFAULT_PORT_DEFINITIONS) if host else (),
        require_ports=app.require_ports and host,
        residency=residency,
        unreachable_strategy=unreachable,
        upgrade_strategy=upgrade,
        constraints=constraints,
    )
    # Upstream re-adds `portIndex: 0` before validation only when the body declared ports explicitly.
    if draft.port_definitions or (container is not None and container.port_mappings):
        app = _with_port_index_zero(app)
    return app, violations


def with_default_port_index(app: AppDefinition) -> AppDefinition:
    """After validation: a check without port or index uses index 0; store it so encoding round-trips."""
    return _with_port_index_zero(app)

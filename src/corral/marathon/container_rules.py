"""Validation of an app's `container`: engine, port mappings, volumes (marathon.md b.3; upstream
`AppValidation.validContainer` and `validVolume`). Paths and messages are upstream's.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Iterator
from typing import TYPE_CHECKING

from corral.marathon.config import EXTERNAL_VOLUMES, SECRETS, ValidationContext, feature_disabled
from corral.marathon.container import (
    Container,
    EngineType,
    ExternalVolume,
    HostVolume,
    PersistentVolume,
    PersistentVolumeType,
    SecretVolume,
    VolumeMode,
)
from corral.marathon.errors import Violation
from corral.marathon.networking import NetworkMode

if TYPE_CHECKING:
    from corral.marathon.model import AppDefinition


def duplicates(items: Iterable[Hashable]) -> bool:
    values = list(items)
    return len(values) != len(set(values))


def _persistent_constraint_problem(parts: tuple[str, ...]) -> str | None:
    if len(parts) < 2:
        return "Missing field and operator"
    if parts[0] != "path" or len(parts) < 3:
        return f"Unsupported constraint {','.join(parts)}"
    if parts[1] not in ("LIKE", "UNLIKE", "UNIQUE", "CLUSTER", "GROUP_BY", "MAX_PER", "IS"):
        return f"unknown constraint operator {parts[1]}"
    if parts[1] not in ("LIKE", "UNLIKE"):
        return "Operator must be one of LIKE, UNLIKE"
    try:
        re.compile(parts[2])
    except re.error:
        return "Invalid regular expression"
    return None


def _persistent_volume(volume: PersistentVolume, path: str) -> Iterator[Violation]:
    if volume.container_path in ("", ".", ".."):
        error = "must not be empty" if not volume.container_path else "can not be one of (.,..)"
        yield Violation(path=f"{path}/containerPath", error=error)
    if "/" in volume.container_path:
        yield Violation(path=f"{path}/containerPath", error='value must not contain "/"')
    if volume.mode is not VolumeMode.RW:
        yield Violation(path=f"{path}/mode", error="does not equal RW")
    info = volume.persistent
    if info.size <= 0:
        yield Violation(path=f"{path}/persistent/size", error=f"got {info.size}, expected more than 0")
    for j, parts in enumerate(info.constraints):
        if (problem := _persistent_constraint_problem(parts)) is not None:
            yield Violation(path=f"{path}/persistent/constraints({j})", error=problem)
    if info.max_size is not None:
        if info.type is not PersistentVolumeType.MOUNT:
            yield Violation(path=f"{path}/persistent", error="Only mount volumes can have maxSize")
        if info.max_size <= info.size:
            yield Violation(path=f"{path}/persistent", error="Max size must be larger than size")
    if info.type is PersistentVolumeType.ROOT and info.constraints:
        yield Violation(path=f"{path}/persistent", error="Constraints on root volumes are not supported")


def _volumes(app: AppDefinition, container: Container, context: ValidationContext) -> Iterator[Violation]:
    external_names = [v.name for v in container.volumes if isinstance(v, ExternalVolume) and v.name]
    if duplicates(external_names):
        yield Violation(path="/container/volumes", error="Volume names must be unique")
    if (
        any(isinstance(v, SecretVolume) for v in container.volumes)
        and SECRETS not in context.enabled_features
    ):
        yield Violation(path="/container/volumes", error=feature_disabled(SECRETS))
    for i, volume in enumerate(container.volumes):
        path = f"/container/volumes({i})"
        match volume:
            case HostVolume():
                for key, value in (("containerPath", volume.container_path), ("hostPath", volume.host_path)):
                    if not value:
                        yield Violation(path=f"{path}/{key}", error="must not be empty")
            case PersistentVolume():
                yield from _persistent_volume(volume, path)
            case ExternalVolume():
                if EXTERNAL_VOLUMES not in context.enabled_features:
                    yield Violation(path=path, error=feature_disabled(EXTERNAL_VOLUMES))
                if not volume.container_path:
                    yield Violation(path=f"{path}/containerPath", error="must not be empty")
                for key, given in (("name", volume.name), ("provider", volume.provider)):
                    if given is None:
                        yield Violation(path=f"{path}/external/{key}", error="not defined")
            case SecretVolume():
                if volume.secret not in app.secrets:
                    yield Violation(path=path, error="volume.secret must refer to an existing secret")


def container_violations(app: AppDefinition, context: ValidationContext) -> Iterator[Violation]:
    container = app.container
    if container is None:
        return
    if duplicates(m.name for m in container.port_mappings if m.name is not None):
        yield Violation(path="/container/portMappings", error="Port names must be unique.")
    yield from _volumes(app, container, context)
    if container.docker is None:
        if container.type is EngineType.DOCKER:
            yield Violation(path="/container/docker", error="not defined")
    elif not container.docker.image:
        yield Violation(path="/container/docker/image", error="must not be empty")
    container_networks = sum(1 for n in app.networks if n.mode is NetworkMode.CONTAINER)
    if container.type is EngineType.DOCKER and container_networks > 1:
        error = "may only specify a single container network when using the Docker container engine"
        yield Violation(path="/", error=error)

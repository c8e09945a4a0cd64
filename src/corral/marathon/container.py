"""An app's `container`: Docker or Mesos engine, port mappings and volumes (marathon.md b.3).

The deprecated locations `container.docker.network` and `container.docker.portMappings` are read here and
moved to their canonical places by the app decoder (`docker_network`, `legacy_port_mappings` are kept on
`Docker` only for that hand-over; they are never written back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from corral.marathon.networking import MAX_PORT, NAME_PATTERN, PortProtocol, read_protocol
from corral.marathon.reader import EXPECTED_ARRAY, MISSING, Fields, as_string
from corral.protocol.json import JsonObject, JsonValue


class EngineType(StrEnum):
    DOCKER = "DOCKER"
    MESOS = "MESOS"


class DockerNetwork(StrEnum):
    """Deprecated `container.docker.network`, translated to `networks` (marathon.md b.3)."""

    BRIDGE = "BRIDGE"
    HOST = "HOST"
    USER = "USER"
    NONE = "NONE"


class VolumeMode(StrEnum):
    RO = "RO"
    RW = "RW"


class PersistentVolumeType(StrEnum):
    ROOT = "root"
    PATH = "path"
    MOUNT = "mount"


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMapping:
    container_port: int = 0
    host_port: int | None = None  # None: no host port; 0: a random one
    service_port: int = 0
    protocol: PortProtocol = PortProtocol.TCP
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DockerParameter:
    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Docker:
    image: str
    privileged: bool = False
    parameters: tuple[DockerParameter, ...] = ()
    force_pull_image: bool = False
    docker_network: DockerNetwork | None = None  # input only
    legacy_port_mappings: tuple[PortMapping, ...] = ()  # input only


@dataclass(frozen=True, slots=True, kw_only=True)
class HostVolume:
    container_path: str
    host_path: str
    mode: VolumeMode


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistentVolumeInfo:
    type: PersistentVolumeType = PersistentVolumeType.ROOT
    size: int
    max_size: int | None = None
    constraints: tuple[tuple[str, ...], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PersistentVolume:
    container_path: str
    mode: VolumeMode = VolumeMode.RW
    persistent: PersistentVolumeInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalVolume:
    container_path: str
    mode: VolumeMode = VolumeMode.RW
    name: str | None = None
    provider: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretVolume:
    container_path: str
    secret: str


Volume = HostVolume | PersistentVolume | ExternalVolume | SecretVolume


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    type: EngineType = EngineType.DOCKER
    docker: Docker | None = None
    volumes: tuple[Volume, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()


# What a container network gets when it names no ports (upstream's Apps.DefaultPortMappings).
DEFAULT_PORT_MAPPINGS = (PortMapping(),)


def has_image(container: Container) -> bool:
    """Whether the container counts in place of `cmd`/`args` (upstream's `containsCmdArgsOrContainer`)."""
    return container.docker is not None


# ---------------------------------------------------------------- decoding


def decode_port_mapping(fields: Fields) -> PortMapping:
    return PortMapping(
        container_port=fields.integer("containerPort", minimum=0, maximum=MAX_PORT) or 0,
        host_port=fields.integer("hostPort", minimum=0, maximum=MAX_PORT),
        service_port=fields.integer("servicePort", minimum=0, maximum=MAX_PORT) or 0,
        protocol=read_protocol(fields) or PortProtocol.TCP,
        name=fields.string("name", min_length=1, pattern=NAME_PATTERN),
        labels=fields.string_map("labels") or {},
    )


def _decode_parameter(fields: Fields) -> DockerParameter | None:
    key, value = fields.string("key", required=True), fields.string("value", required=True)
    return None if key is None or value is None else DockerParameter(key=key, value=value)


def decode_docker(fields: Fields) -> Docker | None:
    image = fields.string("image", required=True)
    docker = Docker(
        image=image or "",
        privileged=fields.boolean("privileged") or False,
        parameters=tuple(fields.each("parameters", _decode_parameter) or ()),
        force_pull_image=fields.boolean("forcePullImage") or False,
        docker_network=fields.enum("network", DockerNetwork),
        legacy_port_mappings=tuple(fields.each("portMappings", decode_port_mapping) or ()),
    )
    return None if image is None else docker


def _decode_persistent_info(fields: Fields) -> PersistentVolumeInfo | None:
    size = fields.integer("size", required=True, long=True)
    constraints: list[tuple[str, ...]] = []
    for item, path in fields.array("constraints") or ():
        if not isinstance(item, list):
            fields.fail(path, EXPECTED_ARRAY)
            continue
        texts = [as_string(v, f"{path}({i})", fields.errors) for i, v in enumerate(item)]
        constraints.append(tuple(t for t in texts if t is not None))
    info = PersistentVolumeInfo(
        type=fields.enum("type", PersistentVolumeType) or PersistentVolumeType.ROOT,
        size=size or 0,
        max_size=fields.integer("maxSize", long=True),
        constraints=tuple(constraints),
    )
    return None if size is None else info


def decode_volume(fields: Fields) -> Volume | None:
    container_path = fields.string("containerPath", required=True)
    mode = fields.enum("mode", VolumeMode)
    if fields.has("persistent"):
        persistent = fields.child("persistent")
        info = None if persistent is None else _decode_persistent_info(persistent)
        if container_path is None or info is None:
            return None
        return PersistentVolume(container_path=container_path, mode=mode or VolumeMode.RW, persistent=info)
    if fields.has("external"):
        external = fields.child("external")
        if container_path is None or external is None:
            return None
        return ExternalVolume(
            container_path=container_path,
            mode=mode or VolumeMode.RW,
            name=external.string("name"),
            provider=external.string("provider"),
            options=external.string_map("options") or {},
        )
    if fields.has("secret"):
        secret = fields.string("secret")
        if container_path is None or secret is None:
            return None
        return SecretVolume(container_path=container_path, secret=secret)
    host_path = fields.string("hostPath", required=True)
    if not fields.has("mode"):
        fields.fail(fields.at("mode"), MISSING)
    if container_path is None or host_path is None or mode is None:
        return None
    return HostVolume(container_path=container_path, host_path=host_path, mode=mode)


def decode_container(fields: Fields) -> Container:
    docker_fields = fields.child("docker")
    return Container(
        type=fields.enum("type", EngineType) or EngineType.DOCKER,
        docker=None if docker_fields is None else decode_docker(docker_fields),
        volumes=tuple(fields.each("volumes", decode_volume) or ()),
        port_mappings=tuple(fields.each("portMappings", decode_port_mapping) or ()),
    )


# ---------------------------------------------------------------- encoding


def encode_port_mapping(mapping: PortMapping) -> JsonObject:
    out: JsonObject = {"containerPort": mapping.container_port}
    if mapping.host_port is not None:
        out["hostPort"] = mapping.host_port
    out["labels"] = dict(mapping.labels)
    if mapping.name is not None:
        out["name"] = mapping.name
    out["protocol"] = mapping.protocol.value
    out["servicePort"] = mapping.service_port
    return out


def encode_docker(docker: Docker) -> JsonObject:
    parameters: list[JsonValue] = [{"key": p.key, "value": p.value} for p in docker.parameters]
    return {
        "forcePullImage": docker.force_pull_image,
        "image": docker.image,
        "parameters": parameters,
        "privileged": docker.privileged,
    }


def encode_volume(volume: Volume) -> JsonObject:
    match volume:
        case HostVolume():
            return {
                "containerPath": volume.container_path,
                "hostPath": volume.host_path,
                "mode": volume.mode.value,
            }
        case PersistentVolume():
            info = volume.persistent
            persistent: JsonObject = {"type": info.type.value, "size": info.size}
            if info.max_size is not None:
                persistent["maxSize"] = info.max_size
            if info.constraints:
                persistent["constraints"] = [list[JsonValue](c) for c in info.constraints]
            return {
                "containerPath": volume.container_path,
                "mode": volume.mode.value,
                "persistent": persistent,
            }
        case ExternalVolume():
            external: JsonObject = {}
            if volume.name is not None:
                external["name"] = volume.name
            if volume.provider is not None:
                external["provider"] = volume.provider
            external["options"] = dict(volume.options)
            return {"containerPath": volume.container_path, "mode": volume.mode.value, "external": external}
        case SecretVolume():
            return {"containerPath": volume.container_path, "secret": volume.secret}


def encode_container(container: Container, *, with_port_mappings: bool) -> JsonObject:
    """Upstream's shape; port mappings only for container networking (they mean nothing on the host)."""
    out: JsonObject = {"type": container.type.value}
    if container.docker is not None:
        out["docker"] = encode_docker(container.docker)
    out["volumes"] = [encode_volume(v) for v in container.volumes]
    if with_port_mappings:
        out["portMappings"] = [encode_port_mapping(m) for m in container.port_mappings]
    return out

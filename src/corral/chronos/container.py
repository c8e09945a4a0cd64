"""A Chronos job's `container`: Docker or Mesos image, network, volumes, docker parameters.

The JSON shape is Chronos 3.x's (`J/Containers.scala`, `S/utils/JobSerializer.scala`), written back in the
same key order, including its quirk of writing port mappings' ports as strings. Where Chronos silently
ignored a container without `image`, Corral rejects it (chronos-python requires `type` and `image` too).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from corral.chronos.validation import choice, text
from corral.core.errors import DecodeError
from corral.protocol.json import JsonObject, JsonValue, Reader


class ContainerType(StrEnum):
    DOCKER = "DOCKER"
    MESOS = "MESOS"


class NetworkMode(StrEnum):
    BRIDGE = "BRIDGE"
    HOST = "HOST"
    USER = "USER"


class VolumeMode(StrEnum):
    RW = "RW"
    RO = "RO"


class Protocol(StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyValue:
    """A docker parameter, a network label, an external volume option."""

    key: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PortMapping:
    host_port: int
    container_port: int
    protocol: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkInfo:
    name: str
    protocol: Protocol | None = None
    labels: tuple[KeyValue, ...] = ()
    port_mappings: tuple[PortMapping, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalVolume:
    name: str
    provider: str
    options: tuple[KeyValue, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Volume:
    container_path: str
    host_path: str | None = None
    mode: VolumeMode | None = None
    external: ExternalVolume | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Container:
    image: str
    type: ContainerType = ContainerType.DOCKER
    network: NetworkMode = NetworkMode.HOST
    network_name: str | None = None  # deprecated upstream, kept for round trips
    network_infos: tuple[NetworkInfo, ...] = ()
    volumes: tuple[Volume, ...] = ()
    force_pull_image: bool = False
    parameters: tuple[KeyValue, ...] = ()

    @classmethod
    def from_json(cls, r: Reader) -> Container:
        image = text(r, "image")
        if not image:
            raise DecodeError(f"{r.path}.image", "is required: a container needs an image")
        return cls(
            image=image,
            type=choice(r, "type", ContainerType, ContainerType.DOCKER),
            network=choice(r, "network", NetworkMode, NetworkMode.HOST),
            network_name=text(r, "networkName") or None,
            network_infos=r.each("networkInfos", _network_info),
            volumes=r.each("volumes", _volume),
            force_pull_image=r.flag("forcePullImage", False),
            parameters=r.each("parameters", _key_value),
        )

    def to_json(self) -> JsonObject:
        out: JsonObject = {"type": self.type.value, "image": self.image, "network": self.network.value}
        if self.network_name is not None:
            out["networkName"] = self.network_name
        out["networkInfos"] = [_network_info_json(n) for n in self.network_infos]
        out["volumes"] = [_volume_json(v) for v in self.volumes]
        out["forcePullImage"] = self.force_pull_image
        out["parameters"] = _key_values_json(self.parameters)
        return out


def _key_value(r: Reader) -> KeyValue:
    return KeyValue(key=text(r, "key"), value=text(r, "value"))


def _key_values_json(items: tuple[KeyValue, ...]) -> list[JsonValue]:
    return [{"key": kv.key, "value": kv.value} for kv in items]


def _port_mapping(r: Reader) -> PortMapping:
    return PortMapping(
        host_port=r.integer("hostPort", 0),
        container_port=r.integer("containerPort"),
        protocol=text(r, "protocol") or None,
    )


def _network_info(r: Reader) -> NetworkInfo:
    protocol = text(r, "protocol")
    return NetworkInfo(
        name=r.text("name"),
        protocol=choice(r, "protocol", Protocol, Protocol.IPV4) if protocol else None,
        labels=r.each("labels", _key_value),
        port_mappings=r.each("portMappings", _port_mapping),
    )


def _network_info_json(n: NetworkInfo) -> JsonObject:
    out: JsonObject = {"name": n.name}
    if n.protocol is not None:
        out["protocol"] = n.protocol.value
    out["labels"] = _key_values_json(n.labels)
    mappings: list[JsonValue] = []
    for p in n.port_mappings:
        # JobSerializer writes both ports with writeString
        mapping: JsonObject = {"hostPort": str(p.host_port), "containerPort": str(p.container_port)}
        if p.protocol is not None:
            mapping["protocol"] = p.protocol
        mappings.append(mapping)
    out["portMappings"] = mappings
    return out


def _volume(r: Reader) -> Volume:
    external = r.opt_child("external")
    return Volume(
        container_path=r.text("containerPath"),
        host_path=text(r, "hostPath") or None,
        mode=choice(r, "mode", VolumeMode, VolumeMode.RW) if text(r, "mode") else None,
        external=None
        if external is None
        else ExternalVolume(
            name=external.text("name"),
            provider=external.text("provider"),
            options=external.each("options", _key_value),
        ),
    )


def _volume_json(v: Volume) -> JsonObject:
    out: JsonObject = {}
    if v.host_path is not None:
        out["hostPath"] = v.host_path
    out["containerPath"] = v.container_path
    if v.mode is not None:
        out["mode"] = v.mode.value
    if v.external is not None:
        out["external"] = {
            "name": v.external.name,
            "provider": v.external.provider,
            "options": _key_values_json(v.external.options),
        }
    return out

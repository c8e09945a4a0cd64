"""An app's networks and host ports: `networks` and `portDefinitions` (marathon.md b.1, c.8).

`portDefinitions` apply only to host networking; a `port` of 0 asks Marathon for a service port from
[10000, 20000] (assigned by the caller, not here). The deprecated `ports: [0, 0]` is read as port definitions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from corral.marathon.reader import UNKNOWN_ENUM, Fields
from corral.protocol.json import JsonObject

# RAML `Name` and `LegacyName` (network and port names).
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
MAX_PORT = 65535


class NetworkMode(StrEnum):
    HOST = "host"
    CONTAINER_BRIDGE = "container/bridge"
    CONTAINER = "container"


class PortProtocol(StrEnum):
    TCP = "tcp"
    UDP = "udp"
    UDP_TCP = "udp,tcp"


@dataclass(frozen=True, slots=True, kw_only=True)
class Network:
    mode: NetworkMode = NetworkMode.CONTAINER
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortDefinition:
    port: int = 0
    protocol: PortProtocol = PortProtocol.TCP
    name: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


HOST_NETWORKS = (Network(mode=NetworkMode.HOST),)
# What an app on host networking gets when it asks for no ports at all (AppNormalization).
DEFAULT_PORT_DEFINITIONS = (PortDefinition(port=0, name="default"),)


def read_protocol(fields: Fields, key: str = "protocol") -> PortProtocol | None:
    """`tcp`, `udp` or `udp,tcp`; older clients send the pair the other way round."""
    text = fields.string(key)
    if text is None:
        return None
    if text == "tcp,udp":
        return PortProtocol.UDP_TCP
    try:
        return PortProtocol(text)
    except ValueError:
        fields.fail(fields.at(key), UNKNOWN_ENUM)
        return None


def decode_network(fields: Fields) -> Network:
    return Network(
        mode=fields.enum("mode", NetworkMode) or NetworkMode.CONTAINER,
        name=fields.string("name", min_length=1, max_length=63, pattern=NAME_PATTERN),
        labels=fields.string_map("labels") or {},
    )


def encode_network(network: Network) -> JsonObject:
    out: JsonObject = {"mode": network.mode.value}
    if network.name is not None:
        out["name"] = network.name
    if network.labels:
        out["labels"] = dict(network.labels)
    return out


def decode_port_definition(fields: Fields) -> PortDefinition:
    return PortDefinition(
        port=fields.integer("port", minimum=0, maximum=MAX_PORT) or 0,
        protocol=read_protocol(fields) or PortProtocol.TCP,
        name=fields.string("name", min_length=1, pattern=NAME_PATTERN),
        labels=fields.string_map("labels") or {},
    )


def encode_port_definition(definition: PortDefinition) -> JsonObject:
    out: JsonObject = {"port": definition.port, "protocol": definition.protocol.value}
    if definition.name is not None:
        out["name"] = definition.name
    if definition.labels:
        out["labels"] = dict(definition.labels)
    return out


def is_host_networking(networks: tuple[Network, ...]) -> bool:
    return all(n.mode is NetworkMode.HOST for n in networks)

"""Health checks and readiness checks of an app (marathon.md b.2).

Decoding keeps only the fields that mean something for the check's protocol (a TCP check has no `path`, a
COMMAND check no port), so what is stored is exactly what `encode_*` writes back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from corral.marathon.networking import MAX_PORT
from corral.marathon.reader import MISSING, Fields, as_integer
from corral.protocol.json import JsonObject, JsonValue


class HealthCheckProtocol(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"
    TCP = "TCP"
    COMMAND = "COMMAND"
    MESOS_HTTP = "MESOS_HTTP"
    MESOS_HTTPS = "MESOS_HTTPS"
    MESOS_TCP = "MESOS_TCP"


class IpProtocol(StrEnum):
    IPV4 = "IPv4"
    IPV6 = "IPv6"


class HttpScheme(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


# Run by the Marathon leader itself; the rest run on the agent and arrive as `healthy` in status updates.
MARATHON_PROTOCOLS = frozenset({HealthCheckProtocol.HTTP, HealthCheckProtocol.HTTPS, HealthCheckProtocol.TCP})
MESOS_PROTOCOLS = frozenset(HealthCheckProtocol) - MARATHON_PROTOCOLS
_WITH_PATH = frozenset(
    {
        HealthCheckProtocol.HTTP,
        HealthCheckProtocol.HTTPS,
        HealthCheckProtocol.MESOS_HTTP,
        HealthCheckProtocol.MESOS_HTTPS,
    }
)
_PORT_NAME = re.compile(r"^[a-z][-a-z0-9]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthCheck:
    protocol: HealthCheckProtocol = HealthCheckProtocol.HTTP
    path: str | None = None
    port_index: int | None = None  # neither index nor port: index 0, valid only for an app with one port
    port: int | None = None
    command: str | None = None
    grace_period_seconds: int = 300
    interval_seconds: int = 60
    timeout_seconds: int = 20
    max_consecutive_failures: int = 3  # 0: never kill
    delay_seconds: int = 15
    ignore_http1xx: bool = False
    ip_protocol: IpProtocol = IpProtocol.IPV4

    @property
    def uses_port(self) -> bool:
        return self.protocol is not HealthCheckProtocol.COMMAND


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessCheck:
    name: str = "readinessCheck"
    protocol: HttpScheme = HttpScheme.HTTP
    path: str = "/"
    port_name: str = "http-api"
    interval_seconds: int = 30
    timeout_seconds: int = 10
    http_status_codes_for_ready: tuple[int, ...] = (200,)
    preserve_last_response: bool = False


def decode_health_check(fields: Fields) -> HealthCheck | None:
    command_fields = fields.child("command")
    command = None if command_fields is None else command_fields.string("value", required=True)
    protocol = fields.enum("protocol", HealthCheckProtocol)
    if protocol is None and command is not None and not fields.has("protocol"):
        protocol = HealthCheckProtocol.COMMAND
    protocol = protocol or HealthCheckProtocol.HTTP
    if protocol is HealthCheckProtocol.COMMAND and command_fields is None:
        fields.fail(fields.at("command"), MISSING)
    is_command = protocol is HealthCheckProtocol.COMMAND
    path = fields.string("path")
    port_index = fields.integer("portIndex", minimum=0, maximum=MAX_PORT)
    port = fields.integer("port", minimum=0, maximum=MAX_PORT)
    ignore = fields.boolean("ignoreHttp1xx") or False
    return HealthCheck(
        protocol=protocol,
        path=path if protocol in _WITH_PATH else None,
        port_index=None if is_command else port_index,
        port=None if is_command else port,
        command=command if is_command else None,
        grace_period_seconds=_seconds(fields, "gracePeriodSeconds", 300),
        interval_seconds=_seconds(fields, "intervalSeconds", 60),
        timeout_seconds=_seconds(fields, "timeoutSeconds", 20),
        max_consecutive_failures=_seconds(fields, "maxConsecutiveFailures", 3),
        delay_seconds=_seconds(fields, "delaySeconds", 15),
        ignore_http1xx=ignore if protocol in (HealthCheckProtocol.HTTP, HealthCheckProtocol.HTTPS) else False,
        ip_protocol=IpProtocol.IPV4
        if is_command
        else fields.enum("ipProtocol", IpProtocol) or IpProtocol.IPV4,
    )


def _seconds(fields: Fields, key: str, default: int) -> int:
    value = fields.integer(key, minimum=0)
    return default if value is None else value


def encode_health_check(check: HealthCheck) -> JsonObject:
    """Upstream's key order: `{gracePeriodSeconds, ignoreHttp1xx, intervalSeconds, ..., delaySeconds}`."""
    out: JsonObject = {"gracePeriodSeconds": check.grace_period_seconds}
    if check.protocol in (HealthCheckProtocol.HTTP, HealthCheckProtocol.HTTPS):
        out["ignoreHttp1xx"] = check.ignore_http1xx
    out["intervalSeconds"] = check.interval_seconds
    out["maxConsecutiveFailures"] = check.max_consecutive_failures
    if check.path is not None:
        out["path"] = check.path
    if check.port_index is not None:
        out["portIndex"] = check.port_index
    if check.port is not None:
        out["port"] = check.port
    if check.command is not None:
        out["command"] = {"value": check.command}
    out["protocol"] = check.protocol.value
    if check.uses_port:
        out["ipProtocol"] = check.ip_protocol.value
    out["timeoutSeconds"] = check.timeout_seconds
    out["delaySeconds"] = check.delay_seconds
    return out


def decode_readiness_check(fields: Fields) -> ReadinessCheck:
    codes: list[int] = []
    for value, path in fields.array("httpStatusCodesForReady") or ():
        code = as_integer(value, path, fields.errors, minimum=100, maximum=999)
        if code is not None and code not in codes:
            codes.append(code)
    interval = fields.integer("intervalSeconds", minimum=0)
    timeout = fields.integer("timeoutSeconds")
    return ReadinessCheck(
        name=fields.string("name") or "readinessCheck",
        protocol=fields.enum("protocol", HttpScheme) or HttpScheme.HTTP,
        path=fields.string("path", min_length=1, max_length=1024) or "/",
        port_name=fields.string("portName", pattern=_PORT_NAME) or "http-api",
        interval_seconds=30 if interval is None else interval,
        timeout_seconds=10 if timeout is None else timeout,
        http_status_codes_for_ready=tuple(codes) or (200,),
        preserve_last_response=fields.boolean("preserveLastResponse") or False,
    )


def encode_readiness_check(check: ReadinessCheck) -> JsonObject:
    codes: list[JsonValue] = list(check.http_status_codes_for_ready)
    return {
        "name": check.name,
        "protocol": check.protocol.value,
        "path": check.path,
        "portName": check.port_name,
        "intervalSeconds": check.interval_seconds,
        "timeoutSeconds": check.timeout_seconds,
        "httpStatusCodesForReady": codes,
        "preserveLastResponse": check.preserve_last_response,
    }

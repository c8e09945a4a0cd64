"""Marathon's `/v2/apps?embed=apps.tasks` JSON, as the load balancer reads it (marathon.md b.4, b.5)."""

from __future__ import annotations

from collections.abc import Sequence

from corral.lb.model import App, decode_apps
from corral.protocol.json import JsonObject, JsonValue


def task(
    task_id: str,
    *,
    host: str = "127.0.0.1",
    ports: Sequence[int] = (31000,),
    state: str = "TASK_RUNNING",
    alive: Sequence[bool] = (),
    ip: str | None = None,
) -> JsonObject:
    out: JsonObject = {"id": task_id, "host": host, "state": state, "ports": list[JsonValue](ports)}
    if alive:
        out["healthCheckResults"] = [{"alive": a, "consecutiveFailures": 0} for a in alive]
    if ip is not None:
        out["ipAddresses"] = [{"ipAddress": ip, "protocol": "IPv4"}]
    return out


def http_check(path: str = "/health", *, port_index: int = 0) -> JsonObject:
    return {
        "protocol": "HTTP",
        "path": path,
        "portIndex": port_index,
        "intervalSeconds": 10,
        "timeoutSeconds": 5,
        "maxConsecutiveFailures": 3,
        "gracePeriodSeconds": 300,
    }


def app(
    app_id: str,
    *,
    ports: Sequence[int] = (10000,),
    labels: dict[str, str] | None = None,
    tasks: Sequence[JsonObject] = (),
    checks: Sequence[JsonObject] = (),
) -> JsonObject:
    """A host-networking app in the `external` group unless `labels` say otherwise."""
    out: JsonObject = {
        "id": app_id,
        "labels": dict[str, JsonValue](labels if labels is not None else {"HAPROXY_GROUP": "external"}),
        "networks": [{"mode": "host"}],
        "portDefinitions": [{"port": p, "protocol": "tcp"} for p in ports],
        "tasks": list[JsonValue](tasks),
    }
    if checks:
        out["healthChecks"] = list[JsonValue](checks)
    return out


def decode(*apps: JsonObject) -> tuple[App, ...]:
    decoded = decode_apps({"apps": list[JsonValue](apps)})
    assert decoded.problems == ()
    return decoded.apps

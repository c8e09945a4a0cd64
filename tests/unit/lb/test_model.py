"""Decoding `/v2/apps?embed=apps.tasks` (marathon.md e.1, e.2) and the healthy-only rule."""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.lb.model import App, HealthCheck, NetworkMode, Task, decode_apps, is_serving
from corral.protocol.json import JsonObject, JsonValue

from .apps import app, decode, http_check, task


def test_a_host_networking_app_with_its_tasks_and_checks() -> None:
    [web] = decode(
        app(
            "/shop/web",
            ports=(10000, 10001),
            tasks=[task("shop_web.1", host="agent-1", ports=(31000, 31001), alive=(True,))],
            checks=[http_check("/health")],
        )
    )
    assert web.id == "/shop/web" and web.name == "shop_web"
    assert web.network is NetworkMode.HOST and web.service_ports == (10000, 10001)
    assert web.labels == {"HAPROXY_GROUP": "external"}
    assert web.tasks == (
        Task(id="shop_web.1", host="agent-1", state="TASK_RUNNING", ports=(31000, 31001), alive=(True,)),
    )
    assert web.health_check(0) == HealthCheck(
        protocol="HTTP", port_index=0, path="/health", interval_seconds=10, timeout_seconds=5
    )
    assert web.health_check(1) is None


def test_bridge_apps_take_service_ports_from_port_mappings_and_docker_ones_too() -> None:
    mappings: JsonValue = [{"containerPort": 80, "hostPort": 0, "servicePort": 10101}]
    bridge: JsonObject = {
        "id": "/b",
        "networks": [{"mode": "container/bridge"}],
        "container": {"portMappings": mappings},
    }
    legacy: JsonObject = {
        "id": "/d",
        "networks": [{"mode": "container/bridge"}],
        "container": {"docker": {"portMappings": mappings}},
    }
    ip_per_task: JsonObject = {
        "id": "/c",
        "networks": [{"mode": "container", "name": "overlay"}],
        "container": {"portMappings": mappings},
    }
    decoded = decode_apps({"apps": [bridge, legacy, ip_per_task]})
    assert [(a.network, a.service_ports, a.container_ports) for a in decoded.apps] == [
        (NetworkMode.BRIDGE, (10101,), (80,)),
        (NetworkMode.BRIDGE, (10101,), (80,)),
        (NetworkMode.CONTAINER, (10101,), (80,)),
    ]


def test_the_deprecated_ports_field_is_read_without_port_definitions() -> None:
    decoded = decode_apps({"apps": [{"id": "/old", "ports": [10005, 10006], "tasks": []}]})
    assert decoded.apps[0].service_ports == (10005, 10006)


def test_a_malformed_app_is_skipped_with_the_field_named_and_the_others_are_kept() -> None:
    broken = app("/broken", tasks=[{"id": "broken.1", "state": "TASK_RUNNING"}])  # no host
    decoded = decode_apps({"apps": [broken, app("/fine"), {"id": "/labels", "labels": {"a": 1}}]})
    assert [a.id for a in decoded.apps] == ["/fine"]
    assert decoded.problems == (
        "app /broken skipped: tasks[0].host: is required",
        "app /labels skipped: labels.a: expected a string",
    )


def test_a_document_without_apps_is_an_error() -> None:
    with pytest.raises(DecodeError):
        decode_apps(["not", "an", "object"])


@pytest.mark.parametrize(
    ("checks", "state", "alive", "serving"),
    [
        ((), "TASK_RUNNING", (), True),  # no health checks: running is enough
        ((), "TASK_STAGING", (), False),
        ((), "TASK_KILLING", (), False),
        ((HealthCheck(protocol="HTTP"),), "TASK_RUNNING", (), False),  # no result yet
        ((HealthCheck(protocol="HTTP"),), "TASK_RUNNING", (True,), True),
        ((HealthCheck(protocol="HTTP"),), "TASK_RUNNING", (False,), False),
        ((HealthCheck(protocol="HTTP"), HealthCheck(protocol="TCP")), "TASK_RUNNING", (True, False), False),
        ((HealthCheck(protocol="COMMAND"),), "TASK_STAGING", (True,), False),
    ],
)
def test_only_healthy_tasks_serve(
    checks: tuple[HealthCheck, ...], state: str, alive: tuple[bool, ...], serving: bool
) -> None:
    subject = App(id="/a", health_checks=checks)
    assert is_serving(subject, Task(id="t", host="h", state=state, alive=alive)) is serving

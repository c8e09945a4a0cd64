"""Stage 1 of decoding an app: JSON types and RAML bounds, answered as upstream's play-json readers do
(marathon.md a.1 "Error mapping": a 422 `{"message":"Invalid JSON","details":[{"path":"/cpus",
"errors":["error.min"]}]}` with codes such as `error.expected.jsnumber`, `error.path.missing`, `error.min`).
"""

from __future__ import annotations

import pytest

from corral.marathon.errors import INVALID_JSON, ValidationError
from corral.marathon.model import AppDefinition
from corral.protocol.json import JsonObject, JsonValue

APP: JsonObject = {"id": "/a", "cmd": "sleep 100"}


def app(**fields: JsonValue) -> JsonObject:
    return {**APP, **fields}


def rejection(obj: JsonValue) -> ValidationError:
    with pytest.raises(ValidationError) as e:
        AppDefinition.from_json(obj)
    return e.value


def details(error: ValidationError) -> list[tuple[str, str]]:
    return [(v.path, v.error) for v in error.violations]


@pytest.mark.parametrize(
    ("obj", "path", "code"),
    [
        ({"cmd": "sleep 1"}, "/id", "error.path.missing"),
        (app(id="Hello"), "/id", "error.pattern"),
        (app(id=""), "/id", "error.minLength"),
        (app(id=5), "/id", "error.expected.jsstring"),
        (app(instances="3"), "/instances", "error.expected.jsnumber"),
        (app(instances=1.5), "/instances", "error.expected.int"),
        (app(instances=2**31), "/instances", "error.expected.int"),
        (app(instances=-1), "/instances", "error.min"),
        (app(instances=True), "/instances", "error.expected.jsnumber"),
        (app(cpus=0), "/cpus", "error.min"),
        (app(cpus="1"), "/cpus", "error.expected.jsnumber"),
        (app(mem=-1), "/mem", "error.min"),
        (app(disk=-0.5), "/disk", "error.min"),
        (app(gpus=-1), "/gpus", "error.min"),
        (app(cmd=""), "/cmd", "error.minLength"),
        (app(cmd=["sleep"]), "/cmd", "error.expected.jsstring"),
        (app(args="sleep"), "/args", "error.expected.jsarray"),
        (app(args=["sleep", 1]), "/args(1)", "error.expected.jsstring"),
        (app(user=0), "/user", "error.expected.jsstring"),
        (app(executor="a//b"), "/executor", "error.pattern"),
        (app(backoffSeconds=-1), "/backoffSeconds", "error.min"),
        (app(backoffFactor=0.5), "/backoffFactor", "error.min"),
        (app(maxLaunchDelaySeconds=-1), "/maxLaunchDelaySeconds", "error.min"),
        (app(taskKillGracePeriodSeconds=-1), "/taskKillGracePeriodSeconds", "error.min"),
        (app(requirePorts="yes"), "/requirePorts", "error.expected.jsboolean"),
        (app(labels=[]), "/labels", "error.expected.jsobject"),
        (app(labels={"a": 1}), "/labels/a", "error.expected.jsstring"),
        (app(env={"A": 1}), "/env/A", "error.expected.jsstring"),
        (app(env={"A": {"secret": 1}}), "/env/A/secret", "error.expected.jsstring"),
        (app(constraints=["hostname"]), "/constraints(0)", "error.expected.jsarray"),
        (app(constraints=[["hostname", 1]]), "/constraints(0)(1)", "error.expected.jsstring"),
        (app(ports=[-1]), "/ports(0)", "error.min"),
        (app(ports=[65536]), "/ports(0)", "error.max"),
        (app(portDefinitions=[{"port": 70000}]), "/portDefinitions(0)/port", "error.max"),
        (
            app(portDefinitions=[{"protocol": "sctp"}]),
            "/portDefinitions(0)/protocol",
            "error.unknown.enum.literal",
        ),
        (app(portDefinitions=[{"name": "HTTP"}]), "/portDefinitions(0)/name", "error.pattern"),
        (app(portDefinitions=[1]), "/portDefinitions(0)", "error.expected.jsobject"),
        (app(networks=[{"mode": "overlay"}]), "/networks(0)/mode", "error.unknown.enum.literal"),
        (app(networks=[{"name": "A_B"}]), "/networks(0)/name", "error.pattern"),
        (app(healthChecks=[{"protocol": "FTP"}]), "/healthChecks(0)/protocol", "error.unknown.enum.literal"),
        (app(healthChecks=[{"protocol": "COMMAND"}]), "/healthChecks(0)/command", "error.path.missing"),
        (app(healthChecks=[{"intervalSeconds": -1}]), "/healthChecks(0)/intervalSeconds", "error.min"),
        (app(healthChecks=[{"portIndex": "0"}]), "/healthChecks(0)/portIndex", "error.expected.jsnumber"),
        (
            app(readinessChecks=[{"httpStatusCodesForReady": [42]}]),
            "/readinessChecks(0)/httpStatusCodesForReady(0)",
            "error.min",
        ),
        (app(readinessChecks=[{"portName": "Http"}]), "/readinessChecks(0)/portName", "error.pattern"),
        (
            app(readinessChecks=[{"protocol": "TCP"}]),
            "/readinessChecks(0)/protocol",
            "error.unknown.enum.literal",
        ),
        (app(killSelection="RANDOM"), "/killSelection", "error.unknown.enum.literal"),
        (app(unreachableStrategy="never"), "/unreachableStrategy", "error.unknown.enum.literal"),
        (app(unreachableStrategy=5), "/unreachableStrategy", "error.expected.jsobject"),
        (
            app(unreachableStrategy={"inactiveAfterSeconds": "1"}),
            "/unreachableStrategy/inactiveAfterSeconds",
            "error.expected.jsnumber",
        ),
        (
            app(upgradeStrategy={"minimumHealthCapacity": 1.5, "maximumOverCapacity": 0}),
            "/upgradeStrategy/minimumHealthCapacity",
            "error.max",
        ),
        (
            app(upgradeStrategy={"minimumHealthCapacity": 1, "maximumOverCapacity": -0.1}),
            "/upgradeStrategy/maximumOverCapacity",
            "error.min",
        ),
        (
            app(upgradeStrategy={"minimumHealthCapacity": 1}),
            "/upgradeStrategy/maximumOverCapacity",
            "error.path.missing",
        ),
        (app(container={"docker": {}}), "/container/docker/image", "error.path.missing"),
        (app(container={"type": "RKT"}), "/container/type", "error.unknown.enum.literal"),
        (
            app(container={"docker": {"image": "x", "network": "OVERLAY"}}),
            "/container/docker/network",
            "error.unknown.enum.literal",
        ),
        (
            app(container={"type": "MESOS", "volumes": [{"containerPath": "/d", "mode": "RO"}]}),
            "/container/volumes(0)/hostPath",
            "error.path.missing",
        ),
        (
            app(container={"type": "MESOS", "volumes": [{"containerPath": "/d", "hostPath": "/x"}]}),
            "/container/volumes(0)/mode",
            "error.path.missing",
        ),
        (
            app(container={"type": "MESOS", "volumes": [{"containerPath": "d", "persistent": {}}]}),
            "/container/volumes(0)/persistent/size",
            "error.path.missing",
        ),
        (app(fetch=[{"extract": True}]), "/fetch(0)/uri", "error.path.missing"),
        (app(uris=[""]), "/uris(0)", "error.minLength"),
        (app(storeUrls=[""]), "/storeUrls(0)", "error.minLength"),
        (app(dependencies=["Bad"]), "/dependencies(0)", "error.pattern"),
        (app(secrets={"pw": {}}), "/secrets/pw/source", "error.path.missing"),
        (
            app(residency={"taskLostBehavior": "PANIC"}),
            "/residency/taskLostBehavior",
            "error.unknown.enum.literal",
        ),
        (
            app(ipAddress={"discovery": {"ports": [{"number": 80}]}}),
            "/ipAddress/discovery/ports(0)/name",
            "error.path.missing",
        ),
    ],
)
def test_type_and_range_errors_are_invalid_json(obj: JsonObject, path: str, code: str) -> None:
    error = rejection(obj)
    assert error.message == INVALID_JSON
    assert details(error) == [(path, code)]


def test_a_body_that_is_not_an_object() -> None:
    assert rejection([APP]).body() == {
        "message": "Invalid JSON",
        "details": [{"path": "/", "errors": ["error.expected.jsobject"]}],
    }


def test_every_type_error_is_reported_at_once_grouped_by_path() -> None:
    error = rejection(app(instances=-1, cpus="x", upgradeStrategy={}))
    assert error.body() == {
        "message": "Invalid JSON",
        "details": [
            {"path": "/instances", "errors": ["error.min"]},
            {"path": "/cpus", "errors": ["error.expected.jsnumber"]},
            {"path": "/upgradeStrategy/minimumHealthCapacity", "errors": ["error.path.missing"]},
            {"path": "/upgradeStrategy/maximumOverCapacity", "errors": ["error.path.missing"]},
        ],
    }


def test_null_means_absent_and_unknown_keys_are_ignored() -> None:
    decoded = AppDefinition.from_json(app(instances=None, cmd="sleep 1", mesosphereFuture={"x": 1}))
    assert decoded.instances == 1

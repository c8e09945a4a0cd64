"""TaskInfo.health_check (mesos.md a.9 HealthCheck): decoded typed, defaults as upstream's proto, bad checks
named by their field, and the TaskInfo re-encoded as it was sent."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, TaskId
from corral.core.resources import Resources
from corral.marathon.launch import mesos_health_check
from corral.marathon.model import AppDefinition
from corral.protocol.json import JsonObject, Reader, dumps, loads
from corral.protocol.mesos import (
    CommandInfo,
    HealthCheck,
    HealthCheckType,
    HttpCheck,
    IpProtocol,
    TaskInfo,
    TcpCheck,
)


def task_with(check: JsonObject) -> JsonObject:
    return {
        "name": "web",
        "task_id": {"value": "web.1"},
        "agent_id": {"value": "S0"},
        "command": {"value": "python3 -m http.server $PORT0"},
        "health_check": check,
    }


def test_the_launch_example_check_gets_the_proto_defaults() -> None:
    sent: JsonObject = {"type": "HTTP", "http": {"port": 31000, "path": "/"}}
    task = TaskInfo.from_json(Reader(task_with(sent)))
    assert task.health_check == HealthCheck(
        type=HealthCheckType.HTTP,
        http=HttpCheck(port=31000, path="/"),
        delay_seconds=15.0,
        interval_seconds=10.0,
        timeout_seconds=20.0,
        consecutive_failures=3,
        grace_period_seconds=10.0,
    )
    assert task.to_json()["health_check"] == sent  # relayed as the framework sent it


def test_every_kind_decodes_its_own_field() -> None:
    command = HealthCheck.from_json(Reader({"type": "COMMAND", "command": {"value": "test -f healthy"}}))
    assert command.command == CommandInfo(value="test -f healthy")
    tcp = HealthCheck.from_json(Reader({"type": "TCP", "tcp": {"port": "8080", "protocol": "IPv6"}}))
    assert tcp.tcp == TcpCheck(port=8080, protocol=IpProtocol.IPV6)
    http: JsonObject = {"type": "HTTP", "http": {"port": 80, "scheme": "https", "statuses": [200, 204]}}
    assert HealthCheck.from_json(Reader(http)).http == HttpCheck(port=80, scheme="https", statuses=(200, 204))


def test_unknown_fields_are_ignored() -> None:
    check = HealthCheck.from_json(Reader({"type": "TCP", "tcp": {"port": 1, "x": 2}, "labels": {}}))
    assert check.tcp == TcpCheck(port=1)


@pytest.mark.parametrize(
    ("check", "path", "problem"),
    [
        ({"tcp": {"port": 1}}, "health_check.type", "is required"),
        ({"type": "GRPC"}, "health_check.type", "unknown value 'GRPC'"),
        ({"type": "HTTP", "tcp": {"port": 1}}, "health_check.http", "is required for a HTTP health check"),
        ({"type": "COMMAND", "command": {}}, "health_check.command.value", "is required for a shell command"),
        ({"type": "TCP", "tcp": {}}, "health_check.tcp.port", "is required"),
        ({"type": "TCP", "tcp": {"port": 70000}}, "health_check.tcp.port", "must be a port number (0-65535)"),
        ({"type": "HTTP", "http": {"port": 1, "scheme": "ftp"}}, "health_check.http.scheme", "'http' or"),
        ({"type": "HTTP", "http": {"port": 1, "path": "x"}}, "health_check.http.path", "must start with '/'"),
        ({"type": "HTTP", "http": {"port": 1, "statuses": [99]}}, "health_check.http.statuses[0]", "100-599"),
        (
            {"type": "TCP", "tcp": {"port": 1}, "interval_seconds": -1},
            "health_check.interval_seconds",
            "negative",
        ),
        (
            {"type": "TCP", "tcp": {"port": 1}, "consecutive_failures": 1.5},
            "health_check.consecutive_failures",
            "integer",
        ),
    ],
)
def test_bad_health_checks_name_the_field(check: JsonObject, path: str, problem: str) -> None:
    with pytest.raises(DecodeError) as raised:
        TaskInfo.from_json(Reader(task_with(check)))
    assert raised.value.path == path
    assert problem in raised.value.problem


checks = st.one_of(
    st.builds(
        lambda port, path, statuses: HealthCheck(
            type=HealthCheckType.HTTP, http=HttpCheck(port=port, path=path, statuses=tuple(statuses))
        ),
        st.integers(0, 65535),
        st.none() | st.just("/health"),
        st.lists(st.integers(100, 599), max_size=3),
    ),
    st.builds(
        lambda port, failures: HealthCheck(
            type=HealthCheckType.TCP, tcp=TcpCheck(port=port), consecutive_failures=failures
        ),
        st.integers(0, 65535),
        st.integers(0, 10),
    ),
    st.builds(
        lambda value, delay: HealthCheck(
            type=HealthCheckType.COMMAND, command=CommandInfo(value=value), delay_seconds=delay
        ),
        st.text(min_size=1, max_size=20),
        st.integers(0, 100).map(float),
    ),
)


@given(checks)
def test_health_checks_built_in_code_round_trip(check: HealthCheck) -> None:
    task = TaskInfo(
        name="t", task_id=TaskId("t"), agent_id=AgentId("S0"), resources=Resources(), health_check=check
    )
    assert TaskInfo.from_json(Reader(loads(dumps(task.to_json())))).health_check == check


@pytest.mark.parametrize(
    "check",
    [
        {"protocol": "COMMAND", "command": {"value": "test -f healthy"}},
        {"protocol": "MESOS_HTTP", "path": "health"},  # Marathon takes a path without '/'; Mesos does not
        {"protocol": "MESOS_HTTPS", "path": "/", "port": 8443},
        {"protocol": "MESOS_TCP", "portIndex": 0},
    ],
)
def test_every_check_marathon_sends_is_a_mesos_health_check(check: JsonObject) -> None:
    body: JsonObject = {
        "id": "/web",
        "cmd": "serve",
        "portDefinitions": [{"port": 0}],
        "healthChecks": [check],
    }
    app = AppDefinition.from_json(body)
    sent = mesos_health_check(app.health_checks[0], app, (31000,))
    decoded = HealthCheck.from_json(Reader(loads(dumps(sent))))
    assert decoded.to_json() == sent

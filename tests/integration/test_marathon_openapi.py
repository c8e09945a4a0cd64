"""Marathon's v2 API fuzzed by schemathesis from the OpenAPI document it serves (`GET /openapi.json`).

Every operation but the event stream gets generated requests, valid and invalid, and then valid ones aimed at
an app that exists (most generated apps are refused, so random ids rarely name one); every answer must be no
5xx, of a documented status and content type, and match the documented schema. Then a stateful run follows
the document's links (create an app, then read, update, restart, delete it).

The server is a real `corral marathon` on loopback whose master is a port this module holds bound but never
listens on: Marathon never subscribes, so no generated app launches a command, and nothing outside the
server's own work dir changes.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy
from schemathesis.core.result import Ok
from schemathesis.engine import Status, events, from_schema

from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import HOST, free_ports

pytestmark = pytest.mark.integration

# Bounded so the module takes about half a minute on two cores.
FUZZ = settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
REQUEST_TIMEOUT = 10.0  # a hung request fails instead of stalling the run
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
)
# An app that always exists when an operation on it is fuzzed; its deployment never ends (no offers come).
SEED_APP: dict[str, Any] = {
    "id": "/fuzz/web",
    "cmd": "sleep 100",
    "cpus": 0.1,
    "mem": 16,
    "instances": 2,
    "labels": {"tier": "web"},
    "portDefinitions": [{"port": 0, "name": "http"}],
    "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0}],
    "readinessChecks": [{"portName": "http"}],
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5},
}
SEEDED = {"appId": "fuzz/web", "groupId": "fuzz"}
CONFIG_FIELDS: dict[str, Any] = {
    "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
    "request-timeout": REQUEST_TIMEOUT,
}
CONFIG = schemathesis.Config.from_dict(CONFIG_FIELDS)
STATEFUL_ONLY = {
    "examples": {"enabled": False},
    "coverage": {"enabled": False},
    "fuzzing": {"enabled": False},
    "stateful": {"enabled": True, "generation": {"max-examples": 20}},
}


@pytest.fixture(scope="module")
def marathon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    work: Path = tmp_path_factory.mktemp("marathon-openapi")
    with socket.socket() as master:  # bound and never listening: connecting to it is refused
        master.bind((HOST, 0))
        [port] = free_ports(1)
        args = ["--master", f"{HOST}:{master.getsockname()[1]}", "--http_address", HOST]
        args += ["--http_port", str(port), "--work_dir", str(work / "state")]
        daemon = start_daemon("marathon", "marathon", args, address=f"{HOST}:{port}", log_dir=work)
        try:
            daemon.wait_answering("/ping")
            yield daemon
        finally:
            assert daemon.stop() == 0, daemon.fail("marathon did not stop cleanly")


@pytest.fixture(scope="module")
def api_schema(marathon: Daemon) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_url(f"{marathon.url}/openapi.json", config=CONFIG)
    return schema.exclude(path="/v2/events")  # an endless stream: nothing to fuzz


def answers_as_documented(cases: SearchStrategy[schemathesis.Case[Any]]) -> int:
    """Each case is sent and its answer checked; a failure names the request and its curl command. Returns
    how many requests were sent."""
    sent = 0

    @FUZZ
    @given(cases)
    def check(case: schemathesis.Case[Any]) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate()

    check()
    return sent


def test_every_operation_answers_as_documented(marathon: Daemon, api_schema: schemathesis.BaseSchema) -> None:
    # Operation by operation, each with its own budget (schemathesis' own pytest loader reads an attribute
    # pytest 9 removed).
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    sent = operations = 0
    for result in api_schema.get_all_operations():
        assert isinstance(result, Ok), f"the document describes an operation badly: {result}"
        operation = result.ok()
        operations += 1
        sent += answers_as_documented(operation.as_strategy(generation_mode=positive))
        if list(operation.iter_parameters()) or list(operation.body):  # else nothing can be made invalid
            sent += answers_as_documented(operation.as_strategy(generation_mode=negative))
        seeded = {p.name: SEEDED[p.name] for p in operation.path_parameters if p.name in SEEDED}
        if seeded:
            url = f"{marathon.url}/v2/apps{SEED_APP['id']}?force=true&partialUpdate=false"
            response = httpx.put(url, json=SEED_APP, timeout=REQUEST_TIMEOUT, trust_env=False)
            assert response.status_code in (200, 201), response.text
            cases = operation.as_strategy(generation_mode=positive, path_parameters=seeded)
            sent += answers_as_documented(cases)
    print(f"schemathesis: {operations} operations, {sent} requests, every answer as documented (no 5xx)")


def test_stateful_runs_answer_as_documented(marathon: Daemon) -> None:
    # Schemathesis' engine, as its CLI runs it: Hypothesis' own stateful runner calls a replay "flaky" when
    # the server's state differs the second time, which against a live server it always may.
    config = schemathesis.Config.from_dict({**CONFIG_FIELDS, "phases": STATEFUL_ONLY, "workers": 1})
    schema = schemathesis.openapi.from_url(f"{marathon.url}/openapi.json", config=config)
    problems: list[str] = []
    for event in from_schema(schema.exclude(path="/v2/events")).execute():
        if isinstance(event, events.ScenarioFinished) and event.status is Status.FAILURE:
            problems += [
                f"{info.failure.operation}: {info.failure.title}\n{info.failure.message}\n{info.code_sample}"
                for checks in event.recorder.checks.values()
                for info in (check.failure_info for check in checks)
                if info is not None
            ]
        elif isinstance(event, events.NonFatalError):
            problems.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            problems.append(repr(event.exception))
    assert not problems, "\n\n".join(problems)

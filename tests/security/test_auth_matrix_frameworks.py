"""Every route of the real Marathon and Chronos apps x {no credentials, wrong credentials, valid credentials},
against `corral marathon` and `corral chronos` processes run with `--http_credentials` (issue 10;
reliability-security.md 4.3 items 1, 2 and 14).

The routes are read from the apps' Starlette route tables, so a route added later is in the matrix the day
it appears; path parameters get sample values, every allowed method is sent (HEAD included), writes carry
a body that would change something. Then:
- without valid credentials no route but the public ones (reads of `/ping` and of the UI's files, login and
  logout) answers 2xx: each answers 401 with a Basic challenge, and nothing changed (the apps and their
  versions, the jobs and their counters, as read back with valid credentials);
- with valid credentials no route answers 401, 403 or 5xx;
- the daemon is up after each round, and neither password appears in any answer (status, headers, body)
  nor in its log.
The counts are printed (`pytest -s`).

There is no "unauthorized principal" row: Marathon and Chronos have no authorizer, so every authenticated
caller may do everything. Upstream Marathon authorizes only through an authorizer plugin (fine-grained
ACLs were DC/OS Enterprise) and Chronos not at all; Corral adds none (the Mesos ACLs are in
`test_auth_matrix_mesos.py`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from support.framework_auth import PASSWORD, assert_no_secret, basic, dev_master, running_framework

from corral.chronos.runtime import ChronosConfig, ChronosRuntime
from corral.coord.local import SqliteStore
from corral.marathon.runtime import MarathonConfig
from corral.marathon.service import MarathonService
from corral.protocol.json import JsonValue
from corral.testing.daemons import Daemon
from corral.testing.procs import DevProcess

pytestmark = pytest.mark.integration

PARAM = re.compile(r"{(\w+)(?::\w+)?}")
READS = frozenset({"GET", "HEAD"})
# Reads of these route templates, and any method of the login routes, need no principal.
PUBLIC_READS = frozenset({"/ping", "/", "/ui/", "/ui/{name:path}"})
LOGIN_ROUTES = (("POST", "/login"), ("POST", "/logout"))  # the middleware's, not the app's
CREDENTIALS = {"none": {}, "wrong": basic(password="wrong-" + PASSWORD), "valid": basic()}
FAR_FUTURE = "R/2099-01-01T00:00:00Z/PT1H"


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    path: str
    body: JsonValue

    @property
    def public(self) -> bool:
        return (self.method, self.template) in LOGIN_ROUTES or (
            self.method in READS and self.template in PUBLIC_READS
        )


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # status, headers and body, for the secret scan
    challenge: str | None


Bodies = Callable[[str, str], JsonValue]


def cases(app: Starlette, samples: dict[str, str], body: Bodies) -> list[Case]:
    """Every (method, route) of `app`, plus login and logout. A path parameter takes the sample named by
    its whole spec (`name:path`), else by its name."""
    found = list(LOGIN_ROUTES)
    for route in app.routes:
        assert isinstance(route, Route), f"unexpected route type {route!r}"
        found += [(method, route.path) for method in sorted(route.methods or ())]

    def sample(match: re.Match[str]) -> str:
        spec = match.group(0).strip("{}")
        return samples[spec] if spec in samples else samples[match.group(1)]

    return [
        Case(method, template, PARAM.sub(sample, template), body(method, template))
        for method, template in found
    ]


def send(http: httpx.Client, case: Case, headers: dict[str, str]) -> Answer:
    with http.stream(case.method, case.path, json=case.body, headers=headers) as response:
        streaming = response.headers.get("content-type", "").startswith("text/event-stream")
        body = "" if streaming or case.method == "HEAD" else response.read().decode(errors="replace")
    text = f"{response.status_code} {dict(response.headers)} {body}"
    return Answer(response.status_code, text, response.headers.get("www-authenticate"))


@dataclass
class Tally:
    cases: int = 0
    public_2xx: int = 0
    other_2xx: int = 0  # must stay 0 without valid credentials

    def count(self, case: Case, answer: Answer) -> None:
        self.cases += 1
        ok = 200 <= answer.status < 300
        self.public_2xx += ok and case.public
        self.other_2xx += ok and not case.public


def run_matrix(
    daemon: Daemon, matrix: list[Case], snapshot: Callable[[httpx.Client], object]
) -> dict[str, Tally]:
    tallies = {name: Tally() for name in CREDENTIALS}
    with httpx.Client(base_url=daemon.url, timeout=10.0, trust_env=False) as http:
        before = snapshot(http)
        for name in ("none", "wrong"):
            for case in matrix:
                answer = send(http, case, CREDENTIALS[name])
                assert_no_secret(answer.text, f"{case.method} {case.path}", PASSWORD)
                tallies[name].count(case, answer)
                if case.public:
                    continue
                assert answer.status == 401, f"{name}: {case.method} {case.path} answered {answer.text}"
                assert answer.challenge == 'Basic realm="Mesosphere"', f"{case.method} {case.path}"
            assert daemon.answers("/ping"), f"{daemon.name} is down after the {name} round"
        assert snapshot(http) == before, "a request without valid credentials changed something"
        for case in matrix:
            answer = send(http, case, CREDENTIALS["valid"])
            assert_no_secret(answer.text, f"{case.method} {case.path}", PASSWORD)
            tallies["valid"].count(case, answer)
            assert answer.status not in (401, 403), f"valid: {case.method} {case.path}: {answer.text}"
            assert answer.status < 500, f"valid: {case.method} {case.path}: {answer.text}"
        assert daemon.answers("/ping"), f"{daemon.name} is down after the valid round"
    assert_no_secret(daemon.log_path.read_text(), f"{daemon.name}'s log", PASSWORD)
    return tallies


def report(daemon: str, matrix: list[Case], tallies: dict[str, Tally]) -> None:
    routes = len({c.template for c in matrix})
    total = sum(t.cases for t in tallies.values())
    print(f"\n{daemon}: {routes} routes, {len(matrix)} route x method pairs, {total} cases")
    for name, tally in tallies.items():
        print(
            f"  {name:5} credentials: {tally.cases} cases, {tally.other_2xx} non-public 2xx, "
            f"{tally.public_2xx} public 2xx"
        )


# ------------------------------------------------------------------ the daemons


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("auth-matrix")


@pytest.fixture(scope="module")
def dev(root: Path) -> Iterator[DevProcess]:
    with dev_master(root) as process:
        yield process


@pytest.fixture
def framework(dev: DevProcess, root: Path, request: pytest.FixtureRequest) -> Iterator[Daemon]:
    command: str = request.param
    with running_framework(command, f"{command}-matrix", dev.master, root) as daemon:
        yield daemon


# ------------------------------------------------------------------ Marathon


def marathon_app(tmp_path: Path) -> Starlette:
    return MarathonService.with_sqlite(MarathonConfig(), tmp_path / "routes.db").api.app


def marathon_body(method: str, template: str) -> JsonValue:
    if method in READS or method == "DELETE":
        return None
    app: dict[str, JsonValue] = {"cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": 0}
    if template == "/v2/apps":
        return {**app, "id": "/matrix-new"} if method == "POST" else [{"id": "/matrix", "cmd": "sleep 601"}]
    if template.startswith("/v2/apps/"):
        return {"cmd": "sleep 602", "instances": 0}
    if template.startswith("/v2/groups"):
        return {"id": "/matrix-group", "apps": [{**app, "id": "/matrix-group/a"}]}
    if template == "/v2/tasks/delete":
        return {"ids": ["matrix.0"]}
    return None


def marathon_snapshot(http: httpx.Client) -> object:
    apps = http.get("/v2/apps", headers=basic()).json()["apps"]
    groups = http.get("/v2/groups", headers=basic()).json()["groups"]
    deployments = http.get("/v2/deployments", headers=basic()).json()
    return sorted((a["id"], a["version"], a["cmd"]) for a in apps), groups, deployments


@pytest.mark.parametrize("framework", ["marathon"], indirect=True)
def test_every_marathon_route_asks_for_valid_credentials(framework: Daemon, tmp_path: Path) -> None:
    app = {"id": "/matrix", "cmd": "sleep 600", "cpus": 0.01, "mem": 8, "instances": 0}
    created = httpx.post(f"{framework.url}/v2/apps", json=app, headers=basic(), timeout=10, trust_env=False)
    assert created.status_code == 201, created.text
    samples = {"rest": "matrix", "id": "0000-matrix", "name:path": "base.css"}
    matrix = cases(marathon_app(tmp_path), samples, marathon_body)
    assert {"/v2/apps", "/v2/events", "/v2/info", "/metrics"} <= {c.template for c in matrix}
    tallies = run_matrix(framework, matrix, marathon_snapshot)
    report("marathon", matrix, tallies)
    assert tallies["none"].other_2xx == tallies["wrong"].other_2xx == 0


# ------------------------------------------------------------------ Chronos


def chronos_app(tmp_path: Path) -> Starlette:
    config = ChronosConfig(master="127.0.0.1:5050", work_dir=tmp_path)
    return ChronosRuntime(config, SqliteStore(tmp_path / "routes.db")).app


def chronos_body(method: str, template: str) -> JsonValue:
    job: dict[str, JsonValue] = {"command": "true", "owner": "", "disabled": False}
    if template.endswith("/iso8601"):
        return {**job, "name": "matrixnew", "schedule": FAR_FUTURE}
    if template.endswith("/dependency"):
        return {**job, "name": "matrixchild", "parents": ["matrixjob"]}
    return None


def chronos_snapshot(http: httpx.Client) -> Any:
    return http.get("/scheduler/jobs", headers=basic()).json()


@pytest.mark.parametrize("framework", ["chronos"], indirect=True)
def test_every_chronos_route_asks_for_valid_credentials(framework: Daemon, tmp_path: Path) -> None:
    job = {"name": "matrixjob", "command": "true", "owner": "", "schedule": FAR_FUTURE}
    created = httpx.post(
        f"{framework.url}/scheduler/iso8601", json=job, headers=basic(), timeout=10, trust_env=False
    )
    assert created.status_code == 204, created.text
    samples = {"name": "matrixjob", "percentile": "median", "name:path": "base.css"}
    matrix = cases(chronos_app(tmp_path), samples, chronos_body)
    assert {"/scheduler/iso8601", "/v1/scheduler/job/{name}", "/ping"} <= {c.template for c in matrix}
    tallies = run_matrix(framework, matrix, chronos_snapshot)
    report("chronos", matrix, tallies)
    assert tallies["none"].other_2xx == tallies["wrong"].other_2xx == 0

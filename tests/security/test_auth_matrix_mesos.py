"""Every route of the master and the agent x every way of (not) authenticating, against a real `corral master`
and `corral agent` with every authentication on (reliability-security.md 4.3 items 1, 2 and 14).

The routes are read from the apps themselves (`corral.testing.routes`), every method each allows, plus the
authentication layer's own `/login` and `/logout`. Without valid credentials every request to a route that
is not PUBLIC must be answered 401 by the authentication layer, with a Basic challenge: 0 reach the app,
so 0 are 2xx. With valid credentials none is a 401 and none a 5xx. An executor's token (well signed, naming
an executor) is a 403 everywhere but the executor API. Both daemons stay up and healthy throughout, and no
answer, log, flag or state document holds a secret.

The "unauthorized principal" rows come from ACLs: `ACL_ARGS` gives both daemons `--acls` that allow the
operator, the agent and the framework every action, and `viewer` (a valid principal) none, by default. A
framework of principal `framework` has a running task, so that what filtering hides is there to hide. Every
route x method, and every v1 operator call, is then sent as `viewer`, and each answer is one of: a 403; a 2xx
that reveals nothing protected (no framework, task, executor, sandbox path or flag: documents filtered to
empty) or a SUBSCRIBE refused in its stream (an ERROR event, as upstream); another 4xx (a bad sample body,
405). What the ACLs guard outright (flags, metrics, sandboxes, statistics, teardown, weight and quota
updates) must be a 403, and the operator's view of both daemons is the same before and after.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from corral.agent.config import AgentConfig
from corral.agent.runtime import AgentRuntime
from corral.agent.surfaces import classify as classify_agent
from corral.core.errors import DecodeError
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.master.surfaces import classify as classify_master
from corral.net.agent_link import LocalMasterLink
from corral.protocol.json import JsonObject, JsonValue, dumps, loads
from corral.security.acls import ACTIONS
from corral.security.http_auth import LOGIN_PATH, LOGOUT_PATH
from corral.security.policy import Classifier, Surface
from corral.security.tokens import SURFACE_CLAIM, TokenSigner
from corral.testing.daemons import Daemon
from corral.testing.procs import json_list
from corral.testing.routes import route_requests
from corral.testing.secure_mesos import SecuredMesos, secured_mesos

pytestmark = pytest.mark.integration

# Every action the ACLs know, to every principal of the cluster but `viewer`: deny by default does the rest.
VIEWER = "viewer"
TRUSTED = ["ops", "agent", "framework"]
ACLS = {
    action.value: [{"principals": {"values": TRUSTED}, objects: {"type": "ANY"}}]
    for action, objects in ACTIONS.items()
}
ACL_ARGS: dict[str, list[str]] = {daemon: ["--acls", dumps(ACLS).decode()] for daemon in ("master", "agent")}

Headers = dict[str, str]


def basic(principal: str, secret: str) -> Headers:
    return {"Authorization": "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()}


def bearer(token: str) -> Headers:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class Presenting:
    """One way of (not) authenticating: the headers it sends, given the cluster."""

    name: str
    headers: Callable[[SecuredMesos], Headers]
    valid: bool = False


def _ops(c: SecuredMesos) -> str:
    return c.credentials["ops"].secret


PRESENTING = [
    Presenting("no credentials", lambda c: {}),
    Presenting("wrong secret", lambda c: basic("ops", "x" + _ops(c))),
    Presenting("unknown principal", lambda c: basic("mallory", _ops(c))),
    Presenting("empty secret", lambda c: basic("ops", "")),
    Presenting("malformed Basic", lambda c: {"Authorization": "Basic not*base64"}),
    Presenting("unsupported scheme", lambda c: {"Authorization": f"Digest {_ops(c)}"}),
    Presenting("forged token", lambda c: bearer(TokenSigner(b"f" * 32).issue("ops", now=time.time()))),
    Presenting("expired token", lambda c: bearer(TokenSigner(c.master_key.encode()).issue("ops", now=0.0))),
    Presenting("valid principal", lambda c: basic("ops", _ops(c)), valid=True),
]
SCHEDULER = ("/api/v1/scheduler", "/master/api/v1/scheduler")
EXECUTOR = ("/api/v1/executor", "/slave(1)/api/v1/executor")
STREAMS = frozenset({*SCHEDULER, *EXECUTOR, "/master/events", "/api/v1/agent"})
SUBSCRIBE: JsonValue = {"type": "SUBSCRIBE", "subscribe": {"framework_info": {"user": "nobody", "name": "m"}}}
EXECUTOR_SUBSCRIBE: JsonValue = {
    "type": "SUBSCRIBE",
    "framework_id": {"value": "f"},
    "executor_id": {"value": "e"},
    "subscribe": {},
}
# Bodies that a valid principal gets a 2xx for, so that a refusal is the authentication layer's doing.
OPERATOR = [f"{prefix}/api/v1{suffix}" for prefix in ("", "/master") for suffix in ("", "/operator")]
BODIES: dict[str, JsonValue] = {
    **{path: SUBSCRIBE for path in SCHEDULER},
    **{path: EXECUTOR_SUBSCRIBE for path in EXECUTOR},
    **{path: {"type": "GET_HEALTH"} for path in OPERATOR},
    **{path: [{"role": "matrix", "weight": 2.0}] for path in ("/weights", "/master/weights")},
}


@dataclass
class Target:
    name: str
    daemon: Daemon
    classify: Classifier
    requests: list[tuple[str, str]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredMesos]:
    root = tmp_path_factory.mktemp("mesos-auth")
    with secured_mesos(root, master_args=ACL_ARGS["master"], agent_args=ACL_ARGS["agent"]) as started:
        yield started


@pytest.fixture(scope="module")
def targets(cluster: SecuredMesos, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Target]:
    """The daemons, with the requests their apps route (read from the same code, built in-process)."""
    master = MasterRuntime(MasterConfig())
    agent = AgentRuntime(AgentConfig(work_dir=tmp_path_factory.mktemp("routes")), LocalMasterLink(master))
    own = [("POST", LOGIN_PATH), ("POST", LOGOUT_PATH)]
    return {
        "master": Target(
            "master",
            cluster.master,
            classify_master,
            route_requests(master.app, {"name": "index.html"}) + own,
        ),
        "agent": Target("agent", cluster.agent, classify_agent, route_requests(agent.app) + own),
    }


@dataclass(frozen=True)
class Sample:
    """What a request sends besides its credentials."""

    body: bytes | None = None
    content_type: str | None = None
    params: Mapping[str, str] = field(default_factory=dict)


def json_sample(value: JsonValue) -> Sample:
    return Sample(dumps(value), "application/json")


def default_sample(method: str, path: str) -> Sample:
    body = BODIES.get(path) if method in ("POST", "PUT") else None
    return Sample() if body is None else json_sample(body)


@dataclass
class Answer:
    status: int
    challenge: str | None
    body: bytes


CLIENT = httpx.Client(timeout=10.0, trust_env=False)


def send(daemon: Daemon, method: str, path: str, headers: Headers, sample: Sample | None = None) -> Answer:
    sample = sample or default_sample(method, path)
    extra = {"Content-Type": sample.content_type} if sample.content_type else {}
    url = daemon.url + path
    with CLIENT.stream(
        method, url, params=sample.params, headers={**headers, **extra}, content=sample.body
    ) as response:
        if method == "HEAD":
            read = b""
        elif response.status_code == 200 and path in STREAMS:  # a stream: its first chunk, not its end
            read = next(response.iter_raw(), b"")
        else:
            read = response.read()
        return Answer(response.status_code, response.headers.get("www-authenticate"), read)


def problem(target: Target, way: Presenting, method: str, path: str, answer: Answer) -> str | None:
    """What is wrong with `answer`, if anything."""
    surface = target.classify(method, path)
    if path == LOGIN_PATH:
        expected = 200 if way.valid else 401
        return None if answer.status == expected else f"expected {expected}"
    if answer.status >= 500:
        return "a 5xx"
    if surface is Surface.PUBLIC:
        return None
    if way.valid:
        return "refused valid credentials" if answer.status == 401 else None
    if answer.status != 401:
        return "not refused by the authentication layer"
    if answer.challenge != 'Basic realm="Mesos"':
        return f"401 without the Basic challenge ({answer.challenge!r})"
    return None


def assert_alive(cluster: SecuredMesos) -> None:
    for daemon in (cluster.master, cluster.agent):
        assert daemon.alive, daemon.log_tail()
        assert daemon.get("/health").status_code == 200


@pytest.mark.parametrize("way", PRESENTING, ids=[w.name for w in PRESENTING])
@pytest.mark.parametrize("name", ["master", "agent"])
def test_every_route_x_every_way_of_authenticating(
    cluster: SecuredMesos, targets: dict[str, Target], name: str, way: Presenting
) -> None:
    target = targets[name]
    headers = way.headers(cluster)
    wrong: list[str] = []
    counts: Counter[str] = Counter()
    for method, path in target.requests:
        answer = send(target.daemon, method, path, headers)
        public = target.classify(method, path) is Surface.PUBLIC
        counts["cases"] += 1
        counts["public" if public else "guarded"] += 1
        counts[f"{answer.status // 100}xx"] += 1
        if 200 <= answer.status < 300 and not public and not way.valid:
            counts["unauthorized 2xx"] += 1
        if (why := problem(target, way, method, path, answer)) is not None:
            wrong.append(f"{method} {path} -> {answer.status}: {why}")
        leaked = [s for s in cluster.secrets if s.encode() in answer.body]
        assert not leaked, f"{method} {path} answered a secret"
    print(f"\n{name} x {way.name}: {dict(sorted(counts.items()))}")
    assert counts["unauthorized 2xx"] == 0
    assert not wrong, "\n".join(wrong)
    assert_alive(cluster)


def test_an_executors_token_opens_nothing_but_the_executor_api(
    cluster: SecuredMesos, targets: dict[str, Target]
) -> None:
    """A well-signed executor token (the agent's key) of another executor than the calls name."""
    claims = {"fid": "f", "eid": "another", "cid": "c", SURFACE_CLAIM: "executor"}  # as the agent issues them
    token = cluster.agent_signer().issue("executor c", now=time.time(), ttl=0, claims=claims)
    wrong = []
    target = targets["agent"]
    for method, path in target.requests:
        answer = send(target.daemon, method, path, bearer(token))
        surface = target.classify(method, path)
        if surface is Surface.PUBLIC or path == LOGOUT_PATH:
            continue
        expected = {405} if surface is Surface.EXECUTOR and method != "POST" else {403}
        if answer.status not in expected:
            wrong.append(f"{method} {path} -> {answer.status}, expected {expected}")
    print(f"\nagent x executor token: {len(target.requests)} cases")
    assert not wrong, "\n".join(wrong)
    master = send(cluster.master, "GET", "/master/state", bearer(token))
    assert master.status == 401  # the master does not know the agent's key
    assert_alive(cluster)


# ---------------------------------------------------------------- the principal the ACLs allow nothing

TASK = "acl-matrix-task"
FORM = "application/x-www-form-urlencoded"
MATRIX_CPUS: JsonValue = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1.0}}]
# The keys under which a document lists what view_frameworks, view_tasks and view_executors guard.
GUARDED_LISTS = frozenset(
    {
        "frameworks",
        "completed_frameworks",
        "tasks",
        "queued_tasks",
        "completed_tasks",
        "unreachable_tasks",
        "orphan_tasks",
        "executors",
        "completed_executors",
    }
)
# What the ACLs refuse outright rather than filter: view_flags, get_endpoints, access_sandboxes, updates.
REFUSED_READS = ("/flags", "/metrics/snapshot", "/monitor/statistics", "/monitor/statistics.json")
REFUSED_WRITES = ("/weights", "/quota", "/teardown")
REFUSED_CALLS = frozenset(
    {"GET_FLAGS", "UPDATE_WEIGHTS", "UPDATE_QUOTA", "SET_QUOTA", "REMOVE_QUOTA", "TEARDOWN"}
)


@dataclass(frozen=True)
class Running:
    """The fixture's framework (principal `framework`) and its running task."""

    framework_id: str
    task_id: str
    sandbox: str  # the task's run directory on the agent

    def files_root(self, daemon: str) -> str:
        """The sandbox as `/files/*` of `daemon` names it (the master's is virtual)."""
        if daemon == "agent":
            return self.sandbox
        return f"/frameworks/{self.framework_id}/executors/{self.task_id}/runs/latest"


def _task_sandbox(cluster: SecuredMesos, task_id: str) -> str:
    for framework in json_list(cluster.get_json(cluster.agent, "/state")["frameworks"]):
        assert isinstance(framework, dict)
        for executor in json_list(framework["executors"]):
            if isinstance(executor, dict) and executor["id"] == task_id:
                return str(executor["directory"])
    raise AssertionError(f"no sandbox for {task_id} in the agent's state")


@pytest.fixture(scope="module")
def running(cluster: SecuredMesos) -> Iterator[Running]:
    """A pymesos framework authenticated as `framework`, with one task running; killed on the way out."""
    pytest.importorskip("pymesos")  # only the viewer's rows need it
    from support.schedulers import RecordingScheduler, command_task, running_driver

    scheduler = RecordingScheduler()
    credential = cluster.credentials["framework"]
    with running_driver(scheduler, cluster.master.address, "acl-matrix", credential) as driver:
        scheduler.launch(driver, command_task(TASK, "sleep 600"))
        scheduler.wait_state(TASK, "TASK_RUNNING")
        yield Running(scheduler.framework_id, TASK, _task_sandbox(cluster, TASK))
        driver.killTask({"value": TASK})
        scheduler.wait_state(TASK, "TASK_KILLED")


@dataclass(frozen=True)
class Probe:
    """One request of the viewer's row: a route and method, with the sample that exercises its ACL."""

    method: str
    path: str
    sample: Sample
    refused: bool  # the ACLs must refuse it outright: a 403
    call: str = ""  # the v1 operator call it sends, if any

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}" + (f" {self.call}" if self.call else "")


def _route_probe(daemon: str, method: str, path: str, running: Running) -> Probe:
    """A route with a sample that reaches its ACL: a real sandbox for `/files/*`, the running framework for
    teardown, a well-formed quota request; the matrix's defaults otherwise."""
    writes = method in ("PUT", "POST", "DELETE")
    refused = (
        path.endswith(REFUSED_READS)
        or (writes and (path.endswith(REFUSED_WRITES) or "/quota/" in path))
        or (method == "POST" and path.endswith("/api/v1/agent"))  # register_agents
    )
    sample = default_sample(method, path)
    if path.startswith("/files/") and not path.startswith("/files/debug"):
        root = running.files_root(daemon)
        params = {"path": root if path.startswith("/files/browse") else f"{root}/stdout", "offset": "0"}
        sample, refused = Sample(params=params), True
    elif path.startswith("/files/"):
        refused = True  # /files/debug: get_endpoints
    elif writes and path.endswith("/teardown"):
        sample = Sample(f"frameworkId={running.framework_id}".encode(), FORM)
    elif method == "POST" and path.endswith("/quota"):
        sample = json_sample({"role": "matrix", "guarantee": MATRIX_CPUS})
    return Probe(method, path, sample, refused)


def _operator_calls(running: Running) -> list[Probe]:
    """Every v1 operator call, each on `POST /api/v1` (the routes themselves send GET_HEALTH)."""
    quota_config: JsonValue = {"role": "matrix", "guarantees": {"cpus": {"value": 1.0}}}
    bodies: dict[str, JsonObject] = {
        "UPDATE_WEIGHTS": {"update_weights": {"weight_infos": [{"role": "matrix", "weight": 3.0}]}},
        "UPDATE_QUOTA": {"update_quota": {"quota_configs": [quota_config]}},
        "SET_QUOTA": {"set_quota": {"quota_request": {"role": "matrix", "guarantee": MATRIX_CPUS}}},
        "REMOVE_QUOTA": {"remove_quota": {"role": "matrix"}},
        "TEARDOWN": {"teardown": {"framework_id": {"value": running.framework_id}}},
    }
    queries = ["GET_HEALTH", "GET_VERSION", "GET_FLAGS", "GET_MASTER", "GET_STATE", "GET_AGENTS"]
    queries += ["GET_FRAMEWORKS", "GET_TASKS", "GET_EXECUTORS", "GET_ROLES", "GET_WEIGHTS", "GET_QUOTA"]
    return [
        Probe(
            "POST",
            "/api/v1",
            json_sample({"type": call, **bodies.get(call, {})}),
            call in REFUSED_CALLS,
            call,
        )
        for call in [*queries, *bodies]
    ]


def revealed(body: bytes, cluster: SecuredMesos, running: Running) -> list[str]:
    """What of the protected `body` shows: the framework's or the task's id, a path under the cluster's
    root (a sandbox, a flag's file), a flags document, a guarded list that is not empty."""
    markers = [running.framework_id, running.task_id, str(cluster.root)]
    found = [m for m in markers if m.encode() in body]
    try:
        document = loads(body)
    except DecodeError:
        return found  # not JSON (a stream's record, a UI page): the markers say it all

    def walk(value: JsonValue, where: str) -> Iterator[str]:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "flags":
                    yield f"{where}.flags"
                elif key in GUARDED_LISTS and item:
                    yield f"{where}.{key} (not empty)"
                else:
                    yield from walk(item, f"{where}.{key}")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                yield from walk(item, f"{where}[{i}]")

    return found + list(walk(document, "$"))


def verdict(probe: Probe, public: bool, answer: Answer, shown: list[str]) -> tuple[str, str | None]:
    """(the answer's class, what is wrong with it if anything)."""
    status = answer.status
    if status >= 500:
        return "5xx", "a 5xx"
    if public:
        return "public", None
    if status == 403:
        return "403 denied", None
    if 200 <= status < 300:
        if probe.refused or shown:
            return "unauthorized 2xx", f"reveals {', '.join(shown)}" if shown else "expected a 403"
        if probe.path in SCHEDULER and b'"ERROR"' in answer.body:
            return "2xx refused in its stream", None
        return "2xx filtered", None
    if probe.refused:
        return f"{status}", "expected a 403"
    if status in (400, 404, 405, 415):
        return "4xx other", None
    return f"{status}", "neither refused nor filtered"


def operators_view(cluster: SecuredMesos) -> JsonObject:
    """What the viewer must not change: frameworks, tasks, weights and quota as the master's operator sees
    them, and the agent's frameworks, executors and tasks."""
    state = cluster.get_json(cluster.master, "/master/state")
    frameworks: JsonObject = {}
    for framework in json_list(state["frameworks"]):
        assert isinstance(framework, dict)
        tasks = {str(t["id"]): t["state"] for t in json_list(framework["tasks"]) if isinstance(t, dict)}
        frameworks[str(framework["id"])] = {"active": framework["active"], "tasks": tasks}
    agent: JsonObject = {}
    for framework in json_list(cluster.get_json(cluster.agent, "/state")["frameworks"]):
        assert isinstance(framework, dict)
        executors = [e for e in json_list(framework["executors"]) if isinstance(e, dict)]
        agent[str(framework["id"])] = {
            str(e["id"]): [t["state"] for t in json_list(e["tasks"]) if isinstance(t, dict)]
            for e in executors
        }
    weights = httpx.get(
        cluster.master.url + "/master/weights", auth=cluster.auth(), timeout=5.0, trust_env=False
    )
    return {
        "frameworks": frameworks,
        "completed": [f["id"] for f in json_list(state["completed_frameworks"]) if isinstance(f, dict)],
        "weights": loads(weights.content),
        "quota": cluster.get_json(cluster.master, "/master/quota"),
        "agent": agent,
    }


@pytest.mark.parametrize("name", ["master", "agent"])
def test_every_route_as_a_principal_the_acls_allow_nothing(
    cluster: SecuredMesos, targets: dict[str, Target], running: Running, name: str
) -> None:
    target = targets[name]
    probes = [_route_probe(name, method, path, running) for method, path in target.requests]
    probes += _operator_calls(running) if name == "master" else []
    viewer = cluster.credentials[VIEWER]
    headers = basic(viewer.principal, viewer.secret)
    before = operators_view(cluster)
    for path in ("/master/state", "/master/tasks") if name == "master" else ("/state",):
        assert TASK.encode() in send(target.daemon, "GET", path, basic("ops", _ops(cluster))).body
    counts = Counter({"unauthorized 2xx": 0})
    wrong: list[str] = []
    for probe in probes:
        answer = send(target.daemon, probe.method, probe.path, headers, probe.sample)
        public = target.classify(probe.method, probe.path) is Surface.PUBLIC
        shown = revealed(answer.body, cluster, running) if 200 <= answer.status < 300 and not public else []
        kind, why = verdict(probe, public, answer, shown)
        counts["cases"] += 1
        counts[kind] += 1
        if why is not None:
            wrong.append(f"{probe.name} -> {answer.status}: {why}")
    print(f"\n{name} x unauthorized principal: {dict(sorted(counts.items()))}")
    assert not wrong, "\n".join(wrong)
    assert counts["unauthorized 2xx"] == 0
    assert operators_view(cluster) == before
    assert_alive(cluster)


def test_no_secret_in_logs_flags_or_state(cluster: SecuredMesos, tmp_path: Path) -> None:
    master_flags = cluster.get_json(cluster.master, "/master/flags")["flags"]
    assert isinstance(master_flags, dict)
    root = cluster.root
    assert master_flags["credentials"] == str(root / "credentials.json")
    assert master_flags["jwt_secret_key"] == str(root / "master.key")
    for flag in ("frameworks", "http_frameworks", "agents", "http_readonly", "http_readwrite"):
        assert master_flags[f"authenticate_{flag}"] == "true"
    agent_flags = cluster.get_json(cluster.agent, "/state")["flags"]
    assert isinstance(agent_flags, dict)
    assert agent_flags["credential"] == str(root / "credential")
    assert agent_flags["jwt_secret_key"] == str(cluster.agent_work_dir / "jwt_secret_key")
    assert agent_flags["authenticate_http_executors"] == "true"
    documents = [
        httpx.get(cluster.master.url + path, auth=cluster.auth(), timeout=5.0, trust_env=False).content
        for path in ("/flags", "/master/flags", "/master/state", "/state.json", "/master/frameworks")
    ]
    documents.append(httpx.get(cluster.agent.url + "/state", auth=cluster.auth(), timeout=5.0).content)
    logs = [d.log_path.read_bytes() for d in (cluster.master, cluster.agent)]
    found = [s for s in cluster.secrets for text in documents + logs if s.encode() in text]
    assert found == []
    assert all(b"Traceback" not in log for log in logs)

"""Authentication between the Mesos daemons and their clients, with real processes (reliability-security.md
4.1, 4.3 items 1-3; mesos.md a.3, b.1): `corral master` and `corral agent` with every surface authenticated.

- an unmodified pymesos scheduler given `principal` and `secret` registers and runs a task, and the master's
  /files proxy reads its sandbox from the authenticating agent;
- SUBSCRIBE without credentials is a 401; a FrameworkInfo.principal other than the authenticated one a 400;
- an agent without a valid `--credential` is never registered, and says why in its log at every attempt;
- a custom executor finds its token in MESOS_EXECUTOR_AUTHENTICATION_TOKEN; the executor API refuses calls
  without it (401) or with another executor's (403), and the token opens nothing else.
"""

from __future__ import annotations

import base64
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from corral.protocol import recordio
from corral.protocol.json import JsonObject, dumps, loads_object
from corral.testing.procs import json_list, wait_for
from corral.testing.secure_mesos import SecuredMesos, secured_mesos

pytest.importorskip("pymesos")
from support.schedulers import RecordingScheduler, command_task, resources, running_driver

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
# A custom executor that only hands its token to the test (which then speaks the executor API with it).
EXECUTOR = """
import os, sys, time
from pathlib import Path
Path(sys.argv[1]).write_text(os.environ.get("MESOS_EXECUTOR_AUTHENTICATION_TOKEN", "(none)"))
time.sleep(120)
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredMesos]:
    with secured_mesos(tmp_path_factory.mktemp("mesos-auth")) as started:
        yield started


@pytest.fixture
def framework(cluster: SecuredMesos) -> Iterator[tuple[RecordingScheduler, Any]]:
    """A pymesos scheduler authenticated as principal `framework`."""
    scheduler = RecordingScheduler()
    credential = cluster.credentials["framework"]
    with running_driver(scheduler, cluster.master.address, "pymesos-auth", credential) as driver:
        yield scheduler, driver


def subscribe(framework_info: JsonObject) -> bytes:
    return dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}})


def test_pymesos_with_principal_and_secret_runs_a_task(
    cluster: SecuredMesos, framework: tuple[RecordingScheduler, Any]
) -> None:
    scheduler, driver = framework
    scheduler.launch(driver, command_task("auth-t1", "sleep 30"))
    scheduler.wait_state("auth-t1", "TASK_RUNNING")
    frameworks = json_list(cluster.get_json(cluster.master, "/master/frameworks")["frameworks"])
    [registered] = [f for f in frameworks if isinstance(f, dict) and f["id"] == scheduler.framework_id]
    assert registered["principal"] == "framework"  # taken from the authentication: pymesos sets none
    # The master's /files proxy reaches the authenticating agent with the caller's own credentials.
    path = f"/frameworks/{scheduler.framework_id}/executors/auth-t1/runs/latest/stdout"
    files = cluster.master.url + "/files/read"
    params = {"path": path, "offset": "0"}
    read = httpx.get(files, params=params, auth=cluster.auth(), timeout=10.0, trust_env=False)
    assert read.status_code == 200, read.text
    assert httpx.get(files, params=params, timeout=10.0, trust_env=False).status_code == 401


def test_subscribe_needs_credentials_and_the_authenticated_principal(cluster: SecuredMesos) -> None:
    url = cluster.master.url + "/api/v1/scheduler"
    mine = subscribe({"user": "nobody", "name": "fw", "principal": "framework"})
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        anonymous = http.post(url, content=mine, headers=JSON)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == 'Basic realm="Mesos"'
        wrong = http.post(url, content=mine, headers=JSON, auth=("framework", "not-the-secret"))
        assert wrong.status_code == 401
        theirs = subscribe({"user": "nobody", "name": "fw", "principal": "ops"})
        impostor = http.post(url, content=theirs, headers=JSON, auth=cluster.auth("framework"))
        assert impostor.status_code == 400
        assert impostor.text == (
            "Authenticated principal 'framework' does not match principal 'ops' set in `FrameworkInfo`"
        )
        with http.stream("POST", url, content=mine, headers=JSON, auth=cluster.auth("framework")) as ok:
            assert ok.status_code == 200 and ok.headers["mesos-stream-id"]


@pytest.mark.parametrize(
    ("presents", "says"),
    [
        (None, "requires agents to authenticate (401): give this agent --credential"),
        ("agent not-its-secret\n", "refused the credential of principal 'agent' (401)"),
    ],
    ids=["no credential", "wrong secret"],
)
def test_an_agent_without_a_valid_credential_is_never_registered(
    cluster: SecuredMesos, presents: str | None, says: str, tmp_path: Path
) -> None:
    args: list[str] = []
    if presents is not None:
        (tmp_path / "credential").write_text(presents)
        args = ["--credential", str(tmp_path / "credential")]
    agent = cluster.start_agent(f"rogue-{tmp_path.name}", *args)
    try:
        # It keeps trying, and says why once per attempt, between randomized backoffs.
        wait_for(lambda: agent.log_tail(200).count(says) >= 2, timeout=20, what=f"two log lines {says!r}")
        assert cluster.registered_agents() == 1
        log = agent.log_tail(200)
        assert "Traceback" not in log and "registering again in" in log
        assert agent.alive
    finally:
        agent.stop()


def executor_call(kind: str, framework_id: str, executor_id: str, body: JsonObject | None = None) -> bytes:
    call: JsonObject = {
        "type": kind,
        "framework_id": {"value": framework_id},
        "executor_id": {"value": executor_id},
    }
    if body is not None:
        call[kind.lower()] = body
    return dumps(call)


def test_an_executor_speaks_only_with_its_own_token(
    cluster: SecuredMesos, framework: tuple[RecordingScheduler, Any], tmp_path: Path
) -> None:
    scheduler, driver = framework
    script, token_file = tmp_path / "executor.py", tmp_path / "token"
    script.write_text(EXECUTOR)
    executor_id = "token-executor"
    task = {
        "task_id": {"value": "auth-t2"},
        "name": "auth-t2",
        "resources": resources(),
        "executor": {
            "executor_id": {"value": executor_id},
            "command": {"value": f"{sys.executable} {script} {token_file}"},
            "resources": resources(),
        },
    }
    scheduler.launch(driver, task)
    token = wait_for(
        lambda: token_file.read_text() if token_file.exists() else None, timeout=20, what="the token"
    )
    assert token != "(none)"
    framework_id = scheduler.framework_id
    url = cluster.agent.url + "/api/v1/executor"
    subscribe_call = executor_call("SUBSCRIBE", framework_id, executor_id, {})
    signer = cluster.agent_signer()
    verified = signer.verify(token, now=time.time())
    assert verified is not None
    container = str(verified.claims["cid"])
    assert (verified.claims["fid"], verified.claims["eid"]) == (framework_id, executor_id)
    other_executor = {"fid": framework_id, "eid": "someone-else", "cid": container}
    old_container = {"fid": framework_id, "eid": executor_id, "cid": "an-older-container"}
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        assert http.post(url, content=subscribe_call, headers=JSON).status_code == 401
        assert http.post(url, content=subscribe_call, headers=JSON, auth=cluster.auth()).status_code == 403
        for claims in (other_executor, old_container):
            forged = signer.issue("executor x", now=time.time(), ttl=0, claims=claims)
            answer = http.post(
                url, content=subscribe_call, headers={**JSON, "Authorization": f"Bearer {forged}"}
            )
            assert answer.status_code == 403, answer.text
        mine = {**JSON, "Authorization": f"Bearer {token}"}
        assert http.get(cluster.agent.url + "/state", headers=mine).status_code == 403
        assert http.get(cluster.master.url + "/master/state", headers=mine).status_code == 401
        with http.stream("POST", url, content=subscribe_call, headers=mine) as stream:
            assert stream.status_code == 200
            launched = next_launch(stream)
            assert launched == "auth-t2"
            status: JsonObject = {
                "task_id": {"value": launched},
                "state": "TASK_RUNNING",
                "source": "SOURCE_EXECUTOR",
                "uuid": base64.b64encode(uuid.uuid4().bytes).decode(),
                "timestamp": time.time(),
            }
            update = executor_call("UPDATE", framework_id, executor_id, {"status": status})
            assert http.post(url, content=update, headers=mine).status_code == 202
            scheduler.wait_state("auth-t2", "TASK_RUNNING")


def next_launch(stream: httpx.Response) -> str:
    """The task id of the first LAUNCH event on an executor's subscription."""
    decoder = recordio.Decoder()
    for chunk in stream.iter_raw():
        for record in decoder.feed(chunk):
            event = loads_object(record)
            if event["type"] == "LAUNCH":
                launch = event["launch"]
                assert isinstance(launch, dict) and isinstance(launch["task"], dict)
                task_id = launch["task"]["task_id"]
                assert isinstance(task_id, dict)
                return str(task_id["value"])
    raise AssertionError("the subscription ended before LAUNCH")

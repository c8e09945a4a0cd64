"""`corral chronos --http_credentials` as a process beside a `corral dev` master (reliability-security.md 4.1
Chronos, 4.3 items 1 and 14; chronos.md: Basic auth with `WWW-Authenticate` on every 401, which
chronos-python needs before it sends its credentials): the unmodified chronos-python client works with
`username=`/`password=`, and without them (or with a wrong password) it can neither read nor add, run or
delete a job; `/ping` stays open; the framework presents its principal and secret to its master; no secret
shows in a log or an answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chronos
import httpx
import pytest
from support.framework_auth import (
    MESOS_SECRET,
    PASSWORD,
    USER,
    assert_no_secret,
    basic,
    dev_master,
    presenting_secret,
    running_framework,
)

from corral.testing.daemons import Daemon
from corral.testing.procs import wait_for

pytestmark = pytest.mark.integration

FRAMEWORK = "chronos-auth"
FAR_FUTURE = "R/2099-01-01T00:00:00Z/PT1H"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("chronos-auth")
    with dev_master(root) as dev, running_framework("chronos", FRAMEWORK, dev.master, root) as started:
        yield started


def job(name: str, command: str = "true") -> dict[str, Any]:
    return {"name": name, "command": command, "owner": "", "disabled": False, "schedule": FAR_FUTURE}


def names(client: Any) -> list[str]:
    return sorted(j["name"] for j in client.list())


def test_chronos_python_works_with_credentials_and_is_refused_without(daemon: Daemon) -> None:
    client = chronos.connect([daemon.address], username=USER, password=PASSWORD)
    client.add(job("nightly"))
    for anonymous in (
        chronos.connect([daemon.address]),
        chronos.connect([daemon.address], "http", USER, "x"),
    ):
        with pytest.raises(chronos.ChronosAPIError):
            anonymous.list()
        with pytest.raises(chronos.ChronosAPIError):
            anonymous.add(job("intruder"))
        with pytest.raises(chronos.ChronosAPIError):
            anonymous.run("nightly")
        with pytest.raises(chronos.ChronosAPIError):
            anonymous.delete("nightly")
    assert names(client) == ["nightly"]
    [nightly] = client.list()
    assert nightly["successCount"] == 0 and nightly["errorCount"] == 0  # the refused run never ran
    client.run("nightly")
    wait_for(lambda: client.list()[0]["successCount"] == 1, timeout=20, what="the job's manual run")
    client.delete("nightly")
    assert names(client) == []


def test_only_ping_and_the_ui_answer_without_credentials(daemon: Daemon) -> None:
    with httpx.Client(base_url=daemon.url, timeout=5.0, trust_env=False) as http:
        assert http.get("/ping").status_code == 200 and http.get("/").status_code == 200
        for path in ("/scheduler/jobs", "/v1/scheduler/jobs", "/metrics", "/scheduler/graph/csv"):
            refused = http.get(path)
            assert refused.status_code == 401, path
            assert refused.headers["www-authenticate"] == 'Basic realm="Mesosphere"'
            assert_no_secret(refused.text, path)
        assert http.get("/scheduler/jobs", headers=basic()).json() == []


def test_the_framework_presents_its_principal_and_secret_to_the_master(tmp_path: Path) -> None:
    principal = "chronos-principal"
    with presenting_secret("chronos", principal, tmp_path, secret_file=MESOS_SECRET + "\n") as (_, first):
        assert first.authorization == basic(principal, MESOS_SECRET)["Authorization"]
        assert first.framework_info["principal"] == principal

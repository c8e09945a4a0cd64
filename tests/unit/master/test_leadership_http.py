"""A master that is not the leader: leader-only endpoints go to the leader (307), or 503 (mesos.md c.1)."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.protocol.mesos import MasterInfo
from corral.testing.clock import FakeClock

LEADER = MasterInfo(id="L", ip="127.0.0.12", port=5050, hostname="master2")


def follower(leader: MasterInfo | None) -> TestClient:
    runtime = MasterRuntime(MasterConfig(), clock=FakeClock(), master_id="F", leading=False)
    runtime.leader = leader
    return TestClient(runtime.app, follow_redirects=False)


@pytest.mark.parametrize(
    ("method", "path", "location"),
    [
        ("POST", "/api/v1/scheduler", "//master2:5050/api/v1/scheduler"),
        ("GET", "/master/state", "//master2:5050/master/state"),
        ("GET", "/state.json?jsonp=f", "//master2:5050/state.json?jsonp=f"),
        ("GET", "/master/tasks", "//master2:5050/master/tasks"),
        ("POST", "/api/v1", "//master2:5050/api/v1"),
        ("POST", "/api/v1/agent", "//master2:5050/api/v1/agent"),
        ("GET", "/master/redirect", "//master2:5050"),
    ],
)
def test_a_follower_sends_leader_only_requests_to_the_leader(method: str, path: str, location: str) -> None:
    response = follower(LEADER).request(method, path, content=b"{}")
    assert response.status_code == 307
    assert response.headers["location"] == location


@pytest.mark.parametrize(
    "path", ["/health", "/master/health", "/version", "/master/flags", "/metrics/snapshot"]
)
def test_a_follower_answers_what_any_master_serves(path: str) -> None:
    assert follower(LEADER).get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/scheduler", "/master/redirect", "/master/state"])
def test_without_a_known_leader_the_answer_is_503(path: str) -> None:
    response = follower(None).request("POST" if "api" in path else "GET", path, content=b"{}")
    assert response.status_code == 503
    assert response.text == "No leader elected"


def test_once_elected_the_master_serves_itself() -> None:
    runtime = MasterRuntime(MasterConfig(hostname="master1"), clock=FakeClock(), master_id="F", leading=False)
    runtime.elect()
    client = TestClient(runtime.app, follow_redirects=False)
    assert client.get("/master/state").json()["leader_info"]["id"] == "F"
    redirect = client.get("/master/redirect")
    assert redirect.status_code == 307
    assert redirect.headers["location"] == "//master1:5050"

"""The agent's surface classifier (`agent/surfaces.py`), checked on every route of the real agent app."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.agent.config import AgentConfig
from corral.agent.runtime import AgentRuntime
from corral.agent.surfaces import classify
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.net.agent_link import LocalMasterLink
from corral.security.policy import READ_METHODS, Surface
from corral.testing.routes import route_requests


@pytest.mark.parametrize(
    ("method", "path", "surface"),
    [
        ("GET", "/health", Surface.PUBLIC),
        ("GET", "/slave(1)/health", Surface.PUBLIC),
        ("GET", "/version", Surface.PUBLIC),
        ("POST", "/login", Surface.PUBLIC),
        ("POST", "/api/v1/executor", Surface.EXECUTOR),
        ("GET", "/slave(1)/api/v1/executor", Surface.EXECUTOR),
        ("POST", "/api/v1", Surface.READWRITE),
        ("GET", "/slave(1)/api/v1", Surface.READWRITE),
        ("GET", "/state", Surface.READONLY),
        ("GET", "/files/read", Surface.READONLY),
        ("GET", "/monitor/statistics.json", Surface.READONLY),
        ("DELETE", "/state", Surface.READWRITE),
        ("GET", "/unknown", Surface.READONLY),
    ],
)
def test_requests_land_on_their_surface(method: str, path: str, surface: Surface) -> None:
    assert classify(method, path) is surface


def test_every_route_of_the_agent_is_guarded_but_health_and_version(tmp_path: Path) -> None:
    master = MasterRuntime(MasterConfig())
    runtime = AgentRuntime(AgentConfig(work_dir=tmp_path), LocalMasterLink(master))
    requests = route_requests(runtime.app)
    assert len(requests) > 20 and ("POST", "/api/v1/executor") in requests
    public = {path for method, path in requests if classify(method, path) is Surface.PUBLIC}
    assert public == {"/health", "/slave(1)/health", "/version"}
    executor = {p for m, p in requests if classify(m, p) is Surface.EXECUTOR}
    assert executor == {"/api/v1/executor", "/slave(1)/api/v1/executor"}
    writes = [(m, p) for m, p in requests if m not in READ_METHODS and classify(m, p) is Surface.READONLY]
    assert writes == []

"""The operator endpoints for roles, weights and quota, v0 and v1 (mesos.md c.3, c.7), on a real runtime with
its core on a fake clock, through Starlette's test client."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from corral.core.resources import Resources
from corral.master.config import MasterConfig
from corral.master.operator_api import operator_routes
from corral.master.runtime import MasterRuntime
from corral.protocol.agent import Register
from corral.protocol.mesos import AgentInfo, Capability, FrameworkInfo
from corral.protocol.scheduler import Subscribe
from corral.testing.clock import FakeClock

V1 = {"Content-Type": "application/json"}


@pytest.fixture
def runtime() -> MasterRuntime:
    runtime = MasterRuntime(MasterConfig(weights={"eng": 2.0}), clock=FakeClock(), master_id="M")
    for i in range(2):
        info = AgentInfo(hostname=f"a{i}", resources=Resources.of(cpus=4, mem=4096))
        runtime.open_agent(Register(agent_info=info, ip="10.0.0.1"))
    framework = FrameworkInfo(
        user="u", name="web", roles=("eng/web",), capabilities=frozenset({Capability.MULTI_ROLE.value})
    )
    runtime.open_stream(None, Subscribe(framework_info=framework))
    return runtime


@pytest.fixture
def client(runtime: MasterRuntime) -> TestClient:
    return TestClient(Starlette(routes=operator_routes(runtime)))


def call(client: TestClient, body: dict[str, Any], path: str = "/api/v1") -> Any:
    response = client.post(path, json=body, headers=V1)
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


def test_roles_lists_every_known_role_with_its_weight_and_frameworks(client: TestClient) -> None:
    for path in ("/roles", "/master/roles"):
        roles = {r["name"]: r for r in client.get(path).json()["roles"]}
        assert set(roles) == {"eng", "eng/web"}  # eng from --weights, eng/web from the framework
        assert roles["eng"]["weight"] == 2.0 and roles["eng/web"]["weight"] == 1.0
        assert len(roles["eng/web"]["frameworks"]) == 1
        assert roles["eng"]["quota"]["consumed"]["cpus"] == 0.0
    assert client.get("/roles?jsonp=cb").text.startswith("cb(")


def test_weights_get_and_put(client: TestClient, runtime: MasterRuntime) -> None:
    assert client.get("/weights").json() == [{"weight": 2.0, "role": "eng"}]
    response = client.put("/master/weights", json=[{"role": "ops", "weight": 3}])
    assert response.status_code == 200
    assert runtime.core.state.roles.weights == {"eng": 2.0, "ops": 3.0}
    assert client.put("/weights", json=[{"role": "ops", "weight": 0}]).status_code == 400
    assert client.put("/weights", json={"role": "ops"}).status_code == 400
    assert client.put("/weights", content=b"{").status_code == 400


def test_v0_quota_post_get_delete(client: TestClient, runtime: MasterRuntime) -> None:
    request = {"role": "eng", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}]}
    assert client.post("/quota", json=request).status_code == 200
    status = client.get("/master/quota").json()
    assert status["configs"] == [
        {"role": "eng", "guarantees": {"cpus": {"value": 2.0}}, "limits": {"cpus": {"value": 2.0}}}
    ]
    assert status["infos"][0]["guarantee"][0]["scalar"] == {"value": 2.0}
    too_much = {"role": "ops", "guarantee": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 100}}]}
    assert client.post("/quota", json=too_much).status_code == 400
    assert client.post("/quota", json={**too_much, "force": True}).status_code == 200
    assert client.delete("/quota/ops").status_code == 200
    assert client.delete("/quota/ops").status_code == 400
    assert set(runtime.core.state.roles.quotas) == {"eng"}


def test_v1_roles_weights_and_quota(client: TestClient, runtime: MasterRuntime) -> None:
    call(
        client,
        {"type": "UPDATE_WEIGHTS", "update_weights": {"weight_infos": [{"role": "ops", "weight": 1.5}]}},
    )
    weights = call(client, {"type": "GET_WEIGHTS"})
    assert weights == {
        "type": "GET_WEIGHTS",
        "get_weights": {"weight_infos": [{"weight": 2.0, "role": "eng"}, {"weight": 1.5, "role": "ops"}]},
    }
    update = {
        "type": "UPDATE_QUOTA",
        "update_quota": {
            "force": False,
            "quota_configs": [
                {"role": "eng", "guarantees": {"cpus": {"value": 1}}, "limits": {"cpus": {"value": 6}}}
            ],
        },
    }
    call(client, update, "/api/v1/operator")  # pymesos's operator driver posts there
    quota = call(client, {"type": "GET_QUOTA"})["get_quota"]["status"]
    assert quota["configs"] == [
        {"role": "eng", "guarantees": {"cpus": {"value": 1.0}}, "limits": {"cpus": {"value": 6.0}}}
    ]
    roles = {r["name"]: r for r in call(client, {"type": "GET_ROLES"})["get_roles"]["roles"]}
    assert roles["eng"]["quota"]["limit"] == [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 6.0}}]
    assert roles["eng/web"]["frameworks"][0]["value"] == next(iter(runtime.core.state.frameworks))

    nested = {"type": "UPDATE_QUOTA", "update_quota": {"quota_configs": [{"role": "eng/web"}]}}
    response = client.post("/api/v1", json=nested, headers=V1)
    assert response.status_code == 400 and "nested" in response.text
    call(client, {"type": "REMOVE_QUOTA", "remove_quota": {"role": "eng"}})
    assert runtime.core.state.roles.quotas == {}


def test_v1_getters(client: TestClient) -> None:
    assert call(client, {"type": "GET_HEALTH"}) == {"type": "GET_HEALTH", "get_health": {"healthy": True}}
    assert call(client, {"type": "GET_VERSION"})["get_version"]["version_info"]["version"] == "1.11.0"
    assert call(client, {"type": "GET_MASTER"})["get_master"]["master_info"]["id"] == "M"
    state = call(client, {"type": "GET_STATE"})["get_state"]
    assert len(state["get_agents"]["agents"]) == 2
    assert state["get_frameworks"]["frameworks"][0]["framework_info"]["roles"] == ["eng/web"]
    assert state["get_tasks"]["tasks"] == []
    flags = {f["name"]: f["value"] for f in call(client, {"type": "GET_FLAGS"})["get_flags"]["flags"]}
    assert flags["allocator"] == "HierarchicalDRF" and flags["weights"] == "eng=2"


def test_v1_errors(client: TestClient) -> None:
    assert client.post("/api/v1", content=b"{}", headers={"Content-Type": "text/plain"}).status_code == 415
    assert (
        client.post("/api/v1", json={"type": "GET_HEALTH"}, headers={**V1, "Accept": "text/html"}).status_code
        == 406
    )
    assert client.post("/api/v1", content=b"{", headers=V1).status_code == 400
    assert client.post("/api/v1", json={"no": "type"}, headers=V1).status_code == 400
    assert client.post("/api/v1", json={"type": "DRAIN_AGENT"}, headers=V1).status_code == 501
    assert client.get("/api/v1").status_code == 405

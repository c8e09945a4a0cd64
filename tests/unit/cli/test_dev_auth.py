"""How `corral dev --credentials` secures its stack, decided without sockets: which principal the stack's own
clients present, that one token key serves every daemon while executors' tokens stay good for the executor
API alone, and that an open stack is refused beyond loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from corral.cli.dev_auth import DevSecurity, dev_security
from corral.cli.dev_plan import DevOptions, PlanError, plan_dev
from corral.cli.runner import Service
from corral.security.credentials import Credential, parse_credentials
from corral.security.tokens import SURFACE_CLAIM

CREDENTIALS_TEXT = (
    '{"credentials": [{"principal": "ops", "secret": "s1"}, {"principal": "ci", "secret": "s2"}]}'
)


def security(credentials: str | None = CREDENTIALS_TEXT, ip: str = "127.0.0.1") -> DevSecurity:
    return dev_security(ip, credentials, None, insecure=False)


def test_the_stack_presents_the_first_principal_or_the_one_named() -> None:
    credentials = parse_credentials(CREDENTIALS_TEXT)
    first = plan_dev(DevOptions(work_dir=Path("w"), credentials=credentials))
    assert first.credential == Credential("ops", "s1")
    named = plan_dev(DevOptions(work_dir=Path("w"), credentials=credentials, principal="ci"))
    assert named.credential == Credential("ci", "s2")
    assert plan_dev(DevOptions(work_dir=Path("w"))).credential is None
    with pytest.raises(PlanError, match="'nobody' is not one of the --credentials"):
        plan_dev(DevOptions(work_dir=Path("w"), credentials=credentials, principal="nobody"))
    with pytest.raises(PlanError, match="--principal names one of the --credentials"):
        plan_dev(DevOptions(work_dir=Path("w"), principal="ops"))


def test_every_surface_of_every_daemon_needs_a_principal_and_flags_show_no_secret() -> None:
    stack = security().stack()
    assert {s.value for s in stack.master.requirements.required} == {
        "framework",
        "agent",
        "readonly",
        "readwrite",
    }
    assert {s.value for s in stack.agent.requirements.required} == {"readonly", "readwrite", "executor"}
    assert stack.master.shown["credentials"] == stack.agent.shown["credentials"] == "(inline)"
    assert stack.agent.shown["authenticate_http_executors"] == "true"
    assert stack.framework is not None and stack.framework.requirements.open == []


@pytest.fixture
def unbound() -> Iterator[socket.socket]:
    with socket.socket() as sock:
        yield sock


def service(app: ASGIApp, sock: socket.socket) -> Service:
    async def run() -> None:
        pass

    return Service("marathon", app, sock, run)


def test_an_open_stack_on_loopback_wraps_nothing(unbound: socket.socket) -> None:
    stack = security(None).stack()
    app = Starlette()
    assert stack.master_app(app) is app
    assert not stack.master.requirements.required and stack.master.signer is None
    marathon = service(app, unbound)
    assert stack.framework_service(marathon) is marathon


@pytest.mark.parametrize("ip", ["192.0.2.10", "0.0.0.0", "::"])
def test_an_open_stack_beyond_loopback_is_refused_unless_insecure(ip: str) -> None:
    with pytest.raises(click.ClickException, match=f"refusing to serve the corral dev stack on {ip}"):
        security(None, ip=ip)
    assert dev_security(ip, None, None, insecure=True).credentials is None
    assert security(CREDENTIALS_TEXT, ip=ip).credentials is not None


def test_bad_credentials_are_a_usage_error_naming_the_flag(tmp_path: Path) -> None:
    with pytest.raises(click.BadParameter, match="cannot read"):
        security(str(tmp_path / "missing.json"))


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def test_one_login_serves_every_daemon_and_an_executors_token_only_the_executor_api(
    unbound: socket.socket,
) -> None:
    stack = security().stack()
    assert stack.framework is not None
    signer = stack.master.signer
    assert signer is not None and stack.agent.signer is signer and stack.framework.signer is not None
    login = {"Authorization": f"Bearer {signer.issue('ops', now=1e9, ttl=1e12)}"}
    claims = {"fid": "f", "eid": "e", "cid": "c", SURFACE_CLAIM: "executor"}  # as the agent issues them
    executor = {"Authorization": f"Bearer {signer.issue('executor c', now=1e9, ttl=0, claims=claims)}"}

    routes = [Route(p, _ok, methods=["GET", "POST"]) for p in ("/master/state", "/state", "/api/v1/executor")]
    master = TestClient(stack.master_app(Starlette(routes=routes)))
    agent = TestClient(stack.agent_app(Starlette(routes=routes)))
    marathon = stack.framework_service(service(Starlette(routes=routes), unbound))
    framework = TestClient(marathon.app)

    assert master.get("/master/state", headers=login).status_code == 200
    assert agent.get("/state", headers=login).status_code == 200
    assert framework.get("/master/state", headers=login).status_code == 200  # the same key: the same login
    assert master.get("/master/state", headers=executor).status_code == 403
    assert framework.get("/master/state", headers=executor).status_code == 403
    assert agent.get("/state", headers=executor).status_code == 403
    assert agent.post("/api/v1/executor", headers=executor).status_code == 200

"""A follower's proxy behind the authentication middleware (reliability-security.md 4.3 items 1 and 16;
marathon.md c.5): the follower authenticates first and forwards the client's credentials to the leader the
election names, never to a host a header names; an `X-Marathon-Via` loop is a 502."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from corral.cli.framework_auth_flags import http_auth_config
from corral.frameworks.leadership import VIA_HEADER, LeaderProxy, Leadership
from corral.security.credentials import Credentials
from corral.security.http_auth import AuthMiddleware

ME, LEADER = "10.0.0.2:8080", "10.0.0.1:8080"
CREDENTIALS = Credentials({"ops": "pw"})
BASIC = "Basic " + base64.b64encode(b"ops:pw").decode()


async def local(request: Request) -> PlainTextResponse:
    return PlainTextResponse("served by the follower itself")


class Leader:
    """The leader's side of the wire: records what the follower sent."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(200, stream=httpx.ByteStream(b"served by the leader"))


@pytest.fixture
def leader() -> Leader:
    return Leader()


@pytest.fixture
async def follower(leader: Leader) -> AsyncIterator[httpx.AsyncClient]:
    leadership = Leadership(ME)
    leadership.leader = LEADER
    app = Starlette(routes=[Route("/ping", local), Route("/v2/apps", local, methods=["GET", "POST"])])
    proxy = LeaderProxy(app, leadership, local=("/ping",))
    await proxy.aclose()
    proxy._client = httpx.AsyncClient(transport=httpx.MockTransport(leader))  # the wire to the leader
    served = AuthMiddleware(proxy, http_auth_config(CREDENTIALS, "Mesosphere"))
    transport = httpx.ASGITransport(app=served)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{ME}") as client:
        yield client
    await proxy.aclose()


@pytest.mark.parametrize("authorization", [None, "Basic " + base64.b64encode(b"ops:wrong").decode()])
async def test_a_follower_authenticates_before_it_forwards_anything(
    follower: httpx.AsyncClient, leader: Leader, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await follower.post("/v2/apps", json={"id": "x", "cmd": "true"}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Mesosphere"'
    assert leader.requests == []
    assert (await follower.get("/ping")).text == "served by the follower itself"


async def test_the_clients_credentials_go_to_the_elected_leader_whatever_the_headers_name(
    follower: httpx.AsyncClient, leader: Leader
) -> None:
    headers = {
        "Authorization": BASIC,
        "Host": "evil.example:80",
        "X-Forwarded-Host": "evil.example",
        "Cookie": "corral_token=abc",
    }
    response = await follower.get("/v2/apps?embed=apps.tasks", headers=headers)
    assert (response.status_code, response.text) == (200, "served by the leader")
    [sent] = leader.requests
    assert (sent.url.host, sent.url.port, sent.url.path) == ("10.0.0.1", 8080, "/v2/apps")
    assert sent.url.query == b"embed=apps.tasks"
    assert sent.headers["host"] == LEADER
    assert sent.headers["authorization"] == BASIC and sent.headers["cookie"] == "corral_token=abc"
    assert sent.headers[VIA_HEADER] == ME


async def test_each_hop_adds_itself_and_a_request_back_at_a_hop_it_passed_is_a_loop(
    follower: httpx.AsyncClient, leader: Leader
) -> None:
    passed = {"Authorization": BASIC, VIA_HEADER: "10.0.0.3:8080"}
    assert (await follower.get("/v2/apps", headers=passed)).status_code == 200
    assert leader.requests[0].headers[VIA_HEADER] == f"10.0.0.3:8080, {ME}"
    looped = {"Authorization": BASIC, VIA_HEADER: f"10.0.0.3:8080, {ME}"}
    response = await follower.get("/v2/apps", headers=looped)
    assert (response.status_code, response.json()) == (502, {"message": "Detected proxying loop."})
    assert len(leader.requests) == 1

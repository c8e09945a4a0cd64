from __future__ import annotations

import base64

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from corral.security.credentials import Credentials
from corral.security.http_auth import COOKIE, AuthConfig, AuthMiddleware
from corral.security.identity import principal_of
from corral.security.policy import AuthRequirements, Surface
from corral.security.tokens import LOGIN_TTL, SURFACE_CLAIM, TokenSigner
from corral.testing.clock import FakeClock

CREDENTIALS = Credentials({"ops": "s3cret", "viewer": "v"})


def whoami(request: Request) -> JSONResponse:
    return JSONResponse({"principal": principal_of(request.scope)})


def classify(method: str, path: str) -> Surface:
    if path in ("/health", "/login", "/logout"):
        return Surface.PUBLIC
    return Surface.READONLY if method == "GET" else Surface.READWRITE


def basic(principal: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{principal}:{secret}".encode()).decode()}


def client(required: frozenset[Surface], clock: FakeClock | None = None) -> TestClient:
    app = Starlette(
        routes=[Route(p, whoami, methods=["GET", "POST"]) for p in ("/health", "/state", "/write")]
    )
    config = AuthConfig(
        credentials=CREDENTIALS,
        signer=TokenSigner.from_credentials(CREDENTIALS),
        requirements=AuthRequirements(required, frozenset({Surface.READONLY, Surface.READWRITE})),
        classify=classify,
        realm="Corral",
    )
    now = clock.now if clock is not None else (lambda: 1000.0)
    return TestClient(AuthMiddleware(app, config, clock=now))


def test_a_required_surface_without_credentials_is_401_with_a_basic_challenge() -> None:
    http = client(frozenset({Surface.READWRITE}))
    response = http.post("/write")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Corral"'
    assert response.json() == {"message": "authentication required"}
    assert http.get("/state").json() == {"principal": None}  # readonly is open here


@pytest.mark.parametrize(
    "headers",
    [
        basic("ops", "wrong"),
        basic("nobody", "s3cret"),
        {"Authorization": "Basic !!!"},
        {"Authorization": "Bearer forged"},
        {"Authorization": "Digest x"},
    ],
)
def test_wrong_credentials_are_401_even_on_open_surfaces_but_not_on_public_ones(
    headers: dict[str, str],
) -> None:
    http = client(frozenset({Surface.READWRITE}))
    assert http.post("/write", headers=headers).status_code == 401
    assert http.get("/state", headers=headers).status_code == 401
    assert http.get("/health", headers=headers).status_code == 200
    assert "s3cret" not in http.get("/state", headers=headers).text


def test_basic_credentials_name_the_principal() -> None:
    http = client(frozenset({Surface.READWRITE, Surface.READONLY}))
    assert http.post("/write", headers=basic("ops", "s3cret")).json() == {"principal": "ops"}


def test_the_ui_asks_for_no_browser_dialog() -> None:
    response = client(frozenset({Surface.READONLY})).get(
        "/state", headers={"X-Requested-With": "XMLHttpRequest"}
    )
    assert response.status_code == 401
    assert "www-authenticate" not in response.headers


def test_login_gives_a_token_and_a_strict_cookie_that_authenticate_until_they_expire() -> None:
    clock = FakeClock(1000.0)
    http = client(frozenset({Surface.READONLY, Surface.READWRITE}), clock)
    assert http.post("/login").status_code == 401
    assert http.post("/login", headers=basic("ops", "nope")).status_code == 401
    login = http.post("/login", headers=basic("viewer", "v"))
    assert login.status_code == 200
    body = login.json()
    assert body["principal"] == "viewer"
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert http.get("/state", headers=bearer).json() == {"principal": "viewer"}
    assert http.get("/state").json() == {"principal": "viewer"}  # the cookie the client kept
    clock.advance(LOGIN_TTL)
    assert http.get("/state", headers=bearer).status_code == 401
    assert http.get("/state").status_code == 401


def test_logout_clears_the_cookie() -> None:
    http = client(frozenset({Surface.READONLY}))
    http.post("/login", headers=basic("ops", "s3cret"))
    assert http.cookies.get(COOKIE)
    assert http.post("/logout").status_code == 200
    assert not http.cookies.get(COOKIE)
    assert http.get("/state").status_code == 401


def test_a_token_restricted_to_one_surface_opens_no_other_nor_trades_itself_at_login() -> None:
    signer = TokenSigner.from_credentials(CREDENTIALS)
    token = signer.issue("executor c1", now=1000.0, ttl=0, claims={SURFACE_CLAIM: Surface.READWRITE.value})
    http = client(frozenset({Surface.READONLY, Surface.READWRITE}))
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.post("/write", headers=bearer).json() == {"principal": "executor c1"}
    refused = http.get("/state", headers=bearer)
    assert refused.status_code == 403
    assert refused.json() == {"message": "this token is good only for the readwrite API"}
    assert http.get("/health", headers=bearer).status_code == 200  # public routes stay open to it
    assert http.post("/login", headers=bearer).status_code == 403

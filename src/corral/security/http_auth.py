"""Authentication in front of a daemon's ASGI app: HTTP Basic, bearer tokens, and the web UIs' login cookie.

A request may present `Authorization: Basic` (a principal of the credentials), `Authorization: Bearer` (a
token from `POST /login`, or an executor's token), or the `corral_token` cookie `POST /login` sets for the
web UIs. Whatever it presents is checked even where its surface needs no authentication, so authorizers see
the principal; a wrong credential is a 401 everywhere but PUBLIC routes.

A 401 carries `WWW-Authenticate: Basic realm="..."` (what Mesos, Marathon and curl expect) unless the request
says `X-Requested-With: XMLHttpRequest` or accepts `text/event-stream`: the web UIs' fetches send the first
and their EventSource streams the second, so the browser shows their login form rather than its own dialog.
Bodies are JSON `{"message": ...}` naming what is missing, never a secret.

`POST /login` (Basic credentials) answers `{"principal", "token", "expires"}` and sets the cookie
(HttpOnly, SameSite=Strict, so no other site can make a browser use it); `POST /logout` clears it.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.security.credentials import Credentials
from corral.security.identity import CLAIMS_KEY, PRINCIPAL_KEY
from corral.security.policy import AuthRequirements, Classifier, Surface
from corral.security.tokens import LOGIN_TTL, SURFACE_CLAIM, TokenSigner, Verified

log = logging.getLogger(__name__)

COOKIE = "corral_token"
LOGIN_PATH = "/login"
LOGOUT_PATH = "/logout"


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """How one daemon authenticates: whom it accepts, and which surfaces need a principal."""

    credentials: Credentials | None
    signer: TokenSigner | None
    requirements: AuthRequirements
    classify: Classifier
    realm: str = "Mesos"
    secure_cookie: bool = False  # the daemon serves TLS: the cookie must never travel in clear

    @property
    def enabled(self) -> bool:
        return self.credentials is not None or self.signer is not None


class _Rejected(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _out_of_bounds(verified: Verified, surface: Surface, path: str) -> str | None:
    """Why a token restricted to one surface may not serve this request (None if it may). Public routes stay
    open to it, but not /login, which would trade it for an unrestricted token."""
    only = verified.claims.get(SURFACE_CLAIM)
    if only is None or surface.value == only or (surface is Surface.PUBLIC and path != LOGIN_PATH):
        return None
    return f"this token is good only for the {only} API"


class AuthMiddleware:
    def __init__(self, app: ASGIApp, config: AuthConfig, *, clock: Callable[[], float] = time.time) -> None:
        self.app = app
        self.config = config
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.config.enabled:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        method, path = scope["method"], scope["path"]
        surface = self.config.classify(method, path)
        try:
            verified = self._authenticate(headers)
        except _Rejected as e:
            verified = None
            if surface is not Surface.PUBLIC or path == LOGIN_PATH:
                await self._unauthorized(e.message, headers)(scope, receive, send)
                return
        if verified is not None and (refusal := _out_of_bounds(verified, surface, path)):
            await JSONResponse({"message": refusal}, status_code=403)(scope, receive, send)
            return
        if method == "POST" and path == LOGIN_PATH:
            await self._login(verified, headers)(scope, receive, send)
            return
        if method == "POST" and path == LOGOUT_PATH:
            response = JSONResponse({"message": "logged out"})
            response.headers.append("Set-Cookie", f"{COOKIE}=; Max-Age=0{self._cookie_flags}")
            await response(scope, receive, send)
            return
        if verified is None and surface in self.config.requirements.required:
            await self._unauthorized("authentication required", headers)(scope, receive, send)
            return
        if verified is not None:
            scope = {**scope, PRINCIPAL_KEY: verified.principal, CLAIMS_KEY: verified.claims}
        await self.app(scope, receive, send)

    def _authenticate(self, headers: Headers) -> Verified | None:
        authorization = headers.get("authorization")
        if authorization:
            scheme, _, value = authorization.partition(" ")
            match scheme.lower():
                case "basic":
                    return self._basic(value.strip())
                case "bearer":
                    return self._bearer(value.strip())
                case _:
                    raise _Rejected(f"unsupported authorization scheme {scheme[:20]!r}")
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:  # a malformed Cookie header is simply no cookie
            return None
        morsel = cookie.get(COOKIE)
        return self._bearer(morsel.value) if morsel is not None and morsel.value else None

    def _basic(self, value: str) -> Verified:
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, ValueError):
            raise _Rejected("malformed Basic credentials") from None
        principal, colon, secret = decoded.partition(":")
        credentials = self.config.credentials
        if not colon or credentials is None or not credentials.verify(principal, secret):
            raise _Rejected("invalid credentials")
        return Verified(principal, {})

    def _bearer(self, token: str) -> Verified:
        signer = self.config.signer
        verified = None if signer is None else signer.verify(token, now=self._clock())
        if verified is None:
            raise _Rejected("invalid or expired token")
        return verified

    def _unauthorized(self, message: str, headers: Headers) -> Response:
        # A UI's EventSource cannot add X-Requested-With: its Accept header marks it instead.
        challenge = headers.get("x-requested-with", "").lower() != "xmlhttprequest" and (
            "text/event-stream" not in headers.get("accept", "")
        )
        extra = {"WWW-Authenticate": f'Basic realm="{self.config.realm}"'} if challenge else {}
        return JSONResponse({"message": message}, status_code=401, headers=extra)

    @property
    def _cookie_flags(self) -> str:
        return "; HttpOnly; SameSite=Strict; Path=/" + ("; Secure" if self.config.secure_cookie else "")

    def _login(self, verified: Verified | None, headers: Headers) -> Response:
        if verified is None:
            return self._unauthorized("log in with Basic credentials", headers)
        signer = self.config.signer
        if signer is None:
            return JSONResponse({"message": "this daemon issues no tokens"}, status_code=404)
        now = self._clock()
        token = signer.issue(verified.principal, now=now)
        body = {"principal": verified.principal, "token": token, "expires": now + LOGIN_TTL}
        response = JSONResponse(body)
        cookie = f"{COOKIE}={token}; Max-Age={int(LOGIN_TTL)}{self._cookie_flags}"
        response.headers.append("Set-Cookie", cookie)
        return response

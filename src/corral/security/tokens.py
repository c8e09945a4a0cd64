"""Bearer tokens: HMAC-SHA256 JSON Web Tokens (RFC 7519) naming a principal, checked with PyJWT.

A daemon issues one at `POST /login` to a principal that proved its secret (the CLI and the web UIs keep it
instead of the password), and an agent gives each executor one, as Mesos' `--jwt_secret_key` does
(`MESOS_EXECUTOR_AUTHENTICATION_TOKEN`, its claims naming the framework, executor and container).

The key is `--jwt_secret_key` when given. Otherwise it is derived from the credentials the daemon accepts, so
every instance of an ensemble given the same credentials file accepts the others' tokens (a follower's
proxied request, a UI that reconnects to a new leader), and changing the credentials revokes every token.

Time is an argument (`now`), so expiry is tested with a fake clock; PyJWT's own clock check is off.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

import jwt

from corral.security.credentials import Credentials

ALGORITHM = "HS256"
# A login lasts a working day: long enough not to interrupt an operator, short enough that a leaked token
# (a shared screen, a browser left open) stops working by itself.
LOGIN_TTL = 8 * 3600.0
Claims = Mapping[str, str | int | float]
# A token whose claims hold this is good only on that surface (and public routes other than /login): an
# executor's token opens the executor API, not the operator's.
SURFACE_CLAIM = "surface"


@dataclass(frozen=True, slots=True)
class Verified:
    principal: str
    claims: Claims


class TokenSigner:
    """Issues and checks tokens under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("a token key needs at least 32 bytes")
        self._key = key

    def __repr__(self) -> str:
        return "TokenSigner(key='***')"

    @classmethod
    def from_credentials(cls, credentials: Credentials) -> TokenSigner:
        material = "\n".join(f"{p}\0{s}" for p, s in sorted(credentials.secrets.items())).encode()
        return cls(hmac.new(b"corral bearer tokens", material, hashlib.sha256).digest())

    def issue(
        self, principal: str, *, now: float, ttl: float = LOGIN_TTL, claims: Claims | None = None
    ) -> str:
        payload = {**(claims or {}), "sub": principal, "iat": int(now)}
        if ttl > 0:
            payload["exp"] = int(now + ttl)
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, *, now: float) -> Verified | None:
        """The token's principal and claims, or None if it is malformed, forged or expired."""
        try:
            payload = jwt.decode(
                token, self._key, algorithms=[ALGORITHM], options={"verify_exp": False, "verify_iat": False}
            )
        except jwt.InvalidTokenError:
            return None
        subject, expires = payload.get("sub"), payload.get("exp")
        if not isinstance(subject, str) or not subject:
            return None
        if expires is not None and (not isinstance(expires, int | float) or now >= expires):
            return None
        claims = {k: v for k, v in payload.items() if isinstance(v, str | int | float)}
        return Verified(subject, claims)

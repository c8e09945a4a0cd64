"""Who made a request: the authentication middleware records the principal in the ASGI scope.

Handlers and authorizers read it with `principal_of`; None means the request was not authenticated
(authentication is off for that endpoint, or the daemon runs open).
"""

from __future__ import annotations

from collections.abc import Mapping

PRINCIPAL_KEY = "corral.principal"
CLAIMS_KEY = "corral.claims"  # a bearer token's claims: an executor's names its framework and executor


def principal_of(scope: Mapping[str, object]) -> str | None:
    """The authenticated principal of a request's scope (`request.scope`), if any."""
    principal = scope.get(PRINCIPAL_KEY)
    return principal if isinstance(principal, str) else None


def claims_of(scope: Mapping[str, object]) -> Mapping[str, object]:
    """The claims of the request's bearer token (empty for Basic credentials or none)."""
    claims = scope.get(CLAIMS_KEY)
    return claims if isinstance(claims, Mapping) else {}

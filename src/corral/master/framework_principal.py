"""A framework's principal against the one its scheduler calls authenticated as (mesos.md a.1, a.3).

Upstream answers 400 when an authenticated call comes from a principal other than the framework's
(`FrameworkInfo.principal`; the edge fills an unset one with the authenticated principal first), and
refuses a framework that changes its principal when it subscribes again (upstream's
`ChangePrincipalOnReRegistrationFails`). Unauthenticated calls are judged only by the latter.
"""

from __future__ import annotations

from corral.protocol.mesos import FrameworkInfo


def mismatch(authenticated: str | None, principal: str | None) -> str | None:
    """Why a call authenticated as `authenticated` may not act for a framework whose principal is
    `principal`; None if it may (or the call is not authenticated)."""
    if authenticated is None or principal == authenticated:
        return None
    return (
        f"Authenticated principal '{authenticated}' does not match principal '{principal or ''}' set in "
        "`FrameworkInfo`"
    )


def subscribe_problem(
    info: FrameworkInfo, authenticated: str | None, registered: FrameworkInfo | None
) -> str | None:
    """Why a SUBSCRIBE is a 400; `registered` is what the master knows of the framework, if anything."""
    if problem := mismatch(authenticated, info.principal):
        return problem
    if registered is not None and registered.principal != info.principal:
        return "Changing framework's principal is not allowed"
    return None

"""What a daemon demands of a request before serving it: which surfaces need a principal, and who may listen
where without any.

Every HTTP route belongs to one `Surface`. Mesos' flags name the surfaces of the master and the agent
(`--authenticate_frameworks`, `--authenticate_agents`, `--authenticate_http_readonly`,
`--authenticate_http_readwrite`, `--authenticate_http_executors`); Marathon and Chronos authenticate every
surface but PUBLIC once `--http_credentials` is given.

Corral differs from upstream in one default: a flag left unset follows whether credentials were given, so
`--credentials` alone secures a master and each flag can still turn its surface off. And a daemon that
listens beyond loopback with any surface open refuses to start unless `--insecure` is given.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum


class Surface(StrEnum):
    PUBLIC = "public"  # health, the UI's static files, /login: nothing to protect
    READONLY = "readonly"  # GET of state, metrics, flags, files
    READWRITE = "readwrite"  # operator changes; every Marathon and Chronos API write
    FRAMEWORK = "framework"  # the v1 scheduler API
    AGENT = "agent"  # agents registering and reporting to the master
    EXECUTOR = "executor"  # the v1 executor API on the agent


# The flag that turns each surface's authentication on, for messages and /flags.
FLAGS = {
    Surface.READONLY: "--authenticate_http_readonly",
    Surface.READWRITE: "--authenticate_http_readwrite",
    Surface.FRAMEWORK: "--authenticate_frameworks",
    Surface.AGENT: "--authenticate_agents",
    Surface.EXECUTOR: "--authenticate_http_executors",
}
Classifier = Callable[[str, str], Surface]  # (method, path) -> surface
READ_METHODS = frozenset({"GET", "HEAD"})  # what a classifier may count as READONLY


@dataclass(frozen=True, slots=True)
class AuthRequirements:
    """The surfaces a daemon authenticates, and those it serves to anyone (besides PUBLIC)."""

    required: frozenset[Surface]
    served: frozenset[Surface]

    @classmethod
    def from_flags(cls, flags: dict[Surface, bool | None], *, have_credentials: bool) -> AuthRequirements:
        """Mesos-style per-surface flags; None follows `have_credentials`."""
        required = {s for s, on in flags.items() if (have_credentials if on is None else on)}
        return cls(frozenset(required), frozenset(flags))

    @classmethod
    def all_or_nothing(cls, served: Iterable[Surface], *, have_credentials: bool) -> AuthRequirements:
        """Marathon and Chronos: everything but PUBLIC once credentials are given."""
        surfaces = frozenset(served)
        return cls(surfaces if have_credentials else frozenset(), surfaces)

    @property
    def open(self) -> list[Surface]:
        return sorted(self.served - self.required)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def exposure_error(
    daemon: str, host: str, requirements: AuthRequirements, *, insecure: bool, hint: str
) -> str | None:
    """Why `daemon` must not listen on `host` as configured, or None if it may. `hint` says how to secure it
    (the credential flags of that daemon)."""
    if insecure or is_loopback(host) or not requirements.open:
        return None
    surfaces = ", ".join(s.value for s in requirements.open)
    return (
        f"refusing to serve the {daemon} on {host} with unauthenticated APIs ({surfaces}): {hint}, "
        "or pass --insecure to serve them open"
    )

"""Which surface each request to the master belongs to, so the `--authenticate_*` flags know what to guard.

- PUBLIC: health, version and the leader's address (upstream serves them unauthenticated: load balancers
  and pymesos' `GET /version` ask before they have credentials), the web UI's page and static files, and
  `/login`/`/logout`.
- FRAMEWORK: the v1 scheduler API (`--authenticate_frameworks`). AGENT: Corral's agent API
  (`--authenticate_agents`).
- READWRITE: the endpoints upstream authenticates in its read-write realm whatever the method (`/teardown`,
  `/quota`, `/weights`, maintenance, reservations and volumes, the v1 operator API: a GET_* call is a POST
  like any other, so all of `/api/v1` is READWRITE), and any other method but GET and HEAD.
- READONLY: every other GET or HEAD (state, flags, metrics, frameworks, tasks, roles, files, events).

A path the master does not serve falls in READONLY or READWRITE by its method: guarded, never open.
"""

from __future__ import annotations

from corral.security.policy import READ_METHODS, Surface

_BOTH = ("", "/master")
_PUBLIC = frozenset(
    {"/", "/login", "/logout"}
    | {f"{prefix}/{name}" for prefix in _BOTH for name in ("health", "version", "redirect")}
)
_PUBLIC_PREFIX = "/ui/"
_FRAMEWORK = frozenset(f"{prefix}/api/v1/scheduler" for prefix in _BOTH)
_AGENT = frozenset({"/api/v1/agent"})
_READWRITE_NAMES = (
    "teardown",
    "quota",
    "weights",
    "maintenance/schedule",
    "maintenance/status",
    "machine/down",
    "machine/up",
    "reserve",
    "unreserve",
    "create-volumes",
    "destroy-volumes",
    "api/v1",
    "api/v1/operator",
)
_READWRITE = frozenset(f"{prefix}/{name}" for prefix in _BOTH for name in _READWRITE_NAMES)
_READWRITE_PREFIXES = tuple(f"{prefix}/quota/" for prefix in _BOTH)  # DELETE /quota/<role>


def classify(method: str, path: str) -> Surface:
    if path in _PUBLIC or path.startswith(_PUBLIC_PREFIX):
        return Surface.PUBLIC
    if path in _FRAMEWORK:
        return Surface.FRAMEWORK
    if path in _AGENT:
        return Surface.AGENT
    if method in READ_METHODS and path not in _READWRITE and not path.startswith(_READWRITE_PREFIXES):
        return Surface.READONLY
    return Surface.READWRITE

"""Which surface each request to the agent belongs to, so the `--authenticate_*` flags know what to guard.

- PUBLIC: health and version (under `/slave(1)` too), `/login` and `/logout`.
- EXECUTOR: the v1 executor API (`--authenticate_http_executors`).
- READWRITE: the v1 agent operator API (`/api/v1`, a POST whatever the call), and any method but GET and
  HEAD.
- READONLY: every other GET or HEAD (state, metrics, files, monitor statistics).

A path the agent does not serve falls in READONLY or READWRITE by its method: guarded, never open.
"""

from __future__ import annotations

from corral.security.policy import READ_METHODS, Surface

_BOTH = ("", "/slave(1)")
_PUBLIC = frozenset(
    {"/login", "/logout"} | {f"{prefix}/{name}" for prefix in _BOTH for name in ("health", "version")}
)
_EXECUTOR = frozenset(f"{prefix}/api/v1/executor" for prefix in _BOTH)
_OPERATOR = frozenset(f"{prefix}/api/v1" for prefix in _BOTH)


def classify(method: str, path: str) -> Surface:
    if path in _PUBLIC:
        return Surface.PUBLIC
    if path in _EXECUTOR:
        return Surface.EXECUTOR
    if method in READ_METHODS and path not in _OPERATOR:
        return Surface.READONLY
    return Surface.READWRITE

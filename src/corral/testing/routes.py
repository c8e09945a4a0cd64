"""Every request a daemon's ASGI app routes, found from the app itself, for tests that must cover them all
(the authentication matrix, the surface classifiers): a route added tomorrow is covered tomorrow."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS")


def find_router(app: Any, depth: int = 8) -> Starlette:
    """The Starlette app inside `app`: `app` itself, the app a middleware wraps (`.app`), or one a plain
    ASGI function closes over (the master's front dispatcher)."""
    if isinstance(app, Starlette):
        return app
    inner = [getattr(app, "app", None)]
    inner += [cell.cell_contents for cell in getattr(app, "__closure__", None) or ()]
    for candidate in inner:
        if candidate is not None and depth > 0:
            try:
                return find_router(candidate, depth - 1)
            except LookupError:
                continue
    raise LookupError(f"no Starlette router in {app!r}")


def route_requests(app: Any, samples: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(method, path) for every route of `app` and every method it allows, path parameters filled from
    `samples` (default: "sample")."""
    found: list[tuple[str, str]] = []
    routes: list[BaseRoute] = find_router(app).routes
    for route in routes:
        if not isinstance(route, Route):
            raise TypeError(f"{route!r}: only plain routes are enumerated")
        values = {name: (samples or {}).get(name, "sample") for name in route.param_convertors}
        path = route.path_format.format(**values)
        found += [(method, path) for method in sorted(route.methods or ALL_METHODS)]
    return found

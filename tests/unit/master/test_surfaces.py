"""The master's surface classifier (`master/surfaces.py`): each request lands on the surface its
`--authenticate_*` flag guards, checked on every route of the real master app."""

from __future__ import annotations

import pytest

from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.master.surfaces import classify
from corral.security.policy import READ_METHODS, Surface
from corral.testing.routes import route_requests

R, W = Surface.READONLY, Surface.READWRITE


@pytest.mark.parametrize(
    ("method", "path", "surface"),
    [
        ("GET", "/health", Surface.PUBLIC),
        ("GET", "/master/health", Surface.PUBLIC),
        ("GET", "/version", Surface.PUBLIC),
        ("GET", "/master/redirect", Surface.PUBLIC),
        ("GET", "/", Surface.PUBLIC),
        ("GET", "/ui/app.js", Surface.PUBLIC),
        ("POST", "/login", Surface.PUBLIC),
        ("POST", "/logout", Surface.PUBLIC),
        ("POST", "/api/v1/scheduler", Surface.FRAMEWORK),
        ("GET", "/master/api/v1/scheduler", Surface.FRAMEWORK),
        ("POST", "/api/v1/agent", Surface.AGENT),
        ("GET", "/master/state", R),
        ("GET", "/state.json", R),
        ("HEAD", "/master/state", R),
        ("GET", "/flags", R),
        ("GET", "/metrics/snapshot", R),
        ("GET", "/files/read", R),
        ("GET", "/master/roles", R),
        ("GET", "/master/events", R),
        ("GET", "/master/quota", W),  # upstream's read-write realm, whatever the method
        ("GET", "/weights", W),
        ("DELETE", "/master/quota/eng", W),
        ("POST", "/master/teardown", W),
        ("POST", "/api/v1", W),  # GET_STATE too: a v1 operator call is a POST
        ("POST", "/master/api/v1/operator", W),
        ("PUT", "/master/state", W),  # any write method, even where nothing is served
        ("GET", "/nowhere", R),
        ("POST", "/health/", W),  # not the public path: guarded like any unknown one
        ("GET", "//api/v1/scheduler", R),
    ],
)
def test_requests_land_on_their_surface(method: str, path: str, surface: Surface) -> None:
    assert classify(method, path) is surface


PUBLIC_PATHS = {"/", "/version", "/health", "/master/health", "/redirect", "/master/redirect"}


def test_every_route_of_the_master_is_guarded_but_health_version_redirect_and_the_ui() -> None:
    requests = route_requests(MasterRuntime(MasterConfig()).app, {"name": "index.html"})
    assert len(requests) > 60 and ("POST", "/api/v1/scheduler") in requests
    public = {path for method, path in requests if classify(method, path) is Surface.PUBLIC}
    assert public == PUBLIC_PATHS | {"/ui/index.html"}
    writes = [(m, p) for m, p in requests if m not in READ_METHODS and classify(m, p) is R]
    assert writes == [], "a write method must never be merely READONLY"
    scheduler = {p for m, p in requests if classify(m, p) is Surface.FRAMEWORK}
    assert scheduler == {"/api/v1/scheduler", "/master/api/v1/scheduler"}
    assert {p for m, p in requests if classify(m, p) is Surface.AGENT} == {"/api/v1/agent"}

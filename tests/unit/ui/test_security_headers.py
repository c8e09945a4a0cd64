"""The UIs' static answers carry the headers that keep a page from being framed, sniffed or made to run
injected script (Marathon's UI added X-Frame-Options upstream, reliability-security.md 4.3), and the pages
satisfy that policy: no inline script anywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import corral
from corral.security.credentials import Credentials
from corral.security.http_auth import AuthConfig, AuthMiddleware
from corral.security.policy import AuthRequirements, Surface
from corral.security.tokens import TokenSigner
from corral.ui.static import ui_routes

SRC = Path(corral.__file__).resolve().parent
UI_DIRS = [SRC / "master" / "ui", SRC / "marathon" / "ui", SRC / "chronos" / "ui"]


@pytest.mark.parametrize("ui_dir", UI_DIRS, ids=lambda d: d.parent.name)
@pytest.mark.parametrize("path", ["/", "/ui/core.js", "/ui/session.js", "/ui/base.css"])
def test_every_static_answer_forbids_framing_sniffing_and_foreign_script(ui_dir: Path, path: str) -> None:
    http = TestClient(Starlette(routes=ui_routes(ui_dir)))
    first = http.get(path)
    again = http.get(path, headers={"If-None-Match": first.headers["etag"]})
    for response in (first, again):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert again.status_code == 304


INLINE_SCRIPT = [
    re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),  # a script element without src
    re.compile(r"\son[a-z]+\s*=", re.IGNORECASE),  # an event handler attribute
    re.compile(r"javascript:", re.IGNORECASE),
]


@pytest.mark.parametrize("ui_dir", UI_DIRS, ids=lambda d: d.parent.name)
def test_the_pages_hold_no_inline_script_so_the_policy_lets_them_run(ui_dir: Path) -> None:
    html = (ui_dir / "index.html").read_text()
    assert re.search(r"<script[^>]*\bsrc=", html)
    for pattern in INLINE_SCRIPT:
        assert not pattern.search(html), pattern.pattern


@pytest.mark.parametrize(
    ("headers", "challenged"),
    [
        ({}, True),  # curl, a script: the challenge asks for credentials
        ({"X-Requested-With": "XMLHttpRequest"}, False),  # a UI's fetch
        ({"Accept": "text/event-stream"}, False),  # a UI's EventSource, which cannot set headers
    ],
)
def test_a_ui_is_refused_without_the_challenge_that_opens_the_browsers_dialog(
    headers: dict[str, str], challenged: bool
) -> None:
    """The UIs' login form, not the browser's own password dialog, answers a 401."""
    credentials = Credentials({"ops": "pw"})
    surfaces = frozenset({Surface.READONLY})
    config = AuthConfig(
        credentials=credentials,
        signer=TokenSigner.from_credentials(credentials),
        requirements=AuthRequirements(surfaces, surfaces),
        classify=lambda method, path: Surface.READONLY,
    )
    app = AuthMiddleware(Starlette(routes=ui_routes(UI_DIRS[0])), config)
    response = TestClient(app).get("/events", headers=headers)
    assert response.status_code == 401
    assert ("www-authenticate" in response.headers) is challenged

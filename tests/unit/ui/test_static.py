"""Serving a UI directory: index at `/`, files and shared assets under `/ui/`, ETags, nothing else."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from corral.ui.static import ASSETS, ui_routes


@pytest.fixture
def ui_dir(tmp_path: Path) -> Path:
    ui = tmp_path / "ui"
    (ui / "img").mkdir(parents=True)
    (ui / "index.html").write_text("<!doctype html><title>t</title>")
    (ui / "app.js").write_text("export const x = 1;")
    (ui / "img" / "logo.svg").write_text("<svg/>")
    (ui / "server.py").write_text("SECRET = 1")
    (tmp_path / "outside.js").write_text("nope")
    return ui


def client(ui_dir: Path, index_paths: Sequence[str] = ("/",)) -> TestClient:
    return TestClient(Starlette(routes=ui_routes(ui_dir, index_paths=index_paths)))


def test_the_index_and_files_are_served_with_their_types(ui_dir: Path) -> None:
    c = client(ui_dir)
    index = c.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"] == "text/html; charset=utf-8"
    assert "<title>t</title>" in index.text
    assert c.get("/ui/app.js").headers["content-type"] == "text/javascript; charset=utf-8"
    assert c.get("/ui/img/logo.svg").headers["content-type"] == "image/svg+xml"


def test_the_shared_assets_are_served_beside_the_ui_files(ui_dir: Path) -> None:
    c = client(ui_dir)
    core = c.get("/ui/core.js")
    assert core.status_code == 200
    assert core.text == (ASSETS / "core.js").read_text()
    assert c.get("/ui/base.css").headers["content-type"] == "text/css; charset=utf-8"


def test_extra_index_paths_serve_the_same_page(ui_dir: Path) -> None:
    c = client(ui_dir, index_paths=("/", "/ui/"))
    assert c.get("/ui/").text == c.get("/").text


@pytest.mark.parametrize(
    "path", ["/ui/server.py", "/ui/../outside.js", "/ui/%2E%2E/outside.js", "/ui//etc/passwd", "/ui/nope.js"]
)
def test_only_known_ui_files_are_served(ui_dir: Path, path: str) -> None:
    response = client(ui_dir).get(path)
    assert response.status_code == 404
    assert "SECRET" not in response.text and "nope" not in response.text


def test_an_unchanged_file_is_answered_304_by_etag(ui_dir: Path) -> None:
    c = client(ui_dir)
    first = c.get("/ui/app.js")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = c.get("/ui/app.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert c.get("/ui/app.js", headers={"If-None-Match": '"other"'}).status_code == 200
    assert c.get("/ui/core.js").headers["etag"] != etag


def test_pages_may_load_only_from_their_own_origin(ui_dir: Path) -> None:
    policy = client(ui_dir).get("/").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy


def test_a_ui_file_may_not_hide_a_shared_asset(ui_dir: Path) -> None:
    (ui_dir / "core.js").write_text("// mine")
    with pytest.raises(ValueError, match=r"core\.js"):
        ui_routes(ui_dir)


def test_a_ui_needs_an_index(ui_dir: Path) -> None:
    (ui_dir / "index.html").unlink()
    with pytest.raises(ValueError, match=r"index\.html"):
        ui_routes(ui_dir)

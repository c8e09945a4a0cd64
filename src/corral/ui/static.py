"""Serving a daemon's web UI: its own directory of static files plus the shared assets, with no build step.

The URL layout is the same on every daemon, so pages can hard-code it:
- each of `index_paths` (default `/`) answers the UI directory's `index.html`;
- `/ui/<name>` answers `<name>` from the UI directory, else from the shared `corral/ui/assets/`
  (`/ui/base.css`, `/ui/core.js`); a UI file may not reuse a shared name (ValueError when the routes are
  built), so a page always gets the shared file it asks for. Sub-directories work: `/ui/img/logo.svg`.

Files are read once, when the routes are built. Only names with a known type are served (a UI directory may
also hold Python modules, never served), and a request is a lookup in that snapshot: no request path ever
reaches the file system, so there is no traversal to guard against. Every answer carries a strong ETag and
`Cache-Control: no-cache`: browsers revalidate each load (304 when unchanged), so a restarted daemon never
runs yesterday's JS. The content security policy lets a page load and fetch only from its own origin:
nothing comes from the internet; and no other page may frame a UI.

The files hold no data, so a daemon that authenticates serves them to anyone (its classifier calls the
index paths and `/ui/` PUBLIC); the pages then log in through `/login` (`assets/session.js`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

PREFIX = "/ui"
ASSETS = Path(__file__).resolve().parent / "assets"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".woff2": "font/woff2",
}
# Inline styles are allowed (JS sets widths of bars); scripts, fetches and images only from this origin, no
# inline script. No page may frame a UI (clickjacking: Marathon's UI added X-Frame-Options: DENY upstream);
# `frame-ancestors` says it to current browsers, X-Frame-Options to older ones.
POLICY = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": POLICY,
}


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    media_type: str
    etag: str


def load_files(directory: Path) -> dict[str, StaticFile]:
    """Every servable file under `directory`, by its path relative to it (POSIX separators)."""
    files: dict[str, StaticFile] = {}
    for path in sorted(directory.rglob("*")):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[path.relative_to(directory).as_posix()] = StaticFile(body, media_type, etag)
    return files


def _is_fresh(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match")
    if wanted is None:
        return False
    tags = {t.strip().removeprefix("W/") for t in wanted.split(",")}
    return etag in tags or "*" in tags


def file_response(request: Request, file: StaticFile) -> Response:
    headers = {"ETag": file.etag, "Cache-Control": "no-cache", **SECURITY_HEADERS}
    if _is_fresh(request, file.etag):
        return Response(status_code=304, headers=headers)
    return Response(file.body, media_type=file.media_type, headers=headers)


def merge_assets(own: Mapping[str, StaticFile], shared: Mapping[str, StaticFile]) -> dict[str, StaticFile]:
    if clash := sorted(own.keys() & shared.keys()):
        raise ValueError(f"UI files {clash} would hide the shared assets of the same names")
    return {**shared, **own}


def ui_routes(ui_dir: Path, *, index_paths: Sequence[str] = ("/",)) -> list[BaseRoute]:
    """Routes serving `ui_dir/index.html` at `index_paths` and every UI and shared file under `/ui/`."""
    files = merge_assets(load_files(ui_dir), load_files(ASSETS))
    index = files.get("index.html")
    if index is None:
        raise ValueError(f"{ui_dir} has no index.html")

    async def page(request: Request) -> Response:
        return file_response(request, index)

    async def asset(request: Request) -> Response:
        file = files.get(request.path_params["name"])
        if file is None:
            return PlainTextResponse("Not Found", status_code=404)
        return file_response(request, file)

    return [
        *(Route(path, page, methods=["GET", "HEAD"]) for path in index_paths),
        Route(PREFIX + "/{name:path}", asset, methods=["GET", "HEAD"]),
    ]

"""Sandbox files over HTTP, as upstream's files process serves them (`mesos.md` c.5):
`/files/browse`, `/files/read`, `/files/download` and `/files/debug`.

Only sandboxes are served: each executor run directory under its real path, its `runs/latest` path, and
the virtual `/frameworks/<fid>/executors/<eid>/runs/latest`. A requested path must name one of those roots
or something inside it: `..` components are refused, and a path whose real location (symlinks followed)
leaves its root is answered 404 as if it did not exist.
"""

from __future__ import annotations

import asyncio
import functools
import grp
import mimetypes
import os
import pwd
import stat
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from corral.protocol.json import JsonObject, JsonValue, dumps

READ_CAP = 16 * 4096  # upstream reads at most 16 pages per request

Roots = Callable[[], Mapping[str, Path]]  # served path -> real directory


def _json(value: JsonValue, status_code: int = 200) -> Response:
    return Response(dumps(value), status_code=status_code, media_type="application/json")


@functools.lru_cache(maxsize=256)
def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


@functools.lru_cache(maxsize=256)
def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _entry(served: str, st: os.stat_result) -> JsonObject:
    return {
        "path": served,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": float(st.st_mtime),
        "mode": stat.filemode(st.st_mode),
        "uid": _user(st.st_uid),
        "gid": _group(st.st_gid),
    }


def _listing(served: str, directory: Path) -> list[JsonValue]:
    listing: list[JsonValue] = []
    base = served.rstrip("/")
    for child in sorted(os.scandir(directory), key=lambda e: e.name):
        try:
            st = child.stat()
        except OSError:  # a dangling link: describe the link itself
            st = child.stat(follow_symlinks=False)
        listing.append(_entry(f"{base}/{child.name}", st))
    return listing


def _read(path: Path, offset: int, count: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(count)


class SandboxFiles:
    def __init__(self, roots: Roots) -> None:
        self._roots = roots

    def resolve(self, path: str) -> Path | None:
        """The real path behind a served path, or None if it is not inside a sandbox."""
        requested = PurePosixPath("/" + path.strip("/"))
        if ".." in requested.parts:
            return None
        text = str(requested)
        roots = self._roots()
        for served in sorted(roots, key=len, reverse=True):
            if text == served or text.startswith(served.rstrip("/") + "/"):
                base = roots[served].resolve()
                candidate = (base / text[len(served) :].lstrip("/")).resolve()
                return candidate if candidate.is_relative_to(base) else None
        return None

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for name, endpoint in (
            ("browse", self.browse),
            ("read", self.read),
            ("download", self.download),
            ("debug", self.debug),
        ):
            routes.append(Route(f"/files/{name}", endpoint, methods=["GET"]))
            routes.append(Route(f"/files/{name}.json", endpoint, methods=["GET"]))  # pre-1.7 aliases
        return routes

    def _target(self, request: Request) -> tuple[str, Path] | Response:
        path = request.query_params.get("path")
        if not path:
            return PlainTextResponse("Expecting 'path=value' in query.\n", status_code=400)
        real = self.resolve(path)
        if real is None or not real.exists():
            return PlainTextResponse("File not found\n", status_code=404)
        return path, real

    async def browse(self, request: Request) -> Response:
        target = self._target(request)
        if isinstance(target, Response):
            return target
        served, real = target
        if not real.is_dir():
            return _json([_entry(served, real.stat())])
        return _json(await asyncio.to_thread(_listing, served, real))

    async def read(self, request: Request) -> Response:
        try:
            offset = int(request.query_params.get("offset", "-1"))
        except ValueError:
            return PlainTextResponse("Failed to parse offset\n", status_code=400)
        try:
            length = int(request.query_params.get("length", "-1"))
        except ValueError:
            return PlainTextResponse("Failed to parse length\n", status_code=400)
        if length < -1:
            return PlainTextResponse("Negative length provided\n", status_code=400)
        if offset < -1:
            return PlainTextResponse("Negative offset provided\n", status_code=400)
        target = self._target(request)
        if isinstance(target, Response):
            return target
        _, real = target
        if real.is_dir():
            return PlainTextResponse("Cannot read a directory\n", status_code=400)
        size = real.stat().st_size
        if offset == -1:  # the web UI's probe for the current size
            return _json({"data": "", "offset": size})
        count = READ_CAP if length == -1 else min(length, READ_CAP)
        data = await asyncio.to_thread(_read, real, offset, count)
        return _json({"data": data.decode(errors="replace"), "offset": offset})

    async def download(self, request: Request) -> Response:
        target = self._target(request)
        if isinstance(target, Response):
            return target
        _, real = target
        if real.is_dir():
            return PlainTextResponse("Cannot download a directory\n", status_code=400)
        media_type = mimetypes.guess_type(real.name)[0] or "application/octet-stream"
        return FileResponse(real, media_type=media_type, filename=real.name)

    async def debug(self, request: Request) -> Response:
        return _json({served: str(real) for served, real in self._roots().items()})

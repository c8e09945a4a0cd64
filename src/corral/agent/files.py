"""Sandbox files over HTTP, as upstream's files process serves them (`mesos.md` c.5):
`/files/browse`, `/files/read`, `/files/download` and `/files/debug`.

Only sandboxes are served: each executor run directory under its real path, its `runs/latest` path, and
the virtual `/frameworks/<fid>/executors/<eid>/runs/latest`. A requested path must name one of those roots
or something inside it. A path with a `..` component or a NUL byte is refused with 400 (upstream's
`FilesTest.ResolveTest`); one whose real location (symlinks followed) leaves its root, or that cannot be
resolved at all (a symlink loop, a name too long), is answered 404 as if it did not exist. The query string
is percent-decoded once, never twice, so `%252e%252e` names a file called `%2e%2e`.

A task owns its sandbox and may swap a checked file for a symlink before the agent opens it. So every file
is opened without following a final symlink and without blocking (a FIFO would hang a worker thread), and
the opened descriptor's real path is checked again: what is read is what was checked. Only regular files
are read or downloaded.
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
from starlette.types import Receive, Scope, Send

from corral.protocol.json import JsonObject, JsonValue, dumps

READ_CAP = 16 * 4096  # upstream reads at most 16 pages per request
MAX_OFFSET = 2**63 - 1  # off_t

Roots = Callable[[], Mapping[str, Path]]  # served path -> real directory
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def path_problem(path: str) -> str | None:
    """Why a requested path is refused outright (400), or None if it may be looked up."""
    if "\x00" in path:
        return "Path must not contain a NUL byte"
    if ".." in PurePosixPath(path).parts:
        return "Path must not contain '..'"
    return None


def parse_position(name: str, text: str | None) -> int | str:
    """`offset` or `length`: an integer >= -1 (-1 when absent), or upstream's message for a 400."""
    if text is None:
        return -1
    try:
        value = int(text)
    except ValueError:
        return f"Failed to parse {name}: {text[:64]!r} is not an integer"
    if value < -1:
        return f"Negative {name} provided: {value}."
    if value > MAX_OFFSET:
        return f"Failed to parse {name}: {value} is too large"
    return value


def _json(value: JsonValue, status_code: int = 200) -> Response:
    return Response(dumps(value), status_code=status_code, media_type="application/json")


def _text(status_code: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status_code)


NOT_FOUND = "File not found"


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


def _listing(served: str, fd: int) -> list[JsonValue]:
    listing: list[JsonValue] = []
    base = served.rstrip("/")
    with os.scandir(fd) as entries:
        for child in sorted(entries, key=lambda e: e.name):
            try:
                st = child.stat()
            except OSError:  # a dangling link: describe the link itself
                st = child.stat(follow_symlinks=False)
            listing.append(_entry(f"{base}/{child.name}", st))
    return listing


class _Opened:
    """A descriptor opened inside a sandbox, with its status; closed by whoever took it."""

    __slots__ = ("fd", "st")

    def __init__(self, fd: int, st: os.stat_result) -> None:
        self.fd = fd
        self.st = st

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.st.st_mode)

    def close(self) -> None:
        os.close(self.fd)


def _open_inside(real: Path, base: Path) -> _Opened | None:
    """Open `real` (already resolved inside `base`) and check where the descriptor really points."""
    try:
        fd = os.open(real, _OPEN_FLAGS)
    except OSError:  # gone, swapped for a symlink (ELOOP), or unreadable
        return None
    try:
        opened = Path(os.readlink(f"/proc/self/fd/{fd}"))
        if opened.is_relative_to(base):
            return _Opened(fd, os.fstat(fd))
    except OSError:
        pass
    os.close(fd)
    return None


class _DescriptorResponse(FileResponse):
    """The download of a checked descriptor: `/proc/self/fd/N` reopens that very file, whatever the task
    has since done to the path. The descriptor is closed however the response ends."""

    def __init__(self, opened: _Opened, name: str) -> None:
        media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        super().__init__(
            f"/proc/self/fd/{opened.fd}", media_type=media_type, filename=name, stat_result=opened.st
        )
        self._opened = opened

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._opened.close()


class SandboxFiles:
    def __init__(self, roots: Roots) -> None:
        self._roots = roots

    def locate(self, path: str) -> tuple[Path, Path] | None:
        """The real path behind a served path and the real root it must stay in, or None if it is not
        inside a sandbox. `path` has passed `path_problem`."""
        text = str(PurePosixPath("/" + path.strip("/")))
        roots = self._roots()
        for served in sorted(roots, key=len, reverse=True):
            if text == served or text.startswith(served.rstrip("/") + "/"):
                try:
                    base = roots[served].resolve(strict=True)
                    real = (base / text[len(served) :].lstrip("/")).resolve(strict=True)
                except (OSError, RuntimeError):  # missing, a name too long; RuntimeError: a symlink loop
                    return None
                return (real, base) if real.is_relative_to(base) else None
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

    def _open(self, request: Request) -> tuple[str, Path, _Opened] | Response:
        path = request.query_params.get("path")
        if not path:
            return _text(400, "Expecting 'path=value' in query.")
        if problem := path_problem(path):
            return _text(400, problem)
        located = self.locate(path)
        opened = None if located is None else _open_inside(*located)
        if located is None or opened is None:
            return _text(404, NOT_FOUND)
        return path, located[0], opened

    async def browse(self, request: Request) -> Response:
        target = self._open(request)
        if isinstance(target, Response):
            return target
        served, _, opened = target
        try:
            if not opened.is_dir:
                return _json([_entry(served, opened.st)])
            return _json(await asyncio.to_thread(_listing, served, opened.fd))
        finally:
            opened.close()

    async def read(self, request: Request) -> Response:
        offset = parse_position("offset", request.query_params.get("offset"))
        if isinstance(offset, str):
            return _text(400, offset)
        length = parse_position("length", request.query_params.get("length"))
        if isinstance(length, str):
            return _text(400, length)
        target = self._open(request)
        if isinstance(target, Response):
            return target
        _, _, opened = target
        try:
            if opened.is_dir:
                return _text(400, "Cannot read a directory")
            if not opened.is_file:
                return _text(400, "Cannot read a file that is not a regular file")
            if offset == -1:  # the web UI's probe for the current size
                return _json({"data": "", "offset": opened.st.st_size})
            count = READ_CAP if length == -1 else min(length, READ_CAP)
            data = await asyncio.to_thread(os.pread, opened.fd, count, offset)
        except OSError:
            return _text(404, NOT_FOUND)
        finally:
            opened.close()
        return _json({"data": data.decode(errors="replace"), "offset": offset})

    async def download(self, request: Request) -> Response:
        target = self._open(request)
        if isinstance(target, Response):
            return target
        _, real, opened = target
        if not opened.is_file:
            opened.close()
            what = "a directory" if opened.is_dir else "a file that is not a regular file"
            return _text(400, f"Cannot download {what}")
        return _DescriptorResponse(opened, real.name)

    async def debug(self, request: Request) -> Response:
        return _json({served: str(real) for served, real in self._roots().items()})

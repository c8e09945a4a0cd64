"""The fetcher: `CommandInfo.uris` into the sandbox before the process starts (`mesos.md` b.7).

Sources: `file://` URLs and absolute paths (copied), `http://` and `https://` (downloaded; a download
that stalls for a minute fails). The file is named after the URI's last path segment, or `output_file`.
`executable` makes it executable and skips extraction; otherwise, with `extract` (the default), archives
(.tar .tgz .tar.gz .tbz2 .tar.bz2 .txz .tar.xz .zip) are unpacked into the sandbox and a plain `.gz` is
gunzipped beside itself.

Nothing lands outside the sandbox: archive members with absolute paths, `..` or links leading out are
refused before anything is written (zip-slip), and so is an `output_file` that climbs out. Every failure is
a FetchError whose message names the URI; the task then fails with REASON_CONTAINER_LAUNCH_FAILED.

This is blocking code: the runtime calls `fetch` in a worker thread.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import shutil
import tarfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from corral.core.errors import CorralError
from corral.protocol.mesos import Uri

STALL_TIMEOUT = 60.0
TAR_SUFFIXES = (".tar", ".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")
EXECUTABLE = 0o755


class FetchError(CorralError):
    """A URI could not be fetched into the sandbox."""


# What a fetch may raise besides FetchError; RuntimeError is Path.resolve meeting a symlink loop, which an
# archive unpacked by an earlier URI may have left.
_FAILURES = (OSError, httpx.HTTPError, tarfile.TarError, zipfile.BadZipFile, EOFError, RuntimeError)


def fetch(uris: Sequence[Uri], sandbox: Path) -> None:
    """Fetch every URI into `sandbox`, in order. Raises FetchError on the first failure."""
    with httpx.Client(timeout=httpx.Timeout(STALL_TIMEOUT), follow_redirects=True) as client:
        for uri in uris:
            try:
                _fetch_one(uri, sandbox, client)
            except FetchError as e:
                raise FetchError(f"Failed to fetch '{uri.value}': {e}") from None
            except _FAILURES as e:
                raise FetchError(f"Failed to fetch '{uri.value}': {e}") from e


def _fetch_one(uri: Uri, sandbox: Path, client: httpx.Client) -> None:
    parts = urlsplit(uri.value)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https", "file"):
        source_name = unquote(parts.path)
    elif scheme == "":
        source_name = uri.value
    else:
        raise FetchError(f"unsupported URI scheme '{scheme}' (Corral fetches file://, http:// and https://)")
    target = _confined(sandbox, uri.output_file or PurePosixPath(source_name).name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if scheme in ("http", "https"):
        _download(client, uri.value, target)
    else:
        _copy(source_name, target)
    if uri.executable:
        os.chmod(target, EXECUTABLE)
    elif uri.extract:
        _extract(target, sandbox)


def _confined(sandbox: Path, name: str) -> Path:
    """`sandbox/name`, refusing names that are empty, absolute or climb out, also through a symlink an
    earlier URI left in the sandbox."""
    path = PurePosixPath(name)
    if (
        not name
        or "\x00" in name
        or path.is_absolute()
        or ".." in path.parts
        or name in (".", "/")
        or not (sandbox / path).resolve().is_relative_to(sandbox.resolve())
    ):
        raise FetchError(f"cannot save as {name!r}: the name must be a relative path inside the sandbox")
    return sandbox / path


def _copy(source: str, target: Path) -> None:
    if not os.path.isabs(source):
        raise FetchError(
            "a relative path was passed for the resource but no frameworks home is configured;"
            " use an absolute path or a file:// URI"
        )
    if not os.path.isfile(source):
        raise FetchError(f"'{source}' is not a file")
    shutil.copyfile(source, target)


def _download(client: httpx.Client, url: str, target: Path) -> None:
    with client.stream("GET", url) as response:
        if response.status_code != 200:
            raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}")
        with open(target, "wb") as out:
            for chunk in response.iter_bytes():
                out.write(chunk)


def _extract(archive: Path, sandbox: Path) -> None:
    name = archive.name.lower()
    if name.endswith(TAR_SUFFIXES):
        _untar(archive, sandbox)
    elif name.endswith(".zip"):
        _unzip(archive, sandbox)
    elif name.endswith(".gz"):
        with gzip.open(archive, "rb") as packed, open(archive.with_suffix(""), "wb") as out:
            shutil.copyfileobj(packed, out)


def _check_member(name: str, root: Path) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not (root / path).resolve().is_relative_to(root):
        raise FetchError(f"archive member '{name}' would be extracted outside the sandbox")


def _check_link(name: str, target: str, root: Path) -> None:
    """A link may point up (`a/b -> ../c`) as long as it stays inside the sandbox."""
    resolved = posixpath.normpath(target)
    if posixpath.isabs(resolved) or resolved == ".." or resolved.startswith("../"):
        raise FetchError(f"archive member '{name}' links outside the sandbox")
    if not (root / resolved).resolve().is_relative_to(root):
        raise FetchError(f"archive member '{name}' links outside the sandbox")


def _untar(archive: Path, sandbox: Path) -> None:
    root = sandbox.resolve()
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            _check_member(member.name, root)
            if member.isdev():
                raise FetchError(f"archive member '{member.name}' is a device file")
            if member.issym():
                # posixpath.join keeps an absolute link absolute, which _check_link refuses
                target = posixpath.join(posixpath.dirname(member.name), member.linkname)
                _check_link(member.name, target, root)
            elif member.islnk():
                _check_link(member.name, member.linkname, root)
        # The "data" filter re-checks each member as it is written, once the links before it exist.
        try:
            tar.extractall(root, filter="data")
        except tarfile.FilterError as e:
            raise FetchError(f"archive member '{e.tarinfo.name}' is refused: {e}") from e


def _unzip(archive: Path, sandbox: Path) -> None:
    root = sandbox.resolve()
    with zipfile.ZipFile(archive) as zipped:
        members = zipped.infolist()
        for member in members:
            _check_member(member.filename, root)
        for member in members:
            path = Path(zipped.extract(member, root))
            mode = (member.external_attr >> 16) & 0o777
            if mode and not member.is_dir():
                os.chmod(path, mode)  # zipfile drops permissions; unzip(1), which upstream uses, keeps them

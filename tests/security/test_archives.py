"""Zip-slip (reliability-security.md 4.2 "zip-slip", 4.3 #5; upstream `ArchiverTest.ExtractZipWithDotDot`):
an archive fetched into a sandbox whose members climb out (`../x`, absolute names), or whose links lead out
(symlinks, hard links, a chain of links that is harmless only when read lexically), fails the fetch with a
message naming the URI, and no file appears outside the sandbox.

Each case runs in a fresh directory: `outside/` beside the sandbox holds a file the archive tries to
overwrite or read through, and the test checks it is untouched and nothing new appeared there.
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.agent.fetcher import FetchError, fetch
from corral.protocol.mesos import Uri

SECRET = b"outside the sandbox"


@dataclass(frozen=True)
class Member:
    """A tar member: a file (`data`), a symlink (`symlink`), a hard link (`hardlink`) or another `kind`."""

    name: str
    data: bytes = b"x"
    symlink: str | None = None
    hardlink: str | None = None
    kind: bytes | None = None


def write_tar(path: Path, members: list[Member]) -> None:
    with tarfile.open(path, "w") as tar:
        for m in members:
            info = tarfile.TarInfo(m.name)
            if m.symlink is not None:
                info.type, info.linkname = tarfile.SYMTYPE, m.symlink
                tar.addfile(info)
            elif m.hardlink is not None:
                info.type, info.linkname = tarfile.LNKTYPE, m.hardlink
                tar.addfile(info)
            elif m.kind is not None:
                info.type = m.kind
                tar.addfile(info)
            else:
                info.size = len(m.data)
                tar.addfile(info, io.BytesIO(m.data))


def write_zip(path: Path, names: list[str]) -> None:
    with zipfile.ZipFile(path, "w") as zipped:
        for name in names:
            # ZipFile.writestr would normalise some names; a ZipInfo keeps them as an attacker writes them
            zipped.writestr(zipfile.ZipInfo(name), b"x")


@dataclass
class Layout:
    root: Path
    sandbox: Path
    outside: Path
    archives: Path

    def outside_is_untouched(self) -> bool:
        entries = sorted(p.relative_to(self.outside) for p in self.outside.rglob("*"))
        return entries == [Path("secret")] and (self.outside / "secret").read_bytes() == SECRET

    def written_anywhere_else(self) -> list[Path]:
        """Files under the test root that are neither the layout's own nor inside the sandbox."""
        own = {self.outside, self.outside / "secret", self.sandbox, self.archives, *self.sandbox.parents}
        return [
            p
            for p in self.root.rglob("*")
            if p not in own and not p.is_relative_to(self.sandbox) and not p.is_relative_to(self.archives)
        ]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    # Deep enough that `../../x` from the sandbox still lands inside tmp_path, where the test can see it.
    root = tmp_path / "a" / "b"
    sandbox, outside, archives = root / "sandbox", root / "outside", tmp_path / "archives"
    for d in (sandbox, outside, archives):
        d.mkdir(parents=True)
    (outside / "secret").write_bytes(SECRET)
    return Layout(root=tmp_path, sandbox=sandbox, outside=outside, archives=archives)


TAR_CASES: dict[str, Callable[[Layout], list[Member]]] = {
    "dot-dot member": lambda _: [Member("ok"), Member("../outside/secret", b"overwritten")],
    "dot-dot deep in a member": lambda _: [Member("d/e/../../../outside/new")],
    "absolute member": lambda lay: [Member(str(lay.outside / "new"))],
    "absolute symlink": lambda lay: [Member("s", symlink=str(lay.outside))],
    "relative symlink out": lambda _: [Member("s", symlink="../outside")],
    "symlink then a write through it": lambda _: [Member("s", symlink="../outside"), Member("s/new")],
    "symlink to a file, then overwritten": lambda _: [
        Member("s", symlink="../outside/secret"),
        Member("s", b"overwritten"),
    ],
    # `b -> a/..` is "." when read lexically, but `a -> .` makes it the sandbox's parent on disk
    "chain of symlinks": lambda _: [Member("a", symlink="."), Member("b", symlink="a/.."), Member("b/new")],
    "hard link to an absolute path": lambda lay: [Member("h", hardlink=str(lay.outside / "secret"))],
    "hard link climbing out": lambda _: [Member("h", hardlink="../outside/secret")],
    "fifo": lambda _: [Member("pipe", kind=tarfile.FIFOTYPE)],
    "character device": lambda _: [Member("zero", kind=tarfile.CHRTYPE)],
    "block device": lambda _: [Member("disk", kind=tarfile.BLKTYPE)],
}

ZIP_CASES: dict[str, Callable[[Layout], list[str]]] = {
    "dot-dot member": lambda _: ["ok.txt", "../outside/secret"],
    "dot-dot deep in a member": lambda _: ["d/e/../../../outside/new"],
    "absolute member": lambda lay: [str(lay.outside / "new")],
    "member through a symlink in the sandbox": lambda _: ["link/new"],
}


@pytest.mark.parametrize("case", TAR_CASES)
def test_a_tar_leading_out_of_the_sandbox_fails_the_fetch(layout: Layout, case: str) -> None:
    archive = layout.archives / "evil.tar"
    write_tar(archive, TAR_CASES[case](layout))
    with pytest.raises(FetchError, match=rf"^Failed to fetch '{archive}': ") as refused:
        fetch([Uri(value=str(archive))], layout.sandbox)
    assert "archive member" in str(refused.value)
    assert layout.outside_is_untouched()
    assert layout.written_anywhere_else() == []


@pytest.mark.parametrize("case", ZIP_CASES)
def test_a_zip_leading_out_of_the_sandbox_fails_the_fetch(layout: Layout, case: str) -> None:
    # A sandbox can hold a link an earlier URI (or the task that used it before) left there.
    (layout.sandbox / "link").symlink_to(layout.outside)
    archive = layout.archives / "evil.zip"
    write_zip(archive, ZIP_CASES[case](layout))
    with pytest.raises(FetchError, match=rf"^Failed to fetch '{archive}': archive member .* outside"):
        fetch([Uri(value=str(archive))], layout.sandbox)
    assert layout.outside_is_untouched()
    assert sorted(os.listdir(layout.sandbox)) == ["evil.zip", "link"]  # refused before any member


def test_a_backslash_in_a_zip_name_is_just_a_character_on_linux(layout: Layout) -> None:
    archive = layout.archives / "windows.zip"
    write_zip(archive, ["..\\outside\\new"])
    fetch([Uri(value=str(archive))], layout.sandbox)
    assert (layout.sandbox / "..\\outside\\new").is_file()
    assert layout.outside_is_untouched()


@pytest.mark.parametrize(
    "output_file", ["../outside/new", "/tmp/new", "link/new", "link", "a/../../outside/new", "x\x00y", ""]
)
def test_an_output_file_leading_out_of_the_sandbox_fails_the_fetch(layout: Layout, output_file: str) -> None:
    (layout.sandbox / "link").symlink_to(layout.outside)
    source = layout.archives / "payload.txt"
    source.write_bytes(b"overwritten")
    uri = Uri(value=str(source), output_file=output_file, extract=False)
    if output_file == "":  # an empty output_file means "the URI's own name": fetched, inside
        fetch([uri], layout.sandbox)
        assert (layout.sandbox / "payload.txt").read_bytes() == b"overwritten"
    else:
        with pytest.raises(FetchError, match="the name must be a relative path inside the sandbox"):
            fetch([uri], layout.sandbox)
    assert layout.outside_is_untouched()


def test_an_archive_holding_a_symlink_loop_fails_cleanly(layout: Layout) -> None:
    loop = layout.archives / "loop.tar"
    write_tar(loop, [Member("a", symlink="b"), Member("b", symlink="a")])
    fetch([Uri(value=str(loop))], layout.sandbox)  # links inside the sandbox, pointing inside: allowed
    then = layout.archives / "then.txt"
    then.write_bytes(b"x")
    with pytest.raises(FetchError, match=f"^Failed to fetch '{then}'"):
        fetch([Uri(value=str(then), output_file="a/new", extract=False)], layout.sandbox)
    assert layout.outside_is_untouched()


def test_a_harmless_archive_is_still_unpacked(layout: Layout) -> None:
    archive = layout.archives / "fine.tar"
    write_tar(
        archive,
        [Member("bin/run.sh", b"#!/bin/sh"), Member("lib/a.so"), Member("lib/b.so", symlink="a.so")],
    )
    fetch([Uri(value=str(archive))], layout.sandbox)
    assert (layout.sandbox / "lib" / "b.so").read_bytes() == b"x"
    assert layout.written_anywhere_else() == []

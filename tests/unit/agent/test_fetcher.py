"""The fetcher (`mesos.md` b.7): URIs into the sandbox, archives unpacked, nothing written outside it."""

from __future__ import annotations

import gzip
import io
import os
import re
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from corral.agent.fetcher import FetchError, fetch
from corral.protocol.mesos import Uri


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    path = tmp_path / "sandbox"
    path.mkdir()
    return path


def make_tar(path: Path, members: dict[str, bytes], *, links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if name.endswith(".sh") else 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return path


def test_a_file_uri_and_a_plain_path_are_copied(tmp_path: Path, sandbox: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("hi")
    fetch([Uri(value=f"file://{tmp_path}/config.json"), Uri(value=str(tmp_path / "notes.txt"))], sandbox)
    assert (sandbox / "config.json").read_text() == "{}"
    assert (sandbox / "notes.txt").read_text() == "hi"


def test_an_executable_is_made_executable_and_not_extracted(tmp_path: Path, sandbox: Path) -> None:
    archive = make_tar(tmp_path / "tool.tar.gz", {"inner": b"x"})
    fetch([Uri(value=str(archive), executable=True)], sandbox)
    assert stat.S_IMODE((sandbox / "tool.tar.gz").stat().st_mode) == 0o755
    assert not (sandbox / "inner").exists()


def test_a_tarball_is_extracted_into_the_sandbox_and_kept(tmp_path: Path, sandbox: Path) -> None:
    archive = make_tar(tmp_path / "app.tgz", {"app/run.sh": b"#!/bin/sh\necho ok\n", "app/data.txt": b"d"})
    fetch([Uri(value=f"file://{archive}")], sandbox)
    assert (sandbox / "app" / "data.txt").read_text() == "d"
    assert os.access(sandbox / "app" / "run.sh", os.X_OK)
    assert (sandbox / "app.tgz").exists()


def test_extract_false_leaves_the_archive_packed(tmp_path: Path, sandbox: Path) -> None:
    archive = make_tar(tmp_path / "app.tar", {"a": b"a"})
    fetch([Uri(value=str(archive), extract=False)], sandbox)
    assert sorted(p.name for p in sandbox.iterdir()) == ["app.tar"]


def test_a_zip_is_extracted_with_its_permissions(tmp_path: Path, sandbox: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        script = zipfile.ZipInfo("bin/start")
        script.external_attr = 0o755 << 16
        zipped.writestr(script, "#!/bin/sh\n")
        zipped.writestr("README", "read me")
    fetch([Uri(value=str(archive))], sandbox)
    assert (sandbox / "README").read_text() == "read me"
    assert os.access(sandbox / "bin" / "start", os.X_OK)


def test_a_plain_gz_is_gunzipped_and_output_file_renames(tmp_path: Path, sandbox: Path) -> None:
    (tmp_path / "log.gz").write_bytes(gzip.compress(b"line\n"))
    fetch([Uri(value=str(tmp_path / "log.gz"), output_file="logs/today.gz")], sandbox)
    assert (sandbox / "logs" / "today").read_text() == "line\n"


@pytest.mark.parametrize(
    ("members", "links"),
    [
        ({"../evil": b"x"}, {}),
        ({"/etc/evil": b"x"}, {}),
        ({"ok/../../evil": b"x"}, {}),
        ({}, {"escape": "../../etc"}),
        ({}, {"escape": "/etc/passwd"}),
    ],
)
def test_tar_members_leading_out_of_the_sandbox_are_refused(
    tmp_path: Path, sandbox: Path, members: dict[str, bytes], links: dict[str, str]
) -> None:
    archive = make_tar(tmp_path / "slip.tar", {"harmless": b"h", **members}, links=links)
    with pytest.raises(
        FetchError, match=r"Failed to fetch '.*slip.tar': archive member .* outside the sandbox"
    ):
        fetch([Uri(value=str(archive))], sandbox)
    assert not (sandbox / "harmless").exists()  # refused before anything was written
    assert not (tmp_path / "evil").exists()


def test_a_link_inside_the_sandbox_is_fine(tmp_path: Path, sandbox: Path) -> None:
    archive = make_tar(
        tmp_path / "links.tar", {"lib/real.so": b"so"}, links={"lib/alias.so": "real.so", "up": "lib/../lib"}
    )
    fetch([Uri(value=str(archive))], sandbox)
    assert (sandbox / "lib" / "alias.so").read_bytes() == b"so"


def test_zip_slip_is_refused(tmp_path: Path, sandbox: Path) -> None:
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("fine.txt", "f")
        zipped.writestr("../../evil.txt", "e")
    with pytest.raises(
        FetchError, match=re.escape("'../../evil.txt' would be extracted outside the sandbox")
    ):
        fetch([Uri(value=str(archive))], sandbox)
    assert not (sandbox / "fine.txt").exists()


@pytest.mark.parametrize(
    ("uri", "problem"),
    [
        (Uri(value="relative/path.txt"), "relative path"),
        (Uri(value="/no/such/file"), "is not a file"),
        (Uri(value="hdfs://namenode/x"), "unsupported URI scheme 'hdfs'"),
        (Uri(value="/etc/hostname", output_file="../outside"), "inside the sandbox"),
    ],
)
def test_failures_name_the_uri_and_the_reason(sandbox: Path, uri: Uri, problem: str) -> None:
    with pytest.raises(FetchError, match=f"Failed to fetch '{uri.value}': .*{problem}"):
        fetch([uri], sandbox)

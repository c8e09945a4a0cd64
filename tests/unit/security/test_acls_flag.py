"""`--acls` on `corral master` and `corral agent`: JSON or a file (`/path`, `file:///path`), as upstream; a
bad value is a one-line start-up error naming the field, before anything is created."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corral.cli.daemons import agent, master

GOOD = '{"run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": ["nobody"]}}]}'
BAD = '{"run_tasks": [{"principals": {"type": "ANY"}, "users": {"values": []}}]}'


def last_line(command: click.Command, acls: str, tmp_path: Path) -> tuple[int, str]:
    # 10.255.255.1 is no address of this host: a configuration that gets past the flags fails at the bind.
    args = [
        "--acls",
        acls,
        "--ip",
        "10.255.255.1",
        "--insecure",
        "--port",
        "0",
        "--work_dir",
        str(tmp_path / "w"),
    ]
    result = CliRunner().invoke(command, args, env={})
    return result.exit_code, result.output.strip().splitlines()[-1]


@pytest.mark.parametrize("command", [master, agent], ids=["master", "agent"])
def test_a_bad_acls_value_is_a_one_line_error_naming_the_field(
    command: click.Command, tmp_path: Path
) -> None:
    code, line = last_line(command, BAD, tmp_path)
    assert code == 2
    assert "Invalid value for '--acls': run_tasks[0].users: expected {'values': [...]} (not empty)" in line
    assert not (tmp_path / "w").exists()


@pytest.mark.parametrize("spelling", ["{path}", "file://{path}"])
def test_acls_are_read_from_a_file(spelling: str, tmp_path: Path) -> None:
    path = tmp_path / "acls.json"
    path.write_text(GOOD)
    code, line = last_line(master, spelling.format(path=path), tmp_path)
    assert "--acls" not in line  # past the flags: the bind on a foreign address is what failed
    assert code == 1
    path.write_text(BAD)
    assert "run_tasks[0].users" in last_line(master, spelling.format(path=path), tmp_path)[1]


def test_an_unreadable_acls_file_is_named(tmp_path: Path) -> None:
    code, line = last_line(agent, str(tmp_path / "missing.json"), tmp_path)
    assert code == 2 and f"cannot read {tmp_path / 'missing.json'}: No such file or directory" in line

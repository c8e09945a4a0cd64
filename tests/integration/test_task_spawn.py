"""How the supervisor starts a task (`executor/processes.py`): a shell command runs in the very shell that
changes into the sandbox and joins the cgroups, exactly as `/bin/sh -c CMD` would run it; any other argv is
exec'd by that shell; the cgroup joins happen before anything of the task runs."""

from __future__ import annotations

import os
from pathlib import Path

from corral.agent.executor.processes import spawn

PATH = {"PATH": "/usr/bin:/bin"}


def run(argv: list[str], sandbox: Path, join: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """The exit code, stdout and stderr of `argv` spawned in `sandbox`."""
    sandbox.mkdir(parents=True, exist_ok=True)
    pid, pidfd = spawn(argv, PATH, sandbox, sandbox / "stdout", sandbox / "stderr", join=join)
    os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return (
        os.waitstatus_to_exitcode(status),
        (sandbox / "stdout").read_text(),
        (sandbox / "stderr").read_text(),
    )


def test_a_shell_command_sees_what_sh_c_gives_it(tmp_path: Path) -> None:
    sandbox = tmp_path / "it's a sandbox"  # quoted into the script
    code, out, _ = run(["/bin/sh", "-c", 'echo "$0|$#|$*|$(pwd)"; exit 4'], sandbox)
    assert (code, out) == (4, f"/bin/sh|0||{sandbox}\n")


def test_a_shell_commands_errors_name_its_own_lines(tmp_path: Path) -> None:
    code, _, err = run(["/bin/sh", "-c", "echo one\nif then"], tmp_path / "s")
    assert code == 2 and ": 2: " in err  # line 2 of the command, not of the script around it


def test_a_shell_command_runs_in_the_spawned_process_itself(tmp_path: Path) -> None:
    sandbox = tmp_path / "s"
    sandbox.mkdir()
    pid, pidfd = spawn(["/bin/sh", "-c", "echo $$"], PATH, sandbox, sandbox / "stdout", sandbox / "stderr")
    os.close(pidfd)
    os.waitpid(pid, 0)
    assert (sandbox / "stdout").read_text() == f"{pid}\n"


def test_an_argv_task_gets_its_arguments_verbatim(tmp_path: Path) -> None:
    code, out, _ = run(["/bin/echo", "a  b", "$HOME", "'q'", "--"], tmp_path / "s")
    assert (code, out) == (0, "a  b $HOME 'q' --\n")


def test_the_task_starts_after_joining_and_a_failed_join_stops_it(tmp_path: Path) -> None:
    joined = tmp_path / "joined tasks"
    joined.touch()
    code, out, _ = run(["/bin/sh", "-c", f"cat '{joined}'"], tmp_path / "s1", join=(str(joined),))
    assert (code, out) == (0, "0\n")  # written before the command ran: `0` is the writer itself

    marker = tmp_path / "ran"
    code, _, err = run(
        ["/bin/sh", "-c", f"touch '{marker}'"], tmp_path / "s2", join=(str(tmp_path / "no/such"),)
    )
    assert code == 125 and "no/such" in err and not marker.exists()

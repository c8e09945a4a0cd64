"""Starting, watching and signalling the agent's processes (the edge of the agent's supervision).

Every process starts in a session and process group of its own, so a signal reaches the whole tree
(`os.killpg`) and a pymesos executor's `killpg(0, SIGKILL)` on SHUTDOWN kills only itself. Exits are
watched without a thread per child: a pidfd (`os.pidfd_open`) becomes readable when the child exits, the
event loop reads it (`loop.add_reader`), and `os.waitpid(pid, WNOHANG)` collects the raw wait status. Once
the leader has exited, the rest of its group is SIGKILLed, as upstream destroys a container whose executor
is gone.

Spawning is on the hot path (a benchmark launches 1,000 `true` tasks), so it uses `os.posix_spawn`
(vfork and exec, a third of `subprocess.Popen`'s CPU) and runs on the event loop thread: a launcher thread
pool is slower, since each hand-off of the GIL between it and a busy loop waits out the switch interval.
posix_spawn cannot set a working directory, so the child starts as a small `sh -c` script that changes into
the sandbox and execs the task: same pid, and the cost lands in the child, not in the spawner. stdin,
stdout and stderr are opened by the child too. A shell command task (`/bin/sh -c CMD`, as upstream runs
command tasks) is not exec'd by that shell into a second one: CMD is appended to the script, on the same
line, so the same shell runs it with all that `sh -c CMD` would give it (`$0` is `/bin/sh`, no positional
parameters, CMD's own line numbers). A second shell's exec would cost more than the rest of a launch.

A task run as another user (`--switch_user` on a root agent) gets the same script, which then execs
util-linux's `setpriv` (posix_spawn cannot change ids) to take the user's uid, group and supplementary groups
just before the task: the cgroup writes below still run as root.

A task with cgroups joins them in the same script, before anything of the task runs: the shell writes `0`
(itself) into each cgroup's join file (`CgroupContainer.join_files`: cgroup v1's `tasks`, which moves only
the writing thread and so skips the kernel's global lock on every process's fork and exit, v2's
`cgroup.procs`). The task therefore starts, and forks, inside its cgroups: no window in which it runs
outside, as there would be if the spawner moved it in after posix_spawn returned (vfork resumes the parent
only once the child has exec'd the shell, which may already be exec'ing the task). A write that fails ends
the shell with status 125 before the task runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shlex
import shutil
import signal
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ExitCallback = Callable[[int, int], None]  # (pid, raw wait status)
Child = tuple[int, int]  # the process id and its pidfd

_SHELL = ("/bin/sh", "-c")  # how a shell command task's argv starts (`CommandInfo.argv`)
_EXEC_ARGUMENTS = 'exec "$@"'  # the script's last command for any other task: its argv is "$@"
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND
# Python ignores SIGPIPE and SIGXFSZ, and exec keeps ignored signals ignored: tasks get every default back.
_DEFAULT_SIGNALS = tuple(s for s in signal.valid_signals() if s not in (signal.SIGKILL, signal.SIGSTOP))


def spawn(
    argv: Sequence[str],
    environment: Mapping[str, str],
    cwd: Path,
    stdout: Path,
    stderr: Path,
    *,
    join: Sequence[str] = (),
) -> Child:
    """Start `argv` in `cwd`, in a new session, stdout and stderr appended to files, in the cgroups whose
    join files `join` lists. Raises OSError."""
    if not argv:
        raise ValueError("nothing to run: the command is empty")
    if len(argv) == 3 and tuple(argv[:2]) == _SHELL:
        script_argv = [*_SHELL, _script(cwd, join, argv[2])]
    else:
        script_argv = [*_SHELL, _script(cwd, join, _EXEC_ARGUMENTS), _SHELL[0], *argv]
    pid = os.posix_spawn(
        _SHELL[0],
        script_argv,
        dict(environment),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(stdout), _APPEND, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, str(stderr), _APPEND, 0o644),
        ],
        setsid=True,
        setsigdef=_DEFAULT_SIGNALS,
        setsigmask=(),
    )
    try:
        return pid, os.pidfd_open(pid)
    except OSError:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise


def _script(cwd: Path, join: Sequence[str], command: str) -> str:
    """One line, so that the line numbers in a shell command's error messages stay its own."""
    joins = "".join(f"echo 0 >{shlex.quote(path)} || exit 125; " for path in join)
    return f"{joins}cd -- {shlex.quote(str(cwd))} || exit; {command}"


def switch_user(user: str, sandbox: Path, outputs: Sequence[Path]) -> list[str]:
    """The argv prefix that runs a task as `user`, with its sandbox (and the `outputs` files, made now) handed
    to them; [] when this process runs as `user` already. Raises OSError (no such user, no setpriv)."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise OSError(f"Failed to switch to user '{user}': no such user on this agent") from None
    if entry.pw_uid == os.geteuid():
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise OSError(f"Failed to switch to user '{user}': setpriv (util-linux) is not installed")
    for output in outputs:
        output.touch()
    for directory, _, files in os.walk(sandbox):
        os.chown(directory, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(directory, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    return [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups", "--"]


def signal_group(pid: int, signal_number: int) -> None:
    """Signal the process group led by `pid`; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal_number)


class ProcessSupervisor:
    """Watches spawned children from the event loop and reports each exit once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_exit: ExitCallback) -> None:
        self._loop = loop
        self._on_exit = on_exit
        self._children: dict[int, int] = {}  # pidfd -> pid

    def watch(self, child: Child) -> int:
        """Report the child's exit to `on_exit` (even if it has exited already); returns its pid."""
        pid, pidfd = child
        self._children[pidfd] = pid
        self._loop.add_reader(pidfd, self._reap, pidfd)
        return pid

    def _reap(self, pidfd: int) -> None:
        pid = self._children.pop(pidfd)
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        # Whatever the leader left behind in its group goes now, while the leader is an unreaped zombie:
        # its pid, hence the group id, cannot belong to anyone else yet.
        signal_group(pid, signal.SIGKILL)
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
            if reaped == 0:  # readable pidfd means exited; should the zombie lag, this wait is brief
                _, status = os.waitpid(pid, 0)
        except ChildProcessError:  # reaped by someone else: the status is lost
            status = 0xFF << 8
        self._on_exit(pid, status)

    def close(self) -> None:
        """Stop watching. The processes keep running: an agent restart must not take its tasks down."""
        for pidfd in list(self._children):
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
        self._children.clear()

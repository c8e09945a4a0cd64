"""Starting, watching and signalling the agent's processes (the edge of the agent's supervision).

Every process starts in a session and process group of its own (`start_new_session=True`), so a signal
reaches the whole tree (`os.killpg`) and a pymesos executor's `killpg(0, SIGKILL)` on SHUTDOWN kills only
itself. Exits are watched without a thread per child: a pidfd (`os.pidfd_open`) becomes readable when the
child exits, the event loop reads it (`loop.add_reader`), and `os.waitpid(pid, WNOHANG)` collects the raw
wait status. Once the leader has exited, the rest of its group is SIGKILLed, as upstream destroys a
container whose executor is gone.

Spawning is on the hot path (a benchmark launches 1,000 `true` tasks): `spawn` is one `Popen`, two file
opens and a pidfd, and blocks, so the runtime calls it on a small launcher pool; `watch` is loop-side.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ExitCallback = Callable[[int, int], None]  # (pid, raw wait status)
Child = tuple["subprocess.Popen[bytes]", int]  # the process and its pidfd


def spawn(
    argv: Sequence[str], environment: Mapping[str, str], cwd: Path, stdout: Path, stderr: Path
) -> Child:
    """Start `argv` in a new session, stdout and stderr appended to files. Raises OSError or ValueError."""
    with open(stdout, "ab") as out, open(stderr, "ab") as err:
        popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    try:
        return popen, os.pidfd_open(popen.pid)
    except OSError:
        popen.kill()
        popen.wait()
        raise


def signal_group(pid: int, signal_number: int) -> None:
    """Signal the process group led by `pid`; a group that is already gone is not an error."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal_number)


class ProcessSupervisor:
    """Watches spawned children from the event loop and reports each exit once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_exit: ExitCallback) -> None:
        self._loop = loop
        self._on_exit = on_exit
        # The Popen objects stay referenced until reaped: an unreferenced running Popen is put on
        # subprocess' `_active` list, whose next cleanup would steal our wait status.
        self._children: dict[int, subprocess.Popen[bytes]] = {}  # pidfd -> process

    def watch(self, child: Child) -> int:
        """Report the child's exit to `on_exit` (even if it has exited already); returns its pid."""
        popen, pidfd = child
        self._children[pidfd] = popen
        self._loop.add_reader(pidfd, self._reap, pidfd)
        return popen.pid

    def _reap(self, pidfd: int) -> None:
        popen = self._children.pop(pidfd)
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        # Whatever the leader left behind in its group goes now, while the leader is an unreaped zombie:
        # its pid, hence the group id, cannot belong to anyone else yet.
        signal_group(popen.pid, signal.SIGKILL)
        try:
            pid, status = os.waitpid(popen.pid, os.WNOHANG)
            if pid == 0:  # readable pidfd means exited; should the zombie lag, this wait is brief
                _, status = os.waitpid(popen.pid, 0)
        except ChildProcessError:  # reaped by someone else: the status is lost
            status = 0xFF << 8
        popen.returncode = os.waitstatus_to_exitcode(status)
        self._on_exit(popen.pid, status)

    def close(self) -> None:
        """Stop watching. The processes keep running: an agent restart must not take its tasks down."""
        for pidfd in list(self._children):
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
        self._children.clear()

"""The `haproxy` process: validate a config, install it atomically, run HAProxy and reload it seamlessly.

Reloads: HAProxy runs in master-worker mode (`-W`) with a master CLI socket (`-S`), and a reload is SIGUSR2
to the master. The master re-executes itself on the new config and its new workers take the listening
sockets over from the old ones through the master's socketpair (2.6 does this by itself: `-x sockpair@`),
so a listener is never closed and connections waiting in the kernel's accept queue are never reset; the
old workers finish the connections they hold and exit. A plain `-sf <pids>` reload instead binds fresh
sockets beside the old ones (SO_REUSEPORT) and closes the old ones, which resets whatever was queued on
them at that moment: under load, a reload drops connections. A reload that fails (a port held by another
process) leaves the old workers serving; `show proc` on the master CLI tells success from failure.

HAProxy is a child of this process, in its own session (a Ctrl-C in the terminal reaches Corral, which
stops it in order), and it is told to die with its parent (PR_SET_PDEATHSIG), so a killed `corral lb` or
`corral dev` never leaves a HAProxy holding its ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import shutil
import signal
import tempfile
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corral.aio import within
from corral.core.errors import CorralError
from corral.lb.haproxy_text import ProcStatus, parse_show_proc

log = logging.getLogger(__name__)

DEFAULT_BINARY = "/usr/sbin/haproxy"
POLL_SECONDS = 0.01
WAIT_SECONDS = 10.0  # for a start or a reload to show in `show proc`
KEPT_LINES = 200
_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


class HaproxyError(CorralError):
    """HAProxy did not start, or stopped; the message carries what it printed."""


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    ok: bool
    lines: tuple[str, ...]  # what HAProxy printed during the reload


def find_binary(name: str = "haproxy") -> str | None:
    """`haproxy` on PATH, else Debian's /usr/sbin/haproxy (not on a normal user's PATH)."""
    found = shutil.which(name)
    if found is None and name == "haproxy" and os.access(DEFAULT_BINARY, os.X_OK):
        return DEFAULT_BINARY
    return found


async def check_config(binary: str, path: Path) -> str | None:
    """`haproxy -c`: None when the file is valid, else HAProxy's complaint."""
    proc = await asyncio.create_subprocess_exec(
        binary,
        "-c",
        "-f",
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await proc.communicate()
    if proc.returncode == 0:
        return None
    return output.decode(errors="replace").strip() or f"haproxy -c exited with {proc.returncode}"


def _write_synced(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


async def install(binary: str, path: Path, text: str) -> str | None:
    """Validate `text` and, only if HAProxy accepts it, replace `path` with it atomically.

    The candidate is written beside `path` and renamed over it, so HAProxy (or a reader) sees the old file
    or the new one, never a half-written one. Returns None, or why HAProxy refused the config.
    """
    candidate = path.with_name(path.name + ".new")
    await asyncio.to_thread(_write_synced, candidate, text)
    problem = await check_config(binary, candidate)
    if problem is not None:
        candidate.unlink(missing_ok=True)
        return problem
    os.replace(candidate, path)
    return None


def _die_with_parent() -> None:  # runs in the child between fork and exec: one system call
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Haproxy:
    """One HAProxy master and its workers, on the config at `config`."""

    def __init__(self, binary: str, config: Path) -> None:
        self.binary = binary
        self.config = config
        self._dir: Path | None = None  # holds the master CLI socket
        self._proc: asyncio.subprocess.Process | None = None
        self._lines: deque[str] = deque(maxlen=KEPT_LINES)
        self._line_count = 0
        self._new_line = asyncio.Event()
        self._stopping = False
        self._reader: asyncio.Task[None] | None = None
        self._status = ProcStatus(reloads=0, failed_reloads=0, workers=frozenset())

    @property
    def _socket(self) -> Path:
        assert self._dir is not None
        return self._dir / "master.sock"

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    async def start(self) -> None:
        """Start HAProxy and wait until a worker serves; HaproxyError with its output if it cannot."""
        self._dir = Path(tempfile.mkdtemp(prefix="corral-lb-"))  # short: a socket path has 108 bytes
        self._proc = await asyncio.create_subprocess_exec(
            self.binary,
            "-W",
            "-S",
            str(self._socket),
            "-f",
            str(self.config),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._reader = asyncio.create_task(self._read_output(self._proc), name="haproxy-output")
        status = await self._wait(lambda s: bool(s.workers))
        if status is None:
            await self.stop()
            raise HaproxyError("haproxy did not start: " + " | ".join(self._alerts(list(self._lines))))
        self._status = status
        log.info("haproxy %s started on %s", self._proc.pid, self.config)

    async def reload(self) -> ReloadOutcome:
        """SIGUSR2 to the master, then wait until `show proc` shows the new workers or a failed reload."""
        if self._proc is None or self._proc.returncode is not None:
            raise HaproxyError("haproxy is not running")
        before, first_line = self._status, self._line_count
        self._proc.send_signal(signal.SIGUSR2)

        def done(status: ProcStatus) -> bool:
            return status.reloads > before.reloads and (
                status.failed_reloads > before.failed_reloads or bool(status.workers - before.workers)
            )

        status = await self._wait(done)
        if status is None:
            lines = (*self._lines_since(first_line), f"no answer from the master in {WAIT_SECONDS:g}s")
            return ReloadOutcome(ok=False, lines=lines)
        self._status = status
        ok = bool(status.workers - before.workers)  # `failed` counts failures since the last success
        if not ok:  # the master's verdict can come before its explanation has been read from the pipe
            await self._wait_for_line(first_line, "Loading failure")
        return ReloadOutcome(ok=ok, lines=self._lines_since(first_line))

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM to the master (it stops its workers), SIGKILL after `grace` seconds."""
        proc, self._proc = self._proc, None
        self._stopping = True
        try:
            if proc is not None and proc.returncode is None:
                proc.terminate()
                try:
                    await within(proc.wait(), grace)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            if self._reader is not None:  # until the workers close the pipe too, within the grace period
                with contextlib.suppress(TimeoutError):
                    await within(self._reader, grace)
        finally:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None

    def _lines_since(self, count: int) -> tuple[str, ...]:
        new = min(self._line_count - count, len(self._lines))
        return tuple(self._lines)[len(self._lines) - new :]

    @staticmethod
    def _alerts(lines: list[str]) -> list[str]:
        alerts = [line for line in lines if "[ALERT]" in line]
        return alerts or lines[-5:] or ["no output"]

    async def _read_output(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        async for raw in proc.stderr:
            line = raw.decode(errors="replace").rstrip()
            self._lines.append(line)
            self._line_count += 1
            self._new_line.set()
            # Every reload prints a NOTICE per new worker and a WARNING per proxy an old worker stops; a
            # stop reports the workers it terminated as ALERTs.
            alert = "[ALERT]" in line and not self._stopping
            log.log(logging.WARNING if alert else logging.DEBUG, "haproxy: %s", line)

    async def _wait_for_line(self, first_line: int, text: str) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                while not any(text in line for line in self._lines_since(first_line)):
                    self._new_line.clear()
                    await self._new_line.wait()

    async def _show_proc(self) -> ProcStatus | None:
        try:
            reader, writer = await asyncio.open_unix_connection(str(self._socket))
        except OSError:  # not listening yet, or the master is re-executing itself
            return None
        try:
            writer.write(b"show proc\n")
            writer.write_eof()
            return parse_show_proc((await reader.read()).decode(errors="replace"))
        except OSError:
            return None
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _wait(self, done: Callable[[ProcStatus], bool]) -> ProcStatus | None:
        """Poll `show proc` until `done`; None after WAIT_SECONDS or if the master exits."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and self.is_running:
            status = await self._show_proc()
            if status is not None and done(status):
                return status
            await asyncio.sleep(POLL_SECONDS)
        return None

"""cgroups, written directly under /sys/fs/cgroup: discovery (agent), a container's lifecycle (supervisor),
and usage (agent).

Lifecycle, run by the task supervisor around each spawn:
  create    make the container's cgroups (and, for v2, enable the controllers on the way down), write limits
  join      the task's shell writes itself into each join file before it runs the task, so the task and
            everything it forks start inside (see `processes.py`): v1's `tasks` moves only the writing thread
            (the shell has one), which spares the kernel's global lock that a `cgroup.procs` write takes,
            and with it every fork and exit on the machine that would wait on it
  watch     cgroup v1: an eventfd on `memory.oom_control` fires when the OOM killer strikes; the supervisor
            then kills the container, since a task that lost a process to it is no longer whole (v2 asks
            the kernel for the same with `memory.oom.group`)
  resize    new limits while it runs (its executor got a task, or one ended): cpu both ways, the memory
            hard limit only upwards, as upstream's memory isolator
  exit      once the task's process has exited: whether the OOM killer struck (v1 `oom_kill` in
            `memory.oom_control`, read again through the watch's open file; v2 `oom_kill` in
            `memory.events`), the limit and the peak usage (`oom_report`)
  destroy   rmdir, and only if a cgroup still holds processes, SIGKILL them (v2: `cgroup.kill`) and retry:
            an rmdir that succeeds is the check that nothing is left, without listing `cgroup.procs`

A DEFAULT executor's container runs no process: the supervisor creates, resizes and destroys it as the agent
says. Its tasks' containers nest in it, and read the limit and the peak usage of an OOM kill from it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import time
from dataclasses import replace
from pathlib import Path

from corral.agent.isolation.layout import CgroupChoice, CgroupLayout, CgroupSpec, parse_layout
from corral.agent.isolation.statistics import Usage

log = logging.getLogger(__name__)

KILL_ROUNDS = 100  # SIGKILL everything listed, look again; forks racing the kill are caught next round
REMOVE_ATTEMPTS = 50
REMOVE_PAUSE = 0.002  # a SIGKILLed process leaves its cgroup within microseconds, unless in disk sleep
STALE_AFTER = 60.0  # an empty container cgroup this old is garbage: a task joins its cgroups within ms


# ---------------------------------------------------------------- discovery (the agent, at start)


def discover(
    mountinfo: Path = Path("/proc/self/mountinfo"), proc_cgroup: Path = Path("/proc/self/cgroup")
) -> CgroupLayout:
    """The machine's cgroup hierarchies and this process's place in them (none if /proc says nothing)."""
    try:
        layout = parse_layout(mountinfo.read_text(), proc_cgroup.read_text())
    except OSError:
        return CgroupLayout(())
    v2 = layout.v2()
    if v2 is None:
        return layout
    try:
        controllers = frozenset(Path(v2.base, "cgroup.controllers").read_text().split())
    except OSError:
        controllers = frozenset()
    return layout.with_v2_controllers(controllers)


def writable_choice(layout: CgroupLayout, isolation: tuple[str, ...]) -> CgroupChoice | None:
    """The cgroups `isolation` would use, if this process may create cgroups in every one of them."""
    choice = layout.choose(isolation)
    if choice is None or not all(os.access(base, os.W_OK) for base in choice.bases.values()):
        return None
    return choice


# ---------------------------------------------------------------- a container (the supervisor)


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)  # as a shell's `>`: cgroupfs ignores O_TRUNC
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _read(path: str) -> str | None:
    """A whole cgroup file; raw reads, since usage is read from hundreds of them every few seconds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def _keyed(text: str | None) -> dict[str, int]:
    """`memory.stat`-style "key value" lines."""
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            out[key] = int(value)
    return out


def _number(path: str) -> int | None:
    text = _read(path)
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None  # "max"


class CgroupContainer:
    """One container's cgroups, as the supervisor creates, watches and destroys them."""

    def __init__(self, spec: CgroupSpec) -> None:
        self.spec = spec
        self._oom_fds: tuple[int, int] | None = None  # (eventfd, memory.oom_control)

    @property
    def join_files(self) -> list[str]:
        """Where the task's shell writes `0` (itself) to join: see the module's doc."""
        name = "tasks" if self.spec.version == 1 else "cgroup.procs"
        return [f"{d}/{name}" for d in self.spec.directories]

    def create(self) -> None:
        """Raises OSError naming the file; nothing is left behind then."""
        try:
            for path, value in self.spec.delegate:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                _write(path, value)
            for directory in self.spec.directories:
                self._make(directory)
            for path, value in (*self.spec.writes, *self.spec.hard_limits):
                _write(path, value)
        except OSError as e:
            self.destroy()
            raise OSError(e.errno, f"cannot set up cgroup {e.filename or ''}: {e.strerror}") from e

    def resize(self) -> None:
        """New limits for cgroups that exist. Raises OSError (ENOENT: the container is gone meanwhile)."""
        for path, value in self.spec.writes:
            _write(path, value)
        for path, value in self.spec.hard_limits:
            current = _number(path)  # None: "max", no limit to raise
            if current is not None and int(value) > current:
                _write(path, value)

    @staticmethod
    def _make(directory: str) -> None:
        try:
            os.mkdir(directory)  # its parent, the --cgroups_root cgroup, is there but for the first
        except FileExistsError:
            pass
        except FileNotFoundError:
            try:
                os.makedirs(directory, exist_ok=True)
            except FileNotFoundError:  # another supervisor removed the shared parent as we made it
                os.makedirs(directory, exist_ok=True)

    def watch_oom(self) -> int | None:
        """cgroup v1: an eventfd that becomes readable when the OOM killer acts in the container (and when
        the cgroup goes away). None for v2 or without the memory controller."""
        memory = self.spec.directory("memory")
        if self.spec.version != 1 or memory is None:
            return None
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            control = os.open(f"{memory}/memory.oom_control", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            os.close(efd)
            return None
        try:
            _write(f"{memory}/cgroup.event_control", f"{efd} {control}")
        except OSError:
            os.close(efd)
            os.close(control)
            return None
        self._oom_fds = (efd, control)
        return efd

    @property
    def oom_watch(self) -> int | None:
        """The eventfd `watch_oom` made, until `destroy` closes it."""
        return self._oom_fds[0] if self._oom_fds is not None else None

    def has_oom_struck(self) -> bool:
        """Drain the eventfd; whether the OOM killer has killed anything in the container."""
        if self._oom_fds is not None:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self._oom_fds[0])
        return self._oom_kills() > 0

    def _oom_kills(self) -> int:
        memory = self.spec.directory("memory")
        if memory is None:
            return 0
        if self._oom_fds is not None:  # the watch's memory.oom_control, read again from its start
            try:
                text: str | None = os.pread(self._oom_fds[1], 4096, 0).decode()
            except OSError:
                text = None
        else:
            text = _read(f"{memory}/{'memory.oom_control' if self.spec.version == 1 else 'memory.events'}")
        return _keyed(text).get("oom_kill", 0)

    def oom_report(self) -> dict[str, int | None] | None:
        """The limit and the peak usage (of the cgroup that holds the limit), if the OOM killer struck."""
        if self.spec.directory("memory") is None or self._oom_kills() == 0:
            return None
        memory = self.spec.parent.get("memory") or self.spec.directory("memory")
        if self.spec.version == 1:
            limit = _number(f"{memory}/memory.limit_in_bytes")
            peak = _number(f"{memory}/memory.max_usage_in_bytes")
        else:
            limit = _number(f"{memory}/memory.max")
            peak = _number(f"{memory}/memory.peak")  # Linux 5.19+
        return {"limit": limit, "max_usage": peak}

    def kill(self) -> None:
        """SIGKILL every process in the container."""
        for directory in self.spec.directories:
            self._kill(directory)

    def _kill(self, directory: str) -> None:
        if self.spec.version == 2 and os.path.exists(f"{directory}/cgroup.kill"):  # Linux 5.14+
            with contextlib.suppress(OSError):
                _write(f"{directory}/cgroup.kill", "1")
                return
        for _ in range(KILL_ROUNDS):
            pids = [int(p) for p in (_read(f"{directory}/cgroup.procs") or "").split()]
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            os.sched_yield()

    def destroy(self) -> None:
        """Remove the cgroups; a cgroup whose rmdir finds processes left in it has them killed first."""
        if self._oom_fds is not None:
            for fd in self._oom_fds:
                os.close(fd)
            self._oom_fds = None
        for directory in self.spec.directories:
            for attempt in range(REMOVE_ATTEMPTS):
                try:
                    os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        log.warning("cannot remove cgroup %s: %s", directory, e)
                        break
                # Processes are left, or the last ones killed are still exiting.
                if attempt == 0:
                    self._kill(directory)
                else:
                    time.sleep(REMOVE_PAUSE)
            else:
                log.warning("cgroup %s still has processes; left in place", directory)


def remove_stale(parent: str, now: float) -> int:
    """Remove the container cgroups under `parent` that hold no process and were made over a minute ago:
    what a supervisor killed before it could clean up left behind. Returns how many went."""
    removed = 0
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < STALE_AFTER:
                continue
            if not _read(f"{entry.path}/cgroup.procs"):
                os.rmdir(entry.path)
                removed += 1
        except OSError:
            continue  # in use again, or gone meanwhile
    return removed


def remove_parents(directories: set[str]) -> None:
    """Remove the `--cgroups_root` cgroups a supervisor used, if no other agent's containers are in them."""
    for directory in directories:
        with contextlib.suppress(OSError):
            os.rmdir(directory)


# ---------------------------------------------------------------- usage (the agent)


def _ticks() -> int:
    return os.sysconf("SC_CLK_TCK")


def read_usage(spec: CgroupSpec, *, brief: bool = False) -> Usage:
    """What the container has used so far, from its cgroup files (absent files leave fields out). `brief`:
    the cpu times and the rss only, from two files instead of five (the master's per-task statistics)."""
    cpu, memory = spec.directory("cpu"), spec.directory("memory")
    stat = _keyed(_read(f"{memory}/memory.stat")) if memory else {}
    if spec.version == 1:
        cpuacct = spec.directory("cpuacct")
        times = _keyed(_read(f"{cpuacct}/cpuacct.stat")) if cpuacct else {}
        user, system, per_second = times.get("user"), times.get("system"), _ticks()
        cpu_stat = {} if brief or cpu is None else _keyed(_read(f"{cpu}/cpu.stat"))
        throttled_ns = cpu_stat.get("throttled_time")
        throttled = throttled_ns / 1e9 if throttled_ns is not None else None
        rss, cache, mapped, swap = (stat.get(f"total_{k}") for k in ("rss", "cache", "mapped_file", "swap"))
        total = None if brief or memory is None else _number(f"{memory}/memory.usage_in_bytes")
    else:
        cpu_stat = _keyed(_read(f"{cpu}/cpu.stat")) if cpu else {}
        user, system, per_second = cpu_stat.get("user_usec"), cpu_stat.get("system_usec"), 1_000_000
        throttled_us = cpu_stat.get("throttled_usec")
        throttled = throttled_us / 1e6 if throttled_us is not None else None
        rss, cache, mapped = stat.get("anon"), stat.get("file"), stat.get("file_mapped")
        swap = None if brief or memory is None else _number(f"{memory}/memory.swap.current")
        total = None if brief or memory is None else _number(f"{memory}/memory.current")
    usage = Usage(
        cpus_user_time_secs=user / per_second if user is not None else None,
        cpus_system_time_secs=system / per_second if system is not None else None,
        mem_rss_bytes=rss,
    )
    if brief:
        return usage
    tasks = spec.directory("pids") or spec.directories[0]
    return replace(
        usage,
        cpus_nr_periods=cpu_stat.get("nr_periods"),
        cpus_nr_throttled=cpu_stat.get("nr_throttled"),
        cpus_throttled_time_secs=throttled,
        mem_total_bytes=total,
        mem_anon_bytes=rss,
        mem_file_bytes=cache,
        mem_cache_bytes=cache,
        mem_mapped_file_bytes=mapped,
        mem_swap_bytes=swap,
        processes=len((_read(f"{tasks}/cgroup.procs") or "").split()),
    )

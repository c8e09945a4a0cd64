"""posix/cpu and posix/mem: usage from /proc, with no enforcement (`mesos.md` f.2).

A container is its session: every task starts a session of its own (`processes.py`), and what it forks stays
in it unless it calls setsid itself. One pass over /proc serves every container.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from corral.agent.isolation.statistics import Usage

PROC = Path("/proc")


def _stat_fields(text: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses):
    index 0 is the state, 3 the session, 11 utime, 12 stime, 21 rss (pages)."""
    return text[text.rindex(")") + 2 :].split()


def sessions_usage(sessions: Collection[int], proc: Path = PROC) -> dict[int, Usage]:
    """Usage of the processes in each of `sessions` (a session id is the pid of the task that leads it)."""
    ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    totals: dict[int, list[int]] = {}  # session -> [utime, stime, rss pages, processes]
    wanted = set(sessions)
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat_fields(Path(entry.path, "stat").read_text())
        except (OSError, ValueError):
            continue  # exited meanwhile
        session = int(fields[3])
        if session in wanted:
            total = totals.setdefault(session, [0, 0, 0, 0])
            for i, value in enumerate((int(fields[11]), int(fields[12]), int(fields[21]), 1)):
                total[i] += value
    return {
        session: Usage(
            cpus_user_time_secs=utime / ticks,
            cpus_system_time_secs=stime / ticks,
            mem_rss_bytes=rss * page,
            processes=count,
        )
        for session, (utime, stime, rss, count) in totals.items()
    }

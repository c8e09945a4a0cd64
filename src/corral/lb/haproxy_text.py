"""What HAProxy 2.6 prints that the bridge reads: the master CLI's `show proc`, and its bind failures.

`show proc` (master-worker mode) lists the master with its reload count and failed reloads, then the
workers, each with the number of reloads it has lived through (0 for the newest):

    #<PID>          <type>          <reloads>       <uptime>        <version>
    2026            master          2 [failed: 1]   0d00h00m13s     2.6.12-1+deb12u4
    # workers
    2135            worker          0               0d00h00m11s     2.6.12-1+deb12u4

A listener HAProxy cannot bind (a port another process holds) is reported as
`Binding [haproxy.cfg:17] for frontend web_10000: cannot bind socket (...) for [127.0.0.1:10000]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_MASTER = re.compile(r"^(\d+)\s+master\s+(\d+)(?:\s+\[failed:\s*(\d+)\])?")
_WORKER = re.compile(r"^(\d+)\s+worker\s+(\d+)")
_BIND_FAILURE = re.compile(r"for (?:frontend|proxy|listener) ([A-Za-z0-9_.:-]+): cannot bind")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcStatus:
    reloads: int
    failed_reloads: int  # since the last successful reload
    workers: frozenset[int]  # pids of the workers serving the current configuration (reloads 0)


def parse_show_proc(text: str) -> ProcStatus | None:
    """None when the text has no master line (the master was restarting and answered nothing)."""
    reloads = failed = -1
    workers: set[int] = set()
    for line in text.splitlines():
        if match := _MASTER.match(line):
            reloads, failed = int(match[2]), int(match[3] or 0)
        elif (match := _WORKER.match(line)) and match[2] == "0":
            workers.add(int(match[1]))
    if reloads < 0:
        return None
    return ProcStatus(reloads=reloads, failed_reloads=failed, workers=frozenset(workers))


def unbindable_frontends(lines: Iterable[str]) -> frozenset[str]:
    """The proxies HAProxy could not bind, from its log lines."""
    return frozenset(m[1] for line in lines if (m := _BIND_FAILURE.search(line)))

"""Sandbox garbage collection: which directories to delete, and when (`mesos.md` f.5, upstream's
`GarbageCollector` and `Slave::checkDiskUsage`).

Rules:
1. A directory (the run directory of an executor that is gone, and its checkpoints) is deleted `gc_delay`
   after it was last modified. The runtime reports that time: the directory's mtime for leftovers found at
   start, the moment the executor was retired for the others.
2. The fuller the disk, the sooner: every disk check sets the maximum age
   `gc_delay * max(0, 1 - gc_disk_headroom - disk usage)`, and everything older goes at once (upstream's
   `prune`). The latest maximum age is the metric `slave/executor_directory_max_allowed_age_secs`.
3. Scheduling a directory again moves it; nothing is deleted twice.

The deleting itself is the runtime's, off the event loop.
"""

from __future__ import annotations

import heapq
from pathlib import Path


def max_allowed_age(delay: float, headroom: float, disk_usage: float) -> float:
    return delay * max(0.0, 1.0 - headroom - disk_usage)


class GarbageCollector:
    def __init__(self, *, delay: float, headroom: float) -> None:
        self.delay = delay
        self.headroom = headroom
        self.max_allowed_age = delay
        self._modified: dict[Path, float] = {}
        self._deadlines: list[tuple[float, Path]] = []  # a heap; entries of moved or pruned paths are stale

    def __len__(self) -> int:
        return len(self._modified)

    def is_scheduled(self, path: Path) -> bool:
        return path in self._modified

    def schedule(self, path: Path, modified: float) -> None:
        """Delete `path` `delay` after `modified` (or sooner under disk pressure)."""
        self._modified[path] = modified
        heapq.heappush(self._deadlines, (modified + self.delay, path))

    def due(self, now: float) -> list[Path]:
        """The directories whose time has come; they are forgotten."""
        paths: list[Path] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, path = heapq.heappop(self._deadlines)
            if self._take(path, now - self.delay):
                paths.append(path)
        return paths

    def prune(self, disk_usage: float, now: float) -> list[Path]:
        """A disk check: every directory older than the new maximum age, forgotten."""
        self.max_allowed_age = max_allowed_age(self.delay, self.headroom, disk_usage)
        oldest = now - self.max_allowed_age
        return [path for path in list(self._modified) if self._take(path, oldest)]

    def next_deadline(self) -> float | None:
        while self._deadlines:
            deadline, path = self._deadlines[0]
            modified = self._modified.get(path)
            if modified is not None and modified + self.delay == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    def _take(self, path: Path, modified_by: float) -> bool:
        """Forget `path` if it was last modified at `modified_by` or earlier."""
        modified = self._modified.get(path)
        if modified is None or modified > modified_by:
            return False
        del self._modified[path]
        return True

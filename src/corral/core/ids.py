"""Identifiers, and the id sources that mint them.

Master-minted ids follow Mesos: framework `<master>-0000`, agent `<master>-S<n>`, offer `<master>-O<n>`.
Task and executor ids are chosen by frameworks. An id source is an argument of pure code, never a global.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NewType

FrameworkId = NewType("FrameworkId", str)
AgentId = NewType("AgentId", str)
OfferId = NewType("OfferId", str)
TaskId = NewType("TaskId", str)
ExecutorId = NewType("ExecutorId", str)
ContainerId = NewType("ContainerId", str)

MAX_ID_BYTES = 255
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")


def id_problem(value: str) -> str | None:
    """Why `value` cannot be a framework-chosen id (it becomes a directory name), or None if it can."""
    if not value:
        return "must not be empty"
    if value in (".", ".."):
        return "must not be '.' or '..'"
    try:
        size = len(value.encode())
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") has no UTF-8 form, hence no file name
        return "must be valid Unicode text"
    if size > MAX_ID_BYTES:
        return f"must be at most {MAX_ID_BYTES} bytes"
    if _FORBIDDEN.search(value):
        return "must not contain '/', '\\' or control characters"
    return None


@dataclass(slots=True)
class IdSource:
    """Mints the master's ids. Deterministic given the master id, so tests can predict them."""

    master_id: str
    _frameworks: int = field(default=0)
    _agents: int = field(default=0)
    _offers: int = field(default=0)

    def framework(self) -> FrameworkId:
        value = f"{self.master_id}-{self._frameworks:04d}"
        self._frameworks += 1
        return FrameworkId(value)

    def agent(self) -> AgentId:
        value = f"{self.master_id}-S{self._agents}"
        self._agents += 1
        return AgentId(value)

    def offer(self) -> OfferId:
        value = f"{self.master_id}-O{self._offers}"
        self._offers += 1
        return OfferId(value)

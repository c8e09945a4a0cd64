"""The ports to the outside world of coordination: Store, LeaderElection (with its Lease), MasterDetector.

Runtimes and the CLI see only these Protocols; `local.py` (SQLite, one process) and `zookeeper.py` (kazoo)
implement them, and the errors below are the only ones they raise (foreign exceptions are mapped at the edge).
Every call is async and never blocks the event loop.

Invariants every implementation keeps:

- Store versions: a key created by `put(key, value, None)` has version 0; each successful `put` adds 1.
  `put`/`delete` with an `expected_version` that does not match raise `VersionConflict` and change nothing.
- A `VersionConflict` is definite (nothing was written). A `CoordUnavailable` from a write is indeterminate:
  the write may or may not have been applied, and may become visible later (Jepsen's `:info`); callers
  re-read and make their writes idempotent.
- Leadership is a lease. `Lease.is_held` turns False, and `Lease.lost` is set, the moment the implementation
  has any doubt (for ZooKeeper: the connection is suspended, the session is lost, or the candidacy znode is
  gone). It never turns True again: a leader that lost its lease campaigns anew. A write passed
  `fence=lease` is refused with `LeaseLost` unless the lease still holds when the write commits.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from corral.core.errors import CorralError

if TYPE_CHECKING:
    import asyncio

    from corral.protocol.mesos import MasterInfo


@dataclass(frozen=True, slots=True)
class Versioned:
    """A stored value and the version it was read at (the `expected_version` of a compare-and-set)."""

    value: bytes
    version: int


class CoordError(CorralError):
    """Base of the coordination errors."""


class VersionConflict(CoordError):
    """A compare-and-set did not match (the key exists, is missing, or has another version): nothing was
    written."""

    def __init__(self, key: str, expected_version: int | None) -> None:
        expected = "absent" if expected_version is None else f"version {expected_version}"
        super().__init__(f"{key!r}: expected {expected}")
        self.key = key
        self.expected_version = expected_version


class LeaseLost(CoordError):
    """A fenced write was refused, and nothing written, because the lease passed as `fence` is not held."""


class CoordUnavailable(CoordError):
    """The coordination service could not be reached in time. For a write the outcome is unknown."""


class Store(Protocol):
    """A versioned key/value store with compare-and-set. Keys are non-empty strings; values are bytes of any
    size (the ZooKeeper implementation splits large values into chunks behind the same semantics)."""

    async def get(self, key: str) -> Versioned | None:
        """The value and its version, or None when the key does not exist."""
        ...

    async def put(
        self, key: str, value: bytes, expected_version: int | None, *, fence: Lease | None = None
    ) -> int:
        """Write `value` if the key is at `expected_version` (None: if it does not exist); the new version."""
        ...

    async def delete(self, key: str, expected_version: int | None, *, fence: Lease | None = None) -> None:
        """Remove the key if it is at `expected_version`. None: whatever its version; a missing key is then
        not an error (with an int it is a `VersionConflict`)."""
        ...

    async def list(self, prefix: str = "") -> builtins.list[str]:
        """The keys starting with `prefix`, sorted."""
        ...


class Lease(Protocol):
    """Leadership won by `LeaderElection.campaign`, held until lost or resigned."""

    @property
    def is_held(self) -> bool:
        """True while this process may act as leader. Check it before every leader action."""
        ...

    @property
    def lost(self) -> asyncio.Event:
        """Set once, when the lease is lost or resigned."""
        ...

    async def resign(self) -> None:
        """Give up leadership (idempotent): `lost` is set at once, then the candidacy is withdrawn."""
        ...


class LeaderElection(Protocol):
    """One election (one group of candidates) among the processes sharing a coordination service."""

    async def campaign(self, info: bytes) -> Lease:
        """Stand as a candidate advertising `info` (MasterInfo JSON for Mesos' layout) and wait until elected.
        Cancelling the wait withdraws the candidacy."""
        ...

    async def leader(self) -> bytes | None:
        """The current leader's `info`, or None when there is none."""
        ...

    def watch_leader(self) -> AsyncGenerator[bytes | None, None]:
        """The current leader's `info` (None: no leader), then every change, until the iteration is closed."""
        ...


class MasterDetector(Protocol):
    """Finds the leading master, as agents and schedulers do (`mesos.md` d.2)."""

    def watch(self) -> AsyncGenerator[MasterInfo | None, None]:
        """The current leading master (None: none known), then every change, until the iteration is closed."""
        ...

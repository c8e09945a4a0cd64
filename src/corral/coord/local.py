"""The coordination ports for one process without ZooKeeper (`corral dev`): a SQLite Store, an election that
the first candidate always wins, and a detector that names a fixed master.

SqliteStore runs every statement on one dedicated worker thread, which owns the connection. A statement is
short, but a commit waits for the disk (fsync) and values may be megabytes: on the loop that would stall
offers and HTTP for milliseconds at a time, so no call touches the database from the loop. One thread also
serializes the store's transactions in this process; `BEGIN IMMEDIATE` and a busy timeout keep
compare-and-set correct if another process opens the same file. The file uses WAL with `synchronous=NORMAL`:
a crash of the process loses nothing committed; a power cut may lose the last commits (acceptable for dev).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TypeVar

from corral.coord.ports import Lease, LeaseLost, VersionConflict, Versioned
from corral.coord.zk_url import DEFAULT_MASTER_PORT, HostPort, parse_host_port
from corral.protocol.mesos import MasterInfo

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, version INTEGER NOT NULL)"


class SqliteStore:
    """Store (see `ports.py`) in one SQLite file. Call `close()` when done."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="corral-sqlite")
        self._db: sqlite3.Connection | None = None  # used on the worker thread only

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, partial(self._on_worker, fn))

    def _on_worker(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
            set_wal(db)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(SCHEMA)
            self._db = db
        return fn(self._db)

    async def close(self) -> None:
        def shut(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None

        if self._db is not None:
            await self._run(shut)
        self._executor.shutdown(wait=False)

    async def get(self, key: str) -> Versioned | None:
        def read(db: sqlite3.Connection) -> Versioned | None:
            row = db.execute("SELECT value, version FROM kv WHERE key = ?", (key,)).fetchone()
            return None if row is None else Versioned(bytes(row[0]), int(row[1]))

        return await self._run(read)

    async def put(
        self, key: str, value: bytes, expected_version: int | None, *, fence: Lease | None = None
    ) -> int:
        check_key(key)
        check_fence(fence)

        def write(db: sqlite3.Connection) -> int:
            with transaction(db):
                row = db.execute("SELECT version FROM kv WHERE key = ?", (key,)).fetchone()
                current = None if row is None else int(row[0])
                if current != expected_version:
                    raise VersionConflict(key, expected_version)
                version = 0 if current is None else current + 1
                db.execute(
                    "INSERT INTO kv (key, value, version) VALUES (?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version",
                    (key, value, version),
                )
                return version

        return await self._run(write)

    async def delete(self, key: str, expected_version: int | None, *, fence: Lease | None = None) -> None:
        check_fence(fence)

        def remove(db: sqlite3.Connection) -> None:
            with transaction(db):
                row = db.execute("SELECT version FROM kv WHERE key = ?", (key,)).fetchone()
                if row is None and expected_version is None:
                    return
                if row is None or (expected_version is not None and int(row[0]) != expected_version):
                    raise VersionConflict(key, expected_version)
                db.execute("DELETE FROM kv WHERE key = ?", (key,))

        await self._run(remove)

    async def list(self, prefix: str = "") -> builtins.list[str]:
        def keys(db: sqlite3.Connection) -> builtins.list[str]:
            found = []
            for (key,) in db.execute("SELECT key FROM kv WHERE key >= ? ORDER BY key", (prefix,)):
                if not key.startswith(prefix):
                    break
                found.append(key)
            return found

        return await self._run(keys)


def set_wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch the file to WAL (persistent). The switch takes an exclusive lock without waiting on the busy
    timeout, so a second connection opening the file at the same moment retries for up to a second."""
    for _ in range(attempts - 1):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e):
                raise
        time.sleep(0.01)  # on the store's worker thread, never the loop
    db.execute("PRAGMA journal_mode=WAL")


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def check_key(key: str) -> None:
    if not key:
        raise ValueError("a store key must not be empty")


def check_fence(fence: Lease | None) -> None:
    if fence is not None and not fence.is_held:
        raise LeaseLost("the lease passed as fence is no longer held")


# ---------------------------------------------------------------- election


class LocalLease:
    def __init__(self, election: LocalElection, info: bytes) -> None:
        self._election = election
        self.info = info
        self._lost = asyncio.Event()

    @property
    def is_held(self) -> bool:
        return not self._lost.is_set()

    @property
    def lost(self) -> asyncio.Event:
        return self._lost

    async def resign(self) -> None:
        if not self._lost.is_set():
            self._lost.set()
            await self._election.release(self)


class LocalElection:
    """Leader election inside one process: the first candidate wins at once and leads until it resigns; later
    candidates wait their turn. With one candidate per role, as in `corral dev`, it is always-leader."""

    def __init__(self) -> None:
        self._holder: LocalLease | None = None
        self._changed = asyncio.Condition()

    async def campaign(self, info: bytes) -> LocalLease:
        async with self._changed:
            await self._changed.wait_for(lambda: self._holder is None)
            self._holder = LocalLease(self, info)
            self._changed.notify_all()
            return self._holder

    async def release(self, lease: LocalLease) -> None:
        async with self._changed:
            if self._holder is lease:
                self._holder = None
                self._changed.notify_all()

    async def leader(self) -> bytes | None:
        return self._info()

    def _info(self) -> bytes | None:
        return None if self._holder is None else self._holder.info

    async def watch_leader(self) -> AsyncGenerator[bytes | None, None]:
        current = await self.leader()
        while True:
            yield current
            async with self._changed:
                await self._changed.wait_for(lambda seen=current: self._info() != seen)  # type: ignore[misc]
                current = self._info()


# ---------------------------------------------------------------- detector


class StaticDetector:
    """A fixed master (`--master=host:port`): named once, never changes."""

    def __init__(self, master: MasterInfo) -> None:
        self.master = master

    @classmethod
    def of(cls, address: str | HostPort) -> StaticDetector:
        hp = address if isinstance(address, HostPort) else parse_host_port(address, DEFAULT_MASTER_PORT)
        return cls(MasterInfo(id=str(hp), ip=hp.host, port=hp.port, hostname=hp.host))

    async def watch(self) -> AsyncGenerator[MasterInfo | None, None]:
        yield self.master
        await asyncio.Event().wait()  # the leader never changes; the caller closes the iteration

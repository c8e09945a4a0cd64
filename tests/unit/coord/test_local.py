"""The local (one process, no ZooKeeper) coordination: SQLite store, in-process election, static detector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from corral.coord.detector import ElectionDetector, encode_master_info
from corral.coord.local import LocalElection, SqliteStore, StaticDetector
from corral.coord.ports import Versioned
from corral.protocol.mesos import MasterInfo
from corral.testing.store_contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.close()

    @pytest.fixture
    async def peer(self, tmp_path: Path) -> AsyncIterator[SqliteStore]:
        """Another connection to the same file, as a second process would open it."""
        store = SqliteStore(tmp_path / "state.db")
        yield store
        await store.close()


async def test_sqlite_store_keeps_its_data_across_reopening(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "sub" / "state.db")
    await store.put("k", b"v", None)
    await store.close()
    reopened = SqliteStore(tmp_path / "sub" / "state.db")
    assert await reopened.get("k") == Versioned(b"v", 0)
    await reopened.close()


async def test_sqlite_store_rejects_an_empty_key(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.db")
    with pytest.raises(ValueError):
        await store.put("", b"v", None)
    await store.close()


async def test_the_first_candidate_leads_at_once() -> None:
    election = LocalElection()
    assert await election.leader() is None
    lease = await election.campaign(b"me")
    assert lease.is_held and not lease.lost.is_set()
    assert await election.leader() == b"me"


async def test_a_second_candidate_waits_until_the_leader_resigns() -> None:
    election = LocalElection()
    first = await election.campaign(b"first")
    second = asyncio.create_task(election.campaign(b"second"))
    await asyncio.sleep(0)  # let it start waiting: it must not be elected while `first` holds
    assert not second.done()
    await first.resign()
    assert first.lost.is_set() and not first.is_held
    lease = await asyncio.wait_for(second, 1)
    assert lease.is_held
    assert await election.leader() == b"second"
    await first.resign()  # idempotent, and does not depose the new leader
    assert lease.is_held


async def test_watch_leader_reports_each_change() -> None:
    election = LocalElection()
    seen: list[bytes | None] = []
    async with contextlib.aclosing(election.watch_leader()) as leaders:
        seen.append(await anext(leaders))
        lease = await election.campaign(b"a")
        seen.append(await anext(leaders))
        await lease.resign()
        seen.append(await anext(leaders))
    assert seen == [None, b"a", None]


async def test_election_detector_decodes_master_info() -> None:
    election = LocalElection()
    info = MasterInfo(id="m1", ip="127.0.0.1", port=5050, hostname="localhost")
    async with contextlib.aclosing(ElectionDetector(election).watch()) as masters:
        assert await anext(masters) is None
        lease = await election.campaign(encode_master_info(info))
        assert await anext(masters) == info
        await lease.resign()
        await election.campaign(b"not json")
        assert await anext(masters) is None  # not MasterInfo: no usable leader


async def test_static_detector_names_its_master_once() -> None:
    detector = StaticDetector.of("10.0.0.5:5050")
    async with contextlib.aclosing(detector.watch()) as masters:
        master = await anext(masters)
        assert master is not None
        assert (master.ip, master.port, master.hostname) == ("10.0.0.5", 5050, "10.0.0.5")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(masters), 0.05)  # never changes
    assert StaticDetector.of("master1").master.port == 5050

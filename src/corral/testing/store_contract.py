"""The Store contract (`corral.coord.ports`), run against every implementation (SQLite in the unit tests,
ZooKeeper in the integration tests).

A test class subclasses `StoreContract` and provides two fixtures: `store`, a fresh empty Store, and `peer`,
a second client of the same data (another connection or session), so that compare-and-set is checked
between clients and not only within one.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from corral.coord.ports import LeaseLost, Store, VersionConflict, Versioned


class NotHeld:
    """A Lease that has been lost."""

    is_held = False
    lost = asyncio.Event()

    async def resign(self) -> None:
        return None


class StoreContract:
    async def test_a_missing_key_reads_as_none(self, store: Store) -> None:
        assert await store.get("nothing") is None

    async def test_create_then_read(self, store: Store) -> None:
        assert await store.put("k", b"v1", None) == 0
        assert await store.get("k") == Versioned(b"v1", 0)

    async def test_each_write_adds_one_to_the_version(self, store: Store) -> None:
        version = await store.put("k", b"a", None)
        for expected in (1, 2, 3):
            version = await store.put("k", b"x" * expected, version)
            assert version == expected
        assert await store.get("k") == Versioned(b"xxx", 3)

    async def test_create_of_an_existing_key_conflicts_and_writes_nothing(self, store: Store) -> None:
        await store.put("k", b"first", None)
        with pytest.raises(VersionConflict):
            await store.put("k", b"second", None)
        assert await store.get("k") == Versioned(b"first", 0)

    async def test_a_stale_version_conflicts_and_writes_nothing(self, store: Store) -> None:
        v0 = await store.put("k", b"a", None)
        await store.put("k", b"b", v0)
        with pytest.raises(VersionConflict) as raised:
            await store.put("k", b"c", v0)
        assert raised.value.key == "k" and raised.value.expected_version == v0
        assert await store.get("k") == Versioned(b"b", 1)

    async def test_an_update_of_a_missing_key_conflicts(self, store: Store) -> None:
        with pytest.raises(VersionConflict):
            await store.put("k", b"a", 0)
        assert await store.get("k") is None

    async def test_delete_checks_the_version(self, store: Store) -> None:
        version = await store.put("k", b"a", None)
        with pytest.raises(VersionConflict):
            await store.delete("k", version + 1)
        assert await store.get("k") is not None
        await store.delete("k", version)
        assert await store.get("k") is None

    async def test_delete_of_a_missing_key(self, store: Store) -> None:
        await store.delete("k", None)  # any version: nothing to do
        with pytest.raises(VersionConflict):
            await store.delete("k", 0)

    async def test_delete_with_any_version(self, store: Store) -> None:
        version = await store.put("k", b"a", None)
        await store.put("k", b"b", version)
        await store.delete("k", None)
        assert await store.get("k") is None

    async def test_a_deleted_key_is_created_anew_at_version_0(self, store: Store) -> None:
        await store.put("k", b"old", None)
        await store.delete("k", 0)
        assert await store.put("k", b"new", None) == 0
        assert await store.get("k") == Versioned(b"new", 0)

    async def test_list_returns_the_sorted_keys_with_the_prefix(self, store: Store) -> None:
        for key in ("apps/b", "apps/a", "apps", "jobs/x", "app"):
            await store.put(key, b"", None)
        assert await store.list("apps/") == ["apps/a", "apps/b"]
        assert await store.list("app") == ["app", "apps", "apps/a", "apps/b"]
        assert await store.list() == ["app", "apps", "apps/a", "apps/b", "jobs/x"]
        assert await store.list("zzz") == []

    async def test_keys_may_hold_any_character(self, store: Store) -> None:
        keys = ["a/b/c", "100%", ".", "..", "sp ace", "ünïcødé/☃", "a%2Fb", "/lead"]
        for key in keys:
            await store.put(key, key.encode(), None)
        assert await store.list() == sorted(keys)
        for key in keys:
            assert await store.get(key) == Versioned(key.encode(), 0)

    async def test_values_are_bytes_of_any_kind(self, store: Store) -> None:
        await store.put("empty", b"", None)
        await store.put("binary", bytes(range(256)), None)
        assert await store.get("empty") == Versioned(b"", 0)
        assert await store.get("binary") == Versioned(bytes(range(256)), 0)

    async def test_values_larger_than_a_zookeeper_node_round_trip(self, store: Store) -> None:
        big = os.urandom(3 * 1024 * 1024 + 17)  # > 1 MiB: ZooKeeper's jute.maxbuffer
        version = await store.put("big", big, None)
        assert await store.get("big") == Versioned(big, 0)
        bigger = os.urandom(2 * 1024 * 1024)
        version = await store.put("big", bigger, version)
        assert await store.get("big") == Versioned(bigger, 1)
        version = await store.put("big", b"small again", version)
        assert await store.get("big") == Versioned(b"small again", 2)
        version = await store.put("big", big, version)
        assert await store.get("big") == Versioned(big, 3)
        with pytest.raises(VersionConflict):
            await store.put("big", bigger, 1)
        assert await store.get("big") == Versioned(big, 3)
        await store.delete("big", version)
        assert await store.get("big") is None

    async def test_a_large_create_of_an_existing_key_conflicts(self, store: Store) -> None:
        await store.put("k", b"there", None)
        with pytest.raises(VersionConflict):
            await store.put("k", os.urandom(1_500_000), None)
        assert await store.get("k") == Versioned(b"there", 0)

    async def test_of_concurrent_writers_at_one_version_exactly_one_wins(
        self, store: Store, peer: Store
    ) -> None:
        base = await store.put("k", b"base", None)
        clients = [store, peer] * 5

        async def write(i: int) -> bytes | None:
            value = f"writer {i}".encode() * (1 if i % 2 else 200_000)  # some values chunked
            try:
                await clients[i].put("k", value, base)
            except VersionConflict:
                return None
            return value

        outcomes = await asyncio.gather(*(write(i) for i in range(len(clients))))
        winners = [v for v in outcomes if v is not None]
        assert len(winners) == 1
        assert await peer.get("k") == Versioned(winners[0], base + 1)

    async def test_of_concurrent_creators_exactly_one_wins(self, store: Store, peer: Store) -> None:
        async def create(i: int) -> bool:
            try:
                await (store, peer)[i % 2].put("new", str(i).encode(), None)
            except VersionConflict:
                return False
            return True

        assert sum(await asyncio.gather(*(create(i) for i in range(8)))) == 1

    async def test_a_peer_sees_writes_and_conflicts(self, store: Store, peer: Store) -> None:
        version = await store.put("k", b"mine", None)
        assert await peer.get("k") == Versioned(b"mine", version)
        await peer.put("k", b"theirs", version)
        with pytest.raises(VersionConflict):
            await store.put("k", b"stale", version)
        assert await store.get("k") == Versioned(b"theirs", version + 1)
        assert await peer.list() == ["k"]

    async def test_a_write_fenced_by_a_lost_lease_is_refused(self, store: Store) -> None:
        with pytest.raises(LeaseLost):
            await store.put("k", b"from a deposed leader", None, fence=NotHeld())
        assert await store.get("k") is None
        await store.put("k", b"v", None)
        with pytest.raises(LeaseLost):
            await store.delete("k", 0, fence=NotHeld())
        assert await store.get("k") == Versioned(b"v", 0)

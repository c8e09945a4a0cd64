"""The Store contract on a real ZooKeeper, plus what is ZooKeeper's own: chunks below `jute.maxbuffer`
(`reliability-security.md` 0.4, ZOOKEEPER-3496), fencing by the leader's candidacy znode, and ACLs when the
URL has credentials (Marathon's `ZooKeeperTest`/`AuthorizedZooKeeperTest`)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from kazoo.security import ACL, Id, Permissions
from zk import ZkEnsemble, ensemble_fixture

from corral.coord.ports import CoordError, LeaseLost, Versioned
from corral.coord.zk_store import CHUNK_SIZE, ZooKeeperStore
from corral.coord.zookeeper import ZooKeeper, ZooKeeperLease
from corral.testing.store_contract import StoreContract

pytestmark = pytest.mark.integration

SESSION = 2.0
zk1 = ensemble_fixture("zk1", size=1)


@pytest.fixture
def root() -> str:
    return f"/s{uuid.uuid4().hex[:8]}/state"


@pytest.fixture
async def session(zk1: ZkEnsemble) -> AsyncIterator[ZooKeeper]:
    async with ZooKeeper(zk1.url(), session_timeout=SESSION) as zk:
        yield zk


@pytest.fixture
async def store(session: ZooKeeper, root: str) -> ZooKeeperStore:
    return session.store(root)


@pytest.fixture
async def peer(zk1: ZkEnsemble, root: str) -> AsyncIterator[ZooKeeperStore]:
    """The same data through another session, as another daemon would see it."""
    async with ZooKeeper(zk1.url(), session_timeout=SESSION) as zk:
        yield zk.store(root)


class TestZooKeeperStore(StoreContract):
    pass


async def children(zk: ZooKeeper, path: str) -> list[str]:
    return sorted(await asyncio.to_thread(zk.client.get_children, path))


async def test_a_large_value_is_stored_in_chunks_below_the_node_limit(session: ZooKeeper, root: str) -> None:
    store = session.store(root)
    value = os.urandom(5 * CHUNK_SIZE // 2)  # 2.5 chunks: 1.25 MiB
    version = await store.put("app", value, None)
    chunks = await children(session, f"{root}/chunks")
    assert len(chunks) == 3
    for name in chunks:
        data, _ = await asyncio.to_thread(session.client.get, f"{root}/chunks/{name}")
        assert len(data) <= CHUNK_SIZE < 1_048_575  # jute.maxbuffer
    head, _ = await asyncio.to_thread(session.client.get, f"{root}/keys/app")
    assert len(head) < 200
    # replacing the value deletes the previous generation's chunks in the same transaction
    version = await store.put("app", value[::-1], version)
    assert len(new := await children(session, f"{root}/chunks")) == 3 and not set(new) & set(chunks)
    version = await store.put("app", b"small", version)
    assert await children(session, f"{root}/chunks") == []
    version = await store.put("app", value, version)
    await store.delete("app", version)
    assert await children(session, f"{root}/chunks") == []
    assert await children(session, f"{root}/keys") == []


async def test_a_refused_large_write_leaves_no_chunks(session: ZooKeeper, root: str) -> None:
    store = session.store(root)
    await store.put("app", b"v0", None)
    with pytest.raises(CoordError):  # VersionConflict
        await store.put("app", os.urandom(3 * CHUNK_SIZE), 7)
    with pytest.raises(CoordError):
        await store.put("app", os.urandom(3 * CHUNK_SIZE), None)
    assert await children(session, f"{root}/chunks") == []
    assert await store.get("app") == Versioned(b"v0", 0)


async def test_small_chunks_work_the_same(session: ZooKeeper, root: str) -> None:
    store = session.store(root, chunk_size=1000)
    value = os.urandom(25_500)
    version = await store.put("k", value, None)
    assert len(await children(session, f"{root}/chunks")) == 26
    assert await store.get("k") == Versioned(value, version)


async def test_a_write_fenced_by_the_leaders_lease_commits_only_while_its_znode_exists(
    session: ZooKeeper, root: str
) -> None:
    lease = await session.election(f"{root}-election").campaign(b"{}")
    store = session.store(root)
    version = await store.put("k", b"by the leader", None, fence=lease)
    # a lease the process still believes held, whose znode is gone (deposed between its check and the write)
    deposed = ZooKeeperLease(session, f"{root}-election/json.info_9999999999", b"{}")
    assert deposed.is_held
    with pytest.raises(LeaseLost):
        await store.put("k", b"small, from a deposed leader", version, fence=deposed)
    with pytest.raises(LeaseLost):
        await store.put("k", os.urandom(2 * CHUNK_SIZE), version, fence=deposed)
    with pytest.raises(LeaseLost):
        await store.delete("k", version, fence=deposed)
    assert await store.get("k") == Versioned(b"by the leader", version)
    assert await children(session, f"{root}/chunks") == []
    await store.delete("k", version, fence=lease)
    assert await store.get("k") is None


async def test_with_credentials_others_may_read_but_not_write(zk1: ZkEnsemble, root: str) -> None:
    async with (
        ZooKeeper(f"zk://corral:secret@{zk1.hosts}/", session_timeout=SESSION) as owner,
        ZooKeeper(zk1.url(), session_timeout=SESSION) as anonymous,
    ):
        version = await owner.store(root).put("k", b"v", None)
        acl, _ = await asyncio.to_thread(anonymous.client.get_acls, f"{root}/keys/k")
        assert ACL(Permissions.READ, Id("world", "anyone")) in acl
        assert any(a.id.scheme == "digest" and a.perms == Permissions.ALL for a in acl)
        assert await anonymous.store(root).get("k") == Versioned(b"v", version)
        with pytest.raises(CoordError, match="not authorized"):
            await anonymous.store(root).put("k", b"intruder", version)
        assert await owner.store(root).get("k") == Versioned(b"v", version)

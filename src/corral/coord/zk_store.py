"""The Store port on ZooKeeper: compare-and-set through znode versions, large values in chunks.

Layout under `root`:

    <root>/keys/<key, percent-encoded>   the head: b"\\x00" + value, or b"\\x01" + {"chunks", "count", "size"}
    <root>/chunks/<generation>-<NNNNNN>  a large value's parts, immutable, in a generation (a random id) of
                                         their own

The head znode's version is the entry's version, so compare-and-set is ZooKeeper's own `setData(version)`.
ZooKeeper refuses any node or transaction above `jute.maxbuffer` (1,048,575 bytes; a larger one once made
it unavailable, ZOOKEEPER-3496), so a value larger than `chunk_size` (512 KiB) is written as chunks, one
create each, and then the head is switched in one multi-op that also checks the version (and the fence) and
deletes the previous generation's chunks. No request ever carries more than one chunk.

Readers read the head, then the chunks it names. Chunks are never modified, only deleted once unreferenced,
so a reader either gets the whole value its head named or a missing chunk, which means the head moved on:
it reads again. A writer whose head switch fails definitely (a conflict) deletes its chunks; one whose
switch has an unknown outcome leaves them (they may be referenced now). Chunks of a writer that crashed
between its chunks and its head switch are never referenced and stay as garbage.

Fencing: `fence=lease` with a ZooKeeper lease adds a check of the lease's candidacy znode to the head
switch, so the write commits only while that znode, and hence the leadership, exists.
"""

from __future__ import annotations

import builtins
import contextlib
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any, Final
from urllib.parse import quote, unquote

from kazoo.exceptions import BadVersionError, NoAuthError, NodeExistsError, NoNodeError, RolledBackError

from corral.coord.ports import CoordError, CoordUnavailable, Lease, LeaseLost, VersionConflict, Versioned
from corral.coord.zk_url import join_path
from corral.coord.zookeeper import ZooKeeper, ZooKeeperLease
from corral.core.errors import DecodeError
from corral.protocol.json import Reader, dumps, loads_object

CHUNK_SIZE: Final = 512 * 1024
MAX_CHUNK_SIZE: Final = 1_000_000  # plus the request's own bytes, still below jute.maxbuffer
INLINE: Final = b"\x00"
CHUNKED: Final = b"\x01"
PIPELINE: Final = 8  # chunk requests in flight at once
READ_ATTEMPTS: Final = 10


def znode_name(key: str) -> str:
    """A key as one znode name: percent-encoded, so `/` and `%` cannot split or clash, and never `.`/`..`."""
    if not key:
        raise ValueError("a store key must not be empty")
    name = quote(key, safe="")
    return name.replace(".", "%2E") if name in (".", "..") else name


def key_of(name: str) -> str:
    return unquote(name)


class ZooKeeperStore:
    """Store (see `ports.py`) under the znode `root`."""

    def __init__(self, zk: ZooKeeper, root: str, *, chunk_size: int = CHUNK_SIZE) -> None:
        if not 0 < chunk_size <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk_size must be in 1..{MAX_CHUNK_SIZE}")
        self._zk = zk
        self.root = join_path(root)
        self._keys = join_path(self.root, "keys")
        self._chunks = join_path(self.root, "chunks")
        self._chunk_size = chunk_size
        self._ready = False

    def _head(self, key: str) -> str:
        return f"{self._keys}/{znode_name(key)}"

    async def _ensure_root(self) -> None:
        if not self._ready:
            for path in (self._keys, self._chunks):
                await self._zk.call(partial(self._zk.client.ensure_path_async, path), f"create {path}")
            self._ready = True

    # ------------------------------------------------------------ reads

    async def get(self, key: str) -> Versioned | None:
        head = self._head(key)
        for _ in range(READ_ATTEMPTS):
            try:
                data, stat = await self._zk.call(partial(self._zk.client.get_async, head), f"get {key!r}")
            except NoNodeError:
                return None
            chunks = self._chunk_paths(key, data)
            if chunks is None:
                return Versioned(bytes(data[1:]), stat.version)
            try:
                parts = await self._pipelined(
                    [partial(self._zk.client.get_async, path) for path in chunks], f"get {key!r}"
                )
            except NoNodeError:
                continue  # replaced while we read: read the new head
            value = b"".join(bytes(d) for d, _ in parts)
            if len(value) != self._meta(key, data).integer("size"):
                raise CoordError(f"{key!r}: chunked value has the wrong size")
            return Versioned(value, stat.version)
        raise CoordUnavailable(f"get {key!r}: the value kept changing while it was read")

    async def list(self, prefix: str = "") -> builtins.list[str]:
        try:
            names = await self._zk.call(
                partial(self._zk.client.get_children_async, self._keys), f"list {self._keys}"
            )
        except NoNodeError:
            return []
        return sorted(k for k in map(key_of, names) if k.startswith(prefix))

    # ------------------------------------------------------------ writes

    async def put(
        self, key: str, value: bytes, expected_version: int | None, *, fence: Lease | None = None
    ) -> int:
        check_fence(fence)
        await self._ensure_root()
        head = self._head(key)
        old_chunks: builtins.list[str] = []
        if expected_version is not None:  # read the previous generation's chunks, to delete them
            try:
                data, stat = await self._zk.call(partial(self._zk.client.get_async, head), f"get {key!r}")
            except NoNodeError:
                raise VersionConflict(key, expected_version) from None
            if stat.version != expected_version:
                raise VersionConflict(key, expected_version)
            old_chunks = self._chunk_paths(key, data) or []
        new_chunks: builtins.list[str] = []
        if len(value) <= self._chunk_size:
            payload = INLINE + value
        else:
            generation = uuid.uuid4().hex
            new_chunks = [
                f"{self._chunks}/{generation}-{i:06d}" for i in range(-(-len(value) // self._chunk_size))
            ]
            meta = {"chunks": generation, "count": len(new_chunks), "size": len(value)}
            payload = CHUNKED + dumps(meta)
            await self._write_chunks(key, new_chunks, value)

        tx = self._zk.client.transaction()
        fenced = add_fence(tx, fence)
        if expected_version is None:
            tx.create(head, payload)
        else:
            tx.set_data(head, payload, version=expected_version)
        for path in old_chunks:
            tx.delete(path)
        results = await self._zk.call(tx.commit_async, f"put {key!r}")  # unknown outcome: keep the chunks
        failure = first_failure(results)
        if failure is not None:
            await self._discard(new_chunks)
            index, error = failure
            if fenced and index == 0:
                raise LeaseLost(f"put {key!r}: the lease is no longer held")
            if isinstance(error, NodeExistsError | NoNodeError | BadVersionError) and index == int(fenced):
                raise VersionConflict(key, expected_version)
            raise failed(f"put {key!r}", error)
        return 0 if expected_version is None else int(results[int(fenced)].version)

    async def delete(self, key: str, expected_version: int | None, *, fence: Lease | None = None) -> None:
        check_fence(fence)
        head = self._head(key)
        while True:
            try:
                data, stat = await self._zk.call(partial(self._zk.client.get_async, head), f"get {key!r}")
            except NoNodeError:
                if expected_version is None:
                    return
                raise VersionConflict(key, expected_version) from None
            if expected_version is not None and stat.version != expected_version:
                raise VersionConflict(key, expected_version)
            tx = self._zk.client.transaction()
            fenced = add_fence(tx, fence)
            tx.delete(head, version=stat.version)
            for path in self._chunk_paths(key, data) or []:
                tx.delete(path)
            failure = first_failure(await self._zk.call(tx.commit_async, f"delete {key!r}"))
            if failure is None:
                return
            index, error = failure
            if fenced and index == 0:
                raise LeaseLost(f"delete {key!r}: the lease is no longer held")
            if not isinstance(error, NoNodeError | BadVersionError) or index != int(fenced):
                raise failed(f"delete {key!r}", error)
            if expected_version is not None:
                raise VersionConflict(key, expected_version)
            # changed meanwhile and any version will do: delete what is there now

    # ------------------------------------------------------------ chunks

    def _meta(self, key: str, data: bytes) -> Reader:
        try:
            return Reader(loads_object(data[1:]))
        except DecodeError as e:
            raise CoordError(f"{key!r}: corrupt chunk index ({e})") from None

    def _chunk_paths(self, key: str, data: bytes) -> builtins.list[str] | None:
        """The chunks a head names; None for an inline value."""
        kind = data[:1]
        if kind == INLINE:
            return None
        if kind != CHUNKED:
            raise CoordError(f"{key!r}: not a Corral store entry")
        meta = self._meta(key, data)
        generation, count = meta.text("chunks"), meta.integer("count")
        return [f"{self._chunks}/{generation}-{i:06d}" for i in range(count)]

    async def _write_chunks(self, key: str, paths: Sequence[str], value: bytes) -> None:
        size = self._chunk_size
        calls = [
            partial(self._zk.client.create_async, path, value[i * size : (i + 1) * size])
            for i, path in enumerate(paths)
        ]
        try:
            await self._pipelined(calls, f"put {key!r}")
        except BaseException:
            await self._discard(paths)  # never referenced: safe to delete whatever got written
            raise

    async def _discard(self, paths: Sequence[str]) -> None:
        """Best effort: chunks left behind are only garbage."""
        for i in range(0, len(paths), PIPELINE):
            futures = [
                self._zk.issue(partial(self._zk.client.delete_async, p)) for p in paths[i : i + PIPELINE]
            ]
            for future in futures:
                with contextlib.suppress(CoordError, NoNodeError):
                    await self._zk.wait(future, "discard chunk")

    async def _pipelined(self, calls: Sequence[Any], what: str) -> builtins.list[Any]:
        """Run kazoo requests with up to PIPELINE in flight; their results in order."""
        results: builtins.list[Any] = []
        for i in range(0, len(calls), PIPELINE):
            futures = [self._zk.issue(call) for call in calls[i : i + PIPELINE]]
            try:
                for future in futures:
                    results.append(await self._zk.wait(future, what))
            finally:
                for future in futures:
                    if not future.done():
                        future.cancel()
                    elif not future.cancelled():
                        future.exception()  # retrieved: no "never retrieved" warning
        return results


def check_fence(fence: Lease | None) -> None:
    if fence is not None and not fence.is_held:
        raise LeaseLost("the lease passed as fence is no longer held")


def add_fence(tx: Any, fence: Lease | None) -> bool:
    """Make the transaction's first operation a check that the lease's candidacy znode exists."""
    if isinstance(fence, ZooKeeperLease):
        tx.check(fence.path, -1)
        return True
    return False


def failed(what: str, error: Exception) -> CoordError:
    """The error for a multi-op that failed for another reason than a version or the fence."""
    if isinstance(error, NoAuthError):
        return CoordError(f"{what}: not authorized ({type(error).__name__})")
    return CoordError(f"{what}: {type(error).__name__}")


def first_failure(results: Sequence[Any]) -> tuple[int, Exception] | None:
    """The failing operation of a multi-op (the others report RolledBackError), or None if it committed."""
    for index, result in enumerate(results):
        if isinstance(result, Exception) and not isinstance(result, RolledBackError):
            return index, result
    return None

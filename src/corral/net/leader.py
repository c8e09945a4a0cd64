"""Following the leading master: the `--master` of agents and frameworks, static or through ZooKeeper.

`LeaderTracker` turns a `MasterDetector` into "where is the leader now" (`host:port`) plus a way to wait for
that to change. Clients use the change to drop a stream to a master that is no longer the leader at once,
instead of waiting for its silence to time out (a SIGSTOPped master keeps its sockets open), and to retry a
new leader without waiting out a backoff meant for a leader that is down.

`open_tracker("host:port")` follows one fixed master; `open_tracker("zk://h1,h2/mesos")` opens a ZooKeeper
session and follows the election under the path, as Mesos' `ZooKeeperMasterDetector` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TypeVar

from corral.coord.local import StaticDetector
from corral.coord.ports import MasterDetector
from corral.coord.zk_url import parse_zk_url
from corral.core.errors import CorralError
from corral.protocol.mesos import MasterInfo

log = logging.getLogger(__name__)
T = TypeVar("T")
# How soon to ask again a master that ZooKeeper names the leader but that still answers as a follower: it
# learns of its election from its own watch, a moment after its clients do, so it is worth a prompt retry
# rather than the backoff meant for a master that is down.
CATCH_UP_RETRY = 0.1


class LeaderChanged(CorralError):
    """Another master leads now: a stream to the old one is over."""


def master_address(info: MasterInfo) -> str:
    """Where to reach a master: its advertised address (the IP, as the v1 HTTP library uses)."""
    host = info.ip or info.hostname
    return f"[{host}]:{info.port}" if ":" in host else f"{host}:{info.port}"


class LeaderTracker:
    """The current leader of a `MasterDetector`; use as an async context manager (it runs a watch task)."""

    def __init__(self, detector: MasterDetector, *, describe: str = "", elected: bool = False) -> None:
        """`elected`: the detector follows an election, so the master it names is the leader by the
        coordinator's word, whatever that master says of itself."""
        self._detector = detector
        self.describe = describe
        self.elected = elected
        self.leader: MasterInfo | None = None
        self._changed = asyncio.Event()  # replaced on every change; the old one is set
        self._task: asyncio.Task[None] | None = None

    @property
    def current(self) -> str | None:
        return None if self.leader is None else master_address(self.leader)

    async def __aenter__(self) -> LeaderTracker:
        self._task = asyncio.create_task(self._watch(), name=f"leader-tracker {self.describe}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        async with contextlib.aclosing(self._detector.watch()) as leaders:
            async for info in leaders:
                self.leader = info
                log.info("leading master %s: %s", self.describe, self.current or "none")
                changed, self._changed = self._changed, asyncio.Event()
                changed.set()

    async def wait(self, within: float | None = None) -> str | None:
        """The leader's address, waiting up to `within` seconds for one to be elected."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                while (address := self.current) is None:
                    await self._changed.wait()
                return address
        return self.current

    def catching_up(self, master: str, status: int) -> bool:
        """Whether `status` (a follower's 307, or 503 while it knows no leader) from `master` means only that
        the master has not yet noticed that it was elected."""
        return self.elected and status in (307, 503) and master == self.current

    async def changed_from(self, address: str | None) -> None:
        """Returns once the leader is no longer `address`."""
        while self.current == address:
            await self._changed.wait()


@contextlib.asynccontextmanager
async def open_tracker(master: str, *, session_timeout: float = 10.0) -> AsyncIterator[LeaderTracker]:
    """A tracker for a `--master` value: `host:port`, or `zk://...` (a ZooKeeper session for its lifetime)."""
    if not master.startswith(("zk://", "zoo://")):
        async with LeaderTracker(StaticDetector.of(master), describe=master) as tracker:
            yield tracker
        return
    from corral.coord.zookeeper import ZooKeeper

    url = parse_zk_url(master.replace("zoo://", "zk://", 1))
    async with (
        ZooKeeper(url, session_timeout=session_timeout) as zk,
        LeaderTracker(zk.detector(url.path), describe=str(url), elected=True) as tracker,
    ):
        yield tracker


async def until_changed(items: AsyncIterator[T], leader: LeaderTracker, master: str) -> AsyncIterator[T]:
    """`items` (a stream from `master`) until they end, or until another master leads: then LeaderChanged. A
    stopped leader sends nothing but keeps its sockets open; a stream must not wait for its silence to time
    out."""
    change = asyncio.ensure_future(leader.changed_from(master))
    item: asyncio.Future[T] | None = None
    try:
        while True:
            item = asyncio.ensure_future(anext(items))
            await asyncio.wait((item, change), return_when=asyncio.FIRST_COMPLETED)
            if not item.done():
                now = leader.current or "none"
                raise LeaderChanged(f"{master} is no longer the leading master ({now} is)")
            try:
                yield item.result()
            except StopAsyncIteration:
                return
    finally:
        change.cancel()
        if item is not None:
            await _settle(item)


async def _settle(item: asyncio.Future[T]) -> None:
    """Cancel a pending read and consume its outcome, so that no exception is left unretrieved."""
    item.cancel()
    with contextlib.suppress(BaseException):
        await item

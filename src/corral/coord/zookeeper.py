"""ZooKeeper implementations of the coordination ports, on kazoo: the session, leader election and detection.

One `ZooKeeper` per daemon owns one kazoo client (one ZooKeeper session) and hands out elections
(`election`), stores (`store`, in `zk_store.py`) and detectors (`detector`). It uses no chroot: every path is
absolute, so a lease's znode can fence a store write.

Threads. kazoo runs a connection thread and a callback thread. Nothing here blocks the event loop: requests
use kazoo's `*_async` calls, whose results are handed to the loop with `call_soon_threadsafe` and awaited with
a deadline (`request_timeout`; on expiry the outcome is unknown: `CoordUnavailable`). Only `start` and
`close`, which wait by design, run in a worker thread. Watch callbacks and the session listener run on kazoo's
threads: they only flip flags and schedule wake-ups on the loop.

Session states (`clients.md` 5.3). SUSPENDED (the connection dropped; the session and its ephemeral nodes may
live on) and LOST (the session expired or was closed) end every lease at once, from kazoo's own thread:
`is_held` is False before the loop even runs. A lease never comes back; its holder campaigns again. The
candidacy znode a suspended lease leaves behind is deleted as soon as the connection returns, so that a
reconnected session cannot keep the leadership from the other candidates without acting on it.

Layout (`mesos.md` d.1). A candidate is an EPHEMERAL|SEQUENTIAL child `json.info_NNNNNNNNNN` of the group path
holding MasterInfo JSON; the leader is the lowest sequence number; other children (`log_replicas`, legacy
`info_` nodes) are ignored. A candidate waits on its predecessor only (no herd effect). Since sequence numbers
only grow, a candidate that once was the lowest stays the leader exactly as long as its znode exists: the
znode's existence is the fencing token that `zk_store.py` checks inside each fenced write.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator
from functools import partial
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from kazoo.client import KazooClient
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    InvalidACLError,
    KazooException,
    NoAuthError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    OperationTimeoutError,
    RequestTimeoutError,
    SessionExpiredError,
    SessionMovedError,
    ThrottledOpError,
)
from kazoo.exceptions import ConnectionLoss as KazooConnectionLoss
from kazoo.protocol.states import EventType, KazooState
from kazoo.security import make_acl, make_digest_acl

from corral.coord.detector import ElectionDetector
from corral.coord.ports import CoordError, CoordUnavailable
from corral.coord.zk_url import ZkUrl, join_path, parse_zk_url, str_masked

if TYPE_CHECKING:
    from corral.coord.zk_store import ZooKeeperStore

log = logging.getLogger(__name__)

DEFAULT_SESSION_TIMEOUT: Final = 10.0  # Mesos' --zk_session_timeout
CANDIDATE_PREFIX: Final = "json.info_"  # MASTER_INFO_JSON_LABEL + "_"
RETRY_DELAY: Final = 0.5  # before retrying after a request timed out on a connection that looks fine

# kazoo errors callers interpret themselves (they are answers, not failures)
ANSWERS: Final = (NoNodeError, NodeExistsError, BadVersionError, NotEmptyError)
_UNAVAILABLE: Final = (
    KazooConnectionLoss,
    SessionExpiredError,  # includes ConnectionClosedError
    OperationTimeoutError,
    SessionMovedError,
    RequestTimeoutError,
    ThrottledOpError,
)
_DENIED: Final = (NoAuthError, AuthFailedError, InvalidACLError)


def candidate_sequence(name: str) -> int | None:
    """The sequence number of a `json.info_NNNNNNNNNN` child; None for any other child."""
    suffix = name[len(CANDIDATE_PREFIX) :]
    if name.startswith(CANDIDATE_PREFIX) and len(suffix) == 10 and suffix.isdigit():
        return int(suffix)
    return None


def candidates(children: list[str]) -> list[str]:
    """The candidate children, leader first."""
    found = [(seq, name) for name in children if (seq := candidate_sequence(name)) is not None]
    return [name for _, name in sorted(found)]


class Wakeup:
    """An asyncio.Event that kazoo's threads may set: pass it as a watch callback; the session also sets it
    on every state change."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def __call__(self, *_: object) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            self._loop.call_soon_threadsafe(self._event.set)

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, within: float | None = None) -> None:
        """Until set, or `within` seconds have passed."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await self._event.wait()


class ZooKeeper:
    """One ZooKeeper session. Use `async with ZooKeeper(url) as zk:` (or `start`/`close`)."""

    def __init__(
        self,
        url: ZkUrl | str,
        *,
        session_timeout: float = DEFAULT_SESSION_TIMEOUT,
        request_timeout: float | None = None,
        connect_timeout: float = 15.0,
    ) -> None:
        self.url = url if isinstance(url, ZkUrl) else parse_zk_url(url)
        self.session_timeout = session_timeout
        self.request_timeout = request_timeout or session_timeout
        self.connect_timeout = connect_timeout
        acl = None
        auth = None
        if self.url.credentials:  # Mesos' and Marathon's choice: the creator may do anything, others read
            user, password = self.url.credentials
            acl = [make_digest_acl(user, password, all=True), make_acl("world", "anyone", read=True)]
            auth = [("digest", f"{user}:{password}")]
        retry = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 1.0}
        self.client = KazooClient(
            hosts=self.url.hosts,
            timeout=session_timeout,
            default_acl=acl,
            auth_data=auth,
            connection_retry=retry,
            command_retry=retry,
        )
        self._lock = threading.Lock()  # guards the fields below, shared with kazoo's threads
        self._state: str = KazooState.LOST
        self._epoch = 0  # +1 on every transition out of CONNECTED
        self._disconnected_at: float | None = time.monotonic()
        self._leases: set[ZooKeeperLease] = set()
        self._wakeups: set[Wakeup] = set()
        self._stale: set[str] = set()  # candidacy znodes of this session to delete (ephemeral: gone if LOST)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._closed = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self.client.add_listener(self._on_state)
        try:
            await asyncio.to_thread(self.client.start, self.connect_timeout)
        except self.client.handler.timeout_exception:
            raise CoordUnavailable(
                f"{str_masked(str(self.url))}: no ZooKeeper session within {self.connect_timeout:g}s"
            ) from None
        log.info("zookeeper %s: session %#x started", self.url, self.session_id or 0)

    async def close(self) -> None:
        """End the session: its ephemeral znodes (candidacies) vanish at once on the servers."""
        with self._lock:
            self._closed = True
            leases = list(self._leases)
        for lease in leases:
            lease.lose("session closed")
        await asyncio.to_thread(self._stop_client)

    def _stop_client(self) -> None:
        try:
            self.client.stop()
        finally:
            self.client.close()

    async def __aenter__(self) -> ZooKeeper:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # ------------------------------------------------------------ the ports

    def election(self, path: str | None = None) -> ZooKeeperElection:
        """The election at `path` (default: the URL's path, as Mesos masters use it)."""
        return ZooKeeperElection(self, path or self.url.path)

    def detector(self, path: str | None = None) -> ElectionDetector:
        """The leading master of the group at `path` (default: the URL's path), as MasterInfo."""
        return ElectionDetector(self.election(path))

    def store(self, root: str, *, chunk_size: int | None = None) -> ZooKeeperStore:
        """A Store whose keys live under the znode `root` (e.g. `/marathon/state`)."""
        from corral.coord.zk_store import CHUNK_SIZE, ZooKeeperStore

        return ZooKeeperStore(self, root, chunk_size=chunk_size or CHUNK_SIZE)

    # ------------------------------------------------------------ state

    @property
    def state(self) -> str:
        return self._state

    def check_open(self) -> None:
        """CoordError once `close` was called: a closed session never connects again."""
        if self._closed:
            raise CoordError(f"zookeeper {self.url}: session closed")

    @property
    def is_connected(self) -> bool:
        return bool(self._state == KazooState.CONNECTED)

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def session_id(self) -> int | None:
        client_id = self.client.client_id
        return None if client_id is None else int(client_id[0])

    def disconnected_for(self) -> float | None:
        """Seconds since the connection was last lost; None while connected."""
        since = self._disconnected_at
        return None if since is None else time.monotonic() - since

    def _on_state(self, state: str) -> None:
        """kazoo's session listener (kazoo's connection thread): must not block."""
        with self._lock:
            previous, self._state = self._state, state
            if state != KazooState.CONNECTED:
                self._epoch += 1
                if self._disconnected_at is None:
                    self._disconnected_at = time.monotonic()
            else:
                self._disconnected_at = None
            leases = list(self._leases)
            if state == KazooState.LOST:
                self._stale.clear()  # the session's ephemeral znodes died with it
            stale = list(self._stale)
            wakeups = list(self._wakeups)
        log.info("zookeeper %s: %s -> %s", self.url, previous, state)
        if state == KazooState.SUSPENDED:
            for lease in leases:
                if lease.lose("ZooKeeper connection suspended"):
                    self.abandon(lease.path)
        elif state == KazooState.LOST:
            for lease in leases:
                lease.lose("ZooKeeper session lost")
        else:
            for path in stale:
                self._delete_stale(path)
        for wake in wakeups:
            wake()

    def grant(self, path: str, info: bytes, epoch: int) -> ZooKeeperLease | None:
        """A held lease on `path`, unless the connection changed state since `epoch` was read."""
        with self._lock:
            if self._epoch != epoch or self._state != KazooState.CONNECTED:
                return None
            lease = ZooKeeperLease(self, path, info)
            self._leases.add(lease)
            return lease

    def forget(self, lease: ZooKeeperLease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def abandon(self, path: str) -> None:
        """Withdraw our candidacy `path` (any thread): its lease, if any, is lost at once; the znode is
        deleted now if possible, else as soon as the connection returns (or it vanishes with the session)."""
        with self._lock:
            leases = [lease for lease in self._leases if lease.path == path]
        for lease in leases:
            lease.lose("candidacy withdrawn")
        with self._lock:
            self._stale.add(path)
            connected = self._state == KazooState.CONNECTED
        if connected:
            self._delete_stale(path)

    def _delete_stale(self, path: str) -> None:
        def done(result: Any) -> None:
            try:
                result.get_nowait()
            except NoNodeError:
                pass
            except Exception:  # retried on the next reconnection
                return
            with self._lock:
                self._stale.discard(path)
            log.info("zookeeper %s: withdrew candidacy %s", self.url, path)

        with contextlib.suppress(KazooException):  # the client is closed
            self.client.delete_async(path).rawlink(done)

    @contextlib.contextmanager
    def wakeup(self) -> Iterator[Wakeup]:
        """A Wakeup that also fires on every session state change, registered for the `with` block."""
        assert self._loop is not None, "start() the session first"
        wake = Wakeup(self._loop)
        with self._lock:
            self._wakeups.add(wake)
        try:
            yield wake
        finally:
            with self._lock:
                self._wakeups.discard(wake)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """Run `callback` on the loop: now if this is the loop's thread, else as soon as the loop can."""
        loop = self._loop
        if loop is None or threading.get_ident() == self._loop_thread:
            callback()
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback)

    # ------------------------------------------------------------ requests

    async def call(self, start: Callable[[], Any], what: str) -> Any:
        """Issue a kazoo `*_async` request and await its result without blocking the loop.

        Raises the kazoo ANSWERS as they are, CoordUnavailable when the request failed for want of a
        connection or got no answer within `request_timeout` (a write's outcome is then unknown), CoordError
        for anything else.
        """
        return await self.wait(self.issue(start), what)

    def issue(self, start: Callable[[], Any]) -> asyncio.Future[Any]:
        """Send a request now (kazoo pipelines it); its result as a future on the loop."""
        loop = self._loop
        assert loop is not None, "start() the session first"
        future: asyncio.Future[Any] = loop.create_future()

        def transfer(result: Any) -> None:  # on the loop
            if future.done():
                return
            try:
                future.set_result(result.get_nowait())
            except Exception as e:
                future.set_exception(e)

        def done(result: Any) -> None:  # on kazoo's callback thread
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(transfer, result)

        try:
            start().rawlink(done)
        except KazooException as e:
            future.set_exception(e)
        return future

    async def wait(self, future: asyncio.Future[Any], what: str) -> Any:
        try:
            async with asyncio.timeout(self.request_timeout):
                return await future
        except TimeoutError:
            raise CoordUnavailable(f"{what}: no answer within {self.request_timeout:g}s") from None
        except ANSWERS:
            raise
        except _UNAVAILABLE as e:
            raise CoordUnavailable(f"{what}: {type(e).__name__}") from None
        except _DENIED as e:
            raise CoordError(f"{what}: not authorized ({type(e).__name__})") from None
        except KazooException as e:
            raise CoordError(f"{what}: {type(e).__name__} {e}") from None


class ZooKeeperLease:
    """Leadership of one election, held while `is_held`. See the module docstring for when it is lost."""

    def __init__(self, zk: ZooKeeper, path: str, info: bytes) -> None:
        self._zk = zk
        self.path = path
        self.info = info
        self._held = True
        self._lost = asyncio.Event()

    @property
    def is_held(self) -> bool:
        return self._held

    @property
    def lost(self) -> asyncio.Event:
        return self._lost

    def lose(self, reason: str) -> bool:
        """End the lease (any thread, idempotent); True if it was held until now."""
        with self._zk._lock:
            if not self._held:
                return False
            self._held = False
        self._zk.forget(self)
        log.warning("leadership lost: %s (%s)", self.path, reason)
        self._zk.call_soon(self._lost.set)
        return True

    def on_znode_event(self, event: Any) -> None:
        """Watch callback on our own candidacy znode (kazoo's thread)."""
        if event.type == EventType.DELETED:
            self.lose("candidacy znode deleted")
        elif event.type != EventType.NONE and self._held:  # data changed: watch again
            with contextlib.suppress(KazooException):
                self._zk.client.exists_async(self.path, watch=self.on_znode_event)

    async def resign(self) -> None:
        if not self.lose("resigned"):
            return  # already lost: its znode is gone or being withdrawn
        withdrawn = False
        try:
            with contextlib.suppress(NoNodeError):
                await self._zk.call(partial(self._zk.client.delete_async, self.path), f"delete {self.path}")
            withdrawn = True
        except CoordError:
            pass
        finally:
            if not withdrawn:  # no answer (or cancelled): delete it when the connection allows
                self._zk.abandon(self.path)

    def __repr__(self) -> str:
        return f"ZooKeeperLease({self.path!r}, held={self._held})"


class ZooKeeperElection:
    """Mesos' leader election at `path`: see the module docstring. One per session and path."""

    def __init__(self, zk: ZooKeeper, path: str) -> None:
        self._zk = zk
        self.path = join_path(path)
        self._maybe_orphans = False

    async def campaign(self, info: bytes) -> ZooKeeperLease:
        zk = self._zk
        mine: str | None = None
        with zk.wakeup() as wake:
            try:
                while True:
                    wake.clear()
                    zk.check_open()
                    try:
                        if not zk.is_connected:
                            await wake.wait()
                            continue
                        if mine is None:
                            mine = await self._stand(info)
                        lease = await self._try_lead(mine, info, wake)
                        if lease is not None:
                            return lease
                    except _CandidacyGone:
                        mine = None
                    except CoordUnavailable as e:
                        log.info("election %s: %s; retrying", self.path, e)
                        await wake.wait(RETRY_DELAY)
            except BaseException:  # cancelled or failed: withdraw the candidacy
                if mine is not None:
                    zk.abandon(mine)
                raise

    async def _stand(self, info: bytes) -> str:
        zk = self._zk
        if self._maybe_orphans:
            await self._remove_orphans()
        await zk.call(partial(zk.client.ensure_path_async, self.path), f"create {self.path}")
        prefix = f"{self.path}/{CANDIDATE_PREFIX}"
        try:
            create = partial(zk.client.create_async, prefix, info, ephemeral=True, sequence=True)
            path = await zk.call(create, f"create {prefix}")
        except CoordUnavailable:
            self._maybe_orphans = True  # the znode may exist: find and remove it before standing again
            raise
        log.info("election %s: standing as %s", self.path, path)
        return str(path)

    async def _try_lead(self, mine: str, info: bytes, wake: Wakeup) -> ZooKeeperLease | None:
        """The lease if `mine` leads now; else wait (on the predecessor or a state change) and return None."""
        zk = self._zk
        epoch = zk.epoch
        names = await self._candidates()
        name = mine.rsplit("/", 1)[1]
        if name not in names:
            log.warning("election %s: candidacy %s vanished (session lost); standing again", self.path, mine)
            raise _CandidacyGone
        index = names.index(name)
        if index == 0:
            lease = zk.grant(mine, info, epoch)
            if lease is None:
                return None
            try:
                stat = await zk.call(
                    partial(zk.client.exists_async, mine, watch=lease.on_znode_event), f"watch {mine}"
                )
            except BaseException:  # unwatched, it could outlive its znode unnoticed: retry or withdraw
                lease.lose("could not watch the candidacy znode")
                raise
            if stat is None:
                lease.lose("candidacy znode deleted")
            else:
                log.info("election %s: elected as %s", self.path, mine)
            return lease
        predecessor = f"{self.path}/{names[index - 1]}"
        if await zk.call(partial(zk.client.exists_async, predecessor, watch=wake), f"watch {predecessor}"):
            await wake.wait()
        return None

    async def _candidates(self, watch: Wakeup | None = None) -> list[str]:
        zk = self._zk
        try:
            children = await zk.call(
                partial(zk.client.get_children_async, self.path, watch=watch), f"list {self.path}"
            )
        except NoNodeError:
            if watch is not None and await zk.call(
                partial(zk.client.exists_async, self.path, watch=watch), f"watch {self.path}"
            ):
                return await self._candidates(watch)  # created meanwhile
            return []
        return candidates(list(children))

    async def _remove_orphans(self) -> None:
        """Delete this session's candidacies that no campaign owns (a create whose answer was lost)."""
        zk = self._zk
        session = zk.session_id
        with zk._lock:
            owned = {lease.path for lease in zk._leases}
        for name in await self._candidates():
            path = f"{self.path}/{name}"
            stat = await zk.call(partial(zk.client.exists_async, path), f"stat {path}")
            if stat is not None and stat.ephemeralOwner == session and path not in owned:
                log.info("election %s: removing orphan candidacy %s", self.path, path)
                with contextlib.suppress(NoNodeError):
                    await zk.call(partial(zk.client.delete_async, path), f"delete {path}")
        self._maybe_orphans = False

    async def leader(self) -> bytes | None:
        return await self._read_leader(None)

    async def _read_leader(self, watch: Wakeup | None) -> bytes | None:
        zk = self._zk
        while True:
            names = await self._candidates(watch)
            if not names:
                return None
            path = f"{self.path}/{names[0]}"
            try:
                data, _ = await zk.call(partial(zk.client.get_async, path, watch=watch), f"get {path}")
            except NoNodeError:
                continue  # the leader left between the two reads
            return bytes(data)

    async def watch_leader(self) -> AsyncGenerator[bytes | None, None]:
        """The leader's info, then each change. While disconnected the last answer stands until the session
        would have expired; then None (Mesos' detector reports no leader on session expiry)."""
        zk = self._zk
        last: bytes | object | None = _UNSET
        with zk.wakeup() as wake:
            while True:
                wake.clear()
                zk.check_open()
                away = zk.disconnected_for()
                if away is None:
                    try:
                        current = await self._read_leader(wake)
                    except CoordUnavailable:  # a state change, or a retry, tells what to do next
                        await wake.wait(RETRY_DELAY)
                        continue
                elif away < zk.session_timeout:
                    await wake.wait(zk.session_timeout - away)  # the last answer stands for now
                    continue
                else:
                    current = None
                if current != last:
                    last = current
                    yield current
                await wake.wait()  # a watch fired or the session changed state


class _CandidacyGone(Exception):
    """Our candidacy znode is gone (the session was lost): stand again."""


_UNSET: Final = object()

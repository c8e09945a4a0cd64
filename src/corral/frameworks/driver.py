"""An asyncio client of the v1 scheduler API: subscribe, stay subscribed, send calls.

It follows the leader: `master` may be `host:port` or a `zk://` URL (the leader's election, through a
`LeaderTracker`), and a 307's `Location` netloc is followed as pymesos does. A stream ends as soon as another
master is elected, and a reconnection to a new leader does not wait out the backoff. It reconnects with
capped exponential backoff, and treats a stream silent for five heartbeat intervals as broken (pymesos has
no such watchdog and hangs on half-open connections). Between streams it yields `Disconnected`, so the
framework knows its offers are gone; after a reconnect it re-subscribes with its framework id and keeps its
tasks.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx

from corral.aio import within
from corral.core.errors import CorralError, DecodeError
from corral.core.ids import FrameworkId
from corral.net.leader import CATCH_UP_RETRY, LeaderChanged, LeaderTracker, open_tracker, until_changed
from corral.net.tls import PLAIN, TlsConfig
from corral.protocol import recordio
from corral.protocol.json import dumps, loads
from corral.protocol.mesos import FrameworkInfo
from corral.protocol.scheduler import Call, Error, Event, Subscribe, Subscribed
from corral.protocol.scheduler_client import decode_event, encode_call
from corral.security.credentials import Credential

log = logging.getLogger(__name__)

PATH = "/api/v1/scheduler"
MISSED_HEARTBEATS = 5
LEADER_WAIT = 10.0  # seconds to wait for an election before reporting that no master leads


class DriverError(CorralError):
    """A call was refused or could not be delivered."""


@dataclass(frozen=True, slots=True)
class Disconnected:
    """The subscription stream ended; outstanding offers are void until the next SUBSCRIBED."""

    reason: str


class SchedulerDriver:
    def __init__(
        self,
        master: str,
        framework_info: FrameworkInfo,
        *,
        heartbeat_interval: float = 15.0,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
        rng: random.Random | None = None,
        zk_session_timeout: float = 10.0,
        tls: TlsConfig = PLAIN,
        credential: Credential | None = None,  # presented to the master as HTTP Basic on every request
    ) -> None:
        self._master_spec = master
        self.master = master  # the master of the current (or last) subscription
        self._redirect: str | None = None  # a 307's leader, tried until it fails
        self._catching_up = False  # the elected master answered as a follower: it will lead in a moment
        self._zk_session_timeout = zk_session_timeout
        self.framework_info = framework_info
        self.stream_id: str | None = None
        self._heartbeat_interval = heartbeat_interval
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._tls = tls
        auth = None if credential is None else httpx.BasicAuth(credential.principal, credential.secret)
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(10.0), limits=httpx.Limits(max_connections=32), verify=tls.verify, auth=auth
        )

    @property
    def framework_id(self) -> FrameworkId | None:
        return self.framework_info.id

    @property
    def is_subscribed(self) -> bool:
        return self.stream_id is not None

    async def aclose(self) -> None:
        await self._client.aclose()

    async def events(self) -> AsyncIterator[Event | Disconnected]:
        """Every event of every subscription, with `Disconnected` between streams. Ends on a fatal ERROR."""
        async with open_tracker(self._master_spec, session_timeout=self._zk_session_timeout) as leader:
            failures = 0
            while True:
                fatal = False
                master = self._redirect or await leader.wait(LEADER_WAIT)
                try:
                    if master is None:
                        raise DriverError(f"no leading master in {leader.describe}")
                    async for event in self._subscribe_once(master, leader):
                        if isinstance(event, Subscribed):
                            failures = 0
                        fatal = isinstance(event, Error)
                        yield event
                    reason = "stream ended"
                except (httpx.HTTPError, DecodeError, DriverError, LeaderChanged) as e:
                    reason = f"{type(e).__name__}: {e}"
                    if master == self._redirect:
                        self._redirect = None  # back to the configured master, which names the leader
                self.stream_id = None
                yield Disconnected(reason)
                if fatal:
                    return
                if self._redirect is not None:
                    continue  # a 307 named the leader: go there now
                if self._catching_up:
                    delay = CATCH_UP_RETRY
                else:
                    delay = min(self._backoff_max, self._backoff_initial * 2**failures)
                    failures += 1
                with contextlib.suppress(TimeoutError):  # a new leader is worth trying at once
                    await within(leader.changed_from(master), delay * (0.5 + self._rng.random() / 2))

    async def _subscribe_once(self, master: str, leader: LeaderTracker) -> AsyncIterator[Event]:
        body = dumps(encode_call(self.framework_id, Subscribe(framework_info=self.framework_info)))
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        silence = self._heartbeat_interval * MISSED_HEARTBEATS
        timeout = httpx.Timeout(10.0, read=silence)
        self.master = master
        async with self._client.stream(
            "POST", self._tls.url(master, PATH), content=body, headers=headers, timeout=timeout
        ) as response:
            self._catching_up = leader.catching_up(master, response.status_code)
            if self._catching_up:  # its 307 names the leader it just replaced: ask it again shortly
                raise DriverError(f"SUBSCRIBE to {master}: elected, but not yet leading")
            if response.status_code == 307:
                self._follow(response.headers.get("Location", ""))
                return
            if response.status_code != 200:
                text = (await response.aread()).decode(errors="replace")[:200]
                raise DriverError(f"SUBSCRIBE to {master} answered {response.status_code}: {text}")
            self.stream_id = response.headers.get("Mesos-Stream-Id", "")
            decoder = recordio.Decoder()
            chunks = response.aiter_raw()
            if master == leader.current:
                chunks = until_changed(chunks, leader, master)
            async for chunk in chunks:
                for record in decoder.feed(chunk):
                    event = decode_event(loads(record))
                    if isinstance(event, Subscribed):
                        self.framework_info = self.framework_info.with_id(event.framework_id)
                        log.info("framework %s subscribed to %s", event.framework_id, master)
                    yield event

    def _follow(self, location: str) -> None:
        leader = urlparse(location).netloc or location.strip("/")
        if leader:
            log.info("following the leading master %s -> %s", self.master, leader)
            self._redirect = leader

    async def call(self, call: Call) -> None:
        """Send one call on its own connection. 202 is success; anything else raises DriverError."""
        if self.stream_id is None or self.framework_id is None:
            raise DriverError("not subscribed")
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id}
        try:
            response = await self._client.post(
                self._tls.url(self.master, PATH),
                content=dumps(encode_call(self.framework_id, call)),
                headers=headers,
            )
        except httpx.HTTPError as e:
            raise DriverError(f"{type(call).__name__} to {self.master} failed: {e}") from e
        if response.status_code not in (200, 202):
            raise DriverError(f"{type(call).__name__} answered {response.status_code}: {response.text[:200]}")

"""`corral dns`'s shell: follow the master's `/master/state` and serve the record table it implies.

The follower polls `GET /master/state` every `refresh` seconds (default 0.5 s, so a change shows within
about a second; Mesos-DNS's `refreshSeconds` defaults to 60). Polling is cheap: the master encodes the
document once per state version, and an unchanged document (same bytes) is neither parsed nor rebuilt. The
master's v1 operator API has no SUBSCRIBE stream to follow instead. When the answering master names another
leader, the next poll goes to that leader; when the leader cannot be reached, back to `--master`.

A master that authenticates its read-only endpoints gets `credential` as HTTP Basic (Mesos-DNS's
`mesosCredentials`). A failed poll keeps the last table (Mesos-DNS does the same): a master restart does
not blank the names.
Host names that are not IP literals are resolved off the event loop and cached for `HOST_CACHE_SECONDS`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import time
from dataclasses import dataclass

import httpx

from corral.aio import within
from corral.core.errors import DecodeError
from corral.dns.answer import Zone, respond
from corral.dns.records import RecordTable, build_table, hosts_to_resolve, parse_state
from corral.dns.server import DnsSockets, serve_dns
from corral.net.leader import LeaderTracker, open_tracker
from corral.net.tls import PLAIN, TlsConfig
from corral.protocol.json import loads_object
from corral.security.credentials import Credential

log = logging.getLogger(__name__)

HOST_CACHE_SECONDS = 60.0
RESOLVE_TIMEOUT = 1.0
HTTP_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True, kw_only=True)
class DnsConfig:
    master: str = "127.0.0.1:5050"  # host:port, or zk://... to follow the elected leader
    domain: str = "mesos"
    ttl: int = 60
    refresh: float = 0.5
    credential: Credential | None = None  # presented to the master as HTTP Basic
    tls: TlsConfig = PLAIN  # how the master is reached


class DnsRuntime:
    """Owns the current RecordTable: the follower replaces it, the servers read it."""

    def __init__(
        self, config: DnsConfig, sockets: DnsSockets, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.sockets = sockets
        self.zone = Zone(domain=config.domain, ttl=config.ttl)
        self.table: RecordTable | None = None
        self._transport = transport
        self._listen_ips = (sockets.udp.getsockname()[0],)
        self._document: bytes | None = None
        self._serial = int(time.time())  # Mesos-DNS starts its SOA serial at the Unix time
        self._rng = random.Random()
        self._hosts: dict[str, tuple[float, tuple[str, ...]]] = {}  # host -> (expires, ips)
        self._leader: LeaderTracker | None = None
        self._source = config.master if not config.master.startswith(("zk://", "zoo://")) else ""
        self._failing = False

    def respond(self, wire: bytes, over_udp: bool) -> bytes | None:
        return respond(wire, self.table, self.zone, over_udp=over_udp, shuffle=self._rng.shuffle)

    def http_client(self) -> httpx.AsyncClient:
        """The client `refresh` reads the master with: the credential goes with every request."""
        credential = self.config.credential
        auth = None if credential is None else httpx.BasicAuth(credential.principal, credential.secret)
        return httpx.AsyncClient(
            timeout=HTTP_TIMEOUT,
            trust_env=False,
            transport=self._transport,
            auth=auth,
            verify=self.config.tls.verify,
        )

    async def run(self) -> None:
        async with (
            open_tracker(self.config.master) as leader,
            self.http_client() as http,
            asyncio.TaskGroup() as group,
        ):
            self._leader = leader
            group.create_task(serve_dns(self.sockets, self.respond), name="dns-serve")
            while True:
                await self.refresh(http)
                await asyncio.sleep(self.config.refresh)

    def _configured_master(self) -> str:
        """`--master` as host:port: itself, or the leader ZooKeeper names for a zk:// master."""
        current = self._leader.current if self._leader is not None else None
        return current or self.config.master

    async def refresh(self, http: httpx.AsyncClient) -> None:
        """One poll: fetch the state, and rebuild the table if the document changed."""
        if not self._source:
            self._source = self._configured_master()
        try:
            response = await http.get(self.config.tls.url(self._source, "/master/state"))
            response.raise_for_status()
        except httpx.HTTPError as e:
            self._failed(f"cannot read /master/state from {self._source}: {e or type(e).__name__}")
            self._source = self._configured_master()
            return
        if response.content == self._document:
            return
        try:
            view = parse_state(loads_object(response.content))
        except DecodeError as e:
            self._failed(f"/master/state from {self._source} is malformed: {e}")
            return
        resolved = await self._resolve(hosts_to_resolve(view))
        self._serial += 1
        old = self.table
        self.table = build_table(
            view,
            domain=self.config.domain,
            serial=self._serial,
            listen_ips=self._listen_ips,
            resolved=resolved,
        )
        self._document = response.content
        if self._failing:
            log.info("dns: reading /master/state from %s again", self._source)
            self._failing = False
        if old is None or (old.a, old.aaaa, old.srv) != (self.table.a, self.table.aaaa, self.table.srv):
            log.info(
                "dns: %d A/AAAA and %d SRV names under %s (serial %d)",
                len(self.table.a) + len(self.table.aaaa),
                len(self.table.srv),
                self.table.domain,
                self._serial,
            )
        if view.leader_host and view.leader_port and f"{view.leader_host}:{view.leader_port}" != self._source:
            self._source = f"{view.leader_host}:{view.leader_port}"
            log.info("dns: following the leading master at %s", self._source)

    def _failed(self, message: str) -> None:
        # One warning per outage; before the first table the master may simply not be up yet.
        if self.table is None or self._failing:
            log.debug("dns: %s", message)
            return
        log.warning("dns: %s; serving the last records", message)
        self._failing = True

    async def _resolve(self, hosts: set[str]) -> dict[str, tuple[str, ...]]:
        now = time.monotonic()
        stale = [h for h in hosts if self._hosts.get(h, (0.0, ()))[0] <= now]
        results = await asyncio.gather(*(self._lookup(h) for h in stale))
        for host, ips in zip(stale, results, strict=True):
            self._hosts[host] = (now + HOST_CACHE_SECONDS, ips)
        return {h: self._hosts[h][1] for h in hosts}

    async def _lookup(self, host: str) -> tuple[str, ...]:
        loop = asyncio.get_running_loop()
        try:
            infos = await within(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
        except (OSError, TimeoutError) as e:
            log.debug("dns: cannot resolve %s: %s", host, e)
            return ()
        return tuple(dict.fromkeys(str(info[4][0]) for info in infos))

"""Several instances of a framework daemon (Marathon, Chronos), one leader: election and the followers' proxy.

Each instance campaigns in ZooKeeper with its HTTP address (`host:port`) as the candidacy's data. The one
elected loads the state from the shared store and runs the scheduler; the others serve the API by proxying
every request to the leader, as upstream Marathon and Chronos do, so clients may talk to any instance. A
leader that loses its lease exits (`LeadershipLost`): its in-memory view may already be stale, and an init
system restarts it as a fresh candidate. Upstream Marathon does the same.

The proxy forwards only to the leader the election names, never to a host a client's header names (`Host`
and `X-Forwarded-Host` are not read). It passes the client's headers on, credentials included: followers
authenticate a request themselves (the authentication middleware sits outside the proxy) and the leader,
given the same credentials, authenticates it again. Each hop adds itself to `X-Marathon-Via`, as upstream;
a request that comes back to an instance it already passed is a loop (two followers that each take the
other for the leader): 502 "Detected proxying loop.", never another hop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from typing import Any

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.coord.zookeeper import ZooKeeper
from corral.core.errors import DaemonStopped
from corral.net.tls import PLAIN, TlsConfig

log = logging.getLogger(__name__)

# Hop-by-hop headers are the connection's own, never forwarded (RFC 9110 7.6.1), nor is Host.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "host", "content-length"}
)  # fmt: skip
VIA_HEADER = "X-Marathon-Via"  # the instances a proxied request passed, comma-separated
_VIA = VIA_HEADER.lower()
_NOT_FORWARDED = _HOP_BY_HOP | {_VIA}  # the via list is rewritten, with this hop added


Lead = Callable[[], Coroutine[Any, Any, None]]


class LeadershipLost(DaemonStopped):
    """This instance's lease ended: the process exits so that it cannot act as a second leader."""


class Leadership:
    """Whether this instance leads, and where the leader's HTTP API is (`host:port`; None: none known)."""

    def __init__(self, me: str, *, leading: bool = False) -> None:
        self.me = me
        self.leading = leading
        self.leader: str | None = me if leading else None

    async def run(
        self,
        zk: ZooKeeper,
        path: str,
        lead: Lead,
        *,
        what: str = "framework",
    ) -> None:
        """Follow the election at `path` until elected, then `lead()` until the lease is lost (then raise)."""
        election = zk.election(path)

        async def follow() -> None:
            async with contextlib.aclosing(election.watch_leader()) as leaders:
                async for data in leaders:
                    if not self.leading:
                        self.leader = data.decode(errors="replace") if data else None
                        log.info("leading %s: %s", what, self.leader or "none")

        async with asyncio.TaskGroup() as group:
            follower = group.create_task(follow(), name=f"{what}-follow-leader")
            lease = await election.campaign(self.me.encode())
            follower.cancel()
            self.leading, self.leader = True, self.me
            log.info("%s at %s elected leader in %s", what, self.me, path)
            group.create_task(lead(), name=f"{what}-lead")
            await lease.lost.wait()
            raise LeadershipLost(f"{what} at {self.me} lost leadership in {path}: exiting")


class LeaderProxy:
    """ASGI middleware: while this instance does not lead, requests go to the leader (but `local` paths)."""

    def __init__(
        self, app: ASGIApp, leadership: Leadership, *, local: Collection[str] = (), tls: TlsConfig = PLAIN
    ) -> None:
        self.app = app
        self.leadership = leadership
        self.local = frozenset(local)
        self._tls = tls
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, read=None), trust_env=False, verify=tls.verify
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        leadership = self.leadership
        if scope["type"] != "http" or leadership.leading or scope["path"] in self.local:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if leadership.me in _via(request):
            await JSONResponse({"message": "Detected proxying loop."}, status_code=502)(scope, receive, send)
            return
        if leadership.leader is None:
            body = {"message": "Could not determine the current leader"}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        response = await self._forward(request, leadership.leader)
        await response(scope, receive, send)

    async def _forward(self, request: Request, leader: str) -> Response:
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _NOT_FORWARDED]
        headers.append((VIA_HEADER, ", ".join([*_via(request), self.leadership.me])))
        url = httpx.URL(self._tls.url(leader, request.url.path), query=request.url.query.encode())
        outgoing = self._client.build_request(
            request.method, url, headers=headers, content=await request.body()
        )
        try:
            upstream = await self._client.send(outgoing, stream=True)
        except httpx.HTTPError as e:
            body = {"message": f"the leader {leader} did not answer: {type(e).__name__}"}
            return JSONResponse(body, status_code=503)
        answer = [(k, v) for k, v in upstream.headers.items() if k.lower() not in _HOP_BY_HOP]
        return StreamingResponse(
            _relay(upstream),
            status_code=upstream.status_code,
            headers=dict(answer),
            background=BackgroundTask(upstream.aclose),
        )

    async def aclose(self) -> None:
        await self._client.aclose()


def _via(request: Request) -> list[str]:
    return [hop.strip() for value in request.headers.getlist(_VIA) for hop in value.split(",") if hop.strip()]


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    with contextlib.suppress(httpx.HTTPError):  # the leader went away mid-answer: end the stream
        async for chunk in upstream.aiter_raw():
            yield chunk

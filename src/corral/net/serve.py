"""Serve ASGI apps with uvicorn inside an event loop the caller owns, over HTTP or HTTPS, within `Limits`.

Several servers (master, agents, Marathon, Chronos) share one loop in `corral dev`, so uvicorn must not
install its own signal handlers: the CLI owns signals and cancels the task group. Cancellation shuts the
server down gracefully: it stops accepting, then closes open connections (streams included).

What one client may make a server hold is bounded before any app code runs (reliability-security.md 4.3,
items 8, 9 and 11; the answers are JSON `{"message": ...}` with `Connection: close`):
- a request body over `max_body` bytes: 413, as soon as Content-Length announces it, or once a chunked body
  streams past it;
- a request target over `max_line` bytes (414), a header line over `max_line`, more than `max_headers`
  headers or a head over `max_head` bytes (431); malformed HTTP (httptools refuses it): 400;
- a client that has not sent a whole request head `header_timeout` seconds after connecting (or after its
  first byte of a later request), or a whole body `body_timeout` seconds after its head: 408, closed. A TLS
  handshake has `header_timeout` too. uvicorn has no such timeouts; idle keep-alive is its own timeout;
- more than `max_connections` connections: a new one gets 503 and is closed, so file descriptors stay
  bounded.
Other refused connections are read for LINGER_SECONDS more, the bytes dropped: a client still sending its
body then gets the answer, where closing at once would reset the connection and lose it.

The per-request cost is a few attribute updates in the parser callbacks (the precise head checks run only
once a head passes `max_line` bytes); deadlines are checked on uvicorn's 0.1 s tick, not with a timer per
request (bench/launch.py is sensitive to per-request work).
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import logging
import resource
import socket
import ssl
import sys
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from corral.protocol.json import dumps

log = logging.getLogger(__name__)

KiB = 1024
MiB = 1024 * KiB
# asyncio hands a protocol at most this much per `data_received`.
READ_SIZE = 256 * KiB
# Marathon's and Chronos's state lives in ZooKeeper nodes of at most 1 MiB (`jute.maxbuffer`): a bigger body
# could never be stored.
DEFAULT_MAX_BODY = 1 * MiB
BACKLOG = 2048
# How long a refused connection is still read (and the bytes dropped) before it is closed: closing with
# unread data resets the connection, and the client, still sending its body, would lose the answer.
LINGER_SECONDS = 2.0


def _default_max_connections() -> int:
    """Half the process's file descriptors (the rest: sandboxes, logs, ZooKeeper, outgoing connections),
    between 64 and 10,000 (marathon-lb's per-frontend `maxconn`)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 10_000
    return max(64, min(10_000, soft // 2))


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """What one client may make a server hold."""

    max_body: int = DEFAULT_MAX_BODY  # 413
    max_line: int = 16 * KiB  # the request target (414), one header's name and value (431)
    max_head: int = 64 * KiB  # the request target and every header's name and value (431)
    max_headers: int = 100  # 431
    header_timeout: float = 15.0  # 408; marathon-lb's `timeout http-request`
    body_timeout: float = 60.0  # 408
    keep_alive: int = 75  # seconds an idle connection is kept
    max_connections: int = field(default_factory=_default_max_connections)  # 503


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; `send_400_response` answers with the stored refusal."""


def _answer(status: int, message: str) -> bytes:
    body = dumps({"message": message})
    head = (
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n"
        f"content-type: application/json\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _GuardedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with `Limits` enforced in its parser callbacks."""

    def __init__(self, limits: Limits, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._limits = limits
        self._deadline: float | None = None  # when the client must have sent what it owes (head or body)
        self._patience = limits.header_timeout  # the timeout that set `_deadline`
        self._in_head = False
        self._head_bytes = 0  # the current head's header names and values, in bytes
        self._unparsed_head = 0  # bytes received while a head stayed incomplete (one read may be more)
        self._body_bytes = 0
        self._refusal: tuple[int, str] | None = None
        self._lingering = False  # answered and closing: what the client still sends is dropped

    # ------------------------------------------------------------ connections

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self._limits.max_connections:
            log.debug("refusing a connection: %d open", len(self.connections) - 1)
            # No lingering: it would hold the descriptor the cap is there to save.
            self._close(503, f"too many connections (at most {self._limits.max_connections})", linger=False)
            return
        self._expect(self._limits.header_timeout)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        super().data_received(data)
        if self._in_head:  # a header line is buffered by httptools until it ends: bound it here
            self._unparsed_head += len(data)
            if self._unparsed_head > self._limits.max_head + READ_SIZE and not self.transport.is_closing():
                self._close(431, f"request head over {self._limits.max_head} bytes")

    def check_deadline(self, now: float) -> None:
        """Close the connection if the client is late with the request it is sending."""
        if self._deadline is None or now < self._deadline or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the server is not reading (the app is busy): the client is not late
            self._expect(self._patience)
            return
        what = "request head" if self._in_head or self.cycle is None else "request body"
        self._close(408, f"no complete {what} within {self._patience:g} s")

    def _expect(self, timeout: float) -> None:
        self._deadline = self.loop.time() + timeout
        self._patience = timeout

    def _close(self, status: int, message: str, *, linger: bool = True) -> None:
        """Answer `status` unless a response is under way, and close the connection (after LINGER_SECONDS
        of dropping what the client still sends, with `linger`)."""
        cycle = self.cycle
        busy = cycle is not None and not cycle.response_complete
        if busy and cycle.response_started:
            self.transport.close()
            return
        if busy:  # the app waits for the body: it sees a disconnect, and its answer goes nowhere
            cycle.disconnected = True
            cycle.message_event.set()
        self._deadline = None
        self._lingering = True
        self.transport.write(_answer(status, message))
        if not linger:
            self.transport.close()
            return
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        # uvicorn calls this from its `except httptools.HttpParserError` block, so the error is at hand.
        refusal = self._refusal or (400, f"malformed HTTP request: {sys.exception() or msg}")
        self._close(*refusal)

    def _refuse(self, status: int, message: str) -> None:
        self._refusal = (status, message)
        raise _Refused(message)

    # ------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = self._unparsed_head = self._body_bytes = 0
        if self._deadline is None:  # a later request on a kept-alive connection
            self._expect(self._limits.header_timeout)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        limits = self._limits
        self._head_bytes += len(name) + len(value)
        if self._head_bytes > limits.max_line:  # only then can a line, or the head, be too long
            if len(name) + len(value) > limits.max_line:
                self._refuse(431, f"header {name[:40].decode('latin-1')!r} over {limits.max_line} bytes")
            if self._head_bytes + len(self.url) > limits.max_head:
                self._refuse(431, f"request head over {limits.max_head} bytes")
        # httptools has checked a Content-Length already: digits only, one value.
        if len(name) == 14 and self.headers[-1][0] == b"content-length" and int(value) > limits.max_body:
            self._refuse(413, f"request body of {int(value)} bytes: at most {limits.max_body} are accepted")

    def on_headers_complete(self) -> None:
        limits = self._limits
        if len(self.url) > limits.max_line:
            self._refuse(414, f"request target over {limits.max_line} bytes")
        if len(self.headers) > limits.max_headers:
            self._refuse(431, f"more than {limits.max_headers} headers")
        self._in_head = False
        self._expect(limits.body_timeout)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        if self._body_bytes > self._limits.max_body:
            self._refuse(413, f"request body over {self._limits.max_body} bytes")
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._deadline = None
        super().on_message_complete()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, limits: Limits, tls: ssl.SSLContext | None) -> None:
        super().__init__(config)
        self._limits = limits
        self._tls = tls

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's start-up on given sockets, with the guarded protocol and a TLS handshake deadline."""
        assert sockets is not None
        loop = asyncio.get_running_loop()

        def protocol() -> _GuardedProtocol:
            return _GuardedProtocol(
                self._limits,
                config=self.config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
                _loop=loop,
            )

        handshake = self._limits.header_timeout if self._tls is not None else None
        self.servers = [
            await loop.create_server(
                protocol, sock=sock, ssl=self._tls, backlog=BACKLOG, ssl_handshake_timeout=handshake
            )
            for sock in sockets
        ]
        self.started = True

    async def on_tick(self, counter: int) -> bool:
        now = asyncio.get_running_loop().time()
        for connection in tuple(self.server_state.connections):
            if isinstance(connection, _GuardedProtocol):
                connection.check_deadline(now)
        return await super().on_tick(counter)


def make_socket(host: str, port: int) -> socket.socket:
    """Bind now, so a port clash is reported at start-up and port 0 gets its real number at once.

    TCP_NODELAY is set here because asyncio sets it only on sockets whose `proto` is IPPROTO_TCP, and the
    accepted connections inherit it: without it, a response uvicorn writes in two pieces (head, then body)
    waits for the client's delayed ACK, 40 ms on Linux, on every request."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    *,
    name: str = "http",
    limits: Limits | None = None,
    tls: ssl.SSLContext | None = None,
) -> None:
    """Serve `app` on the bound `sock` until cancelled: HTTPS with the `tls` server context, else HTTP."""
    limits = limits or Limits()
    config = uvicorn.Config(
        app,
        http="httptools",
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=limits.keep_alive,
        loop="none",
        ws="none",
    )
    server = _Server(config, limits, tls)
    host, port = sock.getsockname()[:2]
    log.info("%s listening on %s://%s:%d", name, "https" if tls is not None else "http", host, port)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise

"""DNS over UDP and TCP (RFC 1035 4.2) on asyncio, both on one address and port.

The server knows nothing of records: each message goes to a `Responder` (wire query -> wire answer or None)
and its answer goes back. A responder that raises is logged and the message dropped, so one bad query never
stops the server. TCP connections may carry several queries; each is framed by a two-byte length, and a
connection idle for `TCP_IDLE_SECONDS` is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from corral.aio import within

log = logging.getLogger(__name__)

Responder = Callable[[bytes, bool], bytes | None]  # (query, over_udp) -> answer
TCP_IDLE_SECONDS = 10.0
FREE_PORT_ATTEMPTS = 20


@dataclass(frozen=True, slots=True)
class DnsSockets:
    udp: socket.socket
    tcp: socket.socket

    @property
    def port(self) -> int:
        port: int = self.udp.getsockname()[1]
        return port

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


def _socket(family: socket.AddressFamily, kind: socket.SocketKind, address: str, port: int) -> socket.socket:
    sock = socket.socket(family, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((address, port))
    except BaseException:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def bind_dns(address: str, port: int) -> DnsSockets:
    """Bind UDP and TCP on `address:port`; port 0 finds one free for both. Raises OSError."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(FREE_PORT_ATTEMPTS if port == 0 else 1):
        udp = _socket(family, socket.SOCK_DGRAM, address, port)
        try:
            tcp = _socket(family, socket.SOCK_STREAM, address, udp.getsockname()[1])
        except OSError as e:
            udp.close()
            if port == 0 and e.errno == errno.EADDRINUSE:
                continue  # the UDP port's TCP twin is taken: try another
            raise
        tcp.listen(128)
        return DnsSockets(udp, tcp)
    raise OSError(errno.EADDRINUSE, "no port free for both UDP and TCP")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, respond: Responder) -> None:
        self.respond = respond
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # CPython's selector datagram transport is not a DatagramTransport subclass, though it is one.
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        reply = _answer(self.respond, data, over_udp=True)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


def _answer(respond: Responder, data: bytes, *, over_udp: bool) -> bytes | None:
    try:
        return respond(data, over_udp)
    except Exception:
        log.exception("dns: failed to answer a %d-byte query", len(data))
        return None


async def _serve_connection(
    respond: Responder, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            header = await within(reader.readexactly(2), TCP_IDLE_SECONDS)
            length = int.from_bytes(header, "big")
            query = await within(reader.readexactly(length), TCP_IDLE_SECONDS)
            reply = _answer(respond, query, over_udp=False)
            if reply is None:
                break
            writer.write(len(reply).to_bytes(2, "big") + reply)
            await writer.drain()
    except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
        pass  # the client closed, went quiet or sent half a message: nothing to answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve_dns(sockets: DnsSockets, respond: Responder) -> None:
    """Answer on both sockets until cancelled, then close them."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _UdpProtocol(respond), sock=sockets.udp)
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(respond, r, w), sock=sockets.tcp, start_serving=True
    )
    try:
        await asyncio.Future()  # until cancelled
    finally:
        transport.close()
        server.close()

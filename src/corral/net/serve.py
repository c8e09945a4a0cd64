"""Serve ASGI apps with uvicorn inside an event loop the caller owns.

Several servers (master, agents, Marathon, Chronos) share one loop in `corral dev`, so uvicorn must not
install its own signal handlers: the CLI owns signals and cancels the task group. Cancellation shuts the
server down gracefully: it stops accepting, then closes open connections (streams included).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Generator

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


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


async def serve(app: ASGIApp, sock: socket.socket, *, name: str = "http") -> None:
    """Serve `app` on the bound `sock` until cancelled."""
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        timeout_keep_alive=75,
        loop="none",
        ws="none",
    )
    server = _Server(config)
    host, port = sock.getsockname()[:2]
    log.info("%s listening on %s:%d", name, host, port)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise

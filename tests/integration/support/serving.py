"""An ASGI app served by `corral.net.serve` in the test's own event loop, on a socket the test bound."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import AsyncIterator

from starlette.types import ASGIApp

from corral.net.serve import Limits, serve


@contextlib.asynccontextmanager
async def serving(
    app: ASGIApp,
    sock: socket.socket,
    *,
    deadline: float,
    name: str = "http",
    limits: Limits | None = None,
    tls: ssl.SSLContext | None = None,
) -> AsyncIterator[int]:
    """Serve `app` on the bound `sock`, yield its port once it accepts connections (within `deadline`
    seconds), and stop serving on exit."""
    host, port = sock.getsockname()[:2]
    task = asyncio.create_task(serve(app, sock, name=name, limits=limits, tls=tls))
    try:
        async with asyncio.timeout(deadline):
            while True:
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection(host, port)
                    writer.close()
                    break
                await asyncio.sleep(0.02)
        yield port
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

"""Running daemons: bind every socket first, then run runtimes and servers in one TaskGroup until a signal.

Binding before anything starts turns a port clash into one clear line (and exit code 1) instead of a
half-started cluster. SIGINT and SIGTERM cancel the group, which shuts every server down gracefully, and
the process exits 0; a second signal during shutdown exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import os
import signal
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from starlette.types import ASGIApp

from corral.coord.ports import CoordError
from corral.core.errors import CorralError, DaemonStopped
from corral.frameworks.leadership import LeaderProxy, Leadership
from corral.net.serve import Limits, make_socket, serve
from corral.net.tls import PLAIN, TlsConfig

if TYPE_CHECKING:
    from corral.coord.zk_url import ZkUrl
    from corral.coord.zookeeper import ZooKeeper

log = logging.getLogger(__name__)


class StartupError(CorralError):
    """A daemon cannot start (a port is taken, a directory is not writable); the message is one line."""


@dataclass(frozen=True, slots=True)
class Listener:
    name: str
    ip: str
    port: int


@dataclass(slots=True)
class Service:
    """One runtime: its ASGI app, the socket serving it (HTTPS with `tls`, within `limits`), and its timers
    (`run()`)."""

    name: str
    app: ASGIApp
    sock: socket.socket
    run: Callable[[], Coroutine[Any, Any, None]]
    limits: Limits | None = None  # None: serve's defaults
    tls: TlsConfig = PLAIN


def bind_all(listeners: list[Listener]) -> list[socket.socket]:
    """Bind every listener or none: on failure close what was bound and raise StartupError."""
    bound: list[socket.socket] = []
    try:
        for item in listeners:
            try:
                bound.append(make_socket(item.ip, item.port))
            except OSError as e:
                reason = "address already in use" if e.errno == errno.EADDRINUSE else (e.strerror or str(e))
                raise StartupError(
                    f"cannot listen on {item.ip}:{item.port} for the {item.name}: {reason}"
                ) from None
    except BaseException:
        for sock in bound:
            sock.close()
        raise
    return bound


def bound_port(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    return port


def make_dirs(*paths: os.PathLike[str]) -> None:
    for path in paths:
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as e:
            raise StartupError(f"cannot create {os.fspath(path)}: {e.strerror}") from None


def elected_service(
    name: str,
    app: ASGIApp,
    sock: socket.socket,
    lead: Callable[[], Coroutine[Any, Any, None]],
    *,
    session: ZooKeeper,
    url: ZkUrl,
    advertised: str,
    limits: Limits | None = None,
    tls: TlsConfig = PLAIN,
) -> Service:
    """A framework daemon (Marathon, Chronos) in an ensemble: it campaigns under `<url>/leader` as
    `advertised` (host:port), runs `lead` while elected, and proxies its API to the leader meanwhile."""
    leadership = Leadership(advertised)

    async def run() -> None:
        await leadership.run(session, url.child("leader"), lead, what=name)

    proxy = LeaderProxy(app, leadership, local=("/ping",), tls=tls)
    return Service(name, proxy, sock, run, limits=limits, tls=tls)


async def serve_all(services: list[Service]) -> None:
    async with asyncio.TaskGroup() as group:
        for service in services:
            group.create_task(service.run(), name=f"{service.name}-run")
            served = serve(
                service.app, service.sock, name=service.name, limits=service.limits, tls=service.tls.server
            )
            group.create_task(served, name=f"{service.name}-http")


async def run_until_signal(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` until it returns or SIGINT/SIGTERM arrives; a signal cancels it and returns normally."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    signals_seen = 0

    def on_signal(signum: int) -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            log.warning("second %s during shutdown: exiting now", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s: shutting down", signal.Signals(signum).name)
        task.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        await task
    except asyncio.CancelledError:
        if not signals_seen:
            raise
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)


# A daemon allocates many short-lived objects per request; the default first-generation threshold (700) spent
# ~13% of `corral dev`'s CPU in the collector under the launch benchmark. Startup objects live forever: freeze
# them out of every collection.
GC_THRESHOLDS = (10_000, 20, 20)


def bind_daemon(name: str, address: str, port: int, work_dir: Path) -> socket.socket:
    """Make a daemon's work dir and bind its listener, or fail with a one-line CLI error."""
    try:
        make_dirs(work_dir)
        [sock] = bind_all([Listener(name, address, port)])
    except StartupError as e:
        raise click.ClickException(str(e)) from None
    return sock


def start_daemon(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """`run_daemon`, with start-up errors (a port in use, say) as one-line CLI errors."""
    try:
        return run_daemon(main)
    except StartupError as e:
        raise click.ClickException(str(e)) from None


def run_daemon(main: Callable[[], Coroutine[Any, Any, None]]) -> int:
    """asyncio.run the daemon; the process exit code: 0 after a signal, 1 if a runtime or server crashed."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        asyncio.run(run_until_signal(main()))
    except StartupError:
        raise
    except Exception as e:
        errors = _leaves(e)
        startup = [x for x in errors if isinstance(x, StartupError)]
        if startup:
            raise startup[0] from None
        if stopped := [x for x in errors if isinstance(x, DaemonStopped | CoordError)]:
            log.critical("%s", stopped[0])
            return 1
        log.critical("stopped by an unexpected error", exc_info=e)
        return 1
    return 0


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) task group errors."""
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]

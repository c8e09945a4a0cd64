"""`corral chronos`: Chronos as its own daemon, with upstream's flags (`--master`, `--http_port` 4400...), and
the Chronos service `corral dev` runs beside its master.

Flags are read from the command line, then from `CHRONOS_<FLAG>` (the packaged daemon's environment
convention). State lives in a SQLite file under `--work_dir` behind the Store port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from corral.chronos.runtime import ChronosConfig, ChronosRuntime
from corral.chronos.scheduler import SchedulerConfig
from corral.cli.dev_plan import DevPlan
from corral.cli.flags import MASTER, flag, log_level_flag, setup_logging
from corral.cli.runner import (
    Service,
    bind_daemon,
    bound_port,
    make_dirs,
    serve_all,
    start_daemon,
)
from corral.coord.local import SqliteStore

STATE_FILE = "chronos.db"
DEFAULT_FAILURE_RETRY_MS = 60_000


def _chronos_flag(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return flag(name, env_prefix="CHRONOS", **kwargs)


def chronos_service(config: ChronosConfig, sock: socket.socket) -> Service:
    """The Chronos runtime on `sock`, its SQLite store closed when it stops."""
    make_dirs(config.work_dir)
    store = SqliteStore(config.work_dir / STATE_FILE)
    runtime = ChronosRuntime(config, store)

    async def run() -> None:
        try:
            await runtime.run()
        finally:
            await store.close()

    return Service("chronos", runtime.app, sock, run)


def dev_chronos_service(
    plan: DevPlan, work_dir: Path, sock: socket.socket, *, failure_retry_ms: int = DEFAULT_FAILURE_RETRY_MS
) -> Service:
    """Chronos inside `corral dev`: state under `<work_dir>/chronos`, the dev master as its master."""
    ip = plan.master.ip
    config = ChronosConfig(
        master=f"{ip}:{plan.master.port}",
        http_address=ip,
        http_port=bound_port(sock),
        hostname=ip,
        work_dir=work_dir / "chronos",
        scheduler=SchedulerConfig(retry_delay=failure_retry_ms / 1000.0),
    )
    return chronos_service(config, sock)


@click.command()
@_chronos_flag("master", callback=MASTER, default="127.0.0.1:5050", help="The Mesos master, host:port.")
@_chronos_flag("http_address", default="127.0.0.1", help="The address to listen on.")
@_chronos_flag("http_port", type=click.IntRange(0, 65535), default=4400, help="The port to listen on.")
@_chronos_flag("hostname", help="The hostname to advertise (default: --http_address).")
@_chronos_flag("framework_name", default="chronos", help="The framework name to register with.")
@_chronos_flag(
    "failure_retry",
    type=click.IntRange(0),
    default=DEFAULT_FAILURE_RETRY_MS,
    help="Milliseconds between a failed run and its retry.",
)
@_chronos_flag(
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".corral/chronos"),
    help="Where Chronos keeps its state (a SQLite file).",
)
@log_level_flag()
def chronos(
    *,
    master: str,
    http_address: str,
    http_port: int,
    hostname: str | None,
    framework_name: str,
    failure_retry: int,
    work_dir: Path,
    log_level: str,
) -> int:
    """Run Chronos: scheduled and dependent jobs on the master's offers, with Chronos's REST API."""
    setup_logging(log_level)
    sock = bind_daemon("chronos", http_address, http_port, work_dir)
    config = ChronosConfig(
        master=master,
        http_address=http_address,
        http_port=bound_port(sock),
        hostname=hostname or http_address,
        framework_name=framework_name,
        work_dir=work_dir.absolute(),
        scheduler=SchedulerConfig(retry_delay=failure_retry / 1000.0),
    )
    click.echo(f"Corral chronos on http://{http_address}:{config.http_port}, master {master}")

    async def main() -> None:
        await serve_all([chronos_service(config, sock)])

    return start_daemon(main)

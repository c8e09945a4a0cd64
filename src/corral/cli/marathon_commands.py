"""`corral marathon`: Marathon as its own daemon, with upstream's flags (`--master`, `--http_port`, ...), and
the Marathon service `corral dev` runs beside its master.

Flags are read from the command line, then from `MARATHON_<FLAG>` (upstream's environment convention).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

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
from corral.marathon.runtime import MarathonConfig
from corral.marathon.service import MarathonService

STATE_FILE = "marathon.db"


def _marathon_flag(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return flag(name, env_prefix="MARATHON", **kwargs)


def dev_marathon_service(plan: DevPlan, work_dir: Path, sock: socket.socket) -> Service:
    """Marathon inside `corral dev`: state under `<work_dir>/marathon`, the dev master as its master."""
    ip = plan.master.ip
    config = MarathonConfig(
        master=f"{ip}:{plan.master.port}", hostname=ip, http_address=ip, http_port=bound_port(sock)
    )
    state_dir = work_dir / "marathon"
    make_dirs(state_dir)
    service = MarathonService(config, state_dir / STATE_FILE)
    return Service("marathon", service.app, sock, service.run)


@click.command()
@_marathon_flag("master", callback=MASTER, default="127.0.0.1:5050", help="The Mesos master, host:port.")
@_marathon_flag("http_address", default="127.0.0.1", help="The address to listen on.")
@_marathon_flag("http_port", type=click.IntRange(0, 65535), default=8080, help="The port to listen on.")
@_marathon_flag("hostname", help="The hostname to advertise (default: --http_address).")
@_marathon_flag("framework_name", default="marathon", help="The framework name to register with.")
@_marathon_flag(
    "failover_timeout",
    type=click.FloatRange(0),
    default=604800.0,
    help="Seconds the master keeps Marathon's tasks after it disconnects.",
)
@_marathon_flag(
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".corral/marathon"),
    help="Where Marathon keeps its state (a SQLite file).",
)
@log_level_flag()
def marathon(
    *,
    master: str,
    http_address: str,
    http_port: int,
    hostname: str | None,
    framework_name: str,
    failover_timeout: float,
    work_dir: Path,
    log_level: str,
) -> int:
    """Run Marathon: long-running apps on the master's offers, with the v2 REST API."""
    setup_logging(log_level)
    sock = bind_daemon("marathon", http_address, http_port, work_dir)
    config = MarathonConfig(
        master=master,
        hostname=hostname or http_address,
        http_address=http_address,
        http_port=bound_port(sock),
        framework_name=framework_name,
        failover_timeout=failover_timeout,
    )
    click.echo(f"Corral marathon on http://{http_address}:{config.http_port}, master {master}")

    state_path = work_dir.absolute() / STATE_FILE

    async def main() -> None:
        service = MarathonService(config, state_path)
        await serve_all([Service("marathon", service.app, sock, service.run)])

    return start_daemon(main)

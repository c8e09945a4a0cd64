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
from corral.cli.flags import (
    MARATHON_CONFIG,
    MASTER,
    ZK,
    daemon_command,
    flag,
    log_level_flag,
    setup_logging,
)
from corral.cli.framework_auth_flags import (
    Ensemble,
    api_auth,
    framework_auth_flags,
    mesos_credential,
    serve_framework,
)
from corral.cli.runner import (
    Service,
    bind_daemon,
    bound_port,
    make_dirs,
    start_daemon,
)
from corral.cli.tls_flags import max_request_bytes_flag, tls_flags
from corral.coord.zk_url import ZkUrl, str_masked
from corral.coord.zookeeper import ZooKeeper
from corral.marathon.runtime import MarathonConfig
from corral.marathon.service import MarathonService
from corral.net.serve import DEFAULT_MAX_BODY, Limits
from corral.net.tls import TlsConfig
from corral.security.credentials import Credentials

STATE_FILE = "marathon.db"


def _marathon_flag(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return flag(name, env_prefix="MARATHON", **kwargs)


def dev_marathon_service(plan: DevPlan, work_dir: Path, sock: socket.socket) -> Service:
    """Marathon inside `corral dev`: state under `<work_dir>/marathon`, the dev master as its master."""
    ip = plan.master.ip
    config = MarathonConfig(
        master=f"{ip}:{plan.master.port}",
        hostname=ip,
        http_address=ip,
        http_port=bound_port(sock),
        tls=plan.tls,
    )
    state_dir = work_dir / "marathon"
    make_dirs(state_dir)
    service = MarathonService.with_sqlite(config, state_dir / STATE_FILE, credential=plan.credential)
    return Service("marathon", service.app, sock, service.run, tls=plan.tls)


@daemon_command(MARATHON_CONFIG)
@_marathon_flag(
    "master",
    callback=MASTER,
    default="127.0.0.1:5050",
    help="The Mesos master: host:port, or zk://host1:2181,host2:2181/mesos to follow the leader.",
)
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
    "reconciliation_interval",
    type=click.IntRange(1),
    default=600000,
    help="Milliseconds between reconciliations of Marathon's tasks with the master.",
)
@_marathon_flag(
    "work_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".corral/marathon"),
    help="Where Marathon keeps its state (a SQLite file) when it runs without --zk.",
)
@_marathon_flag(
    "zk",
    callback=ZK,
    help="ZooKeeper URL for Marathon's state and leader election, e.g. zk://h1:2181,h2:2181/marathon. "
    "Instances sharing it elect one leader; the others proxy the API to it.",
)
@_marathon_flag(
    "zk_session_timeout",
    type=click.IntRange(1),
    default=10000,
    help="ZooKeeper session timeout in milliseconds.",
)
@framework_auth_flags("MARATHON", switch=True)
@tls_flags(env_prefix="MARATHON")
@max_request_bytes_flag(DEFAULT_MAX_BODY, env_prefix="MARATHON")
@log_level_flag()
def marathon(
    *,
    master: str,
    http_address: str,
    http_port: int,
    hostname: str | None,
    framework_name: str,
    failover_timeout: float,
    reconciliation_interval: int,
    work_dir: Path,
    zk: ZkUrl | None,
    zk_session_timeout: int,
    http_credentials: Credentials | None,
    http_realm: str,
    insecure: bool,
    mesos_authentication: bool,
    mesos_authentication_principal: str | None,
    mesos_authentication_secret_file: str | None,
    tls: TlsConfig,
    max_request_bytes: int,
    log_level: str,
) -> int:
    """Run Marathon: long-running apps on the master's offers, with the v2 REST API."""
    setup_logging(log_level)
    auth = api_auth("Marathon API", http_address, http_credentials, http_realm, insecure=insecure)
    credential = mesos_credential(
        mesos_authentication_principal, mesos_authentication_secret_file, enabled=mesos_authentication
    )
    sock = bind_daemon("marathon", http_address, http_port, work_dir)
    config = MarathonConfig(
        master=master,
        hostname=hostname or http_address,
        http_address=http_address,
        http_port=bound_port(sock),
        framework_name=framework_name,
        failover_timeout=failover_timeout,
        zk=None if zk is None else str(zk),
        reconciliation_interval=reconciliation_interval / 1000,
        principal=mesos_authentication_principal,
        tls=tls,
    )
    limits = Limits(max_body=max_request_bytes)
    stored = f"state in {zk}" if zk is not None else f"state in {work_dir / STATE_FILE}"
    click.echo(
        f"Corral marathon on {tls.url(f'{http_address}:{config.http_port}')}, master {str_masked(master)}, "
        f"{stored}"
    )
    session_timeout = zk_session_timeout / 1000
    state_path = work_dir.absolute() / STATE_FILE

    def served(service: MarathonService) -> Service:
        return Service("marathon", service.app, sock, service.run, limits=limits, tls=tls)

    async def main() -> None:
        if zk is None:
            service = MarathonService.with_sqlite(config, state_path, credential=credential)
            await serve_framework(served(service), auth)
            return
        async with ZooKeeper(zk, session_timeout=session_timeout) as session:
            service = MarathonService(
                config, session.store(zk.path), zk_session_timeout=session_timeout, credential=credential
            )
            ensemble = Ensemble(session, zk, f"{config.hostname}:{config.http_port}")
            await serve_framework(served(service), auth, ensemble)

    return start_daemon(main)

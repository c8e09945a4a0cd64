"""`corral chronos`: Chronos as its own daemon, with upstream's flags (`--master`, `--http_port` 4400...), and
the Chronos service `corral dev` runs beside its master.

Flags are read from the command line, then from `CHRONOS_<FLAG>` (the packaged daemon's environment
convention). State lives in a SQLite file under `--work_dir`, or, with `--zk_hosts`, in ZooKeeper under
`--zk_path`, where the instances elect a leader and the others proxy the API to it.
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
from corral.cli.flags import CHRONOS_CONFIG, MASTER, daemon_command, flag, log_level_flag, setup_logging
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
from corral.coord.local import SqliteStore
from corral.coord.zk_url import InvalidUrl, parse_zk_url, str_masked
from corral.coord.zookeeper import ZooKeeper
from corral.net.serve import DEFAULT_MAX_BODY, Limits
from corral.net.tls import TlsConfig
from corral.security.credentials import Credential, Credentials

STATE_FILE = "chronos.db"
DEFAULT_FAILURE_RETRY_MS = 60_000


def _chronos_flag(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return flag(name, env_prefix="CHRONOS", **kwargs)


def chronos_service(
    config: ChronosConfig,
    sock: socket.socket,
    *,
    credential: Credential | None = None,
    limits: Limits | None = None,
) -> Service:
    """The Chronos runtime on `sock` (HTTPS with `config.tls`), its SQLite store closed when it stops."""
    make_dirs(config.work_dir)
    store = SqliteStore(config.work_dir / STATE_FILE)
    runtime = ChronosRuntime(config, store, credential=credential)

    async def run() -> None:
        try:
            await runtime.run()
        finally:
            await store.close()

    return Service("chronos", runtime.app, sock, run, limits=limits, tls=config.tls)


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
        tls=plan.tls,
    )
    return chronos_service(config, sock, credential=plan.credential)


def _zk_hosts(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parse_zk_url(f"zk://{value}/")
    except InvalidUrl as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None
    return value


@daemon_command(CHRONOS_CONFIG)
@_chronos_flag(
    "master",
    callback=MASTER,
    default="127.0.0.1:5050",
    help="The Mesos master: host:port, or zk://host1:2181,host2:2181/mesos to follow the leader.",
)
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
    help="Where Chronos keeps its state (a SQLite file) when it runs without --zk_hosts.",
)
@_chronos_flag(
    "zk_hosts",
    callback=_zk_hosts,
    help="ZooKeeper servers (h1:2181,h2:2181): state and leader election in ZooKeeper; instances that "
    "share them elect one leader and the others proxy the API to it.",
)
@_chronos_flag("zk_path", default="/chronos/state", help="Chronos's path in ZooKeeper.")
@_chronos_flag(
    "zk_timeout", type=click.IntRange(1), default=10000, help="ZooKeeper session timeout in milliseconds."
)
@framework_auth_flags("CHRONOS", switch=False)
@tls_flags(env_prefix="CHRONOS")
@max_request_bytes_flag(DEFAULT_MAX_BODY, env_prefix="CHRONOS")
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
    zk_hosts: str | None,
    zk_path: str,
    zk_timeout: int,
    http_credentials: Credentials | None,
    http_realm: str,
    insecure: bool,
    mesos_authentication_principal: str | None,
    mesos_authentication_secret_file: str | None,
    tls: TlsConfig,
    max_request_bytes: int,
    log_level: str,
) -> int:
    """Run Chronos: scheduled and dependent jobs on the master's offers, with Chronos's REST API."""
    setup_logging(log_level)
    auth = api_auth("Chronos API", http_address, http_credentials, http_realm, insecure=insecure)
    credential = mesos_credential(
        mesos_authentication_principal,
        mesos_authentication_secret_file,
        enabled=mesos_authentication_secret_file is not None,
    )
    sock = bind_daemon("chronos", http_address, http_port, work_dir)
    config = ChronosConfig(
        master=master,
        http_address=http_address,
        http_port=bound_port(sock),
        hostname=hostname or http_address,
        framework_name=framework_name,
        work_dir=work_dir.absolute(),
        scheduler=SchedulerConfig(retry_delay=failure_retry / 1000.0),
        principal=mesos_authentication_principal,
        tls=tls,
    )
    limits = Limits(max_body=max_request_bytes)
    try:
        zk = None if zk_hosts is None else parse_zk_url(f"zk://{zk_hosts}{zk_path}")
    except InvalidUrl as e:
        raise click.BadParameter(str(e), param_hint="'--zk_path'") from None
    stored = f"state in {zk}" if zk is not None else f"state in {config.work_dir / STATE_FILE}"
    where = tls.url(f"{http_address}:{config.http_port}")
    click.echo(f"Corral chronos on {where}, master {str_masked(master)}, {stored}")

    async def main() -> None:
        if zk is None:
            await serve_framework(chronos_service(config, sock, credential=credential, limits=limits), auth)
            return
        async with ZooKeeper(zk, session_timeout=zk_timeout / 1000) as session:
            runtime = ChronosRuntime(config, session.store(zk.path), credential=credential)
            served = Service("chronos", runtime.app, sock, runtime.run, limits=limits, tls=tls)
            ensemble = Ensemble(session, zk, f"{config.hostname}:{config.http_port}")
            await serve_framework(served, auth, ensemble)

    return start_daemon(main)

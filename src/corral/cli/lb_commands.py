"""`corral lb`: the HAProxy bridge as its own daemon (marathon-lb's job), and the load balancer `corral dev`
runs beside Marathon when `haproxy` is installed.

It follows a Marathon through its HTTP API only (`/v2/apps?embed=apps.tasks` and `/v2/events`), so it works
against an upstream Marathon too; `--auth_credentials user:password` (marathon-lb's) reads a Marathon that
requires them. HAProxy's stats page (and its `/metrics`) lists every backend and task address and has no
authentication of its own, so it binds loopback unless `--stats_address` says otherwise, and a non-loopback
stats address needs `--insecure`. Flags are read from the command line, then from `CORRAL_LB_<FLAG>`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from corral.cli.auth_flags import insecure_flag, refuse_exposure
from corral.cli.dev_plan import DevPlan
from corral.cli.flags import flag, log_level_flag, setup_logging
from corral.cli.runner import StartupError, start_daemon
from corral.cli.tls_flags import tls_flags
from corral.lb.haproxy import HaproxyError, find_binary
from corral.lb.labels import split_list
from corral.lb.runtime import LbConfig, LbRuntime
from corral.lb.services import Options
from corral.net.client import ClientError, base_url
from corral.net.tls import TlsConfig
from corral.security.credentials import Credential, CredentialsError, as_credential
from corral.security.policy import AuthRequirements, Surface

DEFAULT_STATS_PORT = 9090  # marathon-lb's


def _lb_flag(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return flag(name, env_prefix="CORRAL_LB", **kwargs)


def _port(name: str, default: int, help: str) -> Callable[[Any], Any]:
    return _lb_flag(name, type=click.IntRange(1, 65535), default=default, help=help)


def _marathon_url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """`--marathon` checked; the command makes it a URL once it knows the scheme (`marathon_url`)."""
    try:
        base_url(value, default_port=8080, scheme="http")
    except ClientError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None
    return value


def marathon_url(address: str, tls: TlsConfig) -> str:
    """Marathon's base URL: `address` as given, or host:port in the scheme of the lb's TLS settings."""
    return base_url(address, default_port=8080, scheme=tls.scheme)


def _bind_address(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if value == "*":
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address or *", ctx=ctx, param=param) from None


def _auth_credentials(ctx: click.Context, param: click.Parameter, value: str | None) -> Credential | None:
    if value is None:
        return None
    try:
        return as_credential(value, what="--auth_credentials")
    except CredentialsError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None


def haproxy_binary(path: str | None) -> str:
    """`--haproxy`, else `haproxy` on PATH or in /usr/sbin; a usage error when there is none."""
    found = find_binary(path or "haproxy")
    if found is None:
        raise click.UsageError(
            f"{path or 'haproxy'}: not found (install Debian's haproxy package, or give --haproxy PATH)"
        )
    return found


def stats_url(options: Options) -> str:
    host = "127.0.0.1" if options.stats_address in ("*", "0.0.0.0") else options.stats_address
    return f"http://{host}:{options.stats_port}/haproxy?stats"


def refuse_open_stats(address: str, *, insecure: bool) -> None:
    """A one-line CLI error when the stats page would be served beyond loopback without --insecure."""
    page = AuthRequirements(required=frozenset(), served=frozenset({Surface.READONLY}))
    hint = "keep it on loopback (--stats_address 127.0.0.1)"
    refuse_exposure("HAProxy stats page", address, page, insecure=insecure, hint=hint)


def free_port(ip: str) -> int:
    """A port that was free a moment ago (HAProxy binds it itself, so it cannot be handed a socket)."""
    with socket.socket() as sock:
        sock.bind((ip, 0))
        port: int = sock.getsockname()[1]
        return port


async def run_lb(runtime: LbRuntime) -> None:
    """The runtime, a HAProxy that cannot start being a one-line start-up error."""
    try:
        await runtime.run()
    except HaproxyError as e:
        raise StartupError(f"load balancer: {e}") from None


def dev_lb(plan: DevPlan, work_dir: Path) -> LbRuntime | None:
    """The load balancer of `corral dev` (None without haproxy): Marathon's `external` group, frontends and
    the stats page on the dev IP, the config under `<work_dir>/lb`."""
    binary = find_binary()
    if binary is None:
        return None
    ip = plan.master.ip
    options = Options(bind_address=ip, stats_address=ip, stats_port=plan.lb_stats_port or free_port(ip))
    config_path = work_dir / "lb" / "haproxy.cfg"
    marathon = plan.tls.url(f"{ip}:{plan.marathon_port}")
    return LbRuntime(
        LbConfig(
            marathon=marathon,
            config_path=config_path,
            haproxy=binary,
            options=options,
            tls=plan.tls,
            credential=plan.credential,
        )
    )


async def with_lb(main: Coroutine[Any, Any, None], lb: LbRuntime | None) -> None:
    """Await `main` (a dev cluster's servers), with the load balancer running beside it when there is one."""
    if lb is None:
        await main
        return
    async with asyncio.TaskGroup() as group:
        group.create_task(main, name="services")
        group.create_task(run_lb(lb), name="lb")


@click.command()
@_lb_flag(
    "marathon", callback=_marathon_url, default="127.0.0.1:8080", help="Marathon, host:port or its URL."
)
@_lb_flag(
    "auth_credentials",
    callback=_auth_credentials,
    help="user:password to present to Marathon (its --http_credentials).",
)
@_lb_flag(
    "haproxy_config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".corral/lb/haproxy.cfg"),
    help="Where to write the HAProxy config.",
)
@_lb_flag(
    "group",
    default="external",
    help="Serve the apps whose HAPROXY_GROUP names one of these groups (comma-separated; * serves all).",
)
@_lb_flag(
    "bind_address",
    callback=_bind_address,
    default="*",
    help="The address the frontends bind (* for all).",
)
@_lb_flag(
    "stats_address",
    callback=_bind_address,
    default="127.0.0.1",
    help="The address the stats page binds (beyond loopback only with --insecure: it has no login).",
)
@_port("stats_port", DEFAULT_STATS_PORT, "The port of HAProxy's stats page (/haproxy?stats, /metrics).")
@_port("http_port", 80, "The port of the HTTP frontend routing HAPROXY_{n}_VHOST host names.")
@_port("https_port", 443, "The port of the HTTPS vhost frontend (only with --ssl_certs).")
@_lb_flag("ssl_certs", default="", help="PEM files for the HTTPS vhost frontend, comma-separated.")
@_lb_flag("haproxy", help="The haproxy binary (default: haproxy on PATH, else /usr/sbin/haproxy).")
@insecure_flag("CORRAL_LB")
@tls_flags(env_prefix="CORRAL_LB", serves=False)
@log_level_flag()
def lb(
    *,
    marathon: str,
    auth_credentials: Credential | None,
    haproxy_config: Path,
    group: str,
    bind_address: str,
    stats_address: str,
    stats_port: int,
    http_port: int,
    https_port: int,
    ssl_certs: str,
    haproxy: str | None,
    insecure: bool,
    tls: TlsConfig,
    log_level: str,
) -> int:
    """Run HAProxy in front of Marathon's apps, following Marathon's events (marathon-lb's labels)."""
    groups = frozenset(split_list(group))
    if not groups:
        raise click.BadParameter("give at least one group", param_hint="'--group'")
    refuse_open_stats(stats_address, insecure=insecure)
    binary = haproxy_binary(haproxy)
    setup_logging(log_level)
    options = Options(
        groups=groups,
        bind_address=bind_address,
        stats_address=stats_address,
        stats_port=stats_port,
        http_port=http_port,
        https_port=https_port,
        ssl_certs=tuple(split_list(ssl_certs)),
    )
    marathon = marathon_url(marathon, tls)
    config = LbConfig(
        marathon=marathon,
        config_path=haproxy_config.absolute(),
        haproxy=binary,
        options=options,
        credential=auth_credentials,
        tls=tls,
    )
    click.echo(
        f"Corral lb: Marathon {marathon}, groups {','.join(sorted(groups))}, config {config.config_path}, "
        f"stats {stats_url(options)}"
    )

    async def main() -> None:
        await run_lb(LbRuntime(config))

    return start_daemon(main)

"""`corral dns`: Mesos-DNS's names for the cluster (`web.marathon.mesos` A, `_web._tcp.marathon.mesos` SRV,
`leader.mesos`, `master.mesos`), served over UDP and TCP; and the DNS server `corral dev` runs beside its
master.

Flags are read from the command line, then from `MESOS_DNS_<FLAG>`. Port 53 needs root (or
CAP_NET_BIND_SERVICE); `corral dev` uses 8053. A master that authenticates its read-only endpoints takes
`--credential`: Mesos-DNS's `mesosCredentials`, in the agent's `--credential` formats.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable
from typing import Any

import click

from corral.cli.dev_plan import DevPlan
from corral.cli.flags import DURATION, MASTER, converter, flag, log_level_flag, setup_logging
from corral.cli.runner import Service, StartupError, serve_all, start_daemon
from corral.cli.tls_flags import tls_flags
from corral.coord.zk_url import str_masked
from corral.dns.records import parse_domain
from corral.dns.runtime import DnsConfig, DnsRuntime
from corral.dns.server import DnsSockets, bind_dns
from corral.net.tls import TlsConfig
from corral.security.credentials import Credential, CredentialsError, parse_credential


def _dns_flag(name: str, **kwargs: Any) -> Callable[[Any], Any]:
    return flag(name, env_prefix="MESOS_DNS", **kwargs)


def _address(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address") from None


def bind_dns_listener(address: str, port: int) -> DnsSockets:
    """The DNS server's UDP and TCP sockets, or StartupError naming the address and the reason."""
    try:
        return bind_dns(address, port)
    except OSError as e:
        reason = e.strerror or str(e)
        hint = " (ports below 1024 need root: try --port 8053)" if port and port < 1024 else ""
        raise StartupError(f"cannot listen on {address}:{port} for DNS: {reason.lower()}{hint}") from None


def dev_dns(plan: DevPlan, sockets: DnsSockets) -> DnsRuntime:
    """DNS inside `corral dev`: the dev master as its master, Mesos-DNS's defaults otherwise."""
    master = f"{plan.master.ip}:{plan.master.port}"
    config = DnsConfig(master=master, tls=plan.tls, credential=plan.credential)
    return DnsRuntime(config, sockets)


async def serve_all_with_dns(services: list[Service], dns: DnsRuntime | None) -> None:
    """`serve_all`, with the DNS server beside the HTTP services when there is one."""
    if dns is None:
        await serve_all(services)
        return
    async with asyncio.TaskGroup() as group:
        group.create_task(dns.run(), name="dns")
        group.create_task(serve_all(services), name="services")


@click.command("dns")
@_dns_flag(
    "master",
    callback=MASTER,
    default="127.0.0.1:5050",
    help="The Mesos master, host:port or zk://host1:2181,host2:2181/mesos; the leader is followed.",
)
@_dns_flag("domain", callback=converter(parse_domain), default="mesos", help="The domain to answer for.")
@_dns_flag("address", callback=converter(_address), default="127.0.0.1", help="The IP address to listen on.")
@_dns_flag(
    "port",
    type=click.IntRange(0, 65535),
    default=53,
    help="The port to listen on, UDP and TCP (0: any free port).",
)
@_dns_flag("ttl", type=click.IntRange(0, 2**31 - 1), default=60, help="TTL of every record, in seconds.")
@_dns_flag(
    "refresh",
    callback=DURATION,
    default="500ms",
    help="Time between reads of /master/state (Mesos-DNS's refreshSeconds).",
)
@_dns_flag(
    "credential",
    callback=converter(parse_credential, CredentialsError),
    help="The principal and secret to read the master's state with: a file (path or file://) holding "
    'JSON {"principal": ..., "secret": ...} or one "principal secret" line, or that JSON itself.',
)
@tls_flags(env_prefix="MESOS_DNS", serves=False)
@log_level_flag()
def dns_command(
    *,
    master: str,
    domain: str,
    address: str,
    port: int,
    ttl: int,
    refresh: float,
    credential: Credential | None,
    tls: TlsConfig,
    log_level: str,
) -> int:
    """Serve Mesos-DNS names for the cluster's running tasks, its leader and its agents."""
    if refresh <= 0:
        raise click.UsageError("--refresh must be positive")
    setup_logging(log_level)
    try:
        sockets = bind_dns_listener(address, port)
    except StartupError as e:
        raise click.ClickException(str(e)) from None
    config = DnsConfig(master=master, domain=domain, ttl=ttl, refresh=refresh, credential=credential, tls=tls)
    click.echo(
        f"Corral DNS on {address}:{sockets.port} (UDP and TCP) for *.{domain}, master {str_masked(master)}, "
        f"ttl {ttl}s, refresh {refresh:g}s"
    )

    async def main() -> None:
        await DnsRuntime(config, sockets).run()

    return start_daemon(main)

"""The daemon commands: `corral dev` (everything in one process), `corral master` and `corral agent`."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from corral.agent.config import AgentConfig, RecoverMode
from corral.cli.chronos_commands import dev_chronos_service
from corral.cli.dev_auth import DevSecurity, dev_auth_flags
from corral.cli.dev_plan import DevOptions, DevPlan, PlanError, plan_dev
from corral.cli.dns_commands import bind_dns_listener, dev_dns, serve_all_with_dns
from corral.cli.flags import (
    AGENT_CONFIG,
    ALLOCATOR,
    ATTRIBUTES,
    DURATION,
    MASTER,
    MASTER_CONFIG,
    MIN_ALLOCATABLE,
    RESERVED_RESOURCES,
    RESOURCES,
    ROLES,
    WEIGHTS,
    ZK,
    daemon_command,
    flag,
    format_duration,
    log_level_flag,
    port_flag,
    setup_logging,
    stacked,
)
from corral.cli.isolation_flags import IsolationFlags, isolation_flags
from corral.cli.lb_commands import DEFAULT_STATS_PORT, dev_lb, with_lb
from corral.cli.marathon_commands import dev_marathon_service
from corral.cli.mesos_auth_flags import MesosAuth, agent_auth_flags, master_auth_flags
from corral.cli.runner import (
    Listener,
    Service,
    StartupError,
    bind_all,
    bind_daemon,
    bound_port,
    make_dirs,
    serve_all,
    start_daemon,
)
from corral.cli.tls_flags import max_request_bytes_flag, tls_flags
from corral.coord.zk_url import ZkUrl, str_masked
from corral.core.attributes import Attribute
from corral.core.errors import DecodeError
from corral.core.reservations import ReservedResources
from corral.core.resources import Resources
from corral.lb.haproxy import find_binary
from corral.master.config import MasterConfig
from corral.net.serve import Limits, MiB
from corral.net.tls import TlsConfig
from corral.security.acls import Acls, parse_acls

# Request body limits. The master's: an agent re-registering lists every task it runs (10,000 tasks of ~4 KiB
# make 40 MiB), and one ACCEPT may launch thousands of tasks. The agent's: an executor's SUBSCRIBE re-sends
# its unacknowledged updates and tasks, and an UPDATE carries the framework's `data`.
MASTER_MAX_REQUEST_BYTES = 64 * MiB
AGENT_MAX_REQUEST_BYTES = 16 * MiB


def _ip(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an IP address", ctx=ctx, param=param) from None


def _acls(ctx: click.Context, param: click.Parameter, value: str | None) -> Acls | None:
    """`--acls`: JSON, or (as upstream) a path to a JSON file, `/path` or `file:///path`."""
    if value is None:
        return None
    text = value
    if not value.lstrip().startswith("{"):
        path = Path(value.removeprefix("file://"))
        try:
            text = path.read_text()
        except OSError as e:
            raise click.BadParameter(f"cannot read {path}: {e.strerror}", ctx=ctx, param=param) from None
    try:
        return parse_acls(text)
    except DecodeError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None


def _acls_flag(what: str) -> Callable[[Any], Any]:
    return flag(
        "acls",
        callback=_acls,
        help=f"ACLs (JSON, or a file:///path to it) deciding {what}; once given, what no rule allows is "
        "denied ('permissive' defaults to false, unlike upstream).",
    )


def _work_dir(default: str, help: str) -> Callable[[Any], Any]:
    return flag(
        "work_dir", type=click.Path(file_okay=False, path_type=Path), default=Path(default), help=help
    )


def _ip_flag() -> Callable[[Any], Any]:
    return flag("ip", default="127.0.0.1", callback=_ip, help="IP address to listen on.")


def _allocator_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """The master's allocator flags, shared by `corral master` and `corral dev`."""
    decorators = [
        flag("allocator", callback=ALLOCATOR, default="HierarchicalDRF", help="HierarchicalDRF or random."),
        flag(
            "roles", callback=ROLES, help="The only roles frameworks may use, e.g. 'eng,ops' (default: any)."
        ),
        flag("weights", callback=WEIGHTS, help="Initial role weights, e.g. 'eng=2,ops=1' (default 1)."),
        flag(
            "min_allocatable_resources",
            callback=MIN_ALLOCATABLE,
            default="cpus:0.01|mem:32",
            help="Offers smaller than every '|'-separated set are withheld (';' joins resources in a set).",
        ),
    ]
    return stacked(decorators)(command)


# ------------------------------------------------------------------ corral dev


def banner(plan: DevPlan, work_dir: Path, isolation: str | None = None, auth: tuple[str, ...] = ()) -> str:
    agents = len(plan.agents)
    lines = [
        f"Corral dev cluster: 1 master, {agents} agent{'s' if agents > 1 else ''}; work dir {work_dir}",
        f"  master      {plan.tls.url(f'{plan.master.ip}:{plan.master.port}')}   "
        f"(frameworks: --master {plan.master.ip}:{plan.master.port})",
    ]
    for i, agent in enumerate(plan.agents):
        extra = f"   resources {agent.resources}" if agent.resources else ""
        lines.append(f"  agent-{i:<5} {plan.tls.url(f'{agent.ip}:{agent.port}')}{extra}")
    if isolation is not None:
        lines.append(f"  isolation   {isolation}")
    lines.append(f"  marathon    {plan.tls.url(f'{plan.master.ip}:{plan.marathon_port}')}")
    lines.append(f"  chronos     {plan.tls.url(f'{plan.master.ip}:{plan.chronos_port}')}")
    if plan.dns_port is not None:
        lines.append(f"  dns         {plan.master.ip}:{plan.dns_port} (UDP and TCP; web.marathon.mesos)")
    if plan.lb_stats_port is not None:
        lines.append(f"  lb stats    http://{plan.master.ip}:{plan.lb_stats_port}/haproxy?stats")
    lines += auth
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


@click.command()
@_work_dir(
    ".corral", "Work directory: the master under <work_dir>/master, agent i under <work_dir>/agent-<i>."
)
@_ip_flag()
@port_flag("master_port", 5050, "Master port (the v1 scheduler API, /master/state).")
@port_flag(
    "agent_port", 5051, "Port of the first agent; agent i listens on agent_port + i (0: any free port)."
)
@port_flag("marathon_port", 8080, "Marathon's port (its v2 REST API).")
@port_flag("chronos_port", 4400, "Chronos's port (its REST API).")
@port_flag("dns_port", 8053, "The DNS server's port, UDP and TCP (Mesos-DNS names under .mesos).")
@flag("no_dns", is_flag=True, help="Do not run the DNS server.")
@port_flag("lb_stats_port", DEFAULT_STATS_PORT, "The load balancer's HAProxy stats page (0: any free port).")
@flag("no_lb", is_flag=True, help="Do not run the load balancer (it runs when haproxy is installed).")
@flag(
    "chronos_failure_retry",
    type=click.IntRange(0),
    default=60_000,
    help="Milliseconds between a failed Chronos run and its retry (Chronos's --failure_retry).",
)
@flag("agents", type=click.IntRange(1, 256), default=1, help="Number of agents.")
@flag(
    "resources",
    callback=RESOURCES,
    help="Resources of each agent, e.g. 'cpus:4;mem:4096;disk:10000;ports:[31000-32000]'; "
    "the ports range is split among agents. Unnamed resources are detected.",
)
@flag("attributes", callback=ATTRIBUTES, help="Attributes of each agent, e.g. 'rack:r1;zone:west'.")
@flag(
    "allocation_interval", callback=DURATION, default="1secs", help="Time between allocations (1secs, 500ms)."
)
@_allocator_flags
@isolation_flags
@tls_flags()
@dev_auth_flags
@log_level_flag()
def dev(
    *,
    work_dir: Path,
    ip: str,
    security: DevSecurity,
    master_port: int,
    agent_port: int,
    marathon_port: int,
    chronos_port: int,
    dns_port: int,
    no_dns: bool,
    lb_stats_port: int,
    no_lb: bool,
    chronos_failure_retry: int,
    agents: int,
    resources: Resources | None,
    attributes: tuple[Attribute, ...] | None,
    allocation_interval: float,
    allocator: str,
    roles: frozenset[str] | None,
    weights: dict[str, float] | None,
    min_allocatable_resources: str,
    isolation: IsolationFlags,
    tls: TlsConfig,
    log_level: str,
) -> int:
    """Run a master and N agents in one process (loopback, no ZooKeeper)."""
    options = DevOptions(
        work_dir=work_dir,
        ip=ip,
        master_port=master_port,
        agent_port=agent_port,
        marathon_port=marathon_port,
        chronos_port=chronos_port,
        dns_port=None if no_dns else dns_port,
        lb_stats_port=None if no_lb or find_binary() is None else lb_stats_port,
        agents=agents,
        resources=resources,
        attributes=attributes or (),
        allocation_interval=allocation_interval,
        credentials=security.credentials,
        principal=security.principal,
    )
    try:
        plan = plan_dev(options)
    except PlanError as e:
        raise click.UsageError(str(e)) from None
    master_config = replace(
        plan.master,
        allocator=allocator,
        roles=roles,
        weights=weights or {},
        min_allocatable_resources=min_allocatable_resources,
        tls=tls,
    )
    plan = replace(plan, master=master_config, agents=tuple(isolation.apply(a) for a in plan.agents))
    stack = security.stack()
    plan = replace(
        plan,
        master=replace(plan.master, auth_flags=stack.master.shown),
        agents=tuple(replace(a, auth_flags=stack.agent.shown) for a in plan.agents),
    )
    from corral.agent.runtime import AgentRuntime
    from corral.master.runtime import MasterRuntime
    from corral.net.agent_link import LocalMasterLink

    setup_logging(log_level)
    try:
        make_dirs(plan.master.work_dir, *(a.work_dir for a in plan.agents))
        listeners = [Listener("master", ip, plan.master.port)]
        listeners += [Listener(f"agent {i}", ip, a.port) for i, a in enumerate(plan.agents)]
        sockets = bind_all(
            [
                *listeners,
                Listener("marathon", ip, plan.marathon_port),
                Listener("chronos", ip, plan.chronos_port),
            ]
        )
        chronos_sock = sockets.pop()
        marathon_sock = sockets.pop()
        dns_sockets = bind_dns_listener(ip, plan.dns_port) if plan.dns_port is not None else None
    except StartupError as e:
        raise click.ClickException(str(e)) from None
    plan = plan.with_ports(bound_port(sockets[0]), [bound_port(s) for s in sockets[1:]])
    plan = replace(plan, marathon_port=bound_port(marathon_sock), chronos_port=bound_port(chronos_sock))
    plan = replace(plan, dns_port=dns_sockets.port if dns_sockets is not None else None)
    lb = dev_lb(plan, options.work_dir.absolute()) if plan.lb_stats_port is not None else None
    plan = replace(plan, lb_stats_port=lb.config.options.stats_port if lb is not None else None)
    click.echo(banner(plan, options.work_dir.absolute(), isolation.description, security.describe(plan)))

    async def main() -> None:
        master = MasterRuntime(plan.master)
        link = LocalMasterLink(master)
        master_limits = Limits(max_body=MASTER_MAX_REQUEST_BYTES)
        master_app = stack.master_app(master.app)
        services = [Service("master", master_app, sockets[0], master.run, limits=master_limits, tls=tls)]
        agent_limits = Limits(max_body=AGENT_MAX_REQUEST_BYTES)
        for i, (config, sock) in enumerate(zip(plan.agents, sockets[1:], strict=True)):
            agent = AgentRuntime(config, link, executor_tokens=stack.agent.signer)
            app = stack.agent_app(agent.app)
            services.append(Service(f"agent-{i}", app, sock, agent.run, limits=agent_limits, tls=tls))
        marathon = dev_marathon_service(plan, options.work_dir.absolute(), marathon_sock)
        services.append(stack.framework_service(marathon))
        services.append(
            stack.framework_service(
                dev_chronos_service(
                    plan, options.work_dir.absolute(), chronos_sock, failure_retry_ms=chronos_failure_retry
                )
            )
        )
        dns = dev_dns(plan, dns_sockets) if dns_sockets is not None else None
        await with_lb(serve_all_with_dns(services, dns), lb)

    return start_daemon(main)


# ------------------------------------------------------------------ corral master


@daemon_command(MASTER_CONFIG)
@_ip_flag()
@port_flag("port", 5050, "Port to listen on.")
@flag("hostname", help="Hostname to advertise (default: the IP).")
@_work_dir(".corral/master", "Where the master keeps its state.")
@flag(
    "allocation_interval", callback=DURATION, default="1secs", help="Time between allocations (1secs, 500ms)."
)
@flag(
    "offer_timeout", callback=DURATION, help="Rescind offers not used within this duration (default: never)."
)
@flag(
    "zk",
    callback=ZK,
    help="ZooKeeper URL for leader election among masters, e.g. zk://h1:2181,h2:2181,h3:2181/mesos "
    "(or file:///etc/mesos/zk). Without it this master leads alone.",
)
@flag("quorum", type=click.IntRange(1), help="A strict majority of the masters (required with --zk).")
@flag("zk_session_timeout", callback=DURATION, default="10secs", help="ZooKeeper session timeout.")
@_allocator_flags
@_acls_flag("who may register, run tasks as whom, tear down, view, read sandboxes")
@master_auth_flags
@tls_flags(libprocess=True)
@max_request_bytes_flag(MASTER_MAX_REQUEST_BYTES)
@log_level_flag()
def master(
    *,
    ip: str,
    port: int,
    hostname: str | None,
    work_dir: Path,
    allocation_interval: float,
    offer_timeout: float | None,
    zk: ZkUrl | None,
    quorum: int | None,
    zk_session_timeout: float,
    allocator: str,
    roles: frozenset[str] | None,
    weights: dict[str, float] | None,
    min_allocatable_resources: str,
    acls: Acls | None,
    auth: MesosAuth,
    tls: TlsConfig,
    max_request_bytes: int,
    log_level: str,
) -> int:
    """Run a master: the v1 scheduler API, /master/state, the agents' registration endpoint."""
    if zk is not None and quorum is None:
        raise click.UsageError("--quorum is required with --zk (a strict majority of the masters)")
    if allocation_interval <= 0:
        raise click.UsageError("--allocation_interval must be positive")
    if offer_timeout is not None and offer_timeout <= 0:
        raise click.UsageError("--offer_timeout must be positive")
    from corral.master.runtime import MasterRuntime
    from corral.master.surfaces import classify

    setup_logging(log_level)
    sock = bind_daemon("master", ip, port, work_dir)
    config = MasterConfig(
        ip=ip,
        port=bound_port(sock),
        hostname=hostname,
        work_dir=work_dir.absolute(),
        allocation_interval=allocation_interval,
        offer_timeout=offer_timeout,
        allocator=allocator,
        roles=roles,
        weights=weights or {},
        min_allocatable_resources=min_allocatable_resources,
        zk=None if zk is None else str(zk),
        quorum=quorum,
        acls=acls,
        auth_flags=auth.shown,
        tls=tls,
    )
    timeout = format_duration(offer_timeout) if offer_timeout else "none"
    election = f", election in {zk}" if zk is not None else ""
    click.echo(
        f"Corral master on {tls.url(f'{ip}:{config.port}')} (work dir {config.work_dir}, "
        f"allocation interval {format_duration(allocation_interval)}, offer timeout {timeout}{election})"
    )
    click.echo(auth.describe())

    async def main() -> None:
        runtime = MasterRuntime(config, leading=zk is None)
        run = runtime.run
        if zk is not None:
            from corral.master.election import run_elected

            run = functools.partial(run_elected, runtime, zk, session_timeout=zk_session_timeout)
        app = auth.protect(runtime.app, classify)
        limits = Limits(max_body=max_request_bytes)
        await serve_all([Service("master", app, sock, run, limits=limits, tls=tls)])

    return start_daemon(main)


# ------------------------------------------------------------------ corral agent


@daemon_command(AGENT_CONFIG)
@_ip_flag()
@port_flag("port", 5051, "Port to listen on.")
@flag("hostname", help="Hostname to advertise (default: the IP).")
@_work_dir(".corral/agent", "Where the agent keeps sandboxes and checkpoints.")
@flag(
    "master",
    callback=MASTER,
    default="127.0.0.1:5050",
    help="The master: host:port, zk://host1:2181,host2:2181/mesos (follows the leader), or file:///path.",
)
@flag(
    "zk_session_timeout", callback=DURATION, default="10secs", help="ZooKeeper session timeout (with zk://)."
)
@flag(
    "resources",
    callback=RESERVED_RESOURCES,
    help="e.g. 'cpus:4;mem:4096;ports:[31000-32000]', 'cpus(eng):2' reserves for role eng; "
    "the rest is detected.",
)
@flag("attributes", callback=ATTRIBUTES, help="e.g. 'rack:r1;zone:west'.")
@isolation_flags
@flag(
    "recover",
    type=click.Choice([m.value for m in RecoverMode]),
    default=RecoverMode.RECONNECT.value,
    help="On start: reconnect to the tasks a previous run left running, or kill them all (cleanup).",
)
@flag(
    "executor_reregistration_timeout",
    callback=DURATION,
    default="15secs",
    help="How long executors found running on start have to subscribe again (upstream: 2secs).",
)
@flag(
    "executor_shutdown_grace_period",
    callback=DURATION,
    default="5secs",
    help="How long an executor asked to shut down has before it is killed.",
)
@flag(
    "gc_delay", callback=DURATION, default="1weeks", help="Delete ended executors' sandboxes this long after."
)
@flag(
    "gc_disk_headroom",
    type=click.FloatRange(0.0, 1.0),
    default=0.1,
    help="Delete sooner as the disk fills: max age = gc_delay * max(0, 1 - headroom - disk usage).",
)
@flag(
    "switch_user",
    type=click.BOOL,
    default=True,
    help="When the agent runs as root, run each task as its user (CommandInfo.user, else "
    "FrameworkInfo.user); otherwise tasks run as the agent's user.",
)
@_acls_flag("who may read which sandboxes and GET /metrics/snapshot, /monitor/statistics, /files/debug")
@agent_auth_flags
@tls_flags(libprocess=True)
@max_request_bytes_flag(AGENT_MAX_REQUEST_BYTES)
@log_level_flag()
def agent(
    *,
    ip: str,
    port: int,
    hostname: str | None,
    work_dir: Path,
    master: str,
    resources: ReservedResources | None,
    attributes: tuple[Attribute, ...] | None,
    zk_session_timeout: float,
    isolation: IsolationFlags,
    recover: str,
    executor_reregistration_timeout: float,
    executor_shutdown_grace_period: float,
    gc_delay: float,
    gc_disk_headroom: float,
    switch_user: bool,
    acls: Acls | None,
    auth: MesosAuth,
    tls: TlsConfig,
    max_request_bytes: int,
    log_level: str,
) -> int:
    """Run an agent that registers with the leading master and runs its tasks."""
    from corral.agent.master_link import HttpMasterLink
    from corral.agent.runtime import AgentRuntime
    from corral.agent.surfaces import classify
    from corral.net.leader import open_tracker

    setup_logging(log_level)
    sock = bind_daemon("agent", ip, port, work_dir)
    config = AgentConfig(
        ip=ip,
        port=bound_port(sock),
        hostname=hostname,
        work_dir=work_dir.absolute(),
        master=master,
        resources=resources.total() if resources is not None else None,
        reservations=resources.reserved if resources is not None else {},
        attributes=attributes or (),
        recover=RecoverMode(recover),
        executor_reregistration_timeout=executor_reregistration_timeout,
        executor_shutdown_grace_period=executor_shutdown_grace_period,
        gc_delay=gc_delay,
        gc_disk_headroom=gc_disk_headroom,
        switch_user=switch_user,
        acls=acls,
        auth_flags=auth.shown,
    )
    config = isolation.apply(config)
    click.echo(
        f"Corral agent on {tls.url(f'{ip}:{config.port}')}, master {str_masked(master)} "
        f"(work dir {config.work_dir})"
    )
    click.echo(f"Isolation: {isolation.description}")
    click.echo(auth.describe())

    async def main() -> None:
        async with open_tracker(master, session_timeout=zk_session_timeout) as leader:
            link = HttpMasterLink(leader, tls=tls, credential=auth.credential)
            try:
                runtime = AgentRuntime(config, link, executor_tokens=auth.signer)
                app = auth.protect(runtime.app, classify)
                limits = Limits(max_body=max_request_bytes)
                await serve_all([Service("agent", app, sock, runtime.run, limits=limits, tls=tls)])
            finally:
                await link.aclose()

    return start_daemon(main)

"""The environment of every process the agent starts (`mesos.md` b.4 and b.6).

Nothing of the agent's own environment leaks in except `base` (the runtime passes PATH, HOME and LANG),
and the command's own `environment` always wins. PATH falls back to upstream's default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId
from corral.protocol.json import Reader
from corral.protocol.mesos import CommandInfo, ExecutorInfo, FrameworkInfo, TaskInfo

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
RECOVERY_TIMEOUT = "15mins"  # the task supervisor waits as long for an agent (executor/supervisor.py)

_UNITS = (
    (7 * 86400.0, "weeks"),
    (86400.0, "days"),
    (3600.0, "hrs"),
    (60.0, "mins"),
    (1.0, "secs"),
    (1e-3, "ms"),
    (1e-6, "us"),
)
_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9_]")


def format_duration(seconds: float) -> str:
    """stout's Duration text (`5secs`, `500ms`, `2mins`), which pymesos' `parse_duration` reads."""
    for unit, name in _UNITS:
        if seconds >= unit:
            return f"{seconds / unit:g}{name}"
    return f"{round(seconds * 1e9)}ns"


def _finish(env: dict[str, str], command: CommandInfo | None) -> dict[str, str]:
    if command is not None:
        env.update(command.environment)
    env.setdefault("PATH", DEFAULT_PATH)
    return env


def executor_environment(
    *,
    base: Mapping[str, str],
    framework: FrameworkInfo,
    executor: ExecutorInfo,
    agent_id: AgentId,
    endpoint: str,
    directory: Path,
    shutdown_grace: float,
    reregistration_timeout: float,
) -> dict[str, str]:
    """`executorEnvironment()`: what a custom executor (a pymesos one, say) needs to find its agent, and,
    if its framework checkpoints, how long and how often to look for it after the agent restarts."""
    assert framework.id is not None
    env = dict(base)
    env.update(
        MESOS_FRAMEWORK_ID=framework.id,
        MESOS_EXECUTOR_ID=executor.executor_id,
        MESOS_AGENT_ENDPOINT=endpoint,
        MESOS_SLAVE_ID=agent_id,
        MESOS_SLAVE_PID=f"slave(1)@{endpoint}",
        MESOS_DIRECTORY=str(directory),
        MESOS_SANDBOX=str(directory),
        MESOS_CHECKPOINT="1" if framework.checkpoint else "0",
        MESOS_HTTP_COMMAND_EXECUTOR="0",
        MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD=format_duration(shutdown_grace),
        LIBPROCESS_PORT="0",
    )
    if framework.checkpoint:
        env.update(
            MESOS_RECOVERY_TIMEOUT=RECOVERY_TIMEOUT,
            MESOS_SUBSCRIPTION_BACKOFF_MAX=format_duration(reregistration_timeout),
        )
    return _finish(env, executor.command)


def task_ports(task: TaskInfo) -> list[int]:
    """The task's ports in the order its resources list them (not sorted: PORT0 is the first one asked)."""
    ports: list[int] = []
    for resource in Reader(task.raw).objs("resources"):
        if resource.opt_text("name") == "ports" and (ranges := resource.opt_child("ranges")) is not None:
            for r in ranges.objs("range"):
                ports.extend(range(r.integer("begin"), r.integer("end") + 1))
    return ports


def _named_ports(task: TaskInfo, ports: list[int]) -> dict[str, str]:
    """`PORT_<NAME>` for each named `discovery.ports.ports` entry: its number, else the port at its index."""
    out: dict[str, str] = {}
    discovery = Reader(task.raw).opt_child("discovery")
    listing = discovery.opt_child("ports") if discovery is not None else None
    if listing is None:
        return out
    for index, entry in enumerate(listing.objs("ports")):
        name = entry.opt_text("name")
        number = entry.opt_integer("number")
        if number is None and index < len(ports):
            number = ports[index]
        if name and number is not None:
            out["PORT_" + _NOT_IN_NAME.sub("_", name).upper()] = str(number)
    return out


def task_environment(
    *,
    base: Mapping[str, str],
    framework_id: FrameworkId,
    task: TaskInfo,
    endpoint: str,
    hostname: str,
    directory: Path,
    executor_id: ExecutorId | None = None,
    container_ip: str | None = None,
) -> dict[str, str]:
    """A task's environment: sandbox, ids, HOST, PORT0.., PORTS, PORT, PORT_<NAME>, then its own.

    A command task's executor id is its task id; a task of a DEFAULT executor gives its `executor_id`, its
    own sandbox as `directory`, and the `container_ip` upstream's default executor sets as MESOS_CONTAINER_IP.
    """
    env = dict(base)
    env.update(
        MESOS_SANDBOX=str(directory),
        MESOS_DIRECTORY=str(directory),
        MESOS_TASK_ID=task.task_id,
        MESOS_EXECUTOR_ID=executor_id or task.task_id,
        MESOS_FRAMEWORK_ID=framework_id,
        MESOS_AGENT_ENDPOINT=endpoint,
        HOST=hostname,
    )
    if container_ip is not None:
        env["MESOS_CONTAINER_IP"] = container_ip
    ports = task_ports(task)  # decoded once already (TaskInfo.resources), so it cannot fail here
    try:
        named = _named_ports(task, ports)
    except DecodeError:  # `discovery` is relayed undecoded: if malformed, the task just gets no PORT_<NAME>
        named = {}
    for index, port in enumerate(ports):
        env[f"PORT{index}"] = str(port)
    if ports:
        env["PORTS"] = ",".join(str(p) for p in ports)
        env["PORT"] = str(ports[0])
    env.update(named)
    return _finish(env, task.command)

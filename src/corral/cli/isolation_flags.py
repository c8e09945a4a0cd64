"""The agent's isolation flags, shared by `corral agent` and `corral dev` (`mesos.md` f.2).

`--isolation` defaults to the best the machine offers, decided at start: the cgroup isolators where the
cgroup hierarchies are writable (root on Linux), else upstream's `posix/cpu,posix/mem`. An isolator the
machine cannot provide is a usage error, as it is a startup failure upstream.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from corral.agent.config import AgentConfig
from corral.agent.isolation.isolator import Isolator, best_available_isolation
from corral.agent.isolation.isolators import IsolationError, parse_isolation
from corral.cli.flags import DURATION, flag, stacked

F = TypeVar("F", bound=Callable[..., Any])


def _isolation(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    try:
        return parse_isolation(value)
    except IsolationError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class IsolationFlags:
    isolation: tuple[str, ...]
    cgroups_root: str
    cgroups_enable_cfs: bool
    enforce_container_disk_quota: bool
    container_disk_watch_interval: float
    description: str  # what the banner says: the isolators, and the cgroup version they use

    def apply(self, config: AgentConfig) -> AgentConfig:
        return replace(
            config,
            isolation=self.isolation,
            cgroups_root=self.cgroups_root,
            cgroups_enable_cfs=self.cgroups_enable_cfs,
            enforce_container_disk_quota=self.enforce_container_disk_quota,
            container_disk_watch_interval=self.container_disk_watch_interval,
        )


def isolation_flags(command: F) -> F:
    """Add the flags to a command, which receives them checked against the machine, as one argument:
    `isolation: IsolationFlags`."""

    @functools.wraps(command)
    def wrapper(
        *args: Any,
        isolation: tuple[str, ...] | None,
        cgroups_root: str,
        cgroups_enable_cfs: bool,
        enforce_container_disk_quota: bool,
        container_disk_watch_interval: float,
        **kwargs: Any,
    ) -> Any:
        settings = replace(
            AgentConfig(),
            isolation=isolation or best_available_isolation(),
            cgroups_root=cgroups_root,
            cgroups_enable_cfs=cgroups_enable_cfs,
            enforce_container_disk_quota=enforce_container_disk_quota,
            container_disk_watch_interval=container_disk_watch_interval,
        )
        try:
            description = Isolator.for_config(settings).describe()
        except IsolationError as e:
            raise click.UsageError(str(e)) from None
        chosen = IsolationFlags(
            isolation=settings.isolation,
            cgroups_root=cgroups_root,
            cgroups_enable_cfs=cgroups_enable_cfs,
            enforce_container_disk_quota=enforce_container_disk_quota,
            container_disk_watch_interval=container_disk_watch_interval,
            description=description,
        )
        return command(*args, isolation=chosen, **kwargs)

    decorators = [
        flag(
            "isolation",
            callback=_isolation,
            help="Isolators, e.g. 'cgroups/cpu,cgroups/mem,cgroups/pids,namespaces/pid,disk/du' "
            "(also posix/cpu, posix/mem, gpu/nvidia). Default: the cgroup isolators where cgroups are "
            "writable, else posix/cpu,posix/mem.",
        ),
        flag("cgroups_root", default="corral", help="Name of the cgroup that holds the containers' cgroups."),
        flag(
            "cgroups_enable_cfs", is_flag=True, help="Cap each container's CPU time (CFS quota) to its cpus."
        ),
        flag(
            "enforce_container_disk_quota",
            is_flag=True,
            help="With disk/du: kill a container whose sandbox outgrows its disk resource.",
        ),
        flag(
            "container_disk_watch_interval",
            callback=DURATION,
            default="15secs",
            help="How often disk/du measures each sandbox.",
        ),
    ]
    decorated: Any = stacked(decorators)(wrapper)
    return decorated  # type: ignore[no-any-return]

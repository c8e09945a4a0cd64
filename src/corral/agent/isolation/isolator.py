"""The agent's side of isolation: what the machine offers, each container's spec and limits, its usage, and
disk/du's periodic measurement.

The supervisor performs a `ContainerSpec` (cgroups, PID namespace) around the spawn; the agent keeps, per
container, the spec, the limits and what disk/du last measured, to answer `/monitor/statistics` and to turn
an exit into a limitation. A container's spec is a function of the agent's flags, the machine and the
container's id, resources and place (nested in a DEFAULT executor's, or one that others nest in) only, so a
restarted agent rebuilds the spec of a container it adopts.

A container's resources change with its executor's tasks (`update`): the supervisor resizes its cgroups.
A DEFAULT executor's container, which runs no process, is created by its first update and destroyed when
the executor terminates; its tasks' containers nest in it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from corral.agent.config import AgentConfig
from corral.agent.isolation.cgroups import discover, read_usage, writable_choice
from corral.agent.isolation.disk import DuError, disk_usage
from corral.agent.isolation.isolators import (
    CGROUPS_CPU,
    CGROUPS_MEM,
    CGROUPS_PIDS,
    DISK_DU,
    NAMESPACES_PID,
    Capabilities,
    IsolationError,
    best_available,
    cgroup_isolators,
    unsupported,
)
from corral.agent.isolation.layout import (
    UNSHARE_OPTIONS,
    CgroupChoice,
    CgroupSpec,
    ContainerSpec,
    plan_cgroups,
)
from corral.agent.isolation.limitations import Limitation, disk_limitation, memory_limitation
from corral.agent.isolation.limits import ContainerLimits, container_limits
from corral.agent.isolation.posix import sessions_usage
from corral.agent.isolation.statistics import Usage
from corral.agent.resources import nvidia_gpus
from corral.core.ids import ContainerId
from corral.core.resources import Resources

log = logging.getLogger(__name__)

ALL_CGROUPS = (CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS)


def _unshare() -> str | None:
    """util-linux's unshare, if this process may create PID namespaces with it (that takes root)."""
    return shutil.which("unshare") if os.geteuid() == 0 else None


def capabilities() -> Capabilities:
    choice = writable_choice(discover(), ALL_CGROUPS)
    return Capabilities(
        cgroup_version=choice.version if choice is not None else None,
        has_unshare=_unshare() is not None,
        has_gpus=bool(nvidia_gpus()),
    )


def best_available_isolation() -> tuple[str, ...]:
    return best_available(capabilities())


CgroupChange = tuple[Literal["create", "resize"], CgroupSpec]  # what the supervisor does with its cgroups


@dataclass(slots=True)
class _Container:
    spec: ContainerSpec
    limits: ContainerLimits
    sandbox: Path | None = None  # None: a DEFAULT executor's (its tasks have their own sandboxes)
    parent: ContainerId | None = None  # the DEFAULT executor's container it nests in
    nests: bool = False  # a DEFAULT executor's: no process, its tasks' containers nest in it
    exists: bool = False  # its cgroups have been made
    pid: int | None = None
    disk_used: int | None = None
    limitation: Limitation | None = None  # the OOM killer's or disk/du's, reported with the exit


class Isolator:
    def __init__(self, config: AgentConfig, *, choice: CgroupChoice | None, unshare: str | None) -> None:
        root = config.cgroups_root
        if not root or root.startswith("/") or ".." in root.split("/"):
            raise IsolationError(f"--cgroups_root {root!r}: expected a relative path such as 'corral'")
        self.config = config
        self.choice = choice
        self._wrapper = (unshare, *UNSHARE_OPTIONS) if unshare and NAMESPACES_PID in config.isolation else ()
        self._containers: dict[ContainerId, _Container] = {}

    @staticmethod
    def for_config(config: AgentConfig) -> Isolator:
        """Raises IsolationError when the machine cannot provide `config.isolation`."""
        wanted = cgroup_isolators(config.isolation)
        choice = writable_choice(discover(), wanted) if wanted else None
        unshare = _unshare() if NAMESPACES_PID in config.isolation else None
        found = Capabilities(
            cgroup_version=choice.version if choice else None, has_unshare=unshare is not None
        )
        if (problem := unsupported(config.isolation, found)) is not None:
            raise IsolationError(f"--isolation {','.join(config.isolation)}: {problem}")
        return Isolator(config, choice=choice, unshare=unshare)

    def describe(self) -> str:
        where = f" ({self.choice.describe()})" if self.choice is not None else ""
        return ",".join(self.config.isolation) + where

    # ------------------------------------------------------------ containers

    def spec(
        self,
        container_id: ContainerId,
        resources: Resources,
        *,
        parent: ContainerId | None = None,
        nests: bool = False,
    ) -> tuple[ContainerSpec, ContainerLimits]:
        limits = container_limits(resources, enable_cfs=self.config.cgroups_enable_cfs)
        cgroups = None
        if self.choice is not None:
            cgroups = plan_cgroups(
                self.choice,
                root=self.config.cgroups_root,
                container_id=container_id,
                limits=limits,
                parent=parent,
                nests=nests,
            )
        return ContainerSpec(cgroups=cgroups, wrapper=() if nests else self._wrapper), limits

    def launching(
        self,
        container_id: ContainerId,
        resources: Resources,
        sandbox: Path,
        *,
        parent: ContainerId | None = None,
    ) -> None:
        """A container whose process starts once its sandbox is fetched (updates meanwhile set its limits)."""
        spec, limits = self.spec(container_id, resources, parent=parent)
        self._containers[container_id] = _Container(spec=spec, limits=limits, sandbox=sandbox, parent=parent)

    def spawning(self, container_id: ContainerId) -> ContainerSpec:
        """What the supervisor makes around the container's process, with its limits as they are now."""
        container = self._containers[container_id]
        container.exists = True
        return container.spec

    def adopted(
        self,
        container_id: ContainerId,
        resources: Resources,
        sandbox: Path,
        *,
        pid: int | None,
        parent: ContainerId | None = None,
    ) -> None:
        """A restarted agent found the container running (`pid` None: a DEFAULT executor's, whose tasks
        run): its spec rebuilt, its usage, OOM kill and disk quota are watched again."""
        nests = pid is None
        spec, limits = self.spec(container_id, resources, parent=parent, nests=nests)
        self._containers[container_id] = _Container(
            spec=spec,
            limits=limits,
            sandbox=None if nests else sandbox,
            parent=parent,
            nests=nests,
            exists=True,
            pid=pid,
        )

    def update(self, container_id: ContainerId, resources: Resources) -> CgroupChange | None:
        """New resources for a container (upstream's `update`); what the supervisor must do with its cgroups,
        if anything. An unknown container is a DEFAULT executor's, created now."""
        container = self._containers.get(container_id)
        if container is None:
            spec, limits = self.spec(container_id, resources, nests=True)
            self._containers[container_id] = _Container(spec=spec, limits=limits, nests=True, exists=True)
            return ("create", spec.cgroups) if spec.cgroups is not None else None
        container.spec, container.limits = self.spec(
            container_id, resources, parent=container.parent, nests=container.nests
        )
        if container.exists and container.spec.cgroups is not None:
            return "resize", container.spec.cgroups
        return None  # its spawn makes its cgroups with these limits

    def destroy(self, container_id: ContainerId) -> CgroupSpec | None:
        """A DEFAULT executor's container, whose tasks' containers are gone: forgotten; the cgroups to remove
        (rebuilt from its id if this agent never knew it: its last run may have left them)."""
        container = self._containers.pop(container_id, None)
        spec = (
            container.spec if container is not None else self.spec(container_id, Resources(), nests=True)[0]
        )
        return spec.cgroups

    def started(self, container_id: ContainerId, pid: int) -> None:
        if (container := self._containers.get(container_id)) is not None:
            container.pid = pid

    def oom_killed(self, container_id: ContainerId, report: dict[str, int | None]) -> None:
        """The OOM killer struck in the container (the supervisor says so as the process exits)."""
        if (container := self._containers.get(container_id)) is not None:
            container.limitation = memory_limitation(report.get("limit"), report.get("max_usage"))

    def exited(self, container_id: ContainerId) -> Limitation | None:
        """Forget the container; the limitation it hit, if any."""
        container = self._containers.pop(container_id, None)
        return container.limitation if container is not None else None

    # ------------------------------------------------------------ usage

    def limits(self) -> dict[ContainerId, ContainerLimits]:
        return {cid: c.limits for cid, c in self._containers.items()}

    def has_processes(self) -> bool:
        return any(c.pid is not None for c in self._containers.values())

    async def usage(self, *, brief: bool = False) -> dict[ContainerId, Usage]:
        """The usage so far of each container that runs a process; the files are read off the event loop.
        `brief`: cpu times and rss only, which cost less to read from cgroups (`read_usage`)."""
        containers = [
            (cid, c.spec, c.pid, c.disk_used) for cid, c in self._containers.items() if c.pid is not None
        ]
        return await asyncio.to_thread(_read_usage, containers, brief)

    # ------------------------------------------------------------ disk/du

    async def watch_disks(self, kill: Callable[[ContainerId, int], None]) -> None:
        """Every `container_disk_watch_interval`, measure each sandbox with a disk quota; with
        `--enforce_container_disk_quota`, kill a container over its quota (its exit then reports why)."""
        if DISK_DU not in self.config.isolation:
            return
        while True:
            await asyncio.sleep(self.config.container_disk_watch_interval)
            for container_id, container in list(self._containers.items()):
                quota = container.limits.disk_limit_bytes
                if (
                    quota is None
                    or container.pid is None
                    or container.sandbox is None
                    or container.limitation is not None
                ):
                    continue
                try:
                    container.disk_used = await disk_usage(container.sandbox)
                except DuError as e:
                    log.warning("container %s: %s", container_id, e)
                    continue
                limitation = disk_limitation(container.disk_used, quota)
                if limitation is None or not self.config.enforce_container_disk_quota:
                    continue
                if self._containers.get(container_id) is container:  # it may have ended while du ran
                    log.info("container %s: %s; killing it", container_id, limitation.message)
                    container.limitation = limitation
                    kill(container_id, container.pid)


def _read_usage(
    containers: list[tuple[ContainerId, ContainerSpec, int, int | None]], brief: bool
) -> dict[ContainerId, Usage]:
    out: dict[ContainerId, Usage] = {}
    by_session: dict[int, ContainerId] = {}
    for container_id, spec, pid, _ in containers:
        if spec.cgroups is not None:
            out[container_id] = read_usage(spec.cgroups, brief=brief)
        else:
            by_session[pid] = container_id
    for session, usage in sessions_usage(by_session).items():
        out[by_session[session]] = usage
    for container_id, _, _, disk_used in containers:
        if disk_used is not None:
            out[container_id] = replace(out.get(container_id, Usage()), disk_used_bytes=disk_used)
    return out

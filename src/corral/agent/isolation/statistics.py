"""`GET /monitor/statistics` (upstream's ResourceUsage list): one entry per live executor, its container's
usage beside the limits its resources set.

    [{"executor_id", "executor_name", "framework_id", "source", "container_id",
      "statistics": {"timestamp", "cpus_user_time_secs", "cpus_system_time_secs", "cpus_limit",
                     "mem_rss_bytes", "mem_limit_bytes", ...}}]

A command task's executor id is its task id; a DEFAULT executor's usage is the sum of its tasks' containers,
and its limits are those of its container: its own resources and its live tasks'.
Usage comes from the container's cgroups, or from /proc under the posix isolators; fields a source cannot
tell are left out, as upstream leaves unset protobuf fields out.

`usage_report` is the same per task, for the master's `/master/state`: a command task's container, a
DEFAULT executor's task's own container (with the limits of the executor's, which it shares), and a custom
executor's container when it runs one task (several share it, and their usage cannot be told apart).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from corral.agent.isolation.limits import ContainerLimits
from corral.agent.state import AgentState, Executor, ExecutorPhase, Task
from corral.core.ids import ContainerId
from corral.protocol.agent import ResourceStatistics, TaskUsage, UsageReport
from corral.protocol.json import JsonObject, JsonValue


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage:
    """What a container has used; None where the source cannot tell."""

    cpus_user_time_secs: float | None = None
    cpus_system_time_secs: float | None = None
    cpus_nr_periods: int | None = None
    cpus_nr_throttled: int | None = None
    cpus_throttled_time_secs: float | None = None
    mem_rss_bytes: int | None = None
    mem_total_bytes: int | None = None
    mem_anon_bytes: int | None = None
    mem_file_bytes: int | None = None
    mem_cache_bytes: int | None = None
    mem_mapped_file_bytes: int | None = None
    mem_swap_bytes: int | None = None
    processes: int | None = None
    disk_used_bytes: int | None = None

    def __add__(self, other: Usage) -> Usage:
        summed: dict[str, float | int | None] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            summed[f.name] = a if b is None else b if a is None else a + b
        return Usage(**summed)  # type: ignore[arg-type]

    def to_json(self) -> JsonObject:
        out: JsonObject = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[f.name] = value
        return out


def _containers(state: AgentState, executor: Executor) -> list[ContainerId]:
    if not executor.is_default:
        return [executor.container_id]
    return [
        task.container.container_id
        for task in executor.tasks.values()
        if task.container is not None and task.container.container_id in state.task_containers
    ]


def _task_containers(executor: Executor) -> list[tuple[Task, ContainerId]]:
    """The executor's running tasks whose usage can be told, each with the container it is read from."""
    running = [t for t in executor.tasks.values() if not t.state.is_terminal]
    if executor.is_default:
        return [(t, t.container.container_id) for t in running if t.container is not None]
    return [(running[0], executor.container_id)] if len(running) == 1 else []


def usage_report(
    state: AgentState,
    usage: Mapping[ContainerId, Usage],
    limits: Mapping[ContainerId, ContainerLimits],
    now: float,
) -> UsageReport:
    tasks: list[TaskUsage] = []
    for framework in state.frameworks.values():
        for executor in framework.executors.values():
            if executor.phase is ExecutorPhase.TERMINATED:
                continue
            limit = limits.get(executor.container_id, ContainerLimits())
            for task, container_id in _task_containers(executor):
                if (used := usage.get(container_id)) is None:
                    continue  # not started yet
                statistics = ResourceStatistics(
                    timestamp=now,
                    cpus_user_time_secs=used.cpus_user_time_secs,
                    cpus_system_time_secs=used.cpus_system_time_secs,
                    cpus_limit=limit.cpus,
                    mem_rss_bytes=used.mem_rss_bytes,
                    mem_limit_bytes=limit.mem_limit_bytes,
                )
                tasks.append(TaskUsage(framework_id=framework.id, task_id=task.id, statistics=statistics))
    return UsageReport(timestamp=now, tasks=tuple(tasks))


def monitor_statistics(
    state: AgentState,
    usage: Mapping[ContainerId, Usage],
    limits: Mapping[ContainerId, ContainerLimits],
    now: float,
) -> list[JsonValue]:
    entries: list[JsonValue] = []
    for framework in state.frameworks.values():
        for executor in framework.executors.values():
            if executor.phase is ExecutorPhase.TERMINATED:
                continue
            total = Usage()
            for container_id in _containers(state, executor):
                total = total + usage.get(container_id, Usage())
            limit = limits.get(executor.container_id, ContainerLimits())
            statistics: JsonObject = {"timestamp": now, **total.to_json()}
            if limit.cpus is not None:
                statistics["cpus_limit"] = limit.cpus
            if limit.mem_limit_bytes is not None:
                statistics["mem_limit_bytes"] = limit.mem_limit_bytes
            if limit.disk_limit_bytes is not None:
                statistics["disk_limit_bytes"] = limit.disk_limit_bytes
            source = executor.info.raw.get("source")
            entries.append(
                {
                    "executor_id": executor.id,
                    "executor_name": executor.info.name or "",
                    "framework_id": framework.id,
                    "source": source if isinstance(source, str) else "",
                    "container_id": executor.container_id,
                    "statistics": statistics,
                }
            )
    return entries

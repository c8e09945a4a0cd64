"""Builders for what frameworks send: TaskInfo, ExecutorInfo and FrameworkInfo, made from wire JSON.

Every builder decodes the JSON a scheduler would post, so `raw` is filled in exactly as the master's edge
fills it, and a built message relays through the codecs unchanged. A task built without an agent id gets
one from the offer it is launched with (`SimFramework.accept`, or `with_agent`).
"""

from __future__ import annotations

from collections.abc import Iterable

from corral.core.ids import AgentId
from corral.protocol.json import JsonObject, JsonValue, Reader, b64encode, ident
from corral.protocol.mesos import ExecutorInfo, FrameworkInfo, TaskInfo, encode_duration

NO_AGENT = AgentId("")


def _scalars(cpus: float, mem: float, disk: float = 0.0) -> list[JsonValue]:
    out: list[JsonValue] = []
    for name, value in (("cpus", cpus), ("mem", mem), ("disk", disk)):
        if value > 0:
            out.append({"name": name, "type": "SCALAR", "scalar": {"value": value}})
    return out


def make_framework_info(
    name: str = "fw",
    *,
    user: str = "alice",
    failover_timeout: float = 0.0,
    capabilities: Iterable[str] = (),
    checkpoint: bool = False,
) -> FrameworkInfo:
    raw: JsonObject = {
        "user": user,
        "name": name,
        "failover_timeout": failover_timeout,
        "checkpoint": checkpoint,
        "capabilities": [{"type": c} for c in sorted(capabilities)],
    }
    return FrameworkInfo.from_json(Reader(raw))


def make_task(
    task_id: str,
    *,
    cpus: float = 0.5,
    mem: float = 128,
    disk: float = 0.0,
    command: str = "true",
    agent_id: AgentId = NO_AGENT,
    kill_grace_period: float | None = None,
    max_completion_time: float | None = None,
) -> TaskInfo:
    """A command task (`sh -c <command>`, run by the agent itself, mesos.md b.6)."""
    raw: JsonObject = {
        "name": task_id,
        "task_id": ident(task_id),
        "agent_id": ident(agent_id),
        "resources": _scalars(cpus, mem, disk),
        "command": {"value": command, "shell": True},
    }
    if kill_grace_period is not None:
        raw["kill_policy"] = {"grace_period": encode_duration(kill_grace_period)}
    if max_completion_time is not None:
        raw["max_completion_time"] = encode_duration(max_completion_time)
    return TaskInfo.from_json(Reader(raw))


def make_executor_info(
    executor_id: str,
    *,
    command: str = "./executor",
    cpus: float = 0.1,
    mem: float = 32,
    shutdown_grace_period: float | None = None,
) -> ExecutorInfo:
    """A CUSTOM executor: a process that speaks the v1 executor API (mesos.md b.1-b.5)."""
    raw: JsonObject = {
        "executor_id": ident(executor_id),
        "type": "CUSTOM",
        "command": {"value": command, "shell": True},
        "resources": _scalars(cpus, mem),
    }
    if shutdown_grace_period is not None:
        raw["shutdown_grace_period"] = encode_duration(shutdown_grace_period)
    return ExecutorInfo.from_json(Reader(raw))


def make_default_executor(
    executor_id: str, *, cpus: float = 0.1, mem: float = 32, disk: float = 32
) -> ExecutorInfo:
    """A DEFAULT executor for LAUNCH_GROUP: no command, the agent runs the group (mesos.md a.6, which also
    says it needs cpus, mem and disk)."""
    raw: JsonObject = {
        "executor_id": ident(executor_id),
        "type": "DEFAULT",
        "resources": _scalars(cpus, mem, disk),
    }
    return ExecutorInfo.from_json(Reader(raw))


def make_executor_task(
    task_id: str,
    executor: ExecutorInfo | str,
    *,
    cpus: float = 0.5,
    mem: float = 128,
    data: bytes | None = None,
    agent_id: AgentId = NO_AGENT,
) -> TaskInfo:
    """A task handed to a custom executor (given, or made with `make_executor_info(executor)`)."""
    info = make_executor_info(executor) if isinstance(executor, str) else executor
    raw: JsonObject = {
        "name": task_id,
        "task_id": ident(task_id),
        "agent_id": ident(agent_id),
        "resources": _scalars(cpus, mem),
        "executor": info.to_json(),
    }
    if data is not None:
        raw["data"] = b64encode(data)
    return TaskInfo.from_json(Reader(raw))


def with_agent(task: TaskInfo, agent_id: AgentId) -> TaskInfo:
    """`task` placed on `agent_id`, as a scheduler fills in the agent of the offer it launches with."""
    return TaskInfo.from_json(Reader({**task.to_json(), "agent_id": ident(agent_id)}))

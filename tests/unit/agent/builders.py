"""Builders for the agent's unit tests: wire-shaped messages decoded as the master would send them."""

from __future__ import annotations

import itertools
from pathlib import Path

from corral.agent.config import AgentConfig
from corral.agent.core import AgentCore
from corral.agent.effects import Effect, SendToExecutor, SendToMaster, Signal
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.protocol import executor as ex
from corral.protocol.agent import AcknowledgeUpdate, Registered, StatusUpdate
from corral.protocol.json import JsonObject, Reader, b64encode
from corral.protocol.mesos import FrameworkInfo, MasterInfo, TaskInfo, TaskStatus

AGENT = AgentId("M-S0")
FRAMEWORK = FrameworkId("M-0000")
WORK_DIR = Path("/var/lib/corral")
MASTER = MasterInfo(id="M", ip="127.0.0.1", port=5050, hostname="master")


CONFIG = AgentConfig(ip="10.0.0.7", port=5051, hostname="agent7", work_dir=WORK_DIR)


def make_core(
    config: AgentConfig = CONFIG, *, agent_id: AgentId | None = None, restarted: bool = False
) -> AgentCore:
    """An agent whose container ids are c0, c1, ... and whose uuids are 16-byte counters 1, 2, ... A
    `restarted` one awaits `Recover`, and numbers its containers r0, r1, ... and its uuids from 1001."""
    containers = (ContainerId(f"{'r' if restarted else 'c'}{i}") for i in itertools.count())
    uuids = (i.to_bytes(16, "big") for i in itertools.count(1001 if restarted else 1))
    return AgentCore(
        config,
        resources=Resources.of(cpus=4, mem=4096, ranges={"ports": [(31000, 32000)]}),
        new_container_id=lambda: next(containers),
        new_uuid=lambda: next(uuids),
        base_environment={"HOME": "/root", "LANG": "C.UTF-8"},
        agent_id=agent_id,
        awaiting_recovery=restarted,
    )


def registered(core: AgentCore, now: float) -> list[Effect]:
    return core.handle(Registered(agent_id=AGENT, master_info=MASTER), now)


def framework_info(*, checkpoint: bool = False, capabilities: tuple[str, ...] = ()) -> FrameworkInfo:
    raw: JsonObject = {
        "user": "root",
        "name": "fw",
        "id": {"value": FRAMEWORK},
        "checkpoint": checkpoint,
        "capabilities": [{"type": c} for c in capabilities],
    }
    return FrameworkInfo.from_json(Reader(raw))


def command_task(task_id: str = "t1", command: str | JsonObject = "echo hi", **fields: object) -> TaskInfo:
    raw: JsonObject = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": AGENT},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
        "command": {"value": command} if isinstance(command, str) else command,
    }
    raw.update(fields)  # type: ignore[arg-type]
    return TaskInfo.from_json(Reader(raw))


def executor_task(task_id: str = "t1", executor_id: str = "e1", **executor_fields: object) -> TaskInfo:
    executor: JsonObject = {
        "executor_id": {"value": executor_id},
        "command": {"value": "python3 executor.py"},
    }
    executor.update(executor_fields)  # type: ignore[arg-type]
    raw: JsonObject = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": AGENT},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
        "executor": executor,
        "data": "aGVsbG8=",
    }
    return TaskInfo.from_json(Reader(raw))


def sent_updates(effects: list[Effect]) -> list[TaskStatus]:
    return [
        e.message.status
        for e in effects
        if isinstance(e, SendToMaster) and isinstance(e.message, StatusUpdate)
    ]


def sent_states(effects: list[Effect]) -> list[str]:
    return [s.state.value for s in sent_updates(effects)]


def executor_events(effects: list[Effect]) -> list[ex.Event]:
    return [e.event for e in effects if isinstance(e, SendToExecutor)]


def signals(effects: list[Effect]) -> list[int]:
    return [e.signal for e in effects if isinstance(e, Signal)]


def ack(status: TaskStatus) -> AcknowledgeUpdate:
    assert status.uuid is not None
    return AcknowledgeUpdate(framework_id=FRAMEWORK, task_id=status.task_id, uuid=status.uuid)


def executor_update(task_id: str, state: str, uuid: bytes, executor_id: str = "e1") -> ex.Update:
    call = ex.decode_call(
        {
            "type": "UPDATE",
            "framework_id": {"value": FRAMEWORK},
            "executor_id": {"value": executor_id},
            "update": {
                "status": {
                    "task_id": {"value": task_id},
                    "state": state,
                    "source": "SOURCE_EXECUTOR",
                    "uuid": b64encode(uuid),
                    "timestamp": 1700000000,
                }
            },
        }
    )
    assert isinstance(call, ex.Update)
    return call


def subscribe(executor_id: str = "e1") -> ex.Subscribe:
    return ex.Subscribe(framework_id=FRAMEWORK, executor_id=ExecutorId(executor_id))


def statuses_of(core: AgentCore, task_id: str, executor_id: str | None = None) -> list[TaskStatus]:
    """Every update the agent recorded for a task it still holds (not yet completed), or, once the framework
    has been retired after a ShutdownFramework, for the task among the completed ones."""
    wanted = ExecutorId(executor_id or task_id)
    framework = core.state.frameworks.get(FRAMEWORK)
    if framework is not None:
        task = framework.executors[wanted].task(TaskId(task_id))
        assert task is not None
        return task.statuses
    [retired] = [f for f in core.state.completed_frameworks if f.id == FRAMEWORK]
    [executor] = [e for e in retired.completed_executors if e.id == wanted]
    [done] = [t for t in executor.completed if t.id == task_id]
    return done.statuses

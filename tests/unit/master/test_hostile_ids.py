"""Hostile ids in a scheduler's LAUNCH and LAUNCH_GROUP (reliability-security.md 4.3 #6; upstream
`validateID`, `TaskValidationTest`, `ExecutorValidationTest`): the ACCEPT is decoded as the wire carries it,
each task with a bad task or executor id gets TASK_ERROR (REASON_TASK_INVALID / REASON_TASK_GROUP_INVALID),
nothing is sent to the agent for it, and the valid task beside it still launches."""

from __future__ import annotations

import pytest

from corral.core.ids import AgentId, FrameworkId
from corral.core.task_state import TaskState
from corral.protocol.agent import RunTask, RunTaskGroup
from corral.protocol.json import JsonObject, JsonValue, dumps, loads
from corral.protocol.scheduler import decode_call
from corral.testing.hostile import HOSTILE_IDS

from .harness import Harness

RESOURCES: list[JsonValue] = [
    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
]
EXECUTOR_RESOURCES: list[JsonValue] = [*RESOURCES, {"name": "disk", "type": "SCALAR", "scalar": {"value": 8}}]


def task(task_id: str, agent_id: AgentId, **extra: JsonValue) -> JsonObject:
    body: JsonObject = {
        "name": "t",
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": RESOURCES,
    }
    return body | (extra or {"command": {"value": "sleep 1"}})


def custom_executor(executor_id: str) -> JsonObject:
    return {"executor_id": {"value": executor_id}, "command": {"value": "./ex"}, "resources": RESOURCES}


def accept(master: Harness, framework_id: FrameworkId, operations: list[JsonValue]) -> Harness:
    """Send the ACCEPT as its JSON would arrive: encoded, decoded, then handed to the master."""
    [offer] = master.offers_to(framework_id)
    body: JsonObject = {
        "type": "ACCEPT",
        "framework_id": {"value": framework_id},
        "accept": {"offer_ids": [{"value": offer.id}], "operations": operations},
    }
    _, call = decode_call(loads(dumps(body)))
    master.effects.clear()
    master.call(framework_id, call)
    return master


@pytest.fixture
def master() -> Harness:
    harness = Harness()
    harness.add_agent("a1", cpus=4, mem=4096, disk=1024)
    harness.subscribe()
    harness.tick()
    return harness


def framework(master: Harness) -> tuple[FrameworkId, AgentId]:
    [framework_id] = master.state.frameworks
    [agent_id] = master.state.agents
    return framework_id, agent_id


def errors(master: Harness, framework_id: FrameworkId) -> dict[str, tuple[str | None, str | None]]:
    return {
        s.task_id: (s.reason, s.message)
        for s in master.updates_to(framework_id)
        if s.state == TaskState.TASK_ERROR
    }


@pytest.mark.parametrize("bad", HOSTILE_IDS.values(), ids=list(HOSTILE_IDS))
def test_a_bad_task_id_is_that_tasks_error_and_the_rest_launches(master: Harness, bad: str) -> None:
    framework_id, agent_id = framework(master)
    accept(
        master,
        framework_id,
        [{"type": "LAUNCH", "launch": {"task_infos": [task(bad, agent_id), task("good", agent_id)]}}],
    )
    [(reason, message)] = errors(master, framework_id).values()
    assert list(errors(master, framework_id)) == [bad]
    assert reason == "REASON_TASK_INVALID" and message is not None and message.startswith("Task ID ")
    assert [m.task.task_id for m in master.to_agent(agent_id) if isinstance(m, RunTask)] == ["good"]


@pytest.mark.parametrize("bad", HOSTILE_IDS.values(), ids=list(HOSTILE_IDS))
def test_a_bad_executor_id_is_the_tasks_error(master: Harness, bad: str) -> None:
    framework_id, agent_id = framework(master)
    launch = task("t1", agent_id, executor=custom_executor(bad))
    accept(master, framework_id, [{"type": "LAUNCH", "launch": {"task_infos": [launch]}}])
    [(reason, message)] = errors(master, framework_id).values()
    assert reason == "REASON_TASK_INVALID" and message is not None and message.startswith("Executor ID ")
    assert master.to_agent(agent_id) == []


@pytest.mark.parametrize("where", ["executor", "task"])
@pytest.mark.parametrize("bad", HOSTILE_IDS.values(), ids=list(HOSTILE_IDS))
def test_a_bad_id_in_a_task_group_fails_the_whole_group(master: Harness, bad: str, where: str) -> None:
    framework_id, agent_id = framework(master)
    executor_id, task_ids = (bad, ["g1", "g2"]) if where == "executor" else ("pod", ["g1", bad])
    executor: JsonObject = {
        "executor_id": {"value": executor_id},
        "type": "DEFAULT",
        "resources": EXECUTOR_RESOURCES,
    }
    tasks: list[JsonValue] = [task(t, agent_id, container={}) for t in task_ids]
    group: JsonObject = {"executor": executor, "task_group": {"tasks": tasks}}
    accept(master, framework_id, [{"type": "LAUNCH_GROUP", "launch_group": group}])
    failed = errors(master, framework_id)
    assert sorted(failed) == sorted(task_ids)
    assert {reason for reason, _ in failed.values()} == {"REASON_TASK_GROUP_INVALID"}
    assert not [m for m in master.to_agent(agent_id) if isinstance(m, RunTaskGroup)]

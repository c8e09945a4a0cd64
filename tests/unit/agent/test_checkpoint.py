"""Checkpoints (`mesos.md` f.3 layout, JSON instead of binary protobuf)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from corral.agent.checkpoint import Checkpointer, discard_checkpoints, read_agent_id, read_checkpoints
from corral.agent.effects import (
    AgentRecord,
    ExecutorRecord,
    FrameworkRecord,
    PidRecord,
    TaskRecord,
    UpdateRecord,
)
from corral.core.ids import ContainerId, ExecutorId, TaskId
from corral.core.task_state import TaskState
from corral.protocol.mesos import AgentInfo, TaskStatus

from .builders import AGENT, FRAMEWORK, command_task, executor_task, framework_info

E, C, T = ExecutorId("e1"), ContainerId("c0"), TaskId("t1")
RUNNING = TaskStatus(task_id=T, state=TaskState.TASK_RUNNING, uuid=b"r" * 16)
FINISHED = TaskStatus(task_id=T, state=TaskState.TASK_FINISHED, uuid=b"f" * 16, message="done")


def checkpoint_executor_with_task(checkpointer: Checkpointer, container_id: ContainerId = C) -> None:
    """Framework, executor e1 (run `container_id`) and its task t1: RUNNING (acknowledged), FINISHED."""
    task = executor_task()
    assert task.executor is not None
    for record in (
        AgentRecord(info=AgentInfo(hostname="h", id=AGENT)),
        FrameworkRecord(info=framework_info(checkpoint=True)),
        ExecutorRecord(framework_id=FRAMEWORK, info=task.executor, container_id=container_id),
        TaskRecord(framework_id=FRAMEWORK, executor_id=E, container_id=container_id, task=task),
        UpdateRecord(
            framework_id=FRAMEWORK, executor_id=E, container_id=container_id, task_id=T, status=RUNNING
        ),
        UpdateRecord(
            framework_id=FRAMEWORK, executor_id=E, container_id=container_id, task_id=T, ack=b"r" * 16
        ),
        UpdateRecord(
            framework_id=FRAMEWORK, executor_id=E, container_id=container_id, task_id=T, status=FINISHED
        ),
    ):
        checkpointer.write(AGENT, record)


def test_a_restarted_agent_finds_its_id(tmp_path: Path) -> None:
    assert read_agent_id(tmp_path) is None
    Checkpointer(tmp_path).write(None, AgentRecord(info=AgentInfo(hostname="h", id=AGENT)))
    assert read_agent_id(tmp_path) == AGENT
    assert json.loads((tmp_path / "meta/slaves" / AGENT / "slave.info").read_text())["id"] == {"value": AGENT}
    assert os.readlink(tmp_path / "slaves" / "latest") == AGENT


def test_frameworks_executors_tasks_pids_and_updates_are_laid_out_as_upstream(tmp_path: Path) -> None:
    checkpointer = Checkpointer(tmp_path)
    task = executor_task()
    assert task.executor is not None
    running = TaskStatus(task_id=T, state=TaskState.TASK_RUNNING, uuid=b"u" * 16)
    for record in (
        FrameworkRecord(info=framework_info(checkpoint=True)),
        ExecutorRecord(framework_id=FRAMEWORK, info=task.executor, container_id=C),
        TaskRecord(framework_id=FRAMEWORK, executor_id=E, container_id=C, task=task),
        PidRecord(framework_id=FRAMEWORK, executor_id=E, container_id=C, pid=4242),
        UpdateRecord(framework_id=FRAMEWORK, executor_id=E, container_id=C, task_id=T, status=running),
        UpdateRecord(framework_id=FRAMEWORK, executor_id=E, container_id=C, task_id=T, ack=b"u" * 16),
    ):
        checkpointer.write(AGENT, record)

    framework = tmp_path / "meta/slaves" / AGENT / "frameworks" / FRAMEWORK
    assert json.loads((framework / "framework.info").read_text())["id"] == {"value": FRAMEWORK}
    executor = framework / "executors/e1"
    assert json.loads((executor / "executor.info").read_text())["executor_id"] == {"value": "e1"}
    run = executor / "runs/c0"
    assert (run / "pids/forked.pid").read_text() == "4242"
    assert json.loads((run / "tasks/t1/task.info").read_text()) == task.to_json()
    lines = [json.loads(line) for line in (run / "tasks/t1/task.updates").read_text().splitlines()]
    assert [line["type"] for line in lines] == ["UPDATE", "ACK"]
    assert lines[0]["update"]["status"]["state"] == "TASK_RUNNING"
    assert lines[1]["ack"] == {"task_id": {"value": "t1"}, "uuid": "dXV1dXV1dXV1dXV1dXV1dQ=="}


def test_nothing_but_the_agent_record_is_written_before_registration(tmp_path: Path) -> None:
    Checkpointer(tmp_path).write(
        None, TaskRecord(framework_id=FRAMEWORK, executor_id=E, container_id=C, task=command_task())
    )
    assert not (tmp_path / "meta").exists()


def test_a_restarted_agent_reads_back_frameworks_latest_runs_tasks_and_their_updates(tmp_path: Path) -> None:
    checkpointer = Checkpointer(tmp_path)
    checkpoint_executor_with_task(checkpointer, ContainerId("old"))
    checkpoint_executor_with_task(checkpointer)  # the same executor id, run again later: only this run counts
    nested = TaskRecord(
        framework_id=FRAMEWORK,
        executor_id=E,
        container_id=C,
        task=command_task("t2"),
        nested_container_id=ContainerId("c9"),
        group=(TaskId("t2"), TaskId("t3")),
    )
    checkpointer.write(AGENT, nested)

    [framework] = read_checkpoints(tmp_path, AGENT)
    assert framework.info.id == FRAMEWORK and framework.info.checkpoint
    [executor] = framework.executors
    assert (executor.info.executor_id, executor.container_id) == (E, C)
    task, task2 = executor.tasks
    assert task.info == executor_task() and task.info.data == b"hello"
    assert [(u.state, u.uuid, u.message) for u in task.updates] == [
        (TaskState.TASK_RUNNING, b"r" * 16, None),
        (TaskState.TASK_FINISHED, b"f" * 16, "done"),
    ]
    assert task.acknowledged == (b"r" * 16,)
    assert (task.container_id, task2.container_id, task2.group) == (None, "c9", ("t2", "t3"))


def test_what_cannot_be_read_is_skipped_and_the_rest_recovered(tmp_path: Path) -> None:
    checkpointer = Checkpointer(tmp_path)
    checkpoint_executor_with_task(checkpointer)
    run = tmp_path / "meta/slaves" / AGENT / "frameworks" / FRAMEWORK / "executors/e1/runs/c0"
    with open(run / "tasks/t1/task.updates", "ab") as f:
        f.write(b'{"type":"UPDATE","update":{"sta')  # the agent died in the middle of an append
    checkpointer.write(
        AGENT, TaskRecord(framework_id=FRAMEWORK, executor_id=E, container_id=C, task=command_task("t2"))
    )
    (run / "tasks/t2/task.info").write_text("{not json")
    broken = tmp_path / "meta/slaves" / AGENT / "frameworks/other"
    broken.mkdir()
    (broken / "framework.info").write_text('{"name": "no user, no id"}')

    [framework] = read_checkpoints(tmp_path, AGENT)
    [executor] = framework.executors
    [task] = executor.tasks
    assert [u.state for u in task.updates] == [TaskState.TASK_RUNNING, TaskState.TASK_FINISHED]

    os.unlink(run.parent / "latest")
    [framework] = read_checkpoints(tmp_path, AGENT)
    assert framework.executors == ()  # no latest run: nothing to say which run is the executor's


def test_cleanup_discards_the_frameworks_and_keeps_the_agent_id(tmp_path: Path) -> None:
    checkpoint_executor_with_task(Checkpointer(tmp_path))
    discard_checkpoints(tmp_path, AGENT)
    assert read_checkpoints(tmp_path, AGENT) == ()
    assert read_agent_id(tmp_path) == AGENT

"""Checkpoints (`mesos.md` f.3 layout, JSON instead of binary protobuf)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from corral.agent.checkpoint import Checkpointer, read_agent_id
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

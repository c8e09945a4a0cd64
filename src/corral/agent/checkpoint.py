"""Checkpoints under `<work_dir>/meta/`, laid out as upstream's (`mesos.md` f.3) but written as JSON:

    meta/slaves/latest -> <agent_id>                    (so a restarted agent re-registers with its id)
    meta/slaves/<agent_id>/slave.info
    meta/slaves/<agent_id>/frameworks/<fid>/framework.info
      .../executors/<eid>/executor.info
      .../executors/<eid>/runs/<container_id>/pids/forked.pid
      .../executors/<eid>/runs/<container_id>/tasks/<task_id>/task.info
      .../executors/<eid>/runs/<container_id>/tasks/<task_id>/task.updates   (JSON lines, append-only)

Files written once per container (executor.info, task.info, forked.pid) are written in place; the others
are replaced atomically (write, rename); `task.updates` gets one small append per update or ack. Nothing
is fsynced: checkpoints survive an agent restart, which is what they are for, not a power cut. Recovering
live tasks from them is a later step; the agent id is read back today.

`CheckpointWriter` does the writing on one worker thread, in submission order, so that checkpoint I/O
never blocks the event loop; whoever must not act before a record is on disk (the sender of a status
update) awaits `written()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from pathlib import Path

from corral.agent.effects import (
    AgentRecord,
    ExecutorRecord,
    FrameworkRecord,
    PidRecord,
    Record,
    TaskRecord,
    UpdateRecord,
)
from corral.agent.sandbox import mark_latest_agent
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId, id_problem
from corral.protocol.json import JsonObject, b64encode, dumps

log = logging.getLogger(__name__)

LATEST = "latest"


def meta_directory(work_dir: Path) -> Path:
    return work_dir / "meta" / "slaves"


def read_agent_id(work_dir: Path) -> AgentId | None:
    """The id this agent last registered with, if it has one."""
    try:
        value = os.readlink(meta_directory(work_dir) / LATEST)
    except OSError:
        return None
    return None if id_problem(value) else AgentId(value)


class Checkpointer:
    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._directories: set[Path] = set()  # known to exist: each mkdir costs a metadata round trip

    def write(self, agent_id: AgentId | None, record: Record) -> None:
        """Write one record. Raises OSError."""
        if isinstance(record, AgentRecord):
            self._write_agent(record)
            return
        if agent_id is None:
            return  # only agent records precede registration
        match record:
            case FrameworkRecord():
                assert record.info.id is not None
                path = self._framework(agent_id, record.info.id) / "framework.info"
                self._replace(path, dumps(record.info.to_json()))
            case ExecutorRecord():
                directory = self._executor(agent_id, record.framework_id, record.info.executor_id)
                self._create(directory / "executor.info", dumps(record.info.to_json()))
            case TaskRecord():
                task = record.task
                directory = self.task_directory(
                    agent_id, record.framework_id, record.executor_id, record.container_id, task.task_id
                )
                self._create(directory / "task.info", dumps(task.to_json()))
            case PidRecord():
                run = self._run(agent_id, record.framework_id, record.executor_id, record.container_id)
                self._create(run / "pids" / "forked.pid", str(record.pid).encode())
            case UpdateRecord():
                directory = self.task_directory(
                    agent_id, record.framework_id, record.executor_id, record.container_id, record.task_id
                )
                self._append(directory / "task.updates", _update_line(record))

    def _write_agent(self, record: AgentRecord) -> None:
        agent_id = record.info.id
        assert agent_id is not None
        meta = meta_directory(self.work_dir)
        self._replace(meta / agent_id / "slave.info", dumps(record.info.to_json()))
        link = meta / LATEST
        temporary = meta / f".{LATEST}.{agent_id}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        os.symlink(agent_id, temporary)
        os.replace(temporary, link)
        mark_latest_agent(self.work_dir, agent_id)

    def _framework(self, agent_id: AgentId, framework_id: FrameworkId) -> Path:
        return meta_directory(self.work_dir) / agent_id / "frameworks" / framework_id

    def _executor(self, agent_id: AgentId, framework_id: FrameworkId, executor_id: ExecutorId) -> Path:
        return self._framework(agent_id, framework_id) / "executors" / executor_id

    def _run(
        self, agent_id: AgentId, framework_id: FrameworkId, executor_id: ExecutorId, container_id: ContainerId
    ) -> Path:
        return self._executor(agent_id, framework_id, executor_id) / "runs" / container_id

    def task_directory(
        self,
        agent_id: AgentId,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        container_id: ContainerId,
        task_id: TaskId,
    ) -> Path:
        return self._run(agent_id, framework_id, executor_id, container_id) / "tasks" / task_id

    def _directory(self, path: Path) -> None:
        if path not in self._directories:
            path.mkdir(parents=True, exist_ok=True)
            self._directories.add(path)

    def _replace(self, path: Path, data: bytes) -> None:
        self._directory(path.parent)
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def _create(self, path: Path, data: bytes) -> None:
        self._directory(path.parent)
        path.write_bytes(data)

    def _append(self, path: Path, line: bytes) -> None:
        self._directory(path.parent)
        with open(path, "ab") as f:
            f.write(line)


class CheckpointWriter:
    """Writes records on a worker thread, in the order they were submitted. Run `run()` as a task."""

    def __init__(self, checkpointer: Checkpointer) -> None:
        self._checkpointer = checkpointer
        self._pending: list[tuple[AgentId | None, Record]] = []
        self._submitted = 0
        self._written = 0
        self._wanted = asyncio.Event()
        self._progress = asyncio.Condition()
        self._lock = threading.Lock()  # one batch at a time, even when `close` races a worker thread

    def submit(self, agent_id: AgentId | None, record: Record) -> None:
        self._pending.append((agent_id, record))
        self._submitted += 1
        self._wanted.set()

    async def written(self) -> None:
        """Return once every record submitted before this call is on disk (or failed and was logged)."""
        target = self._submitted
        async with self._progress:
            await self._progress.wait_for(lambda: self._written >= target)

    async def run(self) -> None:
        while True:
            await self._wanted.wait()
            self._wanted.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                await asyncio.to_thread(self._write, batch)
                async with self._progress:
                    self._written += len(batch)
                    self._progress.notify_all()

    def close(self) -> None:
        """Write what is left on the calling thread (at shutdown, after `run` was cancelled)."""
        batch, self._pending = self._pending, []
        self._write(batch)

    def _write(self, batch: list[tuple[AgentId | None, Record]]) -> None:
        with self._lock:
            for agent_id, record in batch:
                try:
                    self._checkpointer.write(agent_id, record)
                except OSError:  # a full disk must not stop the agent: its tasks keep running
                    log.exception("could not checkpoint %s", type(record).__name__)


def _update_line(record: UpdateRecord) -> bytes:
    entry: JsonObject
    if record.status is not None:
        entry = {"type": "UPDATE", "update": {"status": record.status.to_json()}}
    else:
        assert record.ack is not None
        entry = {"type": "ACK", "ack": {"task_id": {"value": record.task_id}, "uuid": b64encode(record.ack)}}
    return dumps(entry) + b"\n"

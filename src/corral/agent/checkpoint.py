"""Checkpoints under `<work_dir>/meta/`, laid out as upstream's (`mesos.md` f.3) but written as JSON:

    meta/slaves/latest -> <agent_id>                    (so a restarted agent re-registers with its id)
    meta/slaves/<agent_id>/slave.info
    meta/slaves/<agent_id>/frameworks/<fid>/framework.info
      .../executors/<eid>/executor.info
      .../executors/<eid>/runs/latest -> <container_id>
      .../executors/<eid>/runs/<container_id>/pids/forked.pid
      .../executors/<eid>/runs/<container_id>/tasks/<task_id>/task.info
      .../executors/<eid>/runs/<container_id>/tasks/<task_id>/task.updates   (JSON lines, append-only)
      .../executors/<eid>/runs/<container_id>/tasks/<task_id>/task.container (a DEFAULT executor's task:
                                                                 its nested container id and task group)

Files written once per container (task.info, forked.pid, task.container) are written in place; the others
are replaced atomically (write, rename); `task.updates` gets one small append per update or ack. Nothing
is fsynced: checkpoints survive an agent restart, which is what they are for, not a power cut.

`read_checkpoints` reads them back for a restarted agent (`recovery.py`), as upstream's non-strict mode
does (`--strict=false`): what cannot be read is logged and skipped, and the rest recovered. A framework
without its framework.info, an executor without its executor.info or latest run, and a task without its
task.info are skipped (their processes, unclaimed, are then killed); a line of task.updates that does not
parse (the last one, cut short by a crash) is skipped alone.

`CheckpointWriter` does the writing on one worker thread, in submission order, so that checkpoint I/O
never blocks the event loop; whoever must not act before a record is on disk (the sender of a status
update) awaits `written()`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from corral.agent.effects import (
    AgentRecord,
    CheckpointedExecutor,
    CheckpointedFramework,
    CheckpointedTask,
    ExecutorRecord,
    FrameworkRecord,
    PidRecord,
    Record,
    TaskRecord,
    UpdateRecord,
)
from corral.agent.sandbox import LATEST, RUNS, mark_latest_agent, meta_directory, point_link
from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId, id_problem
from corral.protocol.json import JsonObject, Reader, b64decode, b64encode, dumps, ident, loads
from corral.protocol.mesos import ExecutorInfo, FrameworkInfo, TaskInfo, TaskStatus

log = logging.getLogger(__name__)

T = TypeVar("T")
FRAMEWORKS, EXECUTORS, TASKS = "frameworks", "executors", "tasks"
FRAMEWORK_INFO, EXECUTOR_INFO, TASK_INFO = "framework.info", "executor.info", "task.info"
TASK_UPDATES, TASK_CONTAINER = "task.updates", "task.container"


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
                path = self._framework(agent_id, record.info.id) / FRAMEWORK_INFO
                self._replace(path, dumps(record.info.to_json()))
            case ExecutorRecord():
                directory = self._executor(agent_id, record.framework_id, record.info.executor_id)
                self._replace(directory / EXECUTOR_INFO, dumps(record.info.to_json()))
                self._directory(directory / RUNS)
                point_link(directory / RUNS / LATEST, record.container_id)
            case TaskRecord():
                task = record.task
                directory = self.task_directory(
                    agent_id, record.framework_id, record.executor_id, record.container_id, task.task_id
                )
                self._create(directory / TASK_INFO, dumps(task.to_json()))
                if record.nested_container_id is not None:
                    nested = {"container_id": ident(record.nested_container_id), "group": list(record.group)}
                    self._create(directory / TASK_CONTAINER, dumps(nested))
            case PidRecord():
                run = self._run(agent_id, record.framework_id, record.executor_id, record.container_id)
                self._create(run / "pids" / "forked.pid", str(record.pid).encode())
            case UpdateRecord():
                directory = self.task_directory(
                    agent_id, record.framework_id, record.executor_id, record.container_id, record.task_id
                )
                self._append(directory / TASK_UPDATES, _update_line(record))

    def _write_agent(self, record: AgentRecord) -> None:
        agent_id = record.info.id
        assert agent_id is not None
        meta = meta_directory(self.work_dir)
        self._replace(meta / agent_id / "slave.info", dumps(record.info.to_json()))
        point_link(meta / LATEST, agent_id)
        mark_latest_agent(self.work_dir, agent_id)

    def _framework(self, agent_id: AgentId, framework_id: FrameworkId) -> Path:
        return meta_directory(self.work_dir) / agent_id / FRAMEWORKS / framework_id

    def _executor(self, agent_id: AgentId, framework_id: FrameworkId, executor_id: ExecutorId) -> Path:
        return self._framework(agent_id, framework_id) / EXECUTORS / executor_id

    def _run(
        self, agent_id: AgentId, framework_id: FrameworkId, executor_id: ExecutorId, container_id: ContainerId
    ) -> Path:
        return self._executor(agent_id, framework_id, executor_id) / RUNS / container_id

    def task_directory(
        self,
        agent_id: AgentId,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        container_id: ContainerId,
        task_id: TaskId,
    ) -> Path:
        return self._run(agent_id, framework_id, executor_id, container_id) / TASKS / task_id

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


# ---------------------------------------------------------------- reading back


def read_checkpoints(work_dir: Path, agent_id: AgentId) -> tuple[CheckpointedFramework, ...]:
    """The frameworks, executors (latest runs) and tasks checkpointed for `agent_id`. Blocking."""
    root = meta_directory(work_dir) / agent_id / FRAMEWORKS
    frameworks = (_read_framework(directory) for directory in _subdirectories(root))
    return tuple(f for f in frameworks if f is not None)


def discard_checkpoints(work_dir: Path, agent_id: AgentId) -> None:
    """Forget every framework checkpointed for `agent_id` (`--recover=cleanup`); the agent id stays."""
    shutil.rmtree(meta_directory(work_dir) / agent_id / FRAMEWORKS, ignore_errors=True)


def _subdirectories(directory: Path) -> list[Path]:
    try:
        return sorted(p for p in directory.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []


def _read(path: Path, decode: Callable[[Reader], T]) -> T | None:
    try:
        return decode(Reader(loads(path.read_bytes()), path.name))
    except (OSError, DecodeError, ValueError) as e:
        log.warning("recovery: skipping %s: %s", path, e)
        return None


def _read_framework(directory: Path) -> CheckpointedFramework | None:
    info = _read(directory / FRAMEWORK_INFO, FrameworkInfo.from_json)
    if info is None:
        return None
    executors = (_read_executor(e) for e in _subdirectories(directory / EXECUTORS))
    return CheckpointedFramework(info=info, executors=tuple(e for e in executors if e is not None))


def _read_executor(directory: Path) -> CheckpointedExecutor | None:
    info = _read(directory / EXECUTOR_INFO, ExecutorInfo.from_json)
    try:
        latest = os.readlink(directory / RUNS / LATEST)
    except OSError as e:
        log.warning("recovery: skipping executor %s: no latest run (%s)", directory, e)
        return None
    if info is None or id_problem(latest):
        return None
    run = directory / RUNS / latest
    tasks = (_read_task(t) for t in _subdirectories(run / TASKS))
    return CheckpointedExecutor(
        info=info, container_id=ContainerId(latest), tasks=tuple(t for t in tasks if t is not None)
    )


def _read_task(directory: Path) -> CheckpointedTask | None:
    info = _read(directory / TASK_INFO, TaskInfo.from_json)
    if info is None:
        return None
    updates: list[TaskStatus] = []
    acknowledged: list[bytes] = []
    try:
        lines = (directory / TASK_UPDATES).read_bytes().splitlines()
    except FileNotFoundError:
        lines = []
    except OSError as e:
        log.warning("recovery: task %s has no readable updates: %s", directory, e)
        lines = []
    for number, line in enumerate(lines, 1):
        try:
            entry = Reader(loads(line))
            if entry.text("type") == "ACK":
                acknowledged.append(b64decode(entry.child("ack").text("uuid")))
            else:
                updates.append(TaskStatus.from_json(entry.child("update").child("status")))
        except (DecodeError, ValueError) as e:
            log.warning("recovery: skipping line %d of %s: %s", number, directory / TASK_UPDATES, e)
    nested = directory / TASK_CONTAINER
    container = _read(nested, _read_container) if nested.exists() else None
    return CheckpointedTask(
        info=info,
        updates=tuple(updates),
        acknowledged=tuple(acknowledged),
        container_id=container[0] if container is not None else None,
        group=container[1] if container is not None else (),
    )


def _read_container(r: Reader) -> tuple[ContainerId, tuple[TaskId, ...]]:
    return ContainerId(r.value("container_id")), tuple(TaskId(t) for t in r.strs("group"))

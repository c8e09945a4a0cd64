"""Sandboxes, laid out as upstream's `src/slave/paths.hpp` does (`mesos.md` f.3):

    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/<container_id>/{stdout,stderr,...}
    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/<container_id>/tasks/<task_id>/
    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/latest -> <container_id>
    <work_dir>/slaves/latest -> <agent_id>

The `tasks/<task_id>` sandboxes are those of a DEFAULT executor's tasks, each in a container nested in the
executor's (upstream's default executor links `tasks/<task_id>` to its nested container's directory).

The path functions are pure; `prepare` and `mark_latest_agent` touch the disk (a few syscalls each, so the
runtime calls them on the event loop).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId

STDOUT = "stdout"
STDERR = "stderr"
LATEST = "latest"
TASKS = "tasks"
RUNS = "runs"


def executor_directory(
    work_dir: Path, agent_id: AgentId, framework_id: FrameworkId, executor_id: ExecutorId
) -> Path:
    return work_dir / "slaves" / agent_id / "frameworks" / framework_id / "executors" / executor_id


def run_directory(
    work_dir: Path,
    agent_id: AgentId,
    framework_id: FrameworkId,
    executor_id: ExecutorId,
    container_id: ContainerId,
) -> Path:
    return executor_directory(work_dir, agent_id, framework_id, executor_id) / RUNS / container_id


def task_directory(run_dir: Path, task_id: TaskId) -> Path:
    """The sandbox of a DEFAULT executor's task, inside the executor's run directory."""
    return run_dir / TASKS / task_id


def virtual_latest(framework_id: FrameworkId, executor_id: ExecutorId) -> str:
    """The path `/files/*` also serves a sandbox under, independent of the agent's work dir."""
    return f"/frameworks/{framework_id}/executors/{executor_id}/runs/{LATEST}"


def _point(link: Path, target: str) -> None:
    """Make `link` a symlink to `target`, replacing an older one atomically."""
    try:
        os.symlink(target, link)
    except FileExistsError:
        temporary = link.with_name(f".{LATEST}.{target}")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        os.symlink(target, temporary)
        os.replace(temporary, link)


def prepare(sandbox: Path) -> None:
    """Create a sandbox and point `runs/latest` at its run directory: the sandbox itself, or for a task's
    sandbox (`runs/<container_id>/tasks/<task_id>`) the executor run directory it is in."""
    os.makedirs(sandbox, exist_ok=True)
    is_task = sandbox.parent.name == TASKS and sandbox.parent.parent.parent.name == RUNS
    run_dir = sandbox.parent.parent if is_task else sandbox
    _point(run_dir.parent / LATEST, run_dir.name)


def mark_latest_agent(work_dir: Path, agent_id: AgentId) -> None:
    slaves = work_dir / "slaves"
    os.makedirs(slaves / agent_id, exist_ok=True)
    _point(slaves / LATEST, agent_id)

"""Sandboxes, laid out as upstream's `src/slave/paths.hpp` does (`mesos.md` f.3):

    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/<container_id>/{stdout,stderr,...}
    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/<container_id>/tasks/<task_id>/
    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/latest -> <container_id>
    <work_dir>/slaves/latest -> <agent_id>

and their checkpoints (`checkpoint.py`) likewise under `<work_dir>/meta/slaves/<agent_id>/...`.

The `tasks/<task_id>` sandboxes are those of a DEFAULT executor's tasks, each in a container nested in the
executor's (upstream's default executor links `tasks/<task_id>` to its nested container's directory).

The path functions are pure; `prepare` and `mark_latest_agent` touch the disk (a few syscalls each, so the
runtime calls them on the event loop); `find_runs`, `disk_usage` and `delete` are for its threads.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId

STDOUT = "stdout"
STDERR = "stderr"
LATEST = "latest"
TASKS = "tasks"
RUNS = "runs"


SLAVES = "slaves"


def meta_directory(work_dir: Path) -> Path:
    """Where checkpoints live: `<work_dir>/meta/slaves`, laid out as the sandboxes under it."""
    return work_dir / "meta" / SLAVES


def executor_directory(
    work_dir: Path, agent_id: AgentId, framework_id: FrameworkId, executor_id: ExecutorId
) -> Path:
    return work_dir / SLAVES / agent_id / "frameworks" / framework_id / "executors" / executor_id


def run_directory(
    work_dir: Path,
    agent_id: AgentId,
    framework_id: FrameworkId,
    executor_id: ExecutorId,
    container_id: ContainerId,
) -> Path:
    return executor_directory(work_dir, agent_id, framework_id, executor_id) / RUNS / container_id


def meta_run_directory(
    work_dir: Path,
    agent_id: AgentId,
    framework_id: FrameworkId,
    executor_id: ExecutorId,
    container_id: ContainerId,
) -> Path:
    """The checkpoints of a run: `run_directory` with `meta/` before `slaves/`."""
    return run_directory(meta_directory(work_dir).parent, agent_id, framework_id, executor_id, container_id)


def task_directory(run_dir: Path, task_id: TaskId) -> Path:
    """The sandbox of a DEFAULT executor's task, inside the executor's run directory."""
    return run_dir / TASKS / task_id


def virtual_latest(framework_id: FrameworkId, executor_id: ExecutorId) -> str:
    """The path `/files/*` also serves a sandbox under, independent of the agent's work dir."""
    return f"/frameworks/{framework_id}/executors/{executor_id}/runs/{LATEST}"


def point_link(link: Path, target: str) -> None:
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
    point_link(run_dir.parent / LATEST, run_dir.name)


def mark_latest_agent(work_dir: Path, agent_id: AgentId) -> None:
    slaves = work_dir / SLAVES
    os.makedirs(slaves / agent_id, exist_ok=True)
    point_link(slaves / LATEST, agent_id)


def find_runs(work_dir: Path) -> list[tuple[Path, float]]:
    """Every run directory, sandbox or checkpoints, of every agent id, with its mtime."""
    found: list[tuple[Path, float]] = []
    for root in (work_dir / SLAVES, meta_directory(work_dir)):
        try:
            agents = [a for a in root.iterdir() if not a.is_symlink()]  # not `latest`: a second path
        except OSError:
            continue
        for run in (r for a in agents for r in a.glob(f"frameworks/*/executors/*/{RUNS}/*")):
            if not run.is_symlink():  # `runs/latest`
                with contextlib.suppress(OSError):  # deleted meanwhile
                    found.append((run, run.stat().st_mtime))
    return found


def disk_usage(work_dir: Path) -> float | None:
    """The share of the work dir's filesystem in use (what upstream's disk watch measures)."""
    try:
        stats = os.statvfs(work_dir)
    except OSError:
        return None
    return 1.0 - stats.f_bfree / stats.f_blocks if stats.f_blocks else None


def delete(paths: Iterable[Path]) -> None:
    """Delete directories, and whatever they hold; the ones already gone do not matter."""
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)

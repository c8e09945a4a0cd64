"""Sandboxes, laid out as upstream's `src/slave/paths.hpp` does (`mesos.md` f.3):

    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/<container_id>/{stdout,stderr,...}
    <work_dir>/slaves/<agent_id>/frameworks/<fid>/executors/<eid>/runs/latest -> <container_id>
    <work_dir>/slaves/latest -> <agent_id>

The path functions are pure; `prepare` and `mark_latest_agent` touch the disk (a few syscalls each, so the
runtime calls them on the event loop).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId

STDOUT = "stdout"
STDERR = "stderr"
LATEST = "latest"


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
    return executor_directory(work_dir, agent_id, framework_id, executor_id) / "runs" / container_id


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


def prepare(run_dir: Path) -> None:
    """Create the run directory and point `runs/latest` at it."""
    os.makedirs(run_dir, exist_ok=True)
    _point(run_dir.parent / LATEST, run_dir.name)


def mark_latest_agent(work_dir: Path, agent_id: AgentId) -> None:
    slaves = work_dir / "slaves"
    os.makedirs(slaves / agent_id, exist_ok=True)
    _point(slaves / LATEST, agent_id)

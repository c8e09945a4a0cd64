"""A container's cgroups through their life in the supervisor, on directories laid out like cgroupfs: how a
task joins them, how they go (an rmdir first, a kill only when processes are left), and the OOM counter read
again through the watch's open file. The kernel's side is in tests/integration/test_agent_isolation.py."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from corral.agent.isolation import cgroups
from corral.agent.isolation.cgroups import CgroupContainer
from corral.agent.isolation.layout import CgroupChoice, CgroupSpec, plan_cgroups
from corral.agent.isolation.limits import MB, ContainerLimits

V1 = ("cpu", "cpuacct", "memory", "pids")


def spec(root: Path, version: int) -> CgroupSpec:
    bases = {c: str(root / c) if version == 1 else str(root) for c in V1 if version == 1 or c != "cpuacct"}
    choice = CgroupChoice(version=version, bases=bases)
    return plan_cgroups(
        choice, root="corral", container_id="c1", limits=ContainerLimits(mem_limit_bytes=64 * MB)
    )


def test_a_task_joins_v1_cgroups_through_tasks_and_a_v2_cgroup_through_cgroup_procs(tmp_path: Path) -> None:
    v1 = CgroupContainer(spec(tmp_path, 1))
    assert v1.join_files == [f"{tmp_path}/{c}/corral/c1/tasks" for c in V1]
    assert CgroupContainer(spec(tmp_path, 2)).join_files == [f"{tmp_path}/corral/c1/cgroup.procs"]


def test_empty_cgroups_go_without_their_processes_being_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = CgroupContainer(spec(tmp_path, 1))
    for directory in container.spec.directories:
        os.makedirs(directory)
    read: list[str] = []
    monkeypatch.setattr(cgroups, "_read", read.append)
    container.destroy()
    assert read == [] and not any(os.path.exists(d) for d in container.spec.directories)


def test_processes_left_in_a_cgroup_are_killed_before_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process the task left (in a session of its own, out of reach of the group kill) keeps the cgroup
    busy: the rmdir fails with EBUSY until the process is killed."""
    container = CgroupContainer(spec(tmp_path, 1))
    for directory in container.spec.directories:
        os.makedirs(directory)
    alive = {4242}
    killed: list[tuple[int, int]] = []
    real_rmdir = os.rmdir

    def rmdir(path: str) -> None:
        if alive:
            raise OSError(errno.EBUSY, "Device or resource busy", path)
        real_rmdir(path)

    def kill(pid: int, signal_number: int) -> None:
        killed.append((pid, signal_number))
        alive.discard(pid)

    monkeypatch.setattr(os, "rmdir", rmdir)
    monkeypatch.setattr(os, "kill", kill)
    monkeypatch.setattr(cgroups, "_read", lambda path: " ".join(map(str, alive)))
    container.destroy()
    assert killed == [(4242, 9)]
    assert not any(os.path.exists(d) for d in container.spec.directories)


def test_the_oom_counter_is_read_again_through_the_watchs_open_file(tmp_path: Path) -> None:
    container = CgroupContainer(spec(tmp_path, 1))
    memory = Path(container.spec.controllers["memory"])
    memory.mkdir(parents=True)
    (memory / "cgroup.event_control").touch()
    (memory / "memory.limit_in_bytes").write_text(str(64 * MB))
    (memory / "memory.max_usage_in_bytes").write_text(str(60 * MB))
    control = memory / "memory.oom_control"
    control.write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    watch = container.watch_oom()
    assert watch is not None and container.oom_watch == watch
    efd, fd = (memory / "cgroup.event_control").read_text().split()
    assert int(efd) == watch and os.path.samefile(f"/proc/self/fd/{fd}", control)
    assert container.oom_report() is None

    with open(control, "r+") as same_file:  # the kernel's counter moves; the file stays the one opened
        same_file.write("oom_kill_disable 0\nunder_oom 0\noom_kill 1\n")
    control.rename(memory / "elsewhere")  # a read by name would find nothing now
    assert container.has_oom_struck()
    assert container.oom_report() == {"limit": 64 * MB, "max_usage": 60 * MB}
    container.destroy()
    assert container.oom_watch is None

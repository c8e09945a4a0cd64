"""cgroup files as the agent and the supervisor read them, on a directory tree laid out like cgroupfs.

The kernel's side (limits enforced, OOM kills, rmdir of a live cgroup) is in
tests/integration/test_agent_isolation.py; cgroup v2 is checked here against its documented file formats
(Documentation/admin-guide/cgroup-v2.rst), since the test machines mount v1.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.agent.isolation.cgroups import CgroupContainer, read_usage, remove_stale
from corral.agent.isolation.layout import CgroupChoice, CgroupSpec, plan_cgroups
from corral.agent.isolation.limits import MB, ContainerLimits, container_limits, memory_limit_bytes
from corral.agent.isolation.statistics import Usage
from corral.core.resources import Resources


def files(directory: Path, **contents: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in contents.items():
        (directory / name.replace("__", ".")).write_text(text)


def v1_spec(root: Path) -> CgroupSpec:
    bases = {c: str(root / c) for c in ("cpu", "cpuacct", "memory", "pids")}
    return plan_cgroups(
        CgroupChoice(version=1, bases=bases), root="corral", container_id="c1", limits=ContainerLimits()
    )


def v2_spec(root: Path) -> CgroupSpec:
    choice = CgroupChoice(version=2, bases={c: str(root) for c in ("cpu", "memory", "pids")})
    return plan_cgroups(
        choice, root="corral", container_id="c1", limits=ContainerLimits(mem_limit_bytes=64 * MB)
    )


def test_v1_usage_comes_from_cpuacct_cpu_and_memory(tmp_path: Path) -> None:
    spec = v1_spec(tmp_path)
    files(Path(spec.controllers["cpuacct"]), cpuacct__stat="user 250\nsystem 50\n")
    files(Path(spec.controllers["pids"]), cgroup__procs="7\n8\n")
    files(
        Path(spec.controllers["cpu"]), cpu__stat="nr_periods 10\nnr_throttled 2\nthrottled_time 1500000000\n"
    )
    files(
        Path(spec.controllers["memory"]),
        memory__stat="cache 1\nrss 2\ntotal_cache 4096\ntotal_rss 8192\ntotal_mapped_file 0\ntotal_swap 0\n",
        memory__usage_in_bytes="12288\n",
    )
    usage = read_usage(spec)
    ticks = os.sysconf("SC_CLK_TCK")
    assert usage.cpus_user_time_secs == 250 / ticks and usage.cpus_system_time_secs == 50 / ticks
    assert (usage.cpus_nr_periods, usage.cpus_nr_throttled, usage.cpus_throttled_time_secs) == (10, 2, 1.5)
    assert (usage.mem_rss_bytes, usage.mem_cache_bytes, usage.mem_total_bytes) == (8192, 4096, 12288)
    assert usage.processes == 2
    brief = Usage(cpus_user_time_secs=250 / ticks, cpus_system_time_secs=50 / ticks, mem_rss_bytes=8192)
    assert read_usage(spec, brief=True) == brief  # what the master shows, from two files of the five


def test_v2_usage_comes_from_cpu_stat_and_memory_files(tmp_path: Path) -> None:
    spec = v2_spec(tmp_path)
    [directory] = spec.directories
    files(
        Path(directory),
        cgroup__procs="7\n",
        cpu__stat="usage_usec 3000000\nuser_usec 2500000\nsystem_usec 500000\nnr_periods 4\n"
        "nr_throttled 1\nthrottled_usec 250000\n",
        memory__current="10485760\n",
        memory__stat="anon 8388608\nfile 1048576\nfile_mapped 4096\n",
        memory__swap__current="0\n",
    )
    usage = read_usage(spec)
    assert (usage.cpus_user_time_secs, usage.cpus_system_time_secs) == (2.5, 0.5)
    assert (usage.cpus_nr_periods, usage.cpus_nr_throttled, usage.cpus_throttled_time_secs) == (4, 1, 0.25)
    assert (usage.mem_rss_bytes, usage.mem_file_bytes, usage.mem_total_bytes) == (8 * MB, MB, 10 * MB)
    assert (usage.mem_mapped_file_bytes, usage.mem_swap_bytes, usage.processes) == (4096, 0, 1)
    assert read_usage(spec, brief=True) == Usage(
        cpus_user_time_secs=2.5, cpus_system_time_secs=0.5, mem_rss_bytes=8 * MB
    )


def test_a_cgroup_gone_or_missing_files_leave_fields_out(tmp_path: Path) -> None:
    usage = read_usage(v2_spec(tmp_path))
    assert usage.mem_rss_bytes is None and usage.cpus_user_time_secs is None and usage.processes == 0


def test_the_oom_report_reads_the_kernels_counter_the_limit_and_the_peak(tmp_path: Path) -> None:
    spec = v2_spec(tmp_path)
    [directory] = spec.directories
    files(
        Path(directory), memory__events="low 0\nhigh 0\nmax 12\noom 1\noom_kill 0\n", memory__max=str(64 * MB)
    )
    container = CgroupContainer(spec)
    assert container.oom_report() is None  # at the limit, but nothing killed
    files(
        Path(directory),
        memory__events="low 0\nhigh 0\nmax 13\noom 1\noom_kill 1\n",
        memory__peak=str(64 * MB),
    )
    assert container.oom_report() == {"limit": 64 * MB, "max_usage": 64 * MB}
    assert container.watch_oom() is None  # v2 asks the kernel to kill the whole group (memory.oom.group)

    v1 = v1_spec(tmp_path / "v1")
    files(Path(v1.controllers["memory"]), memory__oom_control="oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
          memory__limit_in_bytes=str(64 * MB), memory__max_usage_in_bytes=str(64 * MB))  # fmt: skip
    assert CgroupContainer(v1).oom_report() == {"limit": 64 * MB, "max_usage": 64 * MB}


def test_a_cgroup_that_cannot_be_set_up_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    spec = v2_spec(tmp_path)
    files(tmp_path, cgroup__subtree_control="")  # the kernel makes the rest; a plain directory does not
    with pytest.raises(OSError, match=r"cannot set up cgroup .*corral/cgroup.subtree_control"):
        CgroupContainer(spec).create()
    assert not Path(spec.directories[0]).exists()
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+cpu +memory +pids"


def test_a_sweep_removes_only_empty_cgroups_older_than_a_minute(tmp_path: Path) -> None:
    old, fresh = tmp_path / "left-by-a-killed-supervisor", tmp_path / "being-joined"
    old.mkdir()
    fresh.mkdir()
    os.utime(old, (1000.0, 1000.0))
    os.utime(fresh, (1050.0, 1050.0))
    assert remove_stale(str(tmp_path), now=1100.0) == 1
    assert not old.exists() and fresh.exists()
    assert remove_stale(str(tmp_path / "missing"), now=1100.0) == 0


def _cgroup_of(spec: CgroupSpec, initial_limit: str) -> Path:
    """A v1 memory cgroup as the kernel would show it (the limit "unlimited" until set)."""
    memory = Path(spec.controllers["memory"])
    files(memory, memory__limit_in_bytes=initial_limit, memory__soft_limit_in_bytes=initial_limit)
    return memory


@given(st.lists(st.integers(min_value=1, max_value=1 << 16), min_size=1, max_size=8))
def test_a_resize_moves_the_soft_limit_both_ways_and_the_hard_limit_only_up(mems: list[int]) -> None:
    """Upstream's memory isolator: the first limit is set as asked; later ones lower only the soft limit,
    since lowering the hard one under the container's usage would have the OOM killer take it."""
    with tempfile.TemporaryDirectory() as root:
        choice = CgroupChoice(version=1, bases={"memory": root})
        specs = [
            plan_cgroups(
                choice,
                root="corral",
                container_id="c1",
                limits=container_limits(Resources.of(mem=m), enable_cfs=False),
            )
            for m in mems
        ]
        memory = _cgroup_of(specs[0], "9223372036854771712")
        CgroupContainer(specs[0]).create()
        for spec in specs[1:]:
            CgroupContainer(spec).resize()
        limits = [memory_limit_bytes(m) for m in mems]
        assert int((memory / "memory.limit_in_bytes").read_text()) == max(limits)
        assert int((memory / "memory.soft_limit_in_bytes").read_text()) == limits[-1]


def test_a_resize_of_a_container_gone_meanwhile_fails_with_enoent_and_makes_nothing(tmp_path: Path) -> None:
    spec = plan_cgroups(
        CgroupChoice(version=1, bases={"memory": str(tmp_path)}),
        root="corral",
        container_id="gone",
        limits=ContainerLimits(mem_limit_bytes=64 * MB),
    )
    with pytest.raises(FileNotFoundError):
        CgroupContainer(spec).resize()
    assert not (tmp_path / "corral" / "gone").exists()
    v2 = v2_spec(tmp_path / "v2")
    files(Path(v2.directories[0]), memory__max="max", memory__oom__group="0")
    CgroupContainer(v2).resize()  # no limit to raise: it stays unlimited
    assert (Path(v2.directories[0]) / "memory.max").read_text() == "max"


def test_a_nested_containers_oom_report_reads_the_limit_of_the_executors_container(tmp_path: Path) -> None:
    choice = CgroupChoice(version=1, bases={"memory": str(tmp_path)})
    task = plan_cgroups(choice, root="corral", container_id="t1", limits=ContainerLimits(), parent="e1")
    files(Path(task.controllers["memory"]), memory__oom_control="oom_kill 1\n",
          memory__limit_in_bytes="9223372036854771712", memory__max_usage_in_bytes=str(20 * MB))  # fmt: skip
    files(Path(task.parent["memory"]), memory__oom_control="oom_kill 0\n",
          memory__limit_in_bytes=str(96 * MB), memory__max_usage_in_bytes=str(96 * MB))  # fmt: skip
    assert CgroupContainer(task).oom_report() == {"limit": 96 * MB, "max_usage": 96 * MB}

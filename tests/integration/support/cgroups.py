"""The cgroups an agent started by a test uses (it inherits the test's own), or a skip naming what the
machine lacks: the controllers, or the right to write to them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from corral.agent.isolation.cgroups import discover, writable_choice
from corral.agent.isolation.isolators import CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS, needed_controllers
from corral.agent.isolation.layout import CgroupChoice
from corral.agent.isolation.limits import cpu_shares
from corral.agent.isolation.limits import cpu_weight as v2_weight
from corral.testing.procs import wait_for

CGROUPS = (CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS)
MB = 1024 * 1024


def cgroups_or_skip() -> CgroupChoice:
    layout = discover()
    if layout.choose(CGROUPS) is None:
        mounted = {c for h in layout.hierarchies for c in h.controllers}
        missing = sorted(set(needed_controllers(CGROUPS, 1)) - mounted)
        pytest.skip(f"no cgroup hierarchy has the controllers {missing or needed_controllers(CGROUPS, 2)}")
    choice = writable_choice(layout, CGROUPS)
    if choice is None:
        pytest.skip("the cgroup hierarchies are not writable by this user (cgroups need root)")
    return choice


def cgroup_dirs(cgroups: CgroupChoice, *containers: str) -> dict[str, Path]:
    """Controller -> the cgroup of a container (`e1, t1`: task t1's, nested in its DEFAULT executor's e1)."""
    return {c: Path(base, "corral", *containers) for c, base in cgroups.bases.items()}


def memory_limit(cgroups: CgroupChoice, *containers: str) -> int:
    memory = cgroup_dirs(cgroups, *containers)["memory"]
    return int((memory / ("memory.limit_in_bytes" if cgroups.version == 1 else "memory.max")).read_text())


def wait_removed(directories: Iterable[Path]) -> None:
    left = list(directories)
    wait_for(lambda: not any(d.exists() for d in left), timeout=5.0, what=f"{left} to be removed")


def cpu_weight_of(cgroups: CgroupChoice, *containers: str) -> int:
    """cgroup v1's cpu.shares, or v2's cpu.weight."""
    cpu = cgroup_dirs(cgroups, *containers)["cpu"]
    return int((cpu / ("cpu.shares" if cgroups.version == 1 else "cpu.weight")).read_text())


def cpu_weight(cgroups: CgroupChoice, cpus: float) -> int:
    """What `cpu_weight_of` reads for a container of `cpus` (`limits.py` has the arithmetic)."""
    return cpu_shares(cpus) if cgroups.version == 1 else v2_weight(cpu_shares(cpus))

"""The agent's side of isolation: a container's spec from its id and resources, what an exit means, and the
`/monitor/statistics` route."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from corral.agent.http_api import build_app
from corral.agent.isolation.isolator import Isolator
from corral.agent.isolation.isolators import IsolationError
from corral.agent.isolation.layout import CgroupChoice, ContainerSpec
from corral.agent.isolation.limits import MB
from corral.core.ids import ContainerId
from corral.core.resources import Resources
from corral.protocol.json import JsonValue

from ..builders import CONFIG, make_core
from ..test_http_api import Service

CGROUPS = replace(CONFIG, isolation=("cgroups/cpu", "cgroups/mem", "namespaces/pid"), cgroups_root="corral")
V2 = CgroupChoice(version=2, bases={"cpu": "/sys/fs/cgroup", "memory": "/sys/fs/cgroup"})
C1 = ContainerId("c1")


def test_a_spec_depends_only_on_the_flags_the_machine_and_the_container() -> None:
    isolator = Isolator(CGROUPS, choice=V2, unshare="/usr/bin/unshare")
    spec, limits = isolator.spec(C1, Resources.of(cpus=0.6, mem=64))
    assert spec == isolator.spec(C1, Resources.of(cpus=0.6, mem=64))[0]  # a restarted agent rebuilds it
    assert spec.cgroups is not None and spec.cgroups.directories == ("/sys/fs/cgroup/corral/c1",)
    assert spec.wrapper == ("/usr/bin/unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--")
    assert (limits.cpus, limits.mem_limit_bytes) == (0.6, 64 * MB)
    posix = Isolator(CONFIG, choice=None, unshare=None)
    assert posix.spec(C1, Resources.of(cpus=1))[0] == ContainerSpec()
    assert posix.describe() == "posix/cpu,posix/mem"
    assert isolator.describe() == "cgroups/cpu,cgroups/mem,namespaces/pid (cgroup v2 under /sys/fs/cgroup)"


def test_an_oom_report_becomes_the_memory_limitation_and_the_container_is_forgotten() -> None:
    isolator = Isolator(CGROUPS, choice=V2, unshare=None)
    isolator.launching(C1, Resources.of(mem=32), sandbox=CONFIG.work_dir)
    assert C1 in isolator.limits()
    isolator.oom_killed(C1, {"limit": 64 * MB, "max_usage": 64 * MB})
    limitation = isolator.exited(C1)
    assert limitation is not None and limitation.reason == "REASON_CONTAINER_LIMITATION_MEMORY"
    assert isolator.limits() == {}
    assert isolator.exited(C1) is None


@pytest.mark.parametrize("root", ["", "/abs", "a/../b"])
def test_the_cgroups_root_is_a_relative_path(root: str) -> None:
    with pytest.raises(IsolationError, match="--cgroups_root"):
        Isolator(replace(CGROUPS, cgroups_root=root), choice=V2, unshare=None)


async def test_monitor_statistics_is_served_where_upstream_serves_it() -> None:
    entries: list[JsonValue] = [{"executor_id": "web", "statistics": {"timestamp": 1.0}}]

    async def statistics() -> list[JsonValue]:
        return entries

    transport = httpx.ASGITransport(app=build_app(Service(make_core()), statistics=statistics))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
        for path in ("/monitor/statistics", "/monitor/statistics.json", "/slave(1)/monitor/statistics"):
            response = await http.get(path)
            assert (response.status_code, response.json()) == (200, entries)
    transport = httpx.ASGITransport(app=build_app(Service(make_core())))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as http:
        assert (await http.get("/monitor/statistics")).json() == []


E1, T1 = ContainerId("e1"), ContainerId("t1")


def test_a_default_executors_container_is_made_by_its_first_update_and_its_tasks_nest_in_it() -> None:
    isolator = Isolator(CGROUPS, choice=V2, unshare="/usr/bin/unshare")
    made = isolator.update(E1, Resources.of(cpus=1.1, mem=96))
    assert made is not None and made[0] == "create"
    assert made[1].directories == ("/sys/fs/cgroup/corral/e1",)
    assert ("/sys/fs/cgroup/corral/e1/memory.max", str(96 * MB)) in made[1].hard_limits
    isolator.launching(T1, Resources(), sandbox=CONFIG.work_dir / "t1", parent=E1)
    spec = isolator.spawning(T1)
    assert spec.cgroups is not None and spec.cgroups.directories == ("/sys/fs/cgroup/corral/e1/t1",)
    assert spec.wrapper  # the task's namespace; the executor's container runs nothing to wrap
    isolator.started(T1, 42)
    assert isolator.limits()[E1].mem_limit_bytes == 96 * MB  # /monitor/statistics shows the group's limits

    resized = isolator.update(E1, Resources.of(cpus=2.1, mem=160))
    assert resized is not None and resized[0] == "resize"
    assert ("/sys/fs/cgroup/corral/e1/memory.max", str(160 * MB)) in resized[1].hard_limits
    assert isolator.exited(T1) is None
    destroyed = isolator.destroy(E1)
    assert destroyed is not None and destroyed.directories == ("/sys/fs/cgroup/corral/e1",)
    assert isolator.limits() == {}
    # One a restarted agent never adopted (its last run left it) is rebuilt from its id.
    rebuilt = isolator.destroy(E1)
    assert rebuilt is not None and rebuilt.directories == destroyed.directories
    assert Isolator(CONFIG, choice=None, unshare=None).update(E1, Resources.of(mem=32)) is None


def test_a_container_resized_before_its_spawn_is_made_with_its_new_limits() -> None:
    isolator = Isolator(CGROUPS, choice=V2, unshare=None)
    isolator.launching(C1, Resources.of(mem=64), sandbox=CONFIG.work_dir)  # its URIs are being fetched
    assert isolator.update(C1, Resources.of(mem=128)) is None  # nothing to resize yet
    spec = isolator.spawning(C1)
    assert spec.cgroups is not None
    assert spec.cgroups.hard_limits == (("/sys/fs/cgroup/corral/c1/memory.max", str(128 * MB)),)
    resized = isolator.update(C1, Resources.of(mem=256))
    assert resized is not None and resized[0] == "resize"


def test_an_adopted_container_is_watched_again_as_if_this_agent_had_started_it() -> None:
    isolator = Isolator(CGROUPS, choice=V2, unshare=None)
    assert not isolator.has_processes()
    isolator.adopted(C1, Resources.of(cpus=0.6, mem=64), CONFIG.work_dir, pid=42)
    assert isolator.has_processes()
    assert (isolator.limits()[C1].cpus, isolator.limits()[C1].mem_limit_bytes) == (0.6, 64 * MB)
    resized = isolator.update(C1, Resources.of(cpus=0.6, mem=96))  # its cgroups exist: resized at once
    assert resized is not None and resized[0] == "resize"
    isolator.oom_killed(C1, {"limit": 96 * MB, "max_usage": 96 * MB})
    limitation = isolator.exited(C1)
    assert limitation is not None and limitation.reason == "REASON_CONTAINER_LIMITATION_MEMORY"

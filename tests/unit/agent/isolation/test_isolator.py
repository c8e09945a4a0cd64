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

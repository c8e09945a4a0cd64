"""Where a container's cgroups go and what is written into them, from /proc's view of the mounts."""

from __future__ import annotations

from corral.agent.isolation.layout import (
    CgroupChoice,
    CgroupLayout,
    CgroupSpec,
    ContainerSpec,
    Hierarchy,
    parse_layout,
    plan_cgroups,
)
from corral.agent.isolation.limits import MB, ContainerLimits
from corral.protocol.json import Reader, dumps, loads

CGROUPS = ("cgroups/cpu", "cgroups/mem", "cgroups/pids")
LIMITS = ContainerLimits(cpus=0.6, cpu_shares=614, cfs_quota_us=60_000, mem_limit_bytes=64 * MB)

# Separately mounted v1 controllers, the agent inside a memory cgroup of its own, and a v2 beside them.
HYBRID_MOUNTS = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_SELF = """\
9:name=systemd:/
8:pids:/
4:memory:/jobs/a1
2:cpuacct:/
1:cpu:/
0::/
"""
# systemd's v1 layout: cpu and cpuacct co-mounted, an optional field before the separator.
COMOUNTED_MOUNTS = (
    "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
    "26 24 0:23 / /sys/fs/cgroup/memory rw,nosuid shared:10 - cgroup cgroup rw,memory\n"
    "27 24 0:24 / /sys/fs/cgroup/pids rw,nosuid shared:11 - cgroup cgroup rw,pids\n"
)
COMOUNTED_SELF = "5:pids:/system.slice/agent.service\n3:memory:/system.slice/agent.service\n2:cpu,cpuacct:/\n"
# A pure v2 machine, seen from a cgroup namespace rooted at the agent's delegated cgroup.
V2_MOUNTS = "30 24 0:26 /agent.service /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V2_SELF = "0::/agent.service/payload\n"


def test_separately_mounted_v1_controllers_each_get_a_directory_under_the_agents_own_cgroup() -> None:
    layout = parse_layout(HYBRID_MOUNTS, HYBRID_SELF).with_v2_controllers(frozenset({"hugetlb"}))
    choice = layout.choose(CGROUPS)
    assert choice == CgroupChoice(
        version=1,
        bases={
            "cpu": "/sys/fs/cgroup/cpu",
            "cpuacct": "/sys/fs/cgroup/cpuacct",
            "memory": "/sys/fs/cgroup/memory/jobs/a1",
            "pids": "/sys/fs/cgroup/pids",
        },
    )
    spec = plan_cgroups(choice, root="corral", container_id="c1", limits=LIMITS)
    assert spec.directories == (
        "/sys/fs/cgroup/cpu/corral/c1",
        "/sys/fs/cgroup/cpuacct/corral/c1",
        "/sys/fs/cgroup/memory/jobs/a1/corral/c1",
        "/sys/fs/cgroup/pids/corral/c1",
    )
    assert spec.delegate == ()
    assert spec.writes == (
        ("/sys/fs/cgroup/cpu/corral/c1/cpu.shares", "614"),
        ("/sys/fs/cgroup/cpu/corral/c1/cpu.cfs_period_us", "100000"),
        ("/sys/fs/cgroup/cpu/corral/c1/cpu.cfs_quota_us", "60000"),
        ("/sys/fs/cgroup/memory/jobs/a1/corral/c1/memory.soft_limit_in_bytes", str(64 * MB)),
    )
    # Written after the others at creation; a resize only raises it (see test_cgroups.py).
    assert spec.hard_limits == (
        ("/sys/fs/cgroup/memory/jobs/a1/corral/c1/memory.limit_in_bytes", str(64 * MB)),
    )


def test_co_mounted_controllers_share_one_directory() -> None:
    choice = parse_layout(COMOUNTED_MOUNTS, COMOUNTED_SELF).choose(CGROUPS)
    assert choice is not None and choice.version == 1
    spec = plan_cgroups(choice, root="corral", container_id="c1", limits=ContainerLimits())
    assert spec.directory("cpu") == spec.directory("cpuacct") == "/sys/fs/cgroup/cpu,cpuacct/corral/c1"
    assert spec.directory("memory") == "/sys/fs/cgroup/memory/system.slice/agent.service/corral/c1"
    assert len(spec.directories) == 3
    assert spec.writes == ()  # no resources, no limits: the cgroups still account and hold the tree


def test_v2_is_chosen_when_it_has_every_controller_and_delegates_them_on_the_way_down() -> None:
    layout = parse_layout(V2_MOUNTS, V2_SELF)
    assert layout.hierarchies == (
        Hierarchy(version=2, mount="/sys/fs/cgroup", controllers=frozenset(), own="/payload"),
    )
    assert layout.choose(CGROUPS) is None  # its controllers are read from cgroup.controllers
    choice = layout.with_v2_controllers(frozenset({"cpu", "memory", "pids", "io"})).choose(CGROUPS)
    assert choice is not None and choice.version == 2
    spec = plan_cgroups(choice, root="corral", container_id="c1", limits=LIMITS)
    assert spec.directories == ("/sys/fs/cgroup/payload/corral/c1",)
    assert spec.delegate == (
        ("/sys/fs/cgroup/payload/cgroup.subtree_control", "+cpu +memory +pids"),
        ("/sys/fs/cgroup/payload/corral/cgroup.subtree_control", "+cpu +memory +pids"),
    )
    assert spec.writes == (
        ("/sys/fs/cgroup/payload/corral/c1/cpu.weight", "24"),
        ("/sys/fs/cgroup/payload/corral/c1/cpu.max", "60000 100000"),
        ("/sys/fs/cgroup/payload/corral/c1/memory.oom.group", "1"),
    )
    assert spec.hard_limits == (("/sys/fs/cgroup/payload/corral/c1/memory.max", str(64 * MB)),)


def test_a_default_executors_tasks_nest_in_its_container_which_holds_the_groups_limits() -> None:
    """Upstream's tasks of a task group share their executor's cgroups; here each task's nests in them."""
    choice = parse_layout(HYBRID_MOUNTS, HYBRID_SELF).choose(CGROUPS)
    assert choice is not None
    executor = plan_cgroups(choice, root="corral", container_id="e1", limits=LIMITS, nests=True)
    assert executor.directory("memory") == "/sys/fs/cgroup/memory/jobs/a1/corral/e1"
    assert executor.delegate == (("/sys/fs/cgroup/memory/jobs/a1/corral/e1/memory.use_hierarchy", "1"),)
    assert executor.hard_limits == (
        ("/sys/fs/cgroup/memory/jobs/a1/corral/e1/memory.limit_in_bytes", str(64 * MB)),
    )
    task = plan_cgroups(choice, root="corral", container_id="t1", limits=ContainerLimits(), parent="e1")
    assert task.directories == (
        "/sys/fs/cgroup/cpu/corral/e1/t1",
        "/sys/fs/cgroup/cpuacct/corral/e1/t1",
        "/sys/fs/cgroup/memory/jobs/a1/corral/e1/t1",
        "/sys/fs/cgroup/pids/corral/e1/t1",
    )
    assert (task.writes, task.hard_limits) == ((), ())  # the executor's cgroups limit it
    assert task.parent["memory"] == executor.directory("memory")  # where its OOM report reads the limit

    v2 = CgroupChoice(version=2, bases={c: "/sys/fs/cgroup" for c in ("cpu", "memory", "pids")})
    executor = plan_cgroups(v2, root="corral", container_id="e1", limits=LIMITS, nests=True)
    assert executor.delegate[-1] == ("/sys/fs/cgroup/corral/e1/cgroup.subtree_control", "+cpu +memory +pids")
    assert ("/sys/fs/cgroup/corral/e1/memory.oom.group", "1") not in executor.writes  # not the whole executor
    task = plan_cgroups(v2, root="corral", container_id="t1", limits=ContainerLimits(), parent="e1")
    assert task.directories == ("/sys/fs/cgroup/corral/e1/t1",)
    assert task.writes == (("/sys/fs/cgroup/corral/e1/t1/memory.oom.group", "1"),)  # the task, whole


def test_a_missing_controller_means_no_cgroups() -> None:
    layout = parse_layout(HYBRID_MOUNTS.replace("rw,pids", "rw,devices"), HYBRID_SELF)
    assert layout.choose(CGROUPS) is None
    assert layout.choose(("cgroups/mem",)) == CgroupChoice(
        version=1, bases={"memory": "/sys/fs/cgroup/memory/jobs/a1"}
    )
    assert CgroupLayout(()).choose(CGROUPS) is None
    assert parse_layout("garbage\n1 2 3\n", "also garbage\n").hierarchies == ()


def test_mount_points_are_unescaped() -> None:
    mounts = r"32 31 0:29 / /mnt/my\040cgroups rw - cgroup cgroup rw,memory" + "\n"
    [hierarchy] = parse_layout(mounts, "4:memory:/\n").hierarchies
    assert hierarchy.mount == "/mnt/my cgroups"


def test_a_spec_travels_to_the_supervisor_as_json() -> None:
    choice = CgroupChoice(version=2, bases={"cpu": "/cg", "memory": "/cg"})
    cgroups = plan_cgroups(choice, root="corral", container_id="c9", limits=LIMITS)
    spec = ContainerSpec(cgroups=cgroups, wrapper=("/usr/bin/unshare", "--pid", "--fork"))
    assert ContainerSpec.from_json(loads(dumps(spec.to_json()))) == spec
    nested = plan_cgroups(choice, root="corral", container_id="c9", limits=LIMITS, parent="e1")
    assert CgroupSpec.from_json(Reader(loads(dumps(nested.to_json())))) == nested
    assert ContainerSpec.from_json(None) == ContainerSpec() == ContainerSpec.from_json({})
    assert isinstance(spec.cgroups, CgroupSpec)

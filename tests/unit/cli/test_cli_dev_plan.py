"""`corral dev` planning: agent ports and work dirs, disjoint port slices, flag conflicts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.cli.dev_plan import DevOptions, PlanError, plan_dev, split_ports
from corral.core.resources import Range, normalize_ranges, parse_resources, range_count


def test_one_agent_keeps_its_resources_and_detects_the_rest() -> None:
    plan = plan_dev(DevOptions(work_dir=Path("/w")))
    [agent] = plan.agents
    assert (plan.master.port, agent.port) == (5050, 5051)
    assert plan.master.work_dir == Path("/w/master")
    assert agent.work_dir == Path("/w/agent-0")
    assert agent.master == "127.0.0.1:5050"
    assert agent.resources is None  # everything detected, ports [31000-32000] included


def test_agents_get_consecutive_ports_and_own_work_dirs() -> None:
    plan = plan_dev(DevOptions(work_dir=Path("/w"), agents=3, agent_port=6000, master_port=6100))
    assert [a.port for a in plan.agents] == [6000, 6001, 6002]
    assert [a.work_dir.name for a in plan.agents] == ["agent-0", "agent-1", "agent-2"]
    assert {a.master for a in plan.agents} == {"127.0.0.1:6100"}


def test_several_agents_split_the_default_port_range() -> None:
    plan = plan_dev(DevOptions(agents=2))
    slices = [a.resources.ports() for a in plan.agents if a.resources]
    assert slices == [((31000, 31500),), ((31501, 32000),)]


def test_several_agents_split_the_given_ports_and_keep_the_scalars() -> None:
    resources = parse_resources("cpus:4;mem:4096;ports:[1000-1001,2000-2003]")
    plan = plan_dev(DevOptions(agents=3, resources=resources))
    assert [str(a.resources) for a in plan.agents] == [
        "cpus:4;mem:4096;ports:[1000-1001]",
        "cpus:4;mem:4096;ports:[2000-2001]",
        "cpus:4;mem:4096;ports:[2002-2003]",
    ]


def test_too_few_ports_for_the_agents_is_an_error() -> None:
    with pytest.raises(PlanError, match="2 port\\(s\\) cannot be split among 3 agents"):
        plan_dev(DevOptions(agents=3, resources=parse_resources("ports:[5-6]")))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (DevOptions(master_port=5051), "agent 0 .* and --master_port both want port 5051"),
        (DevOptions(agents=3, marathon_port=5053), "--marathon_port and agent 2"),
        (DevOptions(chronos_port=8080), "--chronos_port and --marathon_port"),
        (DevOptions(agent_port=65535, agents=2), "runs past port 65535"),
        (DevOptions(allocation_interval=0), "--allocation_interval must be positive"),
    ],
)
def test_conflicting_flags(options: DevOptions, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan_dev(options)


def test_port_zero_means_any_free_port_and_never_conflicts() -> None:
    plan = plan_dev(DevOptions(master_port=0, agent_port=0, agents=2, marathon_port=0, chronos_port=0))
    assert [a.port for a in plan.agents] == [0, 0]
    bound = plan.with_ports(40000, [40001, 40002])
    assert bound.master.port == 40000
    assert [(a.port, a.master) for a in bound.agents] == [
        (40001, "127.0.0.1:40000"),
        (40002, "127.0.0.1:40000"),
    ]


ranges = st.lists(st.tuples(st.integers(1, 3000), st.integers(0, 50)), min_size=1, max_size=6).map(
    lambda items: normalize_ranges((b, b + n) for b, n in items)
)


@given(ranges, st.integers(1, 20))
def test_slices_are_disjoint_cover_everything_and_differ_by_at_most_one(
    given_ranges: tuple[Range, ...], parts: int
) -> None:
    total = range_count(given_ranges)
    if total < parts:
        with pytest.raises(PlanError):
            split_ports(given_ranges, parts)
        return
    slices = split_ports(given_ranges, parts)
    ports = [p for s in slices for b, e in s for p in range(b, e + 1)]
    everything = [p for b, e in given_ranges for p in range(b, e + 1)]
    assert ports == everything  # disjoint, complete and in order
    sizes = [range_count(s) for s in slices]
    assert max(sizes) - min(sizes) <= 1
    assert min(sizes) >= 1

"""The DRF allocator (mesos.md e.1): order by dominant share, whole agents, filters, suppression, minimum
allocatable bundles, checked against a naive O(agents * frameworks) version of the same rules."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.core.ids import AgentId, FrameworkId
from corral.core.resources import Resources
from corral.master.allocator import AgentView, Allocation, AllocationView, FrameworkView, is_allocatable
from corral.master.allocator.drf import DrfAllocator, cluster_totals, dominant_share
from corral.master.state import OfferFilter
from corral.testing.clock import FakeClock


def make_agent(
    agent_id: str, *, cpus: float, mem: float, used_cpus: float = 0, used_mem: float = 0
) -> AgentView:
    total = Resources.of(cpus=cpus, mem=mem)
    return AgentView(
        agent_id=AgentId(agent_id), free=total - Resources.of(cpus=used_cpus, mem=used_mem), total=total
    )


def make_framework(
    framework_id: str, *, cpus: float = 0, mem: float = 0, suppressed: bool = False
) -> FrameworkView:
    return FrameworkView(
        framework_id=FrameworkId(framework_id),
        allocated=Resources.of(cpus=cpus, mem=mem),
        suppressed_roles=frozenset({"*"}) if suppressed else frozenset(),
    )


def make_view(agents: list[AgentView], frameworks: list[FrameworkView]) -> AllocationView:
    return AllocationView(agents=tuple(agents), frameworks=tuple(frameworks))


def test_declined_offer_is_withheld_for_refuse_seconds() -> None:
    clock, allocator = FakeClock(), DrfAllocator()
    view = make_view([make_agent("a1", cpus=1, mem=512)], [make_framework("f1")])
    [offer] = allocator.allocate(view, clock.now())
    view = view.with_filter(
        FrameworkId("f1"), AgentId("a1"), until=clock.now() + 2.0
    )  # DECLINE, refuse_seconds=2
    clock.advance(1.0)
    assert allocator.allocate(view, clock.now()) == []
    clock.advance(1.0)
    assert allocator.allocate(view, clock.now()) == [offer]


def test_a_filter_on_some_resources_lets_a_larger_bundle_through() -> None:
    clock, allocator = FakeClock(), DrfAllocator()
    view = make_view([make_agent("a1", cpus=4, mem=4096)], [make_framework("f1")])
    view = view.with_filter(
        FrameworkId("f1"), AgentId("a1"), until=clock.now() + 60, resources=Resources.of(cpus=1)
    )
    assert len(allocator.allocate(view, clock.now())) == 1  # 4 cpus free is more than the 1 refused


def test_the_framework_with_the_lowest_dominant_share_goes_first() -> None:
    # cluster: 10 cpus, 10000 mem
    # f1 share = max(4/10, 0/10000) = 0.4;  f2 share = max(1/10, 2000/10000) = 0.2  -> f2 first
    agents = [
        make_agent("a1", cpus=5, mem=5000, used_cpus=5, used_mem=5000),
        make_agent("a2", cpus=5, mem=5000),
    ]
    frameworks = [make_framework("f1", cpus=4), make_framework("f2", cpus=1, mem=2000)]
    [allocation] = DrfAllocator().allocate(make_view(agents, frameworks), FakeClock().now())
    assert allocation == Allocation(
        framework_id=FrameworkId("f2"), agent_id=AgentId("a2"), resources=Resources.of(cpus=5, mem=5000)
    )


def test_each_agent_goes_to_one_framework_and_shares_are_updated_as_it_goes() -> None:
    agents = [make_agent(f"a{i}", cpus=1, mem=1000) for i in range(4)]
    allocations = DrfAllocator().allocate(
        make_view(agents, [make_framework("f1"), make_framework("f2")]), 0.0
    )
    assert [a.framework_id for a in allocations] == ["f1", "f2", "f1", "f2"]


def test_suppressed_frameworks_and_tiny_bundles_get_nothing() -> None:
    agents = [make_agent("a1", cpus=0.005, mem=16), make_agent("a2", cpus=1, mem=64)]
    allocations = DrfAllocator().allocate(make_view(agents, [make_framework("f1", suppressed=True)]), 0.0)
    assert allocations == []
    [allocation] = DrfAllocator().allocate(make_view(agents, [make_framework("f2")]), 0.0)
    assert allocation.agent_id == "a2"


# ---------------------------------------------------------------- against a naive version


def naive_allocate(view: AllocationView, now: float) -> list[Allocation]:
    """The same rules, written as directly as possible: for each agent, rank all frameworks afresh."""
    totals = cluster_totals(view.agents)
    allocated = {f.framework_id: dict(f.allocated.scalars) for f in view.frameworks}
    order = {f.framework_id: i for i, f in enumerate(view.frameworks)}
    out: list[Allocation] = []
    for agent in view.agents:
        if not is_allocatable(agent.free):
            continue
        eligible = [
            f for f in view.frameworks if f.offerable_role() is not None and not f.is_filtered(agent, now)
        ]
        if not eligible:
            continue
        chosen = min(
            eligible, key=lambda f: (dominant_share(allocated[f.framework_id], totals), order[f.framework_id])
        )
        for name, value in agent.free.scalars.items():
            allocated[chosen.framework_id][name] = allocated[chosen.framework_id].get(name, 0.0) + value
        out.append(
            Allocation(
                framework_id=chosen.framework_id, agent_id=agent.agent_id, resources=agent.free, role="*"
            )
        )
    return out


@st.composite
def views(draw: st.DrawFn) -> AllocationView:
    agents = []
    for i in range(draw(st.integers(0, 8))):
        cpus = draw(st.sampled_from([0.0, 0.005, 0.5, 1.0, 4.0]))
        mem = draw(st.sampled_from([0.0, 16.0, 32.0, 1024.0]))
        agents.append(
            AgentView(
                agent_id=AgentId(f"a{i}"),
                free=Resources.of(cpus=cpus, mem=mem),
                total=Resources.of(cpus=8, mem=8192),
            )
        )
    frameworks = []
    for i in range(draw(st.integers(0, 5))):
        filters = {
            AgentId(f"a{j}"): OfferFilter(until=draw(st.sampled_from([5.0, 15.0])))
            for j in range(len(agents))
            if draw(st.booleans())
        }
        frameworks.append(
            FrameworkView(
                framework_id=FrameworkId(f"f{i}"),
                allocated=Resources.of(
                    cpus=draw(st.sampled_from([0.0, 1.0, 3.0])), mem=draw(st.sampled_from([0.0, 512.0]))
                ),
                suppressed_roles=frozenset({"*"}) if draw(st.booleans()) else frozenset(),
                filters=filters,
            )
        )
    return make_view(agents, frameworks)


@settings(max_examples=300)
@given(views())
def test_allocations_respect_free_resources_filters_and_suppression(view: AllocationView) -> None:
    now = 10.0
    allocations = DrfAllocator().allocate(view, now)
    agents = {a.agent_id: a for a in view.agents}
    frameworks = {f.framework_id: f for f in view.frameworks}
    assert len({a.agent_id for a in allocations}) == len(allocations), "an agent is offered at most once"
    for allocation in allocations:
        agent = agents[allocation.agent_id]
        framework = frameworks[allocation.framework_id]
        assert allocation.resources <= agent.free
        assert framework.offerable_role() is not None, "never to a suppressed framework"
        assert not framework.is_filtered(agent, now), "never through an active filter"
    assert allocations == naive_allocate(view, now)

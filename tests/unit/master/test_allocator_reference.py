"""The hierarchical allocator against a naive reference of the same rules (mesos.md e.1), with hypothesis.

`naive_allocate` re-derives everything for every agent: role and framework orders by sorting afresh, role
subtree allocations by summing, no fast paths. The optimised allocator must agree with it exactly. Both
allocators (DRF and random) must also keep the safety rules: never more than an agent has, never to a
suppressed role or through a filter, reservations only to their role and its subroles, quota limits
kept, guarantees served before fair sharing.

Generated quantities are multiples of 1/2, so sums are exact and both sides see identical shares.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.core.ids import AgentId, FrameworkId
from corral.core.reservations import Reservation, is_subrole, parent_role, static, top_level_role
from corral.core.resources import Resources
from corral.master.allocator import (
    DEFAULT_MIN_ALLOCATABLE,
    AgentView,
    Allocation,
    AllocationView,
    FrameworkView,
    MinAllocatable,
    RoleView,
    is_allocatable,
)
from corral.master.allocator.hierarchical import (
    EPSILON,
    HierarchicalAllocator,
    RandomAllocator,
    cluster_totals,
    dominant_share,
    floor3,
)
from corral.master.state import OfferFilter

NOW = 10.0
ROLES = ("*", "eng", "ops", "eng/web", "eng/db")


def _add(into: dict[str, float], scalars: Mapping[str, float], sign: float = 1.0) -> None:
    for name, value in scalars.items():
        into[name] = into.get(name, 0.0) + sign * value


# ---------------------------------------------------------------- the reference


def naive_allocate(view: AllocationView, now: float) -> list[Allocation]:
    totals = {n: t for n, t in (view.totals or cluster_totals(view.agents)).items() if t > 0}
    frameworks = list(view.frameworks)
    given_roles = {name for name, r in view.roles.items() if r.allocated is not None}
    own: dict[str, dict[str, float]] = {name: dict(view.roles[name].allocated or {}) for name in given_roles}
    for f in frameworks:
        for role in f.roles:
            if role not in given_roles:
                _add(own.setdefault(role, {}), f.allocated_in(role).scalars)
    held = {
        (i, role): dict(f.allocated_in(role).scalars)
        for i, f in enumerate(frameworks)
        for role in f.offerable_roles()
    }
    client_roles = {role for _, role in held}
    tree: set[str] = set()
    for role in client_roles:
        name: str | None = role
        while name is not None:
            tree.add(name)
            name = parent_role(name)

    def weight(role: str) -> float:
        return view.role(role).weight

    def subtree(role: str) -> dict[str, float]:
        out: dict[str, float] = {}
        for other, alloc in own.items():
            if is_subrole(other, role):
                _add(out, alloc)
        return out

    def path_key(role: str) -> tuple[tuple[float, str], ...]:
        parts = role.split("/")
        key = [
            (dominant_share(subtree(a), totals) / weight(a), a)
            for a in ("/".join(parts[: i + 1]) for i in range(len(parts)))
        ]
        if any(r != role and is_subrole(r, role) for r in tree):  # the virtual leaf `role/.`
            key.append((dominant_share(own.get(role, {}), totals) / weight(role), role + "/."))
        return tuple(key)

    consumed_own: dict[str, dict[str, float]] = {}
    for role in {*own, *view.roles}:
        c = dict(own.get(role, {}))
        _add(c, view.role(role).reserved)
        _add(c, view.role(role).allocated_reserved, -1.0)
        consumed_own[role] = c
    consumed: dict[str, dict[str, float]] = {}
    unmet: dict[str, dict[str, float]] = {}
    required: dict[str, float] = {}
    for role, info in view.roles.items():
        if info.has_quota and "/" not in role:
            consumed[role] = {}
            for other, c in consumed_own.items():
                if is_subrole(other, role):
                    _add(consumed[role], c)
            unmet[role] = {}
            for name, g in info.guarantee.items():
                if g - consumed[role].get(name, 0.0) > EPSILON:
                    unmet[role][name] = g - consumed[role].get(name, 0.0)
                    required[name] = required.get(name, 0.0) + unmet[role][name]
    available = {n: totals.get(n, 0.0) for n in required}
    for c in consumed_own.values():
        for name in required:
            available[name] -= c.get(name, 0.0)

    def shape(u: Resources, quota_role: str | None, stage1: bool) -> Resources:
        if not u.scalars or (quota_role is None and not any(v > EPSILON for v in required.values())):
            return u
        out = dict(u.scalars)
        for name, have in u.scalars.items():
            amount, toward = have, 0.0
            if quota_role is not None:
                info = view.role(quota_role)
                if name in info.limit and amount > info.limit[name] - consumed[quota_role].get(name, 0.0):
                    amount = max(floor3(info.limit[name] - consumed[quota_role].get(name, 0.0)), 0.0)
                toward = min(amount, unmet[quota_role].get(name, 0.0))
            surplus = amount - toward
            if stage1 and quota_role is not None and name in view.role(quota_role).guarantee:
                surplus = 0.0
            headroom = any(v > EPSILON for v in required.values())
            if surplus > 0 and headroom and required.get(name, 0.0) > EPSILON:
                slack = available.get(name, 0.0) - required[name]
                surplus = min(surplus, max(floor3(slack), 0.0))
            out[name] = floor3(toward + surplus) if toward + surplus < have else have
        return Resources({n: v for n, v in out.items() if v > 0}, u.ranges, u.sets)

    merged: dict[tuple[int, str, AgentId], tuple[Resources, dict[Reservation, Resources]]] = {}
    left = {a.agent_id: (a.free, dict(a.reserved)) for a in view.agents}

    def give(agent: AgentView, role: str, stage1: bool) -> None:
        u, reserved = left[agent.agent_id]
        top = top_level_role(role)
        quota_role = top if top in consumed else None
        mine = {k: v for k, v in reserved.items() if is_subrole(role, k.role)}
        shaped = shape(u, quota_role, stage1)
        bundle = shaped
        for part in mine.values():
            bundle = bundle + part
        if not is_allocatable(bundle, view.min_allocatable):
            return
        clients = sorted((dominant_share(held[(i, r)], totals), i) for (i, r) in held if r == role)
        for _, i in clients:
            f = frameworks[i]
            filters = [f.filters.get(agent.agent_id), f.role_filters.get(role, {}).get(agent.agent_id)]
            if any(x is not None and x.blocks(bundle, now) for x in filters):
                continue
            _add(held[(i, role)], bundle.scalars)
            _add(own.setdefault(role, {}), bundle.scalars)
            if quota_role is not None:
                _add(consumed[quota_role], shaped.scalars)
                for name, value in shaped.scalars.items():
                    if name in unmet[quota_role]:
                        took = min(value, unmet[quota_role][name])
                        unmet[quota_role][name] -= took
                        if unmet[quota_role][name] <= EPSILON:
                            del unmet[quota_role][name]
                        required[name] -= took
            for name, value in shaped.scalars.items():
                if name in available:
                    available[name] -= value
            left[agent.agent_id] = (u - shaped, {k: v for k, v in reserved.items() if k not in mine})
            key = (i, role, agent.agent_id)
            if key in merged:
                have, have_reserved = merged[key]
                for k, v in mine.items():
                    have_reserved[k] = have_reserved[k] + v if k in have_reserved else v
                merged[key] = (have + bundle, have_reserved)
            else:
                merged[key] = (bundle, dict(mine))
            return

    for agent in view.agents:  # stage 1: quota guarantees
        for role in sorted(client_roles, key=path_key):
            top = top_level_role(role)
            if unmet.get(top):
                give(agent, role, True)
    for agent in view.agents:  # stage 2: everyone
        for role in sorted(client_roles, key=path_key):
            give(agent, role, False)
    return [
        Allocation(
            framework_id=frameworks[i].framework_id,
            agent_id=agent_id,
            resources=bundle,
            role=role,
            reservations=reservations,
        )
        for (i, role, agent_id), (bundle, reservations) in merged.items()
    ]


# ---------------------------------------------------------------- generated views

HALVES = st.sampled_from([0.0, 0.5, 1.0, 2.0, 4.0])
MEMS = st.sampled_from([0.0, 16.0, 64.0, 512.0, 1024.0])


@st.composite
def scalars(draw: st.DrawFn) -> Resources:
    return Resources.of(cpus=draw(HALVES), mem=draw(MEMS))


@st.composite
def views(draw: st.DrawFn, *, quota: bool = True, min_allocatable: bool = True) -> AllocationView:
    agents = []
    for i in range(draw(st.integers(0, 6))):
        free = draw(scalars())
        reserved: dict[Reservation, Resources] = {}
        for role in draw(st.lists(st.sampled_from(["eng", "ops", "eng/web"]), max_size=2, unique=True)):
            if not (bundle := draw(scalars())).is_empty():
                reserved[static(role)] = bundle
        total = free + draw(scalars())
        for bundle in reserved.values():
            total = total + bundle
        agents.append(AgentView(agent_id=AgentId(f"a{i}"), free=free, total=total, reserved=reserved))
    frameworks = []
    for i in range(draw(st.integers(0, 5))):
        roles = tuple(draw(st.lists(st.sampled_from(ROLES), min_size=1, max_size=3, unique=True)))
        suppressed = frozenset(draw(st.lists(st.sampled_from(roles), max_size=len(roles), unique=True)))
        role_allocated = {r: draw(st.one_of(st.just(Resources()), scalars())) for r in roles}
        allocated = Resources()
        for bundle in role_allocated.values():
            allocated = allocated + bundle
        filters: dict[AgentId, OfferFilter] = {}
        role_filters: dict[str, dict[AgentId, OfferFilter]] = {}
        for agent in agents:
            choice = draw(st.sampled_from(["none", "none", "all", "role", "some"]))
            refused = OfferFilter(until=draw(st.sampled_from([5.0, 15.0])))
            if choice == "all":
                filters[agent.agent_id] = refused
            elif choice == "role":
                role_filters.setdefault(draw(st.sampled_from(roles)), {})[agent.agent_id] = refused
            elif choice == "some":
                filters[agent.agent_id] = OfferFilter(until=15.0, resources=draw(scalars()))
        frameworks.append(
            FrameworkView(
                framework_id=FrameworkId(f"f{i}"),
                roles=roles,
                suppressed_roles=suppressed,
                allocated=allocated,
                role_allocated=role_allocated,
                filters=filters,
                role_filters=role_filters,
            )
        )
    role_views: dict[str, RoleView] = {}
    for role in ROLES:
        weight = draw(st.sampled_from([1.0, 1.0, 0.5, 2.0, 3.0]))
        guarantee: dict[str, float] = {}
        limit: dict[str, float] = {}
        if quota and "/" not in role and role != "*" and draw(st.integers(0, 3)) > 0:
            guarantee = {k: v * 2 for k, v in draw(scalars()).scalars.items()}
            if draw(st.booleans()):
                limit = {k: v + draw(HALVES) * 2 for k, v in draw(scalars()).scalars.items()}
        reserved_sum: dict[str, float] = {}
        for agent in agents:
            for k, v in agent.reserved.items():
                if k.role == role:
                    _add(reserved_sum, v.scalars)
        role_views[role] = RoleView(weight=weight, guarantee=guarantee, limit=limit, reserved=reserved_sum)
    minimum: MinAllocatable = DEFAULT_MIN_ALLOCATABLE
    if min_allocatable:
        minimum = draw(st.sampled_from([DEFAULT_MIN_ALLOCATABLE, (), ({"cpus": 1.0, "mem": 64.0},)]))
    return AllocationView(
        agents=tuple(agents), frameworks=tuple(frameworks), roles=role_views, min_allocatable=minimum
    )


# ---------------------------------------------------------------- the properties


def check_safety(view: AllocationView, allocations: list[Allocation]) -> None:
    agents = {a.agent_id: a for a in view.agents}
    frameworks = {f.framework_id: f for f in view.frameworks}
    keys = [(a.framework_id, a.role, a.agent_id) for a in allocations]
    assert len(set(keys)) == len(keys), "one bundle per (framework, role, agent)"
    unreserved_used: dict[AgentId, Resources] = {}
    reserved_used: dict[tuple[AgentId, Reservation], Resources] = {}
    for allocation in allocations:
        agent = agents[allocation.agent_id]
        framework = frameworks[allocation.framework_id]
        assert allocation.role in framework.offerable_roles(), "never to a suppressed or foreign role"
        assert is_allocatable(allocation.resources, view.min_allocatable)
        assert not any(
            f.blocks(allocation.resources, NOW) for f in framework.filter_for(agent.agent_id, allocation.role)
        ), "never through an active filter"
        reserved_part = Resources()
        for reservation, bundle in allocation.reservations.items():
            assert is_subrole(allocation.role, reservation.role), "reservations only to their role"
            key = (agent.agent_id, reservation)
            reserved_used[key] = reserved_used.get(key, Resources()) + bundle
            reserved_part = reserved_part + bundle
        assert reserved_part <= allocation.resources
        unreserved = allocation.resources - reserved_part
        unreserved_used[agent.agent_id] = unreserved_used.get(agent.agent_id, Resources()) + unreserved
    for agent_id, used in unreserved_used.items():
        assert used <= agents[agent_id].free, "never more than the agent's free unreserved resources"
    for (agent_id, reservation), used in reserved_used.items():
        assert used <= agents[agent_id].reserved[reservation], "never more than the reservation"


def check_limits(view: AllocationView, allocations: list[Allocation]) -> None:
    """A role never takes unreserved resources past its quota limit (consumption counted as the view does)."""
    for role, info in view.roles.items():
        if not info.limit:
            continue
        consumed: dict[str, float] = {}
        for f in view.frameworks:
            for r in f.roles:
                if is_subrole(r, role):
                    _add(consumed, f.allocated_in(r).scalars)
        for other, other_info in view.roles.items():
            if is_subrole(other, role):
                _add(consumed, other_info.reserved)
        added: dict[str, float] = {}
        for a in allocations:
            if is_subrole(a.role, role):
                reserved_part = Resources()
                for bundle in a.reservations.values():
                    reserved_part = reserved_part + bundle
                _add(added, (a.resources - reserved_part).scalars)
        for name, limit in info.limit.items():
            if consumed.get(name, 0.0) <= limit:
                assert consumed.get(name, 0.0) + added.get(name, 0.0) <= limit + EPSILON, (role, name)


@settings(max_examples=400, deadline=None)
@given(views())
def test_the_allocator_agrees_with_the_naive_reference(view: AllocationView) -> None:
    allocations = HierarchicalAllocator().allocate(view, NOW)
    assert allocations == naive_allocate(view, NOW)


@settings(max_examples=300, deadline=None)
@given(views(), st.integers(0, 2**32 - 1))
def test_both_allocators_keep_the_safety_rules(view: AllocationView, seed: int) -> None:
    for allocator in (HierarchicalAllocator(random.Random(seed)), RandomAllocator(random.Random(seed))):
        allocations = allocator.allocate(view, NOW)
        check_safety(view, allocations)
        check_limits(view, allocations)


@settings(max_examples=300, deadline=None)
@given(views(min_allocatable=False), st.integers(0, 2**32 - 1))
def test_guarantees_are_served_before_fair_sharing(view: AllocationView, seed: int) -> None:
    """A quota role with a framework that refuses nothing ends the cycle with its guarantee met, or with
    none of the guaranteed resource left unallocated anywhere (mesos.md e.1 stage 1)."""
    view = AllocationView(
        agents=view.agents,
        frameworks=tuple(
            FrameworkView(
                framework_id=f.framework_id,
                roles=f.roles,
                allocated=f.allocated,
                role_allocated=f.role_allocated,
            )
            for f in view.frameworks
        ),
        roles={
            name: RoleView(
                weight=r.weight,
                guarantee=r.guarantee,
                limit={k: max(v, r.guarantee.get(k, 0.0)) for k, v in r.limit.items()},
                reserved=r.reserved,
            )
            for name, r in view.roles.items()
        },
        min_allocatable=(),
    )
    for allocator in (HierarchicalAllocator(random.Random(seed)), RandomAllocator(random.Random(seed))):
        allocations = allocator.allocate(view, NOW)
        left: dict[str, float] = {}
        for agent in view.agents:
            _add(left, agent.free.scalars)
        for a in allocations:
            reserved_part = Resources()
            for bundle in a.reservations.values():
                reserved_part = reserved_part + bundle
            _add(left, (a.resources - reserved_part).scalars, -1.0)
        for role, info in view.roles.items():
            if not info.guarantee or not any(
                any(is_subrole(r, role) for r in f.roles) for f in view.frameworks
            ):
                continue
            consumed: dict[str, float] = {}
            for f in view.frameworks:
                for r in f.roles:
                    if is_subrole(r, role):
                        _add(consumed, f.allocated_in(r).scalars)
            for other, other_info in view.roles.items():
                if is_subrole(other, role):
                    _add(consumed, other_info.reserved)
            for a in allocations:
                if is_subrole(a.role, role):
                    reserved_part = Resources()
                    for bundle in a.reservations.values():
                        reserved_part = reserved_part + bundle
                    _add(consumed, (a.resources - reserved_part).scalars)
            for name, amount in info.guarantee.items():
                assert consumed.get(name, 0.0) >= amount - EPSILON or left.get(name, 0.0) <= EPSILON, (
                    role,
                    name,
                    consumed,
                    left,
                )

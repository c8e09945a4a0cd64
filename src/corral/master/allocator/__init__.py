"""The allocator seam: who gets offered which agent's free resources in one allocation cycle.

An `Allocator` is a pure function of a frozen `AllocationView` and `now` (plus the rng it was built with):
it returns `Allocation`s, which the master turns into offers. The view holds only what a cycle needs:

- the agents that have something to offer (the master keeps that index, so a cycle after 1% of a big
  cluster changed looks at 1% of its agents), with their free unreserved resources and their free
  reservations;
- the frameworks that may be offered something, with what they hold per role, their suppressed roles and
  their refused-offer filters;
- per role: weight, quota (guarantee and limit) and the aggregates DRF and quota need (allocated,
  reserved), which the master maintains incrementally;
- the cluster's scalar totals (the denominators of every share) and `--min_allocatable_resources`.

Fields the master always fills (`roles`, `totals`) have defaults computed from the rest, so a test can
build a view from agents and frameworks alone. Allocators are chosen by name (`--allocator`):
`make_allocator("HierarchicalDRF")` (the default) or `make_allocator("random")`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

from corral.core.ids import AgentId, FrameworkId
from corral.core.reservations import Reservation
from corral.core.resources import Resources
from corral.master.state import OfferFilter

if TYPE_CHECKING:
    import random  # only the type: randomness is injected

# `--min_allocatable_resources=cpus:0.01|mem:32`: a bundle smaller than every listed set is withheld.
MIN_ALLOCATABLE_CPUS = 0.01
MIN_ALLOCATABLE_MEM = 32.0
MinAllocatable = tuple[Mapping[str, float], ...]
DEFAULT_MIN_ALLOCATABLE: MinAllocatable = ({"cpus": MIN_ALLOCATABLE_CPUS}, {"mem": MIN_ALLOCATABLE_MEM})


def is_allocatable(resources: Resources, minimum: MinAllocatable = DEFAULT_MIN_ALLOCATABLE) -> bool:
    """Whether a bundle holds at least one of the `minimum` sets (any bundle at all if there are none)."""
    if not minimum:
        return not resources.is_empty()
    scalars = resources.scalars
    if minimum is DEFAULT_MIN_ALLOCATABLE:
        return (
            scalars.get("cpus", 0.0) >= MIN_ALLOCATABLE_CPUS or scalars.get("mem", 0.0) >= MIN_ALLOCATABLE_MEM
        )
    return any(all(scalars.get(n, 0.0) >= v for n, v in alternative.items()) for alternative in minimum)


def parse_min_allocatable(text: str) -> MinAllocatable:
    """`cpus:0.01|mem:32` (either) or `cpus:1;mem:128|gpus:1` (`;` is AND, `|` is OR). Raises ValueError."""
    out: list[dict[str, float]] = []
    for alternative in filter(None, (a.strip() for a in text.split("|"))):
        quantities: dict[str, float] = {}
        for item in filter(None, (i.strip() for i in alternative.split(";"))):
            name, sep, value = item.partition(":")
            try:
                number = float(value)
            except ValueError:
                number = -1.0
            if not sep or not name.strip() or not 0 <= number < float("inf"):
                raise ValueError(f"{item!r} is not NAME:QUANTITY (a scalar quantity >= 0)")
            quantities[name.strip()] = quantities.get(name.strip(), 0.0) + number
        out.append(quantities)
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentView:
    agent_id: AgentId
    # Unreserved resources neither used nor offered.
    free: Resources
    # Everything the agent has, reserved or not.
    total: Resources
    # Reserved resources neither used nor offered, per reservation.
    reserved: Mapping[Reservation, Resources] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkView:
    framework_id: FrameworkId
    roles: tuple[str, ...] = ("*",)
    suppressed_roles: frozenset[str] = frozenset()
    # What the framework holds (used or offered), in all its roles; not read when `role_allocated` is set.
    allocated: Resources = field(default_factory=Resources)
    # What it holds per role; None: all of `allocated` is in its first role.
    role_allocated: Mapping[str, Resources] | None = None
    # Refused-offer filters for every role, and per role.
    filters: Mapping[AgentId, OfferFilter] = field(default_factory=dict)
    role_filters: Mapping[str, Mapping[AgentId, OfferFilter]] = field(default_factory=dict)

    def offerable_roles(self) -> tuple[str, ...]:
        return tuple(r for r in self.roles if r not in self.suppressed_roles)

    def offerable_role(self) -> str | None:
        """Its first role that is not suppressed (None: fully suppressed)."""
        return next(iter(self.offerable_roles()), None)

    def allocated_in(self, role: str) -> Resources:
        if self.role_allocated is not None:
            return self.role_allocated.get(role, Resources())
        return self.allocated if role == self.roles[0] else Resources()

    def filter_for(self, agent_id: AgentId, role: str) -> list[OfferFilter]:
        found = [f for f in (self.filters.get(agent_id), self.role_filters.get(role, {}).get(agent_id)) if f]
        return found

    def is_filtered(
        self, agent: AgentView, now: float, role: str | None = None, bundle: Resources | None = None
    ) -> bool:
        """Whether a filter refuses `bundle` (default: the agent's free resources) on that agent."""
        offered = agent.free if bundle is None else bundle
        role = role if role is not None else (self.offerable_role() or self.roles[0])
        return any(f.blocks(offered, now) for f in self.filter_for(agent.agent_id, role))


@dataclass(frozen=True, slots=True, kw_only=True)
class RoleView:
    weight: float = 1.0
    guarantee: Mapping[str, float] = field(default_factory=dict)
    limit: Mapping[str, float] = field(default_factory=dict)
    # Scalars allocated (used or offered) in this role itself, reserved or not; None: the sum over the
    # view's frameworks.
    allocated: Mapping[str, float] | None = None
    # Scalars reserved for this role on connected agents (allocated or not), and the allocated part.
    reserved: Mapping[str, float] = field(default_factory=dict)
    allocated_reserved: Mapping[str, float] = field(default_factory=dict)

    @property
    def has_quota(self) -> bool:
        return bool(self.guarantee or self.limit)


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocationView:
    agents: tuple[AgentView, ...]
    frameworks: tuple[FrameworkView, ...]
    roles: Mapping[str, RoleView] = field(default_factory=dict)
    # The cluster's scalar totals; None: the sum of the agents' totals.
    totals: Mapping[str, float] | None = None
    min_allocatable: MinAllocatable = DEFAULT_MIN_ALLOCATABLE

    def role(self, name: str) -> RoleView:
        return self.roles.get(name) or _DEFAULT_ROLE_VIEW

    def with_filter(
        self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        *,
        until: float,
        resources: Resources | None = None,
        role: str | None = None,
    ) -> AllocationView:
        """The view after the framework refused `resources` (None: anything) on the agent until `until`,
        for `role` (None: every role)."""
        new_filter = OfferFilter(until, resources)

        def refuse(f: FrameworkView) -> FrameworkView:
            if role is None:
                return replace(f, filters={**f.filters, agent_id: new_filter})
            per_role = {**f.role_filters, role: {**f.role_filters.get(role, {}), agent_id: new_filter}}
            return replace(f, role_filters=per_role)

        frameworks = tuple(refuse(f) if f.framework_id == framework_id else f for f in self.frameworks)
        return replace(self, frameworks=frameworks)


_DEFAULT_ROLE_VIEW = RoleView()


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    framework_id: FrameworkId
    agent_id: AgentId
    # The whole bundle, reserved parts included.
    resources: Resources
    role: str = "*"
    # The reserved part of `resources`, per reservation.
    reservations: Mapping[Reservation, Resources] = field(default_factory=dict)


class Allocator(Protocol):
    def allocate(self, view: AllocationView, now: float) -> list[Allocation]:
        """Split the view's free resources into allocations, at most one per (framework, role, agent)."""
        ...


ALLOCATORS = ("HierarchicalDRF", "random")


def make_allocator(name: str, rng: random.Random | None = None) -> Allocator:
    """`--allocator`: `HierarchicalDRF` (DRF across roles, then across each role's frameworks) or `random`
    (weighted random order: keeps the interface honest, and is upstream's `--role_sorter=random`)."""
    from corral.master.allocator.hierarchical import HierarchicalAllocator, RandomAllocator

    match name.lower():
        case "hierarchicaldrf" | "drf":
            return HierarchicalAllocator(rng)
        case "random" | "hierarchicalrandom":
            return RandomAllocator(rng)
        case _:
            raise ValueError(f"unknown allocator {name!r} (use one of {', '.join(ALLOCATORS)})")

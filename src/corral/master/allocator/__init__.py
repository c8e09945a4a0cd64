"""The allocator seam: who gets offered which agent's free resources in one allocation cycle.

An `Allocator` sees a frozen `AllocationView` (agents' free resources, candidate frameworks with their
allocated totals, suppressed roles and refused-offer filters) and returns `Allocation`s; the master turns
them into offers. The view carries roles already so that the hierarchical allocator (roles, weights,
quota) can slot in behind the same interface.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from corral.core.ids import AgentId, FrameworkId
from corral.core.resources import Resources
from corral.master.state import OfferFilter

# `--min_allocatable_resources=cpus:0.01|mem:32`: a bundle smaller than both is withheld.
MIN_ALLOCATABLE_CPUS = 0.01
MIN_ALLOCATABLE_MEM = 32.0


def is_allocatable(resources: Resources) -> bool:
    return resources.cpus >= MIN_ALLOCATABLE_CPUS or resources.mem >= MIN_ALLOCATABLE_MEM


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentView:
    agent_id: AgentId
    free: Resources
    total: Resources


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkView:
    framework_id: FrameworkId
    roles: tuple[str, ...] = ("*",)
    suppressed_roles: frozenset[str] = frozenset()
    allocated: Resources = field(default_factory=Resources)
    filters: Mapping[AgentId, OfferFilter] = field(default_factory=dict)

    def offerable_role(self) -> str | None:
        """The role offers are made for: its first role that is not suppressed (None: fully suppressed)."""
        return next((r for r in self.roles if r not in self.suppressed_roles), None)

    def is_filtered(self, agent: AgentView, now: float) -> bool:
        offer_filter = self.filters.get(agent.agent_id)
        return offer_filter is not None and offer_filter.blocks(agent.free, now)


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocationView:
    agents: tuple[AgentView, ...]
    frameworks: tuple[FrameworkView, ...]

    def with_filter(
        self,
        framework_id: FrameworkId,
        agent_id: AgentId,
        *,
        until: float,
        resources: Resources | None = None,
    ) -> AllocationView:
        frameworks = tuple(
            replace(f, filters={**f.filters, agent_id: OfferFilter(until, resources)})
            if f.framework_id == framework_id
            else f
            for f in self.frameworks
        )
        return replace(self, frameworks=frameworks)


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    framework_id: FrameworkId
    agent_id: AgentId
    resources: Resources
    role: str = "*"


class Allocator(Protocol):
    def allocate(self, view: AllocationView, now: float) -> list[Allocation]:
        """Offer each agent's free resources to at most one framework, for one role."""
        ...

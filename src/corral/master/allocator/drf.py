"""Dominant Resource Fairness across frameworks (role "*"), as Mesos' framework sorter does it.

A framework's dominant share is the largest of its allocated/total ratios over the cluster's scalar
resources. Agents are visited in random order (upstream shuffles them, so no agent is always offered
first); each agent's whole free bundle goes to the eligible framework with the lowest share, whose share
then grows. Frameworks sit in a heap keyed by share, so a cycle costs O(agents * log frameworks) plus the
frameworks skipped because a filter blocks them on that agent, rather than agents * frameworks.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from corral.core.resources import Resources
from corral.master.allocator import (
    AgentView,
    Allocation,
    AllocationView,
    FrameworkView,
    is_allocatable,
)

if TYPE_CHECKING:
    import random  # only the type: randomness is injected


def cluster_totals(agents: Iterable[AgentView]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for agent in agents:
        for name, value in agent.total.scalars.items():
            totals[name] = totals.get(name, 0.0) + value
    return totals


def dominant_share(allocated: Mapping[str, float], totals: Mapping[str, float]) -> float:
    return max((allocated.get(name, 0.0) / total for name, total in totals.items() if total > 0), default=0.0)


def _add(into: dict[str, float], resources: Resources) -> None:
    for name, value in resources.scalars.items():
        into[name] = into.get(name, 0.0) + value


class DrfAllocator:
    """`rng` shuffles the agents each cycle; without one they are visited in the view's order."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng

    def allocate(self, view: AllocationView, now: float) -> list[Allocation]:
        totals = cluster_totals(view.agents)
        allocated: list[dict[str, float]] = []
        heap: list[tuple[float, int]] = []
        candidates: list[tuple[FrameworkView, str]] = []
        for framework in view.frameworks:
            role = framework.offerable_role()
            if role is None:
                continue
            index = len(candidates)
            candidates.append((framework, role))
            allocated.append(dict(framework.allocated.scalars))
            heap.append((dominant_share(allocated[index], totals), index))
        if not heap:
            return []
        heapq.heapify(heap)
        agents = list(view.agents)
        if self._rng is not None:
            self._rng.shuffle(agents)
        out: list[Allocation] = []
        for agent in agents:
            if not is_allocatable(agent.free):
                continue
            skipped: list[tuple[float, int]] = []
            while heap:
                entry = heapq.heappop(heap)
                framework, role = candidates[entry[1]]
                if framework.is_filtered(agent, now):
                    skipped.append(entry)
                    continue
                out.append(
                    Allocation(
                        framework_id=framework.framework_id,
                        agent_id=agent.agent_id,
                        resources=agent.free,
                        role=role,
                    )
                )
                _add(allocated[entry[1]], agent.free)
                heapq.heappush(heap, (dominant_share(allocated[entry[1]], totals), entry[1]))
                break
            for entry in skipped:
                heapq.heappush(heap, entry)
        return out

"""Allocator scenarios in the style of upstream's `hierarchical_allocator_tests.cpp`: agents join one at a
time, each cycle's allocations are kept (offers count as allocated), and the share arithmetic is written
beside each step. `Cluster` is the bookkeeping the master does between cycles, reduced to what the
allocator sees (mesos.md e.1).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from corral.core.ids import AgentId, FrameworkId
from corral.core.reservations import Reservation, static, subtract_reserved
from corral.core.resources import Resources
from corral.master.allocator import (
    AgentView,
    Allocation,
    AllocationView,
    Allocator,
    FrameworkView,
    RoleView,
)
from corral.master.allocator.hierarchical import HierarchicalAllocator, RandomAllocator


@dataclass
class Agent:
    total: Resources
    free: Resources
    reserved: dict[Reservation, Resources]


@dataclass
class Cluster:
    allocator: Allocator = field(default_factory=HierarchicalAllocator)
    agents: dict[AgentId, Agent] = field(default_factory=dict)
    frameworks: dict[FrameworkId, tuple[str, ...]] = field(default_factory=dict)
    suppressed: dict[FrameworkId, frozenset[str]] = field(default_factory=dict)
    held: dict[tuple[FrameworkId, str], Resources] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    guarantees: dict[str, dict[str, float]] = field(default_factory=dict)
    limits: dict[str, dict[str, float]] = field(default_factory=dict)

    def add_agent(
        self, name: str, reserved: dict[Reservation, Resources] | None = None, *, cpus: float, mem: float
    ) -> None:
        unreserved = Resources.of(cpus=cpus, mem=mem)
        total = unreserved
        for bundle in (reserved or {}).values():
            total = total + bundle
        self.agents[AgentId(name)] = Agent(total, unreserved, dict(reserved or {}))

    def add_framework(self, name: str, *roles: str) -> None:
        self.frameworks[FrameworkId(name)] = roles or ("*",)

    def view(self) -> AllocationView:
        roles: dict[str, RoleView] = {}
        names = {r for rs in self.frameworks.values() for r in rs} | set(self.weights) | set(self.guarantees)
        for role in names:
            allocated: dict[str, float] = {}
            for (_, r), bundle in self.held.items():
                if r == role:
                    for n, v in bundle.scalars.items():
                        allocated[n] = allocated.get(n, 0.0) + v
            reserved: dict[str, float] = {}
            for agent in self.agents.values():
                for key, bundle in agent.reserved.items():
                    if key.role == role:
                        for n, v in bundle.scalars.items():
                            reserved[n] = reserved.get(n, 0.0) + v
            roles[role] = RoleView(
                weight=self.weights.get(role, 1.0),
                guarantee=self.guarantees.get(role, {}),
                limit=self.limits.get(role, {}),
                allocated=allocated,
                reserved=reserved,
            )
        return AllocationView(
            agents=tuple(
                AgentView(agent_id=i, free=a.free, total=a.total, reserved=dict(a.reserved))
                for i, a in self.agents.items()
            ),
            frameworks=tuple(
                FrameworkView(
                    framework_id=f,
                    roles=roles_of,
                    suppressed_roles=self.suppressed.get(f, frozenset()),
                    role_allocated={r: b for (g, r), b in self.held.items() if g == f},
                )
                for f, roles_of in self.frameworks.items()
            ),
            roles=roles,
        )

    def allocate(self) -> list[Allocation]:
        allocations = self.allocator.allocate(self.view(), 0.0)
        for a in allocations:
            agent = self.agents[a.agent_id]
            reserved_part = Resources()
            for bundle in a.reservations.values():
                reserved_part = reserved_part + bundle
            agent.free = agent.free - (a.resources - reserved_part)
            agent.reserved = subtract_reserved(agent.reserved, a.reservations)
            key = (a.framework_id, a.role)
            self.held[key] = self.held.get(key, Resources()) + a.resources
        return allocations


def cpus_of(allocations: list[Allocation], framework: str) -> float:
    return sum(a.resources.cpus for a in allocations if a.framework_id == framework)


def test_drf_within_a_role_goes_to_the_lowest_dominant_share() -> None:
    # Upstream's UnreservedDRF, one role.
    cluster = Cluster()
    cluster.add_framework("f1")
    cluster.add_framework("f2")
    cluster.add_agent("a1", cpus=2, mem=1024)
    [a] = cluster.allocate()
    assert a.framework_id == "f1"  # both at share 0: ties go to the first framework
    # totals: 2 cpus, 1024 mem. f1 = max(2/2, 1024/1024) = 1, f2 = 0

    cluster.add_agent("a2", cpus=1, mem=512)
    [a] = cluster.allocate()
    assert a.framework_id == "f2"  # totals 3 cpus, 1536 mem: f1 = 2/3, f2 = 0
    # f2 = max(1/3, 512/1536) = 1/3

    cluster.add_agent("a3", cpus=3, mem=2048)
    [a] = cluster.allocate()
    assert a.framework_id == "f2"  # totals 6, 3584: f1 = max(2/6, 1024/3584) = 1/3, f2 = 1/6


def test_weights_give_a_role_twice_the_share() -> None:
    # Upstream's UpdateWeight: weights 2:1 split eight equal agents 6:3... here 6 agents as 4:2.
    cluster = Cluster(weights={"gold": 2.0})
    cluster.add_framework("g", "gold")
    cluster.add_framework("s", "silver")
    for i in range(6):
        cluster.add_agent(f"a{i}", cpus=1, mem=512)
    allocations = cluster.allocate()
    # gold share = held/6/2, silver = held/6; per agent the lower goes first, ties to "gold":
    # g(0=0) s(1/12>0) g(1/12<1/6) g(2/12=1/6 tie) s(3/12>1/6) g(3/12<2/6) -> gold 4, silver 2
    assert (cpus_of(allocations, "g"), cpus_of(allocations, "s")) == (4, 2)


def test_quota_guarantee_is_met_before_fair_sharing() -> None:
    # Upstream's QuotaProvidesGuarantee: a role below its guarantee is served first, however low the
    # other roles' shares are.
    cluster = Cluster(guarantees={"quota": {"cpus": 3}})
    cluster.add_framework("q", "quota")
    cluster.add_framework("n", "noquota")
    cluster.held[(FrameworkId("q"), "quota")] = Resources.of(cpus=1)  # quota already holds 1 cpu
    for i in range(4):
        cluster.add_agent(f"a{i}", cpus=1, mem=512)
    allocations = cluster.allocate()
    # Stage 1: quota needs 3 - 1 = 2 more cpus: a0 and a1 (memory as headroom allows: none is guaranteed).
    # Stage 2: totals 4 cpus; quota = 3/4, noquota = 0: a2 and a3 go to noquota.
    assert cpus_of(allocations, "q") == 2 and cpus_of(allocations, "n") == 2
    assert [a.agent_id for a in allocations if a.framework_id == "q"] == ["a0", "a1"]


def test_headroom_is_held_for_a_role_with_no_framework_yet() -> None:
    # Upstream's QuotaAbsentFramework: the guarantee of a role nobody serves is set aside.
    cluster = Cluster(guarantees={"quota": {"cpus": 2}})
    cluster.add_framework("n", "noquota")
    for i in range(3):
        cluster.add_agent(f"a{i}", cpus=1, mem=512)
    allocations = cluster.allocate()
    # required headroom 2 cpus, available 3: noquota may take 1 cpu; the other agents keep their cpus
    # (and are offered their memory alone, which the headroom does not cover).
    assert cpus_of(allocations, "n") == 1
    cluster.add_framework("q", "quota")
    allocations = cluster.allocate()
    assert cpus_of(allocations, "q") == 2


def test_a_limit_caps_what_a_role_is_offered() -> None:
    cluster = Cluster(limits={"capped": {"cpus": 2.5}})
    cluster.add_framework("c", "capped")
    for i in range(4):
        cluster.add_agent(f"a{i}", cpus=1, mem=512)
    allocations = cluster.allocate()
    # 1 + 1 + 0.5 cpus, then nothing but memory.
    assert cpus_of(allocations, "c") == 2.5
    assert sum(a.resources.mem for a in allocations) == 2048


def test_reservations_go_to_their_role_together_with_unreserved_resources() -> None:
    # Upstream's ReservationAllocation: reserved resources are offered only to their role (and its
    # subroles), in the same offer as the agent's unreserved resources.
    cluster = Cluster()
    cluster.add_framework("o", "ops")
    cluster.add_framework("w", "eng/web")
    cluster.add_agent("a1", {static("eng"): Resources.of(cpus=2, mem=256)}, cpus=1, mem=256)
    allocations = cluster.allocate()
    # eng/web and ops both at 0: "eng" < "ops", so eng/web takes eng's reservation and the unreserved rest.
    [a] = allocations
    assert (a.framework_id, a.role) == ("w", "eng/web")
    assert a.resources == Resources.of(cpus=3, mem=512)
    assert a.reservations == {static("eng"): Resources.of(cpus=2, mem=256)}


def test_a_reservation_is_still_offered_to_its_role_after_another_took_the_rest() -> None:
    cluster = Cluster()
    cluster.add_framework("o", "ops")
    cluster.add_framework("e", "eng")
    cluster.held[(FrameworkId("e"), "eng")] = Resources.of(cpus=10)  # eng's share is high: ops goes first
    cluster.add_agent("a1", {static("eng"): Resources.of(cpus=1, mem=64)}, cpus=4, mem=1024)
    allocations = cluster.allocate()
    assert {(a.framework_id, a.resources.cpus) for a in allocations} == {("o", 4), ("e", 1)}


def test_nested_roles_share_their_parents_part() -> None:
    # Upstream's NestedRoleDRF: eng/web and eng/db compete inside eng; eng competes with ops.
    cluster = Cluster()
    cluster.add_framework("web", "eng/web")
    cluster.add_framework("db", "eng/db")
    cluster.add_framework("ops", "ops")
    for i in range(4):
        cluster.add_agent(f"a{i}", cpus=1, mem=512)
    allocations = cluster.allocate()
    # a0: eng (0) vs ops (0), "eng" first; inside eng, eng/db (0) vs eng/web (0): "eng/db" first.
    # a1: eng = 1/4 > ops = 0 -> ops. a2: eng 1/4 = ops 1/4, tie -> eng; inside: db 1/4 > web 0 -> web.
    # a3: eng = 2/4 > ops = 1/4 -> ops.
    assert [a.framework_id for a in allocations] == ["db", "ops", "web", "ops"]


def test_a_suppressed_role_of_a_multi_role_framework_gets_nothing() -> None:
    cluster = Cluster()
    cluster.add_framework("m", "eng", "ops")
    cluster.suppressed[FrameworkId("m")] = frozenset({"ops"})
    for i in range(2):
        cluster.add_agent(f"a{i}", cpus=1, mem=512)
    assert {a.role for a in cluster.allocate()} == {"eng"}


def test_the_random_allocator_keeps_reservations_and_limits() -> None:
    cluster = Cluster(allocator=RandomAllocator(random.Random(7)), limits={"ops": {"cpus": 1}})
    cluster.add_framework("o", "ops")
    cluster.add_framework("e", "eng")
    for i in range(5):
        cluster.add_agent(f"a{i}", {static("eng"): Resources.of(cpus=1)}, cpus=1, mem=512)
    allocations = cluster.allocate()
    assert cpus_of(allocations, "o") <= 1
    assert all(not a.reservations for a in allocations if a.role == "ops")
    assert sum(a.resources.cpus for a in allocations) <= 10

"""Hierarchical DRF (mesos.md e.1): DRF across roles (a tree: `eng` holds `eng/web`), then across the
frameworks of each role, with weights, quota guarantees and limits, reservations and offer filters.

One cycle, as upstream's `HierarchicalAllocatorProcess::__allocate`:

1. Stage 1, quota guarantees. For each agent (in the view's order, shuffled if an rng was given), the
   top-level roles whose guarantee is not met yet are visited in DRF order, and within each its leaf
   roles and then their frameworks in DRF order. The first framework that does not filter the bundle
   gets the role's reservations on that agent plus unreserved resources: scalars named by the guarantee
   only up to the unmet guarantee, other scalars only as far as headroom allows (rule 4).
2. Stage 2, fair share. The same walk over every role. A role's bundle on an agent is its reservations
   (and its ancestors') plus the unreserved resources, with unreserved scalars cut to the role's quota
   limit and to headroom.
3. A framework is offered one bundle per (agent, role); a bundle smaller than every
   `--min_allocatable_resources` set is withheld; a bundle a filter refuses goes to the next framework.
4. Headroom: unreserved resources are held back so that unmet guarantees can still be met later.
   required = sum over roles of (guarantee - consumed), available = totals - sum of every role's
   consumption, where consumption = reservations + unreserved allocations. A role may take unreserved
   scalars beyond its own unmet guarantee only while available - taken >= required.

Orders: a role's share is max over scalars of (allocated in its subtree / cluster total) / its weight; a
framework's share within a role is its dominant share of what it holds in that role (unweighted). Ties go
to the role name, then to the framework's position in the view. As upstream sorts once per agent, the
order is fixed while one agent is served and updated after it; a role that also has subroles competes
with them through a virtual leaf `role/.` holding its own frameworks.

Speed: roles and frameworks sit in sorted lists re-keyed (bisect) after each agent rather than re-sorted,
so serving an agent costs a few list operations: O(agents * log(roles + frameworks)) per cycle when
nothing is filtered. Once an agent's unreserved resources are gone only the roles its remaining
reservations can go to are visited, and an agent with nothing allocatable is skipped outright.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from corral.core.ids import AgentId, FrameworkId
from corral.core.reservations import Reservation, is_subrole, parent_role, top_level_role
from corral.core.resources import Resources
from corral.master.allocator import (
    DEFAULT_MIN_ALLOCATABLE,
    MIN_ALLOCATABLE_CPUS,
    MIN_ALLOCATABLE_MEM,
    AgentView,
    Allocation,
    AllocationView,
    MinAllocatable,
    is_allocatable,
)
from corral.master.state import OfferFilter

if TYPE_CHECKING:
    import random  # only the type: randomness is injected

EPSILON = 1e-9
_NO_RESERVATIONS: Mapping[Reservation, Resources] = {}
_NOTHING = Resources()


def cluster_totals(agents: Iterable[AgentView]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for agent in agents:
        for name, value in agent.total.scalars.items():
            totals[name] = totals.get(name, 0.0) + value
    return totals


def dominant_share(allocated: Mapping[str, float], totals: Mapping[str, float]) -> float:
    return max((allocated.get(name, 0.0) / total for name, total in totals.items() if total > 0), default=0.0)


def floor3(value: float) -> float:
    """Down to Mesos' 3 decimals, so a cut bundle never exceeds the cap it was cut to."""
    return math.floor(value * 1000 + 1e-6) / 1000


def add_scalars(into: dict[str, float], scalars: Mapping[str, float], sign: float = 1.0) -> None:
    for name, value in scalars.items():
        into[name] = into.get(name, 0.0) + sign * value


class _Client:
    """One framework in one of its roles."""

    __slots__ = ("alloc", "dominant", "entry", "filters", "framework_id", "order", "role", "role_filters")

    def __init__(self, framework_id: FrameworkId, role: str, order: int, alloc: dict[str, float]) -> None:
        self.framework_id = framework_id
        self.role = role
        self.order = order
        self.alloc = alloc
        self.dominant = 0.0
        # Refused-offer filters: every role's and, only when it has both kinds, this role's.
        self.filters: Mapping[AgentId, OfferFilter] | None = None
        self.role_filters: Mapping[AgentId, OfferFilter] | None = None
        self.entry: tuple[float, int, _Client] = (0.0, order, self)


class _Quota:
    __slots__ = ("consumed", "guarantee", "limit", "unmet")

    def __init__(self, guarantee: Mapping[str, float], limit: Mapping[str, float]) -> None:
        self.guarantee = dict(guarantee)
        self.limit = dict(limit)
        self.consumed: dict[str, float] = {}
        self.unmet: dict[str, float] = {}


class _Node:
    """A role in the tree (or the root, or the virtual leaf of a role's own frameworks)."""

    __slots__ = (
        "alloc",
        "chain",
        "children",
        "clients",
        "dominant",
        "entry",
        "name",
        "parent",
        "quota",
        "role",
        "weight",
    )

    def __init__(self, name: str, role: str, weight: float, parent: _Node | None) -> None:
        self.name = name
        self.role = role
        self.weight = weight
        self.parent = parent
        self.children: list[tuple[float, str, _Node]] = []
        self.clients: list[tuple[float, int, _Client]] = []
        self.alloc: dict[str, float] = {}
        self.dominant = 0.0
        self.quota: _Quota | None = None
        self.entry: tuple[float, str, _Node] = (0.0, name, self)
        # This node and its ancestors, the root excepted: whose shares an allocation here changes.
        self.chain: tuple[_Node, ...] = ()

    def leaves(self) -> Iterator[_Node]:
        for entry in self.children:
            child = entry[2]
            if child.children:
                yield from child.leaves()
            else:
                yield child


class _Cycle:
    """The working state of one allocation cycle, built from the view."""

    def __init__(self, view: AllocationView, now: float, rng: random.Random | None, randomized: bool) -> None:
        self.now = now
        self.rng = rng
        self.randomized = randomized and rng is not None
        self.minimum: MinAllocatable = view.min_allocatable
        totals = dict(view.totals) if view.totals is not None else cluster_totals(view.agents)
        self.totals = {n: t for n, t in totals.items() if t > 0}
        self.root = _Node("", "", 1.0, None)
        self.leaves: list[_Node] = []
        # The quotas of roles with frameworks to offer to (stage 1 serves those below their guarantee).
        self.quotas: list[_Quota] = []
        # Headroom (rule 4): per scalar that some guarantee still needs, what all guarantees need, and how
        # much more than that is unallocated (available - required), which other allocations may take.
        self.required: dict[str, float] = {}
        self.slack: dict[str, float] = {}
        self.out: list[Allocation] = []
        self.first_stage: dict[tuple[int, AgentId], int] = {}
        self.dirty_clients: list[tuple[_Node, _Client]] = []
        self.dirty_nodes: list[_Node] = []
        self._under: dict[str, list[_Node]] = {}
        self._weights: list[float] | None = None
        own = self._build_clients(view)
        self._build_tree(view, own)
        self._build_quota(view, own)

    # ------------------------------------------------------------ setup

    def _build_clients(self, view: AllocationView) -> dict[str, dict[str, float]]:
        """Clients per role, and each role's own allocation (scalars)."""
        own: dict[str, dict[str, float]] = {
            name: dict(r.allocated) for name, r in view.roles.items() if r.allocated is not None
        }
        summed: dict[str, dict[str, float]] = {}
        self.clients_of: dict[str, list[_Client]] = {}
        for order, framework in enumerate(view.frameworks):
            for role in framework.roles:
                if role not in own:
                    add_scalars(summed.setdefault(role, {}), framework.allocated_in(role).scalars)
            for role in framework.offerable_roles():
                held = dict(framework.allocated_in(role).scalars)
                client = _Client(framework.framework_id, role, order, held)
                client.dominant = dominant_share(client.alloc, self.totals)
                client.entry = (client.dominant, order, client)
                per_role = framework.role_filters.get(role)
                if framework.filters and per_role:
                    client.filters = framework.filters
                    client.role_filters = per_role
                else:
                    client.filters = framework.filters or per_role or None
                self.clients_of.setdefault(role, []).append(client)
        for role, alloc in summed.items():
            own.setdefault(role, alloc)
        return own

    def _node(self, role: str, view: AllocationView, nodes: dict[str, _Node]) -> _Node:
        if role in nodes:
            return nodes[role]
        parent_name = parent_role(role)
        parent = self.root if parent_name is None else self._node(parent_name, view, nodes)
        node = _Node(role, role, view.role(role).weight, parent)
        nodes[role] = node
        parent.children.append(node.entry)
        return node

    def _build_tree(self, view: AllocationView, own: Mapping[str, Mapping[str, float]]) -> None:
        nodes: dict[str, _Node] = {}
        for role in self.clients_of:
            self._node(role, view, nodes)
        for role, clients in self.clients_of.items():
            node = nodes[role]
            if node.children:  # the role's own frameworks compete with its subroles as `role/.`
                leaf = _Node(role + "/.", role, node.weight, node)
                node.children.append(leaf.entry)
                add_scalars(leaf.alloc, own.get(role, {}))
            else:
                leaf = node
            leaf.clients = [c.entry for c in clients]
            self.leaves.append(leaf)
        for role, alloc in own.items():
            name: str | None = role
            while name is not None:
                if name in nodes:
                    add_scalars(nodes[name].alloc, alloc)
                name = parent_role(name)
        for node in [*nodes.values(), *self.leaves]:
            node.dominant = dominant_share(node.alloc, self.totals)
            node.entry = (node.dominant / node.weight, node.name, node)
        for node in [self.root, *nodes.values()]:
            node.children = sorted(c[2].entry for c in node.children)
        for leaf in self.leaves:
            chain: list[_Node] = []
            current: _Node | None = leaf
            while current is not None and current.parent is not None:
                chain.append(current)
                current = current.parent
            leaf.chain = tuple(chain)
        for leaf in self.leaves:
            leaf.clients.sort()

    def _build_quota(self, view: AllocationView, own: Mapping[str, Mapping[str, float]]) -> None:
        consumed_own: dict[str, dict[str, float]] = {}
        for role in {*own, *view.roles}:
            info = view.role(role)
            consumption = dict(own.get(role, {}))
            add_scalars(consumption, info.reserved)
            add_scalars(consumption, info.allocated_reserved, -1.0)
            consumed_own[role] = consumption
        by_top: dict[str, _Quota] = {}
        required: dict[str, float] = {}
        for role, info in view.roles.items():
            if info.has_quota and "/" not in role:
                quota = _Quota(info.guarantee, info.limit)
                for other, consumption in consumed_own.items():
                    if is_subrole(other, role):
                        add_scalars(quota.consumed, consumption)
                for name, amount in quota.guarantee.items():
                    if (unmet := amount - quota.consumed.get(name, 0.0)) > EPSILON:
                        quota.unmet[name] = unmet
                        required[name] = required.get(name, 0.0) + unmet
                by_top[role] = quota
        for leaf in self.leaves:
            leaf.quota = by_top.get(top_level_role(leaf.role))
            if leaf.quota is not None and all(q is not leaf.quota for q in self.quotas):
                self.quotas.append(leaf.quota)
        for entry in self.root.children:
            entry[2].quota = by_top.get(entry[2].role)
        self.required = required
        for name, amount in required.items():
            available = self.totals.get(name, 0.0)
            for consumption in consumed_own.values():
                available -= consumption.get(name, 0.0)
            self.slack[name] = available - amount

    # ------------------------------------------------------------ one bundle

    def _shape(self, unreserved: Resources, quota: _Quota | None, stage1: bool) -> Resources:
        """Cut the unreserved scalars to the role's limit, to what stage 1 may give and to headroom."""
        cut: dict[str, float] | None = None
        scalars = unreserved.scalars
        slack = self.slack
        if quota is None:  # headroom only: a constrained scalar may be taken up to its slack
            for name, room in slack.items():
                held = scalars.get(name)
                if held is not None and held > room:
                    if cut is None:
                        cut = dict(scalars)
                    cut[name] = max(floor3(room), 0.0)
        else:
            for name, have in scalars.items():
                amount = have
                limit = quota.limit.get(name)
                if limit is not None and amount > (cap := limit - quota.consumed.get(name, 0.0)):
                    amount = max(floor3(cap), 0.0)
                toward = min(amount, quota.unmet.get(name, 0.0))
                surplus = amount - toward
                if stage1 and name in quota.guarantee:
                    surplus = 0.0
                if surplus > 0 and (spare := slack.get(name)) is not None and surplus > spare:
                    surplus = max(floor3(spare), 0.0)
                amount = floor3(toward + surplus) if toward + surplus < have else have
                if amount != have:
                    if cut is None:
                        cut = dict(scalars)
                    cut[name] = amount
        if cut is None:
            return unreserved
        return Resources({n: v for n, v in cut.items() if v > 0}, unreserved.ranges, unreserved.sets)

    def _allocatable(self, bundle: Resources) -> bool:
        if self.minimum is DEFAULT_MIN_ALLOCATABLE:
            scalars = bundle.scalars
            return (
                scalars.get("cpus", 0.0) >= MIN_ALLOCATABLE_CPUS
                or scalars.get("mem", 0.0) >= MIN_ALLOCATABLE_MEM
            )
        return is_allocatable(bundle, self.minimum)

    def offer(
        self,
        leaf: _Node,
        agent_id: AgentId,
        unreserved: Resources,
        reserved: Mapping[Reservation, Resources],
        stage1: bool,
        *,
        checked: bool = False,
    ) -> tuple[Resources, Mapping[Reservation, Resources]] | None:
        """Give the first framework of `leaf` that takes it the role's bundle on this agent; returns what
        was given (unreserved part, reserved part), or None. `checked`: `unreserved` is allocatable."""
        quota = leaf.quota
        shaped = unreserved
        if (quota is not None or self.slack) and unreserved.scalars:
            shaped = self._shape(unreserved, quota, stage1)
        bundle = shaped
        mine: Mapping[Reservation, Resources] = _NO_RESERVATIONS
        if reserved:
            role = leaf.role
            mine = {k: v for k, v in reserved.items() if is_subrole(role, k.role)}
            for part in mine.values():
                bundle = bundle + part
        if (bundle is not unreserved or not checked) and not self._allocatable(bundle):
            return None
        now = self.now
        for entry in self._client_order(leaf):
            client = entry[2]
            if client.filters is not None:
                found = client.filters.get(agent_id)
                if found is not None and found.blocks(bundle, now):
                    continue
                if client.role_filters is not None:
                    found = client.role_filters.get(agent_id)
                    if found is not None and found.blocks(bundle, now):
                        continue
            self._record(client, agent_id, bundle, mine, stage1)
            self._charge(leaf, client, bundle, shaped)
            return shaped, mine
        return None

    def _record(
        self,
        client: _Client,
        agent_id: AgentId,
        bundle: Resources,
        reservations: Mapping[Reservation, Resources],
        stage1: bool,
    ) -> None:
        """One allocation; a client served on the same agent in both stages gets one, merged."""
        if self.first_stage and (index := self.first_stage.get((id(client), agent_id))) is not None:
            have = self.out[index]
            merged = dict(have.reservations)
            for k, v in reservations.items():
                merged[k] = merged[k] + v if k in merged else v
            self.out[index] = replace(have, resources=have.resources + bundle, reservations=merged)
            return
        if stage1:
            self.first_stage[(id(client), agent_id)] = len(self.out)
        self.out.append(
            Allocation(
                framework_id=client.framework_id,
                agent_id=agent_id,
                resources=bundle,
                role=client.role,
                reservations=reservations,
            )
        )

    def _client_order(self, leaf: _Node) -> list[tuple[float, int, _Client]]:
        """DRF order, or for the random sorter the frameworks from a random one on (a rotation: the
        first framework asked is uniformly random, which is what decides nearly every offer)."""
        clients = leaf.clients
        if self.randomized and self.rng is not None and len(clients) > 1:
            start = self.rng.randrange(len(clients))
            return clients[start:] + clients[:start]
        return clients

    def _charge(self, leaf: _Node, client: _Client, bundle: Resources, unreserved: Resources) -> None:
        totals = self.totals
        added = bundle.scalars.items()
        alloc = client.alloc
        dominant = client.dominant
        for name, value in added:
            alloc[name] = held = alloc.get(name, 0.0) + value
            if (total := totals.get(name)) is not None and held / total > dominant:
                dominant = held / total
        client.dominant = dominant
        self.dirty_clients.append((leaf, client))
        for node in leaf.chain:
            alloc = node.alloc
            dominant = node.dominant
            for name, value in added:
                alloc[name] = held = alloc.get(name, 0.0) + value
                if (total := totals.get(name)) is not None and held / total > dominant:
                    dominant = held / total
            node.dominant = dominant
        self.dirty_nodes += leaf.chain
        taken = unreserved.scalars
        if not taken:
            return
        quota = leaf.quota
        slack = self.slack
        if quota is not None:
            for name, value in taken.items():
                quota.consumed[name] = quota.consumed.get(name, 0.0) + value
                unmet = quota.unmet.get(name)
                if unmet is not None:
                    took = min(value, unmet)
                    if unmet - took > EPSILON:
                        quota.unmet[name] = unmet - took
                    else:
                        del quota.unmet[name]
                    self.required[name] -= took
                    if name in slack:
                        slack[name] += took
        if slack:
            for name, value in taken.items():
                if name in slack:
                    slack[name] -= value
            for name in [n for n in slack if self.required[n] <= EPSILON]:
                del slack[name]

    def rekey(self) -> None:
        """After an agent: move the roles and frameworks whose shares grew to their new places (a node
        listed twice is moved twice, harmlessly)."""
        for leaf, client in self.dirty_clients:
            clients = leaf.clients
            old = client.entry
            del clients[bisect_left(clients, (old[0], old[1]))]
            client.entry = new = (client.dominant, client.order, client)
            insort(clients, new)
        self.dirty_clients.clear()
        for node in self.dirty_nodes:
            siblings = node.parent.children  # type: ignore[union-attr]  # chains never hold the root
            old_node = node.entry
            del siblings[bisect_left(siblings, (old_node[0], old_node[1]))]
            node.entry = new_node = (node.dominant / node.weight, node.name, node)
            insort(siblings, new_node)
        self.dirty_nodes.clear()

    # ------------------------------------------------------------ orders

    def leaf_order(self) -> Iterable[_Node]:
        """Leaves in DRF order (lazily: most agents are gone after the first role), or for the random sorter
        from a role picked at random in proportion to its weight on (a rotation, as for frameworks)."""
        if not self.randomized:
            return self.root.leaves()
        assert self.rng is not None
        if self._weights is None:
            self._weights = list(itertools.accumulate(leaf.weight for leaf in self.leaves))
        start = bisect_left(self._weights, self.rng.random() * self._weights[-1])
        start = min(start, len(self.leaves) - 1)
        return self.leaves[start:] + self.leaves[:start]

    def leaves_under(self, role: str) -> list[_Node]:
        """The leaves that reservations for `role` can go to (the role and its subroles)."""
        found = self._under.get(role)
        if found is None:
            found = self._under[role] = [leaf for leaf in self.leaves if is_subrole(leaf.role, role)]
        return found

    @staticmethod
    def path_key(leaf: _Node) -> tuple[tuple[float, str], ...]:
        key: list[tuple[float, str]] = []
        node: _Node | None = leaf
        while node is not None and node.parent is not None:
            key.append((node.entry[0], node.entry[1]))
            node = node.parent
        return tuple(reversed(key))

    # ------------------------------------------------------------ the stages

    def serve(
        self, agent_id: AgentId, unreserved: Resources, reserved: Mapping[Reservation, Resources]
    ) -> None:
        """Stage 2 for one agent."""
        if not reserved:  # the common case: one role takes the whole agent
            if unreserved.is_empty() or not self._allocatable(unreserved):
                return
            for leaf in self.leaf_order():
                given = self.offer(leaf, agent_id, unreserved, reserved, False, checked=True)
                if given is not None:
                    if given[0] is unreserved:
                        break
                    unreserved = unreserved - given[0]
                    if unreserved.is_empty() or not self._allocatable(unreserved):
                        break
            self.rekey()
            return
        visited: set[int] = set()
        order: Iterable[_Node] = ()
        if not unreserved.is_empty():
            order = self.leaf_order()
            for leaf in order:
                visited.add(id(leaf))
                given = self.offer(leaf, agent_id, unreserved, reserved, False)
                if given is not None:
                    unreserved = _NOTHING if given[0] is unreserved else unreserved - given[0]
                    if given[1]:
                        reserved = {k: v for k, v in reserved.items() if k not in given[1]}
                    if unreserved.is_empty():
                        break
        if reserved:
            self._serve_reservations(agent_id, reserved, visited, order)
        self.rekey()

    def _serve_reservations(
        self,
        agent_id: AgentId,
        reserved: Mapping[Reservation, Resources],
        visited: set[int],
        order: Iterable[_Node],
    ) -> None:
        """The rest of the walk once no unreserved resources are left: only the roles the remaining
        reservations can go to, in the same order."""
        candidates: dict[int, _Node] = {}
        for reservation in reserved:
            for leaf in self.leaves_under(reservation.role):
                if id(leaf) not in visited:
                    candidates[id(leaf)] = leaf
        if not candidates:
            return
        if self.randomized:
            ranked = order if isinstance(order, list) else self.leaf_order()
            rank = {id(leaf): i for i, leaf in enumerate(ranked)}
            leaves = sorted(candidates.values(), key=lambda leaf: rank[id(leaf)])
        else:
            leaves = sorted(candidates.values(), key=self.path_key)
        for leaf in leaves:
            if not reserved:
                return
            given = self.offer(leaf, agent_id, _NOTHING, reserved, False)
            if given is not None:
                reserved = {k: v for k, v in reserved.items() if k not in given[1]}

    def guarantee_pending(self) -> bool:
        """Some role with frameworks to offer to is still below its guarantee."""
        return any(q.unmet for q in self.quotas)

    def _guarantee_leaves(self) -> Iterable[_Node]:
        if self.randomized:
            return [leaf for leaf in self.leaf_order() if leaf.quota is not None]
        return (
            leaf
            for entry in self.root.children
            if (quota := entry[2].quota) is not None and quota.unmet
            for leaf in ((entry[2],) if not entry[2].children else entry[2].leaves())
        )

    def serve_guarantees(
        self, agent_id: AgentId, unreserved: Resources, reserved: Mapping[Reservation, Resources]
    ) -> tuple[Resources, Mapping[Reservation, Resources]]:
        """Stage 1 for one agent: what is left of it afterwards."""
        for leaf in self._guarantee_leaves():
            quota = leaf.quota
            if quota is None or not quota.unmet:
                continue
            if unreserved.is_empty() and not any(is_subrole(leaf.role, k.role) for k in reserved):
                continue
            given = self.offer(leaf, agent_id, unreserved, reserved, True)
            if given is not None:
                unreserved = _NOTHING if given[0] is unreserved else unreserved - given[0]
                if given[1]:
                    reserved = {k: v for k, v in reserved.items() if k not in given[1]}
        self.rekey()
        return unreserved, reserved


class HierarchicalAllocator:
    """Hierarchical DRF. `rng` shuffles the agents each cycle; without one they are served in view order."""

    randomized = False

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng

    def allocate(self, view: AllocationView, now: float) -> list[Allocation]:
        if not view.frameworks or not view.agents:
            return []
        cycle = _Cycle(view, now, self._rng, self.randomized)
        if not cycle.leaves:
            return []
        agents = list(view.agents)
        if self._rng is not None:
            self._rng.shuffle(agents)
        serve = cycle.serve
        if cycle.guarantee_pending():
            left: dict[int, tuple[Resources, Mapping[Reservation, Resources]]] = {}
            for i, agent in enumerate(agents):
                if not cycle.guarantee_pending():
                    break
                rest = cycle.serve_guarantees(agent.agent_id, agent.free, agent.reserved)
                if rest[0] is not agent.free or rest[1] is not agent.reserved:
                    left[i] = rest
            for i, agent in enumerate(agents):
                if i in left:
                    serve(agent.agent_id, *left[i])
                else:
                    serve(agent.agent_id, agent.free, agent.reserved)
        else:
            for agent in agents:
                serve(agent.agent_id, agent.free, agent.reserved)
        return cycle.out


class RandomAllocator(HierarchicalAllocator):
    """The same stages, reservations, quota and filters, with roles in weighted random order and each
    role's frameworks in random order (upstream's `random` sorter). Without an rng it is deterministic:
    roles and frameworks are then taken in DRF order."""

    randomized = True

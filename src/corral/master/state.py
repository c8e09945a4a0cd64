"""The master's soft state: agents, frameworks, tasks, executors and outstanding offers.

Plain records owned and mutated by `MasterCore` alone. The mutators below keep the resource books balanced:

- an agent's `used` is the sum of its live (non-terminal) tasks' and its executors' resources, and its
  `offered` the sum of its outstanding offers; `free = total - used - offered`;
- a framework's `used` and `offered` are the same sums over that framework, across agents;
- a task is in exactly one of `tasks`, `unreachable_tasks` or `completed_tasks` of its framework;
- the reserved part of every such sum is kept beside it per reservation (`used_reserved`, ...), and the
  role books (`roles`) hold the same sums per role, so neither allocation nor `/roles` walks the agents;
- an agent whose free resources may have changed is in `dirty_agents` until the next allocation looks.

Frameworks and tasks are not persisted (as upstream): a restarted master rebuilds them from agents that
re-register and from schedulers that re-subscribe.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import NewType

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.reservations import Reservation, add_reserved, subtract_reserved, sum_reserved
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.roles import RoleBook
from corral.protocol.agent import ResourceStatistics
from corral.protocol.mesos import (
    AgentInfo,
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    Offer,
    TaskInfo,
    TaskStatus,
    reserved_in,
)
from corral.security.acls import Authorizer

StreamId = NewType("StreamId", str)


@dataclass(frozen=True, slots=True)
class OfferFilter:
    """A refused-offer filter: the framework is not offered `resources` (None: anything) on one agent."""

    until: float
    resources: Resources | None = None

    def blocks(self, free: Resources, now: float) -> bool:
        return now < self.until and (self.resources is None or free <= self.resources)


@dataclass(slots=True)
class AgentRecord:
    id: AgentId
    info: AgentInfo
    ip: str
    connection: int
    registered_time: float
    reregistered_time: float | None = None
    connected: bool = True
    # Bumped on every disconnection, so a re-registration timer armed for an earlier one is ignored.
    disconnections: int = 0
    used: Resources = field(default_factory=Resources)
    offered: Resources = field(default_factory=Resources)
    # The reserved parts of `used` and `offered`, per reservation.
    used_reserved: dict[Reservation, Resources] = field(default_factory=dict)
    offered_reserved: dict[Reservation, Resources] = field(default_factory=dict)
    offer_ids: set[OfferId] = field(default_factory=set)
    tasks: set[tuple[FrameworkId, TaskId]] = field(default_factory=set)
    executors: set[tuple[FrameworkId, ExecutorId]] = field(default_factory=set)
    # KILLs that arrived while the agent was disconnected, resent when it re-registers (upstream's
    # `slave->killedTasks`): task -> the KILL's grace period.
    pending_kills: dict[tuple[FrameworkId, TaskId], float | None] = field(default_factory=dict)
    # Pings sent since the agent was last heard from; past `max_agent_ping_timeouts` it is unreachable.
    missed_pings: int = 0
    _free: Resources | None = None

    @property
    def total(self) -> Resources:
        return self.info.resources

    @property
    def reservations(self) -> Mapping[Reservation, Resources]:
        return self.info.reservations

    @property
    def free(self) -> Resources:
        """Free resources, reserved or not."""
        if self._free is None:
            self._free = self.total - self.used - self.offered
        return self._free

    @property
    def free_reserved(self) -> dict[Reservation, Resources]:
        if not self.info.reservations:
            return {}
        left = subtract_reserved(self.info.reservations, self.used_reserved)
        return subtract_reserved(left, self.offered_reserved)

    @property
    def free_unreserved(self) -> Resources:
        if not self.info.reservations:
            return self.free
        return self.free - sum_reserved(self.free_reserved)

    @property
    def unreserved_total(self) -> Resources:
        return self.total - sum_reserved(self.info.reservations) if self.info.reservations else self.total

    def change(
        self,
        *,
        used: Resources | None = None,
        offered: Resources | None = None,
        used_reserved: dict[Reservation, Resources] | None = None,
        offered_reserved: dict[Reservation, Resources] | None = None,
    ) -> None:
        if used is not None:
            self.used = used
        if offered is not None:
            self.offered = offered
        if used_reserved is not None:
            self.used_reserved = used_reserved
        if offered_reserved is not None:
            self.offered_reserved = offered_reserved
        self._free = None


@dataclass(slots=True)
class TaskRecord:
    info: TaskInfo
    framework_id: FrameworkId
    agent_id: AgentId
    executor_id: ExecutorId | None
    state: TaskState
    role: str = "*"
    # The reserved part of its resources (from the resources' `role`/`reservations` as the framework sent
    # them); None: read from the TaskInfo on first use.
    reserved: Mapping[Reservation, Resources] | None = None
    statuses: list[TaskStatus] = field(default_factory=list)
    # The update being delivered (reliably, by the agent) may lag `state`, the latest the agent knows.
    status_update_state: TaskState | None = None
    status_update_uuid: bytes | None = None
    unreachable_time: float | None = None
    # Its JSON in `/master/state`, kept once the task is completed (it no longer changes): a cluster's
    # thousands of completed tasks would otherwise be rebuilt on every state version.
    completed_json: bytes | None = None
    # What its container used at its agent's latest `UsageReport`, while it runs (never once it has ended).
    statistics: ResourceStatistics | None = None

    @property
    def id(self) -> TaskId:
        return self.info.task_id

    @property
    def resources(self) -> Resources:
        return self.info.resources

    @property
    def reservations(self) -> Mapping[Reservation, Resources]:
        if self.reserved is None:
            try:
                self.reserved = reserved_in(self.info.raw)
            except DecodeError:  # validated when launched; an agent's report is taken as unreserved
                self.reserved = {}
        return self.reserved

    def record(self, status: TaskStatus) -> None:
        """Keep the status history without repeats of the same update (agents resend until acked)."""
        last = self.statuses[-1] if self.statuses else None
        if last is None or last.state != status.state or (status.uuid and last.uuid != status.uuid):
            self.statuses.append(status)


@dataclass(slots=True)
class FrameworkRecord:
    info: FrameworkInfo
    registered_time: float
    max_completed_tasks: int
    stream_id: StreamId | None = None
    connected: bool = False
    # Known only from agents that re-registered after a master restart; the scheduler has not re-subscribed.
    recovered: bool = False
    reregistered_time: float | None = None
    unregistered_time: float | None = None
    suppressed_roles: set[str] = field(default_factory=set)
    failover_deadline: float | None = None
    # Refused-offer filters per role and agent.
    filters: dict[str, dict[AgentId, OfferFilter]] = field(default_factory=dict)
    tasks: dict[TaskId, TaskRecord] = field(default_factory=dict)
    unreachable_tasks: dict[TaskId, TaskRecord] = field(default_factory=dict)
    completed_tasks: deque[TaskRecord] = field(init=False)
    executors: dict[tuple[AgentId, ExecutorId], ExecutorInfo] = field(default_factory=dict)
    offer_ids: set[OfferId] = field(default_factory=set)
    used: Resources = field(default_factory=Resources)
    offered: Resources = field(default_factory=Resources)
    # `used + offered`, per role.
    allocated_by_role: dict[str, Resources] = field(default_factory=dict)
    # The role each executor's resources were offered in.
    executor_roles: dict[tuple[AgentId, ExecutorId], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.completed_tasks = deque(maxlen=self.max_completed_tasks)

    def hold(self, role: str, resources: Resources, sign: int) -> None:
        held = self.allocated_by_role.get(role)
        if sign > 0:
            self.allocated_by_role[role] = resources if held is None else held + resources
        elif held is not None:
            left = held - resources
            if left.is_empty():
                del self.allocated_by_role[role]
            else:
                self.allocated_by_role[role] = left

    @property
    def default_role(self) -> str:
        """The role of resources whose role is unknown (adopted tasks and executors): the first one."""
        return self.info.roles[0]

    @property
    def id(self) -> FrameworkId:
        assert self.info.id is not None, "a registered framework always has an id"
        return self.info.id

    @property
    def is_partition_aware(self) -> bool:
        return self.info.is_partition_aware


# ---------------------------------------------------------------- timers


@dataclass(frozen=True, slots=True)
class AllocationTimer:
    pass


@dataclass(frozen=True, slots=True)
class AgentPingTimer:
    pass


@dataclass(frozen=True, slots=True)
class HeartbeatTimer:
    framework_id: FrameworkId
    stream_id: StreamId


@dataclass(frozen=True, slots=True)
class FailoverTimer:
    framework_id: FrameworkId


@dataclass(frozen=True, slots=True)
class ReregisterTimer:
    agent_id: AgentId
    disconnections: int


@dataclass(frozen=True, slots=True)
class OfferTimer:
    offer_id: OfferId


@dataclass(frozen=True, slots=True)
class RecoveryTimer:
    """Registry agents that have not re-registered by now are unreachable."""


Timer = (
    AllocationTimer
    | AgentPingTimer
    | HeartbeatTimer
    | FailoverTimer
    | ReregisterTimer
    | OfferTimer
    | RecoveryTimer
)


# ---------------------------------------------------------------- the whole state


@dataclass(slots=True)
class MasterState:
    master_info: MasterInfo
    start_time: float
    max_completed_frameworks: int
    max_completed_tasks: int
    agents: dict[AgentId, AgentRecord] = field(default_factory=dict)
    # Agents removed after not re-registering in time, with the time they were marked unreachable.
    unreachable_agents: dict[AgentId, float] = field(default_factory=dict)
    # Agents the registry names that have not re-registered since this master was elected (agent -> hostname).
    recovered_agents: dict[AgentId, str] = field(default_factory=dict)
    frameworks: dict[FrameworkId, FrameworkRecord] = field(default_factory=dict)
    completed_frameworks: deque[FrameworkRecord] = field(init=False)
    streams: dict[StreamId, FrameworkId] = field(default_factory=dict)
    offers: dict[OfferId, Offer] = field(default_factory=dict)
    timers: list[tuple[float, int, Timer]] = field(default_factory=list)
    allocation_pending: bool = False
    # Bumped on every change, so renderings of the state (`/master/state`) can be cached per version.
    version: int = 0
    metrics: Counter[str] = field(default_factory=Counter)
    roles: RoleBook = field(default_factory=RoleBook)
    # `--acls`: who may register with which roles and run tasks as which user (no ACLs: anyone, anything).
    authorizer: Authorizer = field(default_factory=Authorizer)
    # Agents whose free resources may have changed since the last allocation looked at them.
    dirty_agents: set[AgentId] = field(default_factory=set)
    # When refused-offer filters lapse: (until, seq, framework, role, agent), a heap.
    filter_expiry: list[tuple[float, int, FrameworkId, str, AgentId]] = field(default_factory=list)
    _timer_seq: itertools.count[int] = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.completed_frameworks = deque(maxlen=self.max_completed_frameworks)

    # ------------------------------------------------------------ timers

    def schedule(self, deadline: float, timer: Timer) -> None:
        heapq.heappush(self.timers, (deadline, next(self._timer_seq), timer))

    def due_timers(self, now: float) -> list[Timer]:
        due: list[Timer] = []
        while self.timers and self.timers[0][0] <= now:
            due.append(heapq.heappop(self.timers)[2])
        return due

    def next_deadline(self, now: float) -> float | None:
        if self.allocation_pending:
            return now
        return self.timers[0][0] if self.timers else None

    # ------------------------------------------------------------ lookups

    def is_removed_framework(self, framework_id: FrameworkId) -> bool:
        return any(f.id == framework_id for f in self.completed_frameworks)

    def connected_frameworks(self) -> list[FrameworkRecord]:
        return [f for f in self.frameworks.values() if f.connected]

    # ------------------------------------------------------------ agents

    def add_agent(self, agent: AgentRecord) -> None:
        """An agent joins the cluster's totals (or rejoins them with new resources: remove it first)."""
        self.agents[agent.id] = agent
        self.roles.add_agent(agent.total, agent.reservations)
        self.dirty_agents.add(agent.id)

    def remove_agent(self, agent: AgentRecord) -> None:
        self.roles.remove_agent(agent.total, agent.reservations)
        self.agents.pop(agent.id, None)
        self.dirty_agents.add(agent.id)

    def set_reservations(self, agent: AgentRecord, reservations: dict[Reservation, Resources]) -> None:
        """RESERVE/UNRESERVE: the agent's reserved part changes, its total does not."""
        self.roles.remove_agent(agent.total, agent.reservations)
        agent.info = replace(agent.info, reservations=reservations)
        agent.change()
        self.roles.add_agent(agent.total, agent.reservations)
        self.dirty_agents.add(agent.id)

    def touch(self, agent: AgentRecord) -> None:
        self.dirty_agents.add(agent.id)

    # ------------------------------------------------------------ filters

    def add_filter(
        self,
        framework: FrameworkRecord,
        role: str,
        agent_id: AgentId,
        *,
        resources: Resources,
        until: float,
        now: float,
    ) -> None:
        """Refuse `resources` on the agent to the framework's role until `until` (merging with a live filter
        there: the framework refused both)."""
        per_agent = framework.filters.setdefault(role, {})
        current = per_agent.get(agent_id)
        if current is not None and current.until > now and current.resources is not None:
            resources = resources + current.resources
            until = max(until, current.until)
        per_agent[agent_id] = OfferFilter(until, resources)
        heapq.heappush(self.filter_expiry, (until, next(self._timer_seq), framework.id, role, agent_id))

    def expire_filters(self, now: float) -> None:
        while self.filter_expiry and self.filter_expiry[0][0] <= now:
            _, _, framework_id, role, agent_id = heapq.heappop(self.filter_expiry)
            framework = self.frameworks.get(framework_id)
            per_agent = framework.filters.get(role) if framework is not None else None
            if per_agent is None:
                continue
            current = per_agent.get(agent_id)
            if current is not None and current.until <= now:
                del per_agent[agent_id]
                if not per_agent:
                    del framework.filters[role]  # type: ignore[union-attr]  # per_agent came from it

    # ------------------------------------------------------------ offers

    def add_offer(self, offer: Offer) -> None:
        self.offers[offer.id] = offer
        agent = self.agents[offer.agent_id]
        agent.offer_ids.add(offer.id)
        agent.change(
            offered=agent.offered + offer.resources,
            offered_reserved=add_reserved(agent.offered_reserved, offer.reservations)
            if offer.reservations
            else None,
        )
        self.dirty_agents.add(agent.id)
        framework = self.frameworks[offer.framework_id]
        framework.offer_ids.add(offer.id)
        framework.offered = framework.offered + offer.resources
        framework.hold(offer.role, offer.resources, 1)
        self.roles.charge(offer.role, offer.resources, offer.reservations, offered=True, sign=1)

    def remove_offer(self, offer_id: OfferId) -> Offer | None:
        """Withdraw an offer and return its resources to the pool; None if it is not outstanding."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return None
        if (agent := self.agents.get(offer.agent_id)) is not None:
            agent.offer_ids.discard(offer_id)
            agent.change(
                offered=agent.offered - offer.resources,
                offered_reserved=subtract_reserved(agent.offered_reserved, offer.reservations)
                if offer.reservations
                else None,
            )
            self.dirty_agents.add(agent.id)
        if (framework := self.frameworks.get(offer.framework_id)) is not None:
            framework.offer_ids.discard(offer_id)
            framework.offered = framework.offered - offer.resources
            framework.hold(offer.role, offer.resources, -1)
        self.roles.charge(offer.role, offer.resources, offer.reservations, offered=True, sign=-1)
        return offer

    # ------------------------------------------------------------ tasks and executors

    def add_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        framework.tasks[task.id] = task
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.add((framework.id, task.id))
        if not task.state.is_terminal:
            self._use(framework, task.agent_id, task.resources, task.role, task.reservations, sign=1)

    def release_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        """A task became terminal: its resources go back to the pool (it stays listed until acknowledged)."""
        self._use(framework, task.agent_id, task.resources, task.role, task.reservations, sign=-1)
        self.allocation_pending = True

    def complete_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        """Move a task to `completed_tasks`, releasing its resources if it was still live."""
        if framework.tasks.pop(task.id, None) is not None and not task.state.is_terminal:
            self.release_task(framework, task)
        framework.unreachable_tasks.pop(task.id, None)
        if (agent := self.agents.get(task.agent_id)) is not None:
            agent.tasks.discard((framework.id, task.id))
        task.statistics = None
        framework.completed_tasks.append(task)

    def add_executor(
        self, framework: FrameworkRecord, agent_id: AgentId, executor: ExecutorInfo, role: str | None = None
    ) -> None:
        framework.executors[(agent_id, executor.executor_id)] = executor
        role = role if role is not None else framework.default_role
        framework.executor_roles[(agent_id, executor.executor_id)] = role
        if (agent := self.agents.get(agent_id)) is not None:
            agent.executors.add((framework.id, executor.executor_id))
        self._use(framework, agent_id, executor.resources, role, reserved_in(executor.raw), sign=1)

    def remove_executor(self, framework: FrameworkRecord, agent_id: AgentId, executor_id: ExecutorId) -> None:
        executor = framework.executors.pop((agent_id, executor_id), None)
        if executor is None:
            return
        role = framework.executor_roles.pop((agent_id, executor_id), framework.default_role)
        if (agent := self.agents.get(agent_id)) is not None:
            agent.executors.discard((framework.id, executor_id))
        self._use(framework, agent_id, executor.resources, role, reserved_in(executor.raw), sign=-1)
        self.allocation_pending = True

    def _use(
        self,
        framework: FrameworkRecord,
        agent_id: AgentId,
        resources: Resources,
        role: str,
        reservations: Mapping[Reservation, Resources],
        *,
        sign: int,
    ) -> None:
        """Resources a task or executor takes (sign 1) or gives back (sign -1)."""
        framework.used = framework.used + resources if sign > 0 else framework.used - resources
        framework.hold(role, resources, sign)
        self.roles.charge(role, resources, reservations, offered=False, sign=sign)
        if (agent := self.agents.get(agent_id)) is not None:
            if sign > 0:
                used_reserved = add_reserved(agent.used_reserved, reservations) if reservations else None
                agent.change(used=agent.used + resources, used_reserved=used_reserved)
            else:
                used_reserved = subtract_reserved(agent.used_reserved, reservations) if reservations else None
                agent.change(used=agent.used - resources, used_reserved=used_reserved)
            self.dirty_agents.add(agent_id)

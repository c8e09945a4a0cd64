"""The master's soft state: agents, frameworks, tasks, executors and outstanding offers.

Plain records owned and mutated by `MasterCore` alone. The mutators below keep the resource books balanced:

- an agent's `used` is the sum of its live (non-terminal) tasks' and its executors' resources, and its
  `offered` the sum of its outstanding offers; `free = total - used - offered`;
- a framework's `used` and `offered` are the same sums over that framework, across agents;
- a task is in exactly one of `tasks`, `unreachable_tasks` or `completed_tasks` of its framework.

Frameworks and tasks are not persisted (as upstream): a restarted master rebuilds them from agents that
re-register and from schedulers that re-subscribe.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import NewType

from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.mesos import (
    AgentInfo,
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    Offer,
    TaskInfo,
    TaskStatus,
)

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
    offer_ids: set[OfferId] = field(default_factory=set)
    tasks: set[tuple[FrameworkId, TaskId]] = field(default_factory=set)
    executors: set[tuple[FrameworkId, ExecutorId]] = field(default_factory=set)
    _free: Resources | None = None

    @property
    def total(self) -> Resources:
        return self.info.resources

    @property
    def free(self) -> Resources:
        if self._free is None:
            self._free = self.total - self.used - self.offered
        return self._free

    def change(self, *, used: Resources | None = None, offered: Resources | None = None) -> None:
        if used is not None:
            self.used = used
        if offered is not None:
            self.offered = offered
        self._free = None


@dataclass(slots=True)
class TaskRecord:
    info: TaskInfo
    framework_id: FrameworkId
    agent_id: AgentId
    executor_id: ExecutorId | None
    state: TaskState
    role: str = "*"
    statuses: list[TaskStatus] = field(default_factory=list)
    # The update being delivered (reliably, by the agent) may lag `state`, the latest the agent knows.
    status_update_state: TaskState | None = None
    status_update_uuid: bytes | None = None
    unreachable_time: float | None = None

    @property
    def id(self) -> TaskId:
        return self.info.task_id

    @property
    def resources(self) -> Resources:
        return self.info.resources

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
    filters: dict[AgentId, OfferFilter] = field(default_factory=dict)
    tasks: dict[TaskId, TaskRecord] = field(default_factory=dict)
    unreachable_tasks: dict[TaskId, TaskRecord] = field(default_factory=dict)
    completed_tasks: deque[TaskRecord] = field(init=False)
    executors: dict[tuple[AgentId, ExecutorId], ExecutorInfo] = field(default_factory=dict)
    offer_ids: set[OfferId] = field(default_factory=set)
    used: Resources = field(default_factory=Resources)
    offered: Resources = field(default_factory=Resources)

    def __post_init__(self) -> None:
        self.completed_tasks = deque(maxlen=self.max_completed_tasks)

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


Timer = AllocationTimer | AgentPingTimer | HeartbeatTimer | FailoverTimer | ReregisterTimer | OfferTimer


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
    frameworks: dict[FrameworkId, FrameworkRecord] = field(default_factory=dict)
    completed_frameworks: deque[FrameworkRecord] = field(init=False)
    streams: dict[StreamId, FrameworkId] = field(default_factory=dict)
    offers: dict[OfferId, Offer] = field(default_factory=dict)
    timers: list[tuple[float, int, Timer]] = field(default_factory=list)
    allocation_pending: bool = False
    # Bumped on every change, so renderings of the state (`/master/state`) can be cached per version.
    version: int = 0
    metrics: Counter[str] = field(default_factory=Counter)
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

    # ------------------------------------------------------------ offers

    def add_offer(self, offer: Offer) -> None:
        self.offers[offer.id] = offer
        agent = self.agents[offer.agent_id]
        agent.offer_ids.add(offer.id)
        agent.change(offered=agent.offered + offer.resources)
        framework = self.frameworks[offer.framework_id]
        framework.offer_ids.add(offer.id)
        framework.offered = framework.offered + offer.resources

    def remove_offer(self, offer_id: OfferId) -> Offer | None:
        """Withdraw an offer and return its resources to the pool; None if it is not outstanding."""
        offer = self.offers.pop(offer_id, None)
        if offer is None:
            return None
        if (agent := self.agents.get(offer.agent_id)) is not None:
            agent.offer_ids.discard(offer_id)
            agent.change(offered=agent.offered - offer.resources)
        if (framework := self.frameworks.get(offer.framework_id)) is not None:
            framework.offer_ids.discard(offer_id)
            framework.offered = framework.offered - offer.resources
        return offer

    # ------------------------------------------------------------ tasks and executors

    def add_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        framework.tasks[task.id] = task
        agent = self.agents.get(task.agent_id)
        if agent is not None:
            agent.tasks.add((framework.id, task.id))
        if not task.state.is_terminal:
            self._use(framework, task.agent_id, task.resources)

    def release_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        """A task became terminal: its resources go back to the pool (it stays listed until acknowledged)."""
        self._unuse(framework, task.agent_id, task.resources)
        self.allocation_pending = True

    def complete_task(self, framework: FrameworkRecord, task: TaskRecord) -> None:
        """Move a task to `completed_tasks`, releasing its resources if it was still live."""
        if framework.tasks.pop(task.id, None) is not None and not task.state.is_terminal:
            self.release_task(framework, task)
        framework.unreachable_tasks.pop(task.id, None)
        if (agent := self.agents.get(task.agent_id)) is not None:
            agent.tasks.discard((framework.id, task.id))
        framework.completed_tasks.append(task)

    def add_executor(self, framework: FrameworkRecord, agent_id: AgentId, executor: ExecutorInfo) -> None:
        framework.executors[(agent_id, executor.executor_id)] = executor
        if (agent := self.agents.get(agent_id)) is not None:
            agent.executors.add((framework.id, executor.executor_id))
        self._use(framework, agent_id, executor.resources)

    def remove_executor(self, framework: FrameworkRecord, agent_id: AgentId, executor_id: ExecutorId) -> None:
        executor = framework.executors.pop((agent_id, executor_id), None)
        if executor is None:
            return
        if (agent := self.agents.get(agent_id)) is not None:
            agent.executors.discard((framework.id, executor_id))
        self._unuse(framework, agent_id, executor.resources)
        self.allocation_pending = True

    def _use(self, framework: FrameworkRecord, agent_id: AgentId, resources: Resources) -> None:
        framework.used = framework.used + resources
        if (agent := self.agents.get(agent_id)) is not None:
            agent.change(used=agent.used + resources)

    def _unuse(self, framework: FrameworkRecord, agent_id: AgentId, resources: Resources) -> None:
        framework.used = framework.used - resources
        if (agent := self.agents.get(agent_id)) is not None:
            agent.change(used=agent.used - resources)

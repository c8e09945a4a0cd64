"""What an agent knows: its frameworks, their executors, and the tasks each executor runs.

Invariants:
- A command task (TaskInfo.command) gets an executor record of its own, with `executor_id == task_id` and
  `is_command`; no executor process exists, the agent supervises the task's process directly.
- A DEFAULT executor (LAUNCH_GROUP) is `is_default` and has no process either: each of its tasks has a
  `TaskContainer` of its own (a nested container), listed in `AgentState.task_containers` until it ends.
- A task lives in exactly one of its executor's `queued` (not yet delivered to an executor that has not
  subscribed), `tasks` (delivered or running, including terminal ones whose terminal update is not yet
  acknowledged) or `completed` (terminal and acknowledged).
- An executor leaves `Framework.executors` once it has terminated and all its tasks are completed (or, if
  its framework is `terminating`, as soon as it has terminated: its tasks are completed then, acknowledged
  or not); a framework is forgotten (kept among `completed_frameworks`) once it has no executors left.
- A framework is `terminating` from the master's ShutdownFramework until it is forgotten: its executors are
  shutting down, and its tasks' updates are recorded but not sent, since nothing could acknowledge them.
- A `recovered` executor is a custom executor that a restarted agent found running: it is REGISTERING until
  it subscribes again or `executor_reregistration_timeout` passes (`recovery.py`).
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Generic, TypeVar

from corral.agent.health_checks import HealthChecker
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.mesos import ExecutorInfo, FrameworkInfo, MasterInfo, TaskInfo, TaskStatus

MAX_COMPLETED_TASKS_PER_EXECUTOR = 200
MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK = 150
MAX_COMPLETED_FRAMEWORKS = 50

K = TypeVar("K")


class ExecutorPhase(StrEnum):
    """Upstream's `Executor::State`. A command task's executor is REGISTERING until its process starts."""

    REGISTERING = "REGISTERING"
    RUNNING = "RUNNING"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"


class KillCause(StrEnum):
    FRAMEWORK = "FRAMEWORK"  # KILL or SHUTDOWN: the task ends TASK_KILLED
    MAX_COMPLETION_TIME = "MAX_COMPLETION_TIME"  # the task ends TASK_FAILED
    TASK_GROUP = "TASK_GROUP"  # another task of its group failed or was killed: it ends TASK_KILLED
    HEALTH_CHECK = "HEALTH_CHECK"  # it failed its health check too often: it ends TASK_KILLED, unhealthy


@dataclass(slots=True, eq=False)
class TaskContainer:
    """The process of one task of a DEFAULT executor, in its own sandbox under the executor's run directory
    (upstream: a nested container), supervised by the agent the way a command task's process is."""

    container_id: ContainerId
    directory: Path
    group: tuple[TaskId, ...]  # the task group it was launched with, itself included
    pid: int | None = None
    kill_cause: KillCause | None = None
    kill_grace: float | None = None  # for a kill requested before the process started
    escalation_deadline: float | None = None
    completion_deadline: float | None = None


@dataclass(slots=True, eq=False)
class Task:
    info: TaskInfo
    framework_id: FrameworkId
    executor_id: ExecutorId
    state: TaskState = TaskState.TASK_STAGING
    statuses: list[TaskStatus] = field(default_factory=list)
    kill_requested: bool = False
    container: TaskContainer | None = None  # only for tasks of a DEFAULT executor
    health: HealthChecker | None = None  # only for tasks with a health check that the agent runs

    @property
    def id(self) -> TaskId:
        return self.info.task_id


@dataclass(slots=True, eq=False)
class Executor:
    info: ExecutorInfo
    framework_id: FrameworkId
    container_id: ContainerId
    directory: Path
    is_command: bool
    is_default: bool = False  # the agent itself acts as this (DEFAULT) executor: see task_groups.py
    phase: ExecutorPhase = ExecutorPhase.REGISTERING
    pid: int | None = None
    exit_status: int | None = None
    queued: dict[TaskId, Task] = field(default_factory=dict)
    groups: list[tuple[TaskId, ...]] = field(default_factory=list)  # queued task groups, in arrival order
    tasks: dict[TaskId, Task] = field(default_factory=dict)
    completed: deque[Task] = field(default_factory=lambda: deque(maxlen=MAX_COMPLETED_TASKS_PER_EXECUTOR))
    shut_down: bool = False  # the agent was told to shut it down: its leftover tasks end TASK_KILLED
    recovered: bool = False  # found running by a restarted agent, and not subscribed again yet
    # Supervision of a command task's process (and of a custom executor's SIGKILL after its grace period).
    kill_cause: KillCause | None = None
    kill_grace: float | None = None  # for a kill requested before the process started
    registration_deadline: float | None = None
    escalation_deadline: float | None = None
    completion_deadline: float | None = None

    @property
    def id(self) -> ExecutorId:
        return self.info.executor_id

    def all_tasks(self) -> Iterator[Task]:
        yield from self.tasks.values()
        yield from self.queued.values()

    def live_tasks(self) -> list[Task]:
        return [t for t in self.all_tasks() if not t.state.is_terminal]

    def task(self, task_id: TaskId) -> Task | None:
        return self.tasks.get(task_id) or self.queued.get(task_id)


@dataclass(slots=True, eq=False)
class Framework:
    info: FrameworkInfo
    executors: dict[ExecutorId, Executor] = field(default_factory=dict)
    completed_executors: deque[Executor] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_EXECUTORS_PER_FRAMEWORK)
    )
    executor_of_task: dict[TaskId, ExecutorId] = field(default_factory=dict)  # tasks not yet completed
    terminating: bool = False

    @property
    def id(self) -> FrameworkId:
        assert self.info.id is not None
        return self.info.id

    def executor_for(self, task_id: TaskId) -> Executor | None:
        executor_id = self.executor_of_task.get(task_id)
        return None if executor_id is None else self.executors.get(executor_id)


@dataclass(slots=True, eq=False)
class AgentState:
    resources: Resources
    start_time: float
    agent_id: AgentId | None = None
    master: MasterInfo | None = None
    connected: bool = False
    awaiting_recovery: bool = False  # a started agent, until it has handled `Recover`
    frameworks: dict[FrameworkId, Framework] = field(default_factory=dict)
    completed_frameworks: deque[Framework] = field(
        default_factory=lambda: deque(maxlen=MAX_COMPLETED_FRAMEWORKS)
    )
    containers: dict[ContainerId, Executor] = field(default_factory=dict)
    task_containers: dict[ContainerId, Task] = field(default_factory=dict)  # live TaskContainers
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    def executors(self) -> Iterator[Executor]:
        for framework in self.frameworks.values():
            yield from framework.executors.values()


class Deadlines(Generic[K]):
    """A min-heap of (deadline, key). Entries are never removed early: whoever pops a key re-checks that
    its deadline still stands, so rescheduling is just adding again."""

    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()

    def add(self, deadline: float, key: K) -> None:
        heapq.heappush(self._heap, (deadline, next(self._seq), key))

    def pop_due(self, now: float) -> list[K]:
        due: list[K] = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due

    def next(self) -> float | None:
        return self._heap[0][0] if self._heap else None

"""Offers: made from allocations; ACCEPTs validated against the current state (upstream `validation.cpp`).

`validate_accept` never mutates and never raises. Offer problems reject the whole call (`Rejected`: every
task is then reported TASK_LOST, or TASK_DROPPED to partition-aware frameworks); task problems reject only
that task (`InvalidTask`: TASK_ERROR), and the rest still launch. Tasks consume the offered resources in
order, so the second of two tasks that do not fit together is the invalid one. Reserved resources must be
used as offered: a task's resources tagged with a reservation (`role`, `reservations[]`) come from that
reservation's part of the offers, untagged ones from the unreserved part (upstream's `validation.cpp`).
RESERVE and UNRESERVE (dynamic reservations, for the offers' role) convert resources of the offers between
unreserved and reserved; an invalid one is dropped alone (`InvalidOperation`), as upstream drops it with
OPERATION_ERROR.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, IdSource, OfferId, TaskId, id_problem
from corral.core.reservations import Reservation, ReservedResources, add_reserved, sum_reserved
from corral.core.resources import Resources
from corral.master.allocator import Allocation
from corral.master.state import AgentRecord, FrameworkRecord, MasterState
from corral.protocol.mesos import ExecutorInfo, Offer, ReservationOperation, TaskInfo, reserved_in
from corral.protocol.scheduler import Launch, LaunchGroup, Operation
from corral.security.acls import Action, task_user


def make_offer(
    allocation: Allocation, agent: AgentRecord, framework: FrameworkRecord, ids: IdSource
) -> Offer:
    executor_ids = tuple(eid for (aid, eid) in framework.executors if aid == agent.id)
    return Offer(
        id=ids.offer(),
        framework_id=framework.id,
        agent_id=agent.id,
        hostname=agent.info.hostname,
        resources=allocation.resources,
        attributes=agent.info.attributes,
        executor_ids=executor_ids,
        agent_ip=agent.ip,
        agent_port=agent.info.port,
        role=allocation.role,
        reservations=allocation.reservations,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskLaunch:
    task: TaskInfo
    new_executor: ExecutorInfo | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupLaunch:
    executor: ExecutorInfo
    tasks: tuple[TaskInfo, ...]
    is_new_executor: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidTask:
    task: TaskInfo
    reason: str
    in_group: bool = False
    unauthorized: bool = False  # run_tasks refused its user (`--acls`)

    @property
    def status_reason(self) -> str:
        """The TASK_ERROR's reason: REASON_TASK[_GROUP]_INVALID or ..._UNAUTHORIZED."""
        kind = "TASK_GROUP" if self.in_group else "TASK"
        return f"REASON_{kind}_{'UNAUTHORIZED' if self.unauthorized else 'INVALID'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class InvalidOperation:
    operation: ReservationOperation
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Accepted:
    agent_id: AgentId
    offered: Resources
    launches: tuple[TaskLaunch | GroupLaunch, ...]
    invalid: tuple[InvalidTask, ...]
    unused: Resources
    # RESERVE and UNRESERVE operations to apply (before the launches), and those refused.
    conversions: tuple[ReservationOperation, ...] = ()
    invalid_operations: tuple[InvalidOperation, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejected:
    reason: str


def tasks_of(operations: tuple[Operation, ...]) -> list[TaskInfo]:
    out: list[TaskInfo] = []
    for op in operations:
        if isinstance(op, Launch | LaunchGroup):
            out.extend(op.tasks)
    return out


def validate_offers(
    state: MasterState, framework: FrameworkRecord, offer_ids: tuple[OfferId, ...]
) -> str | None:
    seen: set[OfferId] = set()
    agents: set[AgentId] = set()
    for offer_id in offer_ids:
        if offer_id in seen:
            return f"Offer {offer_id} is used more than once"
        seen.add(offer_id)
        offer = state.offers.get(offer_id)
        if offer is None:
            return f"Offer {offer_id} is no longer valid"
        if offer.framework_id != framework.id:
            return f"Offer {offer_id} has invalid framework"
        agents.add(offer.agent_id)
    if len(agents) > 1:
        return "Aggregated offers must belong to one single agent"
    if len({state.offers[o].role for o in offer_ids}) > 1:
        return "Aggregated offers must be allocated to the same role"
    for agent_id in agents:
        agent = state.agents.get(agent_id)
        if agent is None or not agent.connected:
            return f"Agent {agent_id} is not available"
    return None


class _Budget:
    """What is left of the offered resources, and which ids this ACCEPT has claimed so far."""

    def __init__(
        self,
        framework: FrameworkRecord,
        agent_id: AgentId,
        offered: Resources,
        reserved: Mapping[Reservation, Resources],
    ) -> None:
        self.framework = framework
        self.agent_id = agent_id
        self.remaining = offered
        # Kept only when the offers hold reservations: then each part of a task must fit its own part.
        self.split = ReservedResources.split(offered, reserved) if reserved else None
        self.task_ids: set[TaskId] = set()
        self.executors: dict[ExecutorId, ExecutorInfo] = {
            eid: info for (aid, eid), info in framework.executors.items() if aid == agent_id
        }
        self.unreachable = framework.unreachable_tasks

    def task_problem(self, task: TaskInfo) -> str | None:
        if problem := id_problem(task.task_id):
            return f"Task ID {task.task_id!r} {problem}"
        if task.task_id in self.framework.tasks or task.task_id in self.task_ids:
            return f"Task has duplicate ID: {task.task_id}"
        if task.task_id in self.unreachable:
            return f"Task ID '{task.task_id}' is already in use by an unreachable task"
        if task.agent_id != self.agent_id:
            return f"Task uses agent {task.agent_id}, but the offers are for agent {self.agent_id}"
        if task.resources.is_empty():
            return "Task uses no resources"
        return None

    def executor_problem(self, executor: ExecutorInfo) -> str | None:
        if problem := id_problem(executor.executor_id):
            return f"Executor ID {executor.executor_id!r} {problem}"
        known = self.executors.get(executor.executor_id)
        if known is not None and known.type != executor.type:
            return f"Executor '{executor.executor_id}' is already running with a different ExecutorInfo"
        return None

    def claim(self, needed: Resources, reserved: Mapping[Reservation, Resources]) -> str | None:
        """Take `needed` (of which `reserved` is the reserved part, per reservation, as the framework
        tagged it) from what is left; each part must come from the matching part of the offers."""
        if missing := needed.missing_from(self.remaining):
            return f"Task uses more resources than offered ({missing})"
        if reserved or self.split is not None:
            split = ReservedResources.split(needed, reserved)
            offered = self.split or ReservedResources(self.remaining, {})
            if missing := split.missing_from(offered):
                return f"Task uses resources the offers do not hold that way ({missing})"
            self.split = offered - split
        self.remaining = self.remaining - needed
        return None

    def convert(self, op: ReservationOperation, role: str) -> str | None:
        """Apply a RESERVE or UNRESERVE to what is left (tasks after it in the same ACCEPT may use the new
        reservation, as upstream allows), or say why it is invalid."""
        if op.resources.is_empty() or sum_reserved(op.reservations) != op.resources:
            return f"{op.type} needs resources that all carry a reservation"
        principal = self.framework.info.principal
        split = self.split or ReservedResources(self.remaining, {})
        for reservation, resources in op.reservations.items():
            if not reservation.is_dynamic:
                return f"{op.type}: only dynamic reservations can be made or removed ({reservation})"
            if reservation.role != role:
                return f"{op.type}: reservation role '{reservation.role}' is not the offers' role '{role}'"
            if op.is_reserve and principal is not None and reservation.principal not in (None, principal):
                return f"RESERVE: principal '{reservation.principal}' is not the framework's '{principal}'"
            parent = reservation.parent
            source = (
                ReservedResources(Resources(), {parent: resources})
                if parent
                else ReservedResources(resources)
            )
            target = ReservedResources(Resources(), {reservation: resources})
            taken, given = (source, target) if op.is_reserve else (target, source)
            if missing := taken.missing_from(split):
                return f"{op.type} of resources the offers do not hold ({missing})"
            split = split - taken + given
        self.split = split
        return None


def _run_problem(state: MasterState, framework: FrameworkRecord, task: TaskInfo) -> str | None:
    """Why the framework's principal may not run the task as its user (run_tasks, checked first as
    upstream does), or None."""
    user = task_user(framework.info, task)
    if state.authorizer.allowed(Action.RUN_TASKS, framework.info.principal, user):
        return None
    return f"Not authorized to launch task '{task.task_id}' as user '{user}'"


def _validate_launch(budget: _Budget, task: TaskInfo) -> TaskLaunch | InvalidTask:
    if (task.command is None) == (task.executor is None):
        return InvalidTask(
            task=task, reason="Task should have at least one (but not both) of command or executor"
        )
    if problem := budget.task_problem(task):
        return InvalidTask(task=task, reason=problem)
    executor = task.executor
    new_executor = None
    needed = task.resources
    try:
        reserved = reserved_in(task.raw)
        if executor is not None:
            reserved_in(executor.raw)
    except DecodeError as e:
        return InvalidTask(task=task, reason=f"Task has invalid resources: {e}")
    if executor is not None:
        if problem := budget.executor_problem(executor):
            return InvalidTask(task=task, reason=problem)
        if executor.executor_id not in budget.executors:
            new_executor = executor
            needed = needed + executor.resources
            reserved = add_reserved(reserved, reserved_in(executor.raw))
    if problem := budget.claim(needed, reserved):
        return InvalidTask(task=task, reason=problem)
    budget.task_ids.add(task.task_id)
    if new_executor is not None:
        budget.executors[new_executor.executor_id] = new_executor
    return TaskLaunch(task=task, new_executor=new_executor)


def _group_problem(budget: _Budget, op: LaunchGroup) -> str | None:
    if not op.tasks:
        return "Task group is empty"
    if op.executor.type != "DEFAULT":
        return "Task group must use the DEFAULT executor"
    if problem := budget.executor_problem(op.executor):
        return problem
    ids = [t.task_id for t in op.tasks]
    if len(set(ids)) != len(ids):
        return "Task group has duplicate task IDs"
    for task in op.tasks:
        if task.executor is not None:
            return f"Task '{task.task_id}' in a task group must not set an executor"
        if problem := budget.task_problem(task):
            return f"Task '{task.task_id}': {problem}"
    is_new = op.executor.executor_id not in budget.executors
    needed = Resources()
    reserved: dict[Reservation, Resources] = {}
    try:
        for task in op.tasks:
            needed = needed + task.resources
            reserved = add_reserved(reserved, reserved_in(task.raw))
        executor_reserved = reserved_in(op.executor.raw)
    except DecodeError as e:
        return f"Task group has invalid resources: {e}"
    if is_new:
        resources = op.executor.resources
        if resources.cpus < 0.01 or resources.mem < 32 or resources.disk <= 0:
            return "The default executor needs at least 0.01 cpus, 32 MB mem and some disk"
        needed = needed + resources
        reserved = add_reserved(reserved, executor_reserved)
    return budget.claim(needed, reserved)


def validate_accept(
    state: MasterState,
    framework: FrameworkRecord,
    offer_ids: tuple[OfferId, ...],
    operations: tuple[Operation, ...],
) -> Accepted | Rejected:
    if not offer_ids:
        return Rejected(reason="No offers specified")
    if problem := validate_offers(state, framework, offer_ids):
        return Rejected(reason=problem)
    offers = [state.offers[o] for o in offer_ids]
    offered = Resources()
    offered_reserved: dict[Reservation, Resources] = {}
    for offer in offers:
        offered = offered + offer.resources
        offered_reserved = add_reserved(offered_reserved, offer.reservations)
    budget = _Budget(framework, offers[0].agent_id, offered, offered_reserved)
    launches: list[TaskLaunch | GroupLaunch] = []
    invalid: list[InvalidTask] = []
    conversions: list[ReservationOperation] = []
    invalid_operations: list[InvalidOperation] = []
    for op in operations:
        if isinstance(op, ReservationOperation):
            if problem := budget.convert(op, offers[0].role):
                invalid_operations.append(InvalidOperation(operation=op, reason=problem))
            else:
                conversions.append(op)
        elif isinstance(op, Launch):
            for task in op.tasks:
                if problem := _run_problem(state, framework, task):
                    invalid.append(InvalidTask(task=task, reason=problem, unauthorized=True))
                    continue
                result = _validate_launch(budget, task)
                if isinstance(result, TaskLaunch):
                    launches.append(result)
                else:
                    invalid.append(result)
        elif isinstance(op, LaunchGroup):
            if problem := next(filter(None, (_run_problem(state, framework, t) for t in op.tasks)), None):
                invalid.extend(
                    InvalidTask(task=t, reason=problem, in_group=True, unauthorized=True) for t in op.tasks
                )
                continue
            if problem := _group_problem(budget, op):
                invalid.extend(InvalidTask(task=t, reason=problem, in_group=True) for t in op.tasks)
                continue
            is_new = op.executor.executor_id not in budget.executors
            budget.executors[op.executor.executor_id] = op.executor
            budget.task_ids.update(t.task_id for t in op.tasks)
            launches.append(GroupLaunch(executor=op.executor, tasks=op.tasks, is_new_executor=is_new))
    return Accepted(
        agent_id=budget.agent_id,
        offered=offered,
        launches=tuple(launches),
        invalid=tuple(invalid),
        unused=budget.remaining,
        conversions=tuple(conversions),
        invalid_operations=tuple(invalid_operations),
    )

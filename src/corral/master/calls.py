"""Scheduler calls other than SUBSCRIBE, applied to the state of a subscribed framework.

Rule 1: every call was already answered 202 by the edge; what goes wrong here is reported on the stream
(TASK_LOST/TASK_DROPPED for invalid offers, TASK_ERROR for invalid tasks, reconciliation answers for
unknown tasks), never as an HTTP error (pymesos dies on a non-2xx from inside a callback).
Rule 2: resources an ACCEPT or DECLINE leaves unused go back to the pool behind a refused-offer filter
for `refuse_seconds` (default 5 s), so they are not offered straight back to the same framework.
"""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import AgentId, OfferId
from corral.core.reservations import add_reserved, subtract_reserved
from corral.core.task_state import TaskState
from corral.master import frameworks
from corral.master.messages import Effect, Notice, SendToAgent
from corral.master.offers import Accepted, GroupLaunch, TaskLaunch, tasks_of, validate_accept
from corral.master.state import FrameworkRecord, MasterState, TaskRecord
from corral.master.tasks import find_task, master_status, reconcile, to_framework
from corral.protocol.agent import (
    AcknowledgeUpdate,
    FrameworkToExecutor,
    KillTask,
    MasterToAgent,
    RunTask,
    RunTaskGroup,
    ShutdownExecutor,
)
from corral.protocol.mesos import ExecutorInfo, ReservationOperation, TaskInfo
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
    Ignored,
    Kill,
    Message,
    Reconcile,
    Request,
    Revive,
    Shutdown,
    Subscribe,
    Suppress,
    Teardown,
    Update,
    UpdateFramework,
)

_METRICS = {
    Accept: "messages_launch_tasks",
    Decline: "messages_decline_offers",
    Revive: "messages_revive_offers",
    Suppress: "messages_suppress_offers",
    Kill: "messages_kill_task",
    Shutdown: "messages_shutdown_executor",
    Acknowledge: "messages_status_update_acknowledgement",
    Reconcile: "messages_reconcile_tasks",
    Message: "messages_framework_to_executor",
    Request: "messages_resource_request",
    Teardown: "messages_unregister_framework",
    UpdateFramework: "messages_update_framework",
}


def apply(state: MasterState, framework: FrameworkRecord, call: Call, now: float) -> list[Effect]:
    if (metric := _METRICS.get(type(call))) is not None:
        state.metrics[metric] += 1
    match call:
        case Accept():
            return accept(state, framework, call, now)
        case Decline():
            for offer_id in call.offer_ids:
                _decline(state, framework, offer_id, call.refuse_seconds, now)
            return []
        case Revive():
            # Un-suppress the roles (all if none are named) and clear their filters (mesos.md a.6).
            roles = set(call.roles or framework.info.roles)
            framework.suppressed_roles -= roles
            for role in roles:
                framework.filters.pop(role, None)
            state.allocation_pending = True
            return []
        case Suppress():
            framework.suppressed_roles |= set(call.roles or framework.info.roles)
            return []
        case Kill():
            return _kill(state, framework, call, now)
        case Shutdown():
            return _to_agent(
                state,
                call.agent_id,
                ShutdownExecutor(framework_id=framework.id, executor_id=call.executor_id),
            )
        case Acknowledge():
            return _acknowledge(state, framework, call)
        case Reconcile():
            return [
                e
                for s in reconcile(state, framework, call.tasks, now)
                for e in to_framework(framework, Update(status=s))
            ]
        case Message():
            message = FrameworkToExecutor(
                framework_id=framework.id, executor_id=call.executor_id, data=call.data
            )
            return _to_agent(state, call.agent_id, message)
        case Teardown():
            return frameworks.remove(state, framework, now, why="the framework tore itself down")
        case UpdateFramework():
            return frameworks.update(state, framework, call)
        case Request() | Ignored() | Subscribe():
            return []  # the allocator takes no requests; SUBSCRIBE arrives as FrameworkSubscribe


def _to_agent(state: MasterState, agent_id: AgentId, message: MasterToAgent) -> list[Effect]:
    agent = state.agents.get(agent_id)
    if agent is None or not agent.connected:
        return []  # as upstream: dropped; the framework reconciles or retries
    return [SendToAgent(agent_id=agent_id, message=message)]


def _decline(
    state: MasterState, framework: FrameworkRecord, offer_id: OfferId, refuse: float, now: float
) -> None:
    offer = state.offers.get(offer_id)
    if offer is None or offer.framework_id != framework.id:
        return
    state.remove_offer(offer_id)
    if refuse > 0:
        state.add_filter(
            framework, offer.role, offer.agent_id, resources=offer.resources, until=now + refuse, now=now
        )


def accept(state: MasterState, framework: FrameworkRecord, call: Accept, now: float) -> list[Effect]:
    result = validate_accept(state, framework, call.offer_ids, call.operations)
    offers = [
        o
        for oid in call.offer_ids
        if (o := state.offers.get(oid)) is not None and o.framework_id == framework.id
    ]
    for offer in offers:
        state.remove_offer(offer.id)
    if not isinstance(result, Accepted):
        state.allocation_pending = True
        effects: list[Effect] = [Notice(text=f"framework {framework.id}: ACCEPT refused: {result.reason}")]
        for task in tasks_of(call.operations):
            status = master_status(
                framework,
                task.task_id,
                TaskState.TASK_DROPPED,
                reason="REASON_INVALID_OFFERS",
                message=f"Task launched with invalid offers: {result.reason}",
                now=now,
                agent_id=task.agent_id,
            )
            effects += to_framework(framework, Update(status=status))
        return effects
    role = offers[0].role
    effects = []
    for conversion in result.conversions:
        effects += _convert(state, framework, result.agent_id, conversion)
    for refused in result.invalid_operations:
        text = f"framework {framework.id}: {refused.operation.type} refused: {refused.reason}"
        effects.append(Notice(text=text))
    for invalid in result.invalid:
        status = master_status(
            framework,
            invalid.task.task_id,
            TaskState.TASK_ERROR,
            reason=invalid.status_reason,
            message=invalid.reason,
            now=now,
            agent_id=invalid.task.agent_id,
        )
        effects.append(
            Notice(
                text=f"task {invalid.task.task_id!r} of framework {framework.id} invalid: {invalid.reason}"
            )
        )
        effects += to_framework(framework, Update(status=status))
    for launch in result.launches:
        effects += _launch(state, framework, result.agent_id, launch, role)
    if not result.unused.is_empty() and call.refuse_seconds > 0:
        until = now + call.refuse_seconds
        state.add_filter(framework, role, result.agent_id, resources=result.unused, until=until, now=now)
    return effects


def _convert(
    state: MasterState, framework: FrameworkRecord, agent_id: AgentId, op: ReservationOperation
) -> list[Effect]:
    """Apply a validated RESERVE or UNRESERVE to the agent's reservations (a refined reservation moves
    resources from its parent's reservation and back)."""
    agent = state.agents[agent_id]
    reservations = dict(agent.reservations)
    for reservation, resources in op.reservations.items():
        made = {reservation: resources}
        parent = {reservation.parent: resources} if reservation.parent is not None else {}
        if op.is_reserve:
            reservations = subtract_reserved(add_reserved(reservations, made), parent)
        else:
            reservations = add_reserved(subtract_reserved(reservations, made), parent)
    state.set_reservations(agent, reservations)
    what = ", ".join(f"{r} {v}" for r, v in op.reservations.items())
    verb = "reserved" if op.is_reserve else "unreserved"
    return [Notice(text=f"framework {framework.id} {verb} {what} on agent {agent_id}")]


def _launch(
    state: MasterState,
    framework: FrameworkRecord,
    agent_id: AgentId,
    launch: TaskLaunch | GroupLaunch,
    role: str,
) -> list[Effect]:
    match launch:
        case TaskLaunch():
            tasks: tuple[TaskInfo, ...] = (launch.task,)
            executor = launch.task.executor
            new_executor = launch.new_executor
            message: MasterToAgent = RunTask(framework_info=framework.info, task=launch.task)
        case GroupLaunch():
            tasks = launch.tasks
            executor = launch.executor
            new_executor = launch.executor if launch.is_new_executor else None
            message = RunTaskGroup(
                framework_info=framework.info, executor=launch.executor, tasks=launch.tasks
            )
    if new_executor is not None:
        state.add_executor(framework, agent_id, _owned(new_executor, framework), role)
    effects: list[Effect] = []
    for info in tasks:
        record = TaskRecord(
            info=info,
            framework_id=framework.id,
            agent_id=agent_id,
            executor_id=executor.executor_id if executor is not None else None,
            state=TaskState.TASK_STAGING,
            role=role,
        )
        state.add_task(framework, record)
        effects.append(
            Notice(text=f"task {info.task_id} of framework {framework.id} launching on agent {agent_id}")
        )
    effects.append(SendToAgent(agent_id=agent_id, message=message))
    return effects


def _owned(executor: ExecutorInfo, framework: FrameworkRecord) -> ExecutorInfo:
    return executor if executor.framework_id is not None else replace(executor, framework_id=framework.id)


def _kill(state: MasterState, framework: FrameworkRecord, call: Kill, now: float) -> list[Effect]:
    task = find_task(framework, call.task_id)
    if task is None:
        # Upstream answers a KILL of an unknown task with an explicit reconciliation of it.
        statuses = reconcile(state, framework, ((call.task_id, call.agent_id),), now)
        return [e for s in statuses for e in to_framework(framework, Update(status=s))]
    if task.state.is_terminal:
        return []
    agent = state.agents.get(task.agent_id)
    if agent is not None and not agent.connected:
        agent.pending_kills[(framework.id, task.id)] = call.grace_period
        return []
    kill = KillTask(framework_id=framework.id, task_id=task.id, grace_period=call.grace_period)
    return _to_agent(state, task.agent_id, kill)


def _acknowledge(state: MasterState, framework: FrameworkRecord, call: Acknowledge) -> list[Effect]:
    task = framework.tasks.get(call.task_id)
    if (
        task is not None
        and task.status_update_uuid == call.uuid
        and task.status_update_state is not None
        and task.status_update_state.is_terminal
    ):
        state.complete_task(framework, task)
    ack = AcknowledgeUpdate(framework_id=framework.id, task_id=call.task_id, uuid=call.uuid)
    return _to_agent(state, call.agent_id, ack)

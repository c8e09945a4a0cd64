"""Agent lifecycle and what agents report: registration, re-registration, disconnection, removal, status
updates, executor exits and executor messages.

Rule 1: a re-registering agent is the source of truth for what runs on it. Tasks and frameworks the
master does not know (it restarted) are adopted; tasks the master placed there that the agent does not
know are reported TASK_LOST (TASK_DROPPED to partition-aware frameworks).
Rule 2: a disconnected agent loses its offers at once; its tasks stay until `agent_reregister_timeout`,
then become TASK_LOST (TASK_UNREACHABLE for partition-aware frameworks) and every framework gets
FAILURE{agent_id}. If it comes back later its tasks are re-added and re-announced with
REASON_AGENT_REREGISTERED (upstream since 1.5).
Rule 3: the master forwards agents' updates and never acknowledges them itself: an update for a
disconnected framework is dropped and the agent resends it until the scheduler's ACKNOWLEDGE arrives.
"""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import FrameworkId, IdSource
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.frameworks import rescind
from corral.master.messages import AgentDisconnected, AgentRegister, BindAgent, Effect, Notice, SendToAgent
from corral.master.state import (
    AgentPingTimer,
    AgentRecord,
    FrameworkRecord,
    MasterState,
    ReregisterTimer,
    TaskRecord,
)
from corral.master.tasks import fail_task, master_status, to_framework, transition
from corral.protocol.agent import (
    AgentTask,
    ExecutorExited,
    ExecutorToFramework,
    KillTask,
    Ping,
    Register,
    Registered,
    ShutdownFramework,
    StatusUpdate,
)
from corral.protocol.mesos import FrameworkInfo
from corral.protocol.scheduler import Failure, FrameworkMessage, Update


def register(state: MasterState, ids: IdSource, msg: AgentRegister, now: float) -> list[Effect]:
    reg = msg.register
    requested = reg.agent_info.id
    agent = state.agents.get(requested) if requested is not None else None
    was_unreachable = requested is not None and state.unreachable_agents.pop(requested, None) is not None
    effects: list[Effect] = []
    if agent is None:
        agent_id = requested if requested is not None else ids.agent()
        agent = AgentRecord(
            id=agent_id,
            info=replace(reg.agent_info, id=agent_id),
            ip=reg.ip,
            connection=msg.connection,
            registered_time=now,
            reregistered_time=now if requested is not None else None,
        )
        state.add_agent(agent)
        state.metrics["slave_registrations" if requested is None else "slave_reregistrations"] += 1
    else:
        effects += _rescind_agent_offers(state, agent)
        state.remove_agent(agent)
        # Dynamic reservations live in the master (upstream also checkpoints them on the agent): keep them.
        made = {k: v for k, v in agent.reservations.items() if any(r.is_dynamic for r in k.stack())}
        agent.info = replace(reg.agent_info, id=agent.id)
        if made:
            agent.info = replace(agent.info, reservations={**reg.agent_info.reservations, **made})
        agent.ip = reg.ip
        agent.connection = msg.connection
        agent.connected = True
        agent.reregistered_time = now
        agent.change()
        state.add_agent(agent)
        state.metrics["slave_reregistrations"] += 1
    verb = "registered" if requested is None else "re-registered"
    effects.insert(0, BindAgent(connection=msg.connection, agent_id=agent.id))
    effects.append(
        SendToAgent(agent_id=agent.id, message=Registered(agent_id=agent.id, master_info=state.master_info))
    )
    effects.append(Notice(text=f"agent {agent.id} at {reg.ip}:{agent.info.port} {verb} with {agent.total}"))
    effects += _adopt(state, agent, reg, now, announce=was_unreachable)
    effects += _resend_kills(state, agent)
    state.allocation_pending = True
    return effects


def _resend_kills(state: MasterState, agent: AgentRecord) -> list[Effect]:
    """The KILLs that came while the agent was away, for its tasks that are still live."""
    effects: list[Effect] = []
    for (framework_id, task_id), grace in sorted(agent.pending_kills.items()):
        framework = state.frameworks.get(framework_id)
        task = framework.tasks.get(task_id) if framework is not None else None
        if task is not None and not task.state.is_terminal:
            kill = KillTask(framework_id=framework_id, task_id=task_id, grace_period=grace)
            effects.append(SendToAgent(agent_id=agent.id, message=kill))
    agent.pending_kills.clear()
    return effects


def _framework_for(
    state: MasterState, framework_id: FrameworkId, reg: Register, now: float
) -> FrameworkRecord | None:
    """The framework a reported task belongs to, recovered from the agent's report if unknown."""
    framework = state.frameworks.get(framework_id)
    if framework is not None or state.is_removed_framework(framework_id):
        return framework
    info = next((f for f in reg.frameworks if f.id == framework_id), None)
    info = info or FrameworkInfo(user="", name="", id=framework_id)
    framework = FrameworkRecord(
        info=info, registered_time=now, max_completed_tasks=state.max_completed_tasks, recovered=True
    )
    state.frameworks[framework_id] = framework
    return framework


def _adopt(
    state: MasterState, agent: AgentRecord, reg: Register, now: float, *, announce: bool
) -> list[Effect]:
    effects: list[Effect] = []
    removed: set[FrameworkId] = set()
    for framework_id, executor in reg.executors:
        framework = _framework_for(state, framework_id, reg, now)
        if framework is None:
            removed.add(framework_id)
        elif (agent.id, executor.executor_id) not in framework.executors:
            state.add_executor(framework, agent.id, executor, framework.default_role)
    reported: set[tuple[FrameworkId, str]] = set()
    for reported_task in reg.tasks:
        framework = _framework_for(state, reported_task.framework_id, reg, now)
        if framework is None:
            removed.add(reported_task.framework_id)
            continue
        reported.add((framework.id, reported_task.task.task_id))
        effects += _adopt_task(state, agent, framework, reported_task, now, announce=announce)
    for framework_id, task_id in sorted(agent.tasks - reported):
        framework = state.frameworks[framework_id]
        task = framework.tasks.get(task_id)
        if task is not None and not task.state.is_terminal:
            effects += fail_task(
                state,
                framework,
                task,
                TaskState.TASK_DROPPED,
                reason="REASON_TASK_UNKNOWN",
                message="Task is unknown to the agent",
                now=now,
            )
    for framework_id in sorted(removed):
        effects.append(SendToAgent(agent_id=agent.id, message=ShutdownFramework(framework_id=framework_id)))
    return effects


def _adopt_task(
    state: MasterState,
    agent: AgentRecord,
    framework: FrameworkRecord,
    reported: AgentTask,
    now: float,
    *,
    announce: bool,
) -> list[Effect]:
    task_id = reported.task.task_id
    known = framework.tasks.get(task_id)
    if known is not None and known.agent_id == agent.id:
        transition(state, framework, known, reported.state)
        return []
    record = TaskRecord(
        info=reported.task,
        framework_id=framework.id,
        agent_id=agent.id,
        executor_id=reported.executor_id,
        state=reported.state,
        role=framework.default_role,
    )
    if (previous := framework.unreachable_tasks.pop(task_id, None)) is not None:
        record.statuses = previous.statuses
        record.role = previous.role
    if reported.latest_status is not None:
        record.record(reported.latest_status)
    state.add_task(framework, record)
    if not announce or reported.state.is_terminal:
        return []
    status = master_status(
        framework,
        task_id,
        reported.state,
        reason="REASON_AGENT_REREGISTERED",
        message="Agent re-registered",
        now=now,
        task=record,
    )
    return to_framework(framework, Update(status=status))


def _rescind_agent_offers(state: MasterState, agent: AgentRecord) -> list[Effect]:
    effects: list[Effect] = []
    for offer_id in sorted(agent.offer_ids):
        framework = state.frameworks.get(state.offers[offer_id].framework_id)
        if framework is None:
            state.remove_offer(offer_id)
        else:
            effects += rescind(state, framework, [offer_id])
    return effects


def disconnect(state: MasterState, config: MasterConfig, msg: AgentDisconnected, now: float) -> list[Effect]:
    agent = state.agents.get(msg.agent_id)
    if agent is None or not agent.connected or agent.connection != msg.connection:
        return []  # an older connection of an agent that has re-registered since
    agent.connected = False
    agent.disconnections += 1
    state.touch(agent)
    effects = _rescind_agent_offers(state, agent)
    timeout = config.agent_reregister_timeout
    state.schedule(now + timeout, ReregisterTimer(agent.id, agent.disconnections))
    effects.append(Notice(text=f"agent {agent.id} disconnected; marking it unreachable in {timeout:g} s"))
    return effects


def reregister_expired(
    state: MasterState, config: MasterConfig, timer: ReregisterTimer, now: float
) -> list[Effect]:
    agent = state.agents.get(timer.agent_id)
    if agent is None or agent.connected or agent.disconnections != timer.disconnections:
        return []
    message = f"Agent {agent.id} removed: it did not re-register within {config.agent_reregister_timeout:g} s"
    return _remove_unreachable(state, agent, message, now)


def _remove_unreachable(state: MasterState, agent: AgentRecord, message: str, now: float) -> list[Effect]:
    """Mark `agent` unreachable: its live tasks become TASK_UNREACHABLE (TASK_LOST for frameworks that are
    not partition-aware), and every framework hears FAILURE{agent_id} (mesos.md d.4)."""
    effects: list[Effect] = []
    for framework_id, task_id in sorted(agent.tasks):
        framework = state.frameworks[framework_id]
        task = framework.tasks.get(task_id)
        if task is None:
            continue
        if task.state.is_terminal:
            state.complete_task(framework, task)
            continue
        effects += fail_task(
            state,
            framework,
            task,
            TaskState.TASK_UNREACHABLE,
            reason="REASON_AGENT_REMOVED",
            message=message,
            now=now,
        )
    for framework_id, executor_id in sorted(agent.executors):
        state.remove_executor(state.frameworks[framework_id], agent.id, executor_id)
    for offer_id in list(agent.offer_ids):
        state.remove_offer(offer_id)
    state.remove_agent(agent)
    state.unreachable_agents[agent.id] = now
    state.metrics["slave_removals"] += 1
    for framework in state.connected_frameworks():
        effects += to_framework(framework, Failure(agent_id=agent.id))
    effects.append(Notice(text=message))
    return effects


def ping(state: MasterState, config: MasterConfig, now: float) -> list[Effect]:
    """Ping every connected agent; remove the ones that left `max_agent_ping_timeouts` pings unanswered.

    A connection that goes silent without closing (a partition, a hung host) is only found this way."""
    state.schedule(now + config.agent_ping_timeout, AgentPingTimer())
    effects: list[Effect] = []
    for agent in [a for a in state.agents.values() if a.connected]:
        if agent.missed_pings >= config.max_agent_ping_timeouts:
            silence = agent.missed_pings * config.agent_ping_timeout
            message = f"Agent {agent.id} removed: it did not answer pings for {silence:g} s"
            effects += _remove_unreachable(state, agent, message, now)
        else:
            agent.missed_pings += 1
            effects.append(SendToAgent(agent_id=agent.id, message=Ping()))
    return effects


def status_update(state: MasterState, agent: AgentRecord, update: StatusUpdate, now: float) -> list[Effect]:
    state.metrics["messages_status_update"] += 1
    status = (
        update.status if update.status.agent_id is not None else replace(update.status, agent_id=agent.id)
    )
    framework = state.frameworks.get(update.framework_id)
    if framework is None:
        state.metrics["invalid_status_updates"] += 1
        if state.is_removed_framework(update.framework_id):
            return [
                SendToAgent(agent_id=agent.id, message=ShutdownFramework(framework_id=update.framework_id))
            ]
        return []
    effects: list[Effect] = []
    task = framework.tasks.get(status.task_id)
    if task is None:
        # Upstream forwards updates of tasks it does not know, and counts them as invalid.
        state.metrics["invalid_status_updates"] += 1
    else:
        state.metrics["valid_status_updates"] += 1
        latest = update.latest_state or status.state
        if task.state != latest and transition(state, framework, task, latest):
            effects.append(
                Notice(text=f"task {task.id} of framework {framework.id} is {latest} on agent {agent.id}")
            )
        task.record(status)
        task.status_update_state = status.state
        task.status_update_uuid = status.uuid
        if status.uuid is None and status.state.is_terminal:
            state.complete_task(framework, task)  # nothing will acknowledge it
    if status.state != TaskState.TASK_STAGING:
        effects += to_framework(framework, Update(status=status))
    return effects


def executor_exited(state: MasterState, agent: AgentRecord, exited: ExecutorExited) -> list[Effect]:
    state.metrics["messages_exited_executor"] += 1
    framework = state.frameworks.get(exited.framework_id)
    if framework is None:
        return []
    state.remove_executor(framework, agent.id, exited.executor_id)
    failure = Failure(agent_id=agent.id, executor_id=exited.executor_id, status=exited.status)
    text = f"executor {exited.executor_id} of framework {framework.id} exited on {agent.id}: {exited.status}"
    return [Notice(text=text), *to_framework(framework, failure)]


def executor_message(state: MasterState, agent: AgentRecord, message: ExecutorToFramework) -> list[Effect]:
    state.metrics["messages_executor_to_framework"] += 1
    framework = state.frameworks.get(message.framework_id)
    if framework is None:
        return []
    event = FrameworkMessage(agent_id=agent.id, executor_id=message.executor_id, data=message.data)
    return to_framework(framework, event)

"""Framework lifecycle: subscribe, re-subscribe, disconnect, failover timeout, removal, UPDATE_FRAMEWORK.

Rule 1: a framework has at most one stream; a re-SUBSCRIBE closes the older one ("Framework failed over")
and keeps every task. An id the master has never seen (it restarted) is accepted as is; an id it removed
(TEARDOWN, failover timeout) gets ERROR "Framework has been removed" and the stream is closed.
Rule 2: a disconnected framework loses its offers at once and is removed `failover_timeout` seconds later
(0: at once) unless it re-subscribes; removal kills its tasks through ShutdownFramework to each agent.
Rule 3: with `--acls`, every (re-)SUBSCRIBE is authorized: its principal (`FrameworkInfo.principal`, which
the edge sets to the authenticated one) must be allowed `register_frameworks` for each of its roles, or it
gets ERROR "Not authorized to use roles ..." and the stream is closed (mesos.md a.3).
"""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import AgentId, FrameworkId, IdSource, OfferId
from corral.core.reservations import role_problem
from corral.core.task_state import TaskState
from corral.master.messages import CloseStream, Effect, FrameworkSubscribe, Notice, SendToAgent
from corral.master.state import FailoverTimer, FrameworkRecord, HeartbeatTimer, MasterState, StreamId
from corral.master.tasks import master_status, to_framework, transition
from corral.protocol.agent import ShutdownFramework, UpdateFrameworkInfo
from corral.protocol.mesos import FrameworkInfo
from corral.protocol.scheduler import (
    HEARTBEAT_INTERVAL_SECONDS,
    Heartbeat,
    Rescind,
    Subscribed,
    UpdateFramework,
)
from corral.security.acls import Action, Authorizer


def subscribe(state: MasterState, ids: IdSource, msg: FrameworkSubscribe, now: float) -> list[Effect]:
    requested = msg.framework_id
    if requested is not None and state.is_removed_framework(requested):
        return [
            CloseStream(stream_id=msg.stream_id, error="Framework has been removed"),
            Notice(text=f"framework {requested} refused: it has been removed"),
        ]
    info = msg.call.framework_info
    if (problem := roles_problem(state, info) or authorization_problem(state.authorizer, info)) is not None:
        return [
            CloseStream(stream_id=msg.stream_id, error=problem),
            Notice(text=f"framework {info.name} refused: {problem}"),
        ]
    framework = state.frameworks.get(requested) if requested is not None else None
    effects: list[Effect] = []
    if framework is None:
        framework_id = requested if requested is not None else ids.framework()
        framework = FrameworkRecord(
            info=info.with_id(framework_id),
            registered_time=now,
            max_completed_tasks=state.max_completed_tasks,
        )
        state.frameworks[framework_id] = framework
        state.metrics["messages_register_framework"] += 1
        effects.append(Notice(text=f"framework {framework_id} ({info.name}) registered"))
    else:
        state.metrics["messages_reregister_framework"] += 1
        if framework.stream_id is not None:
            state.streams.pop(framework.stream_id, None)
            effects.append(CloseStream(stream_id=framework.stream_id, error="Framework failed over"))
        withdraw_offers(state, framework)
        # Upstream ignores a changed user or checkpoint flag on re-subscription.
        kept = replace(info, user=framework.info.user, checkpoint=framework.info.checkpoint)
        framework.info = kept.with_id(framework.id)
        framework.reregistered_time = now
        framework.recovered = False
        framework.failover_deadline = None
        effects.append(Notice(text=f"framework {framework.id} ({info.name}) re-registered"))
    framework.connected = True
    framework.stream_id = msg.stream_id
    framework.suppressed_roles = set(msg.call.suppressed_roles)
    state.streams[msg.stream_id] = framework.id
    effects += to_framework(framework, Subscribed(framework_id=framework.id, master_info=state.master_info))
    effects += to_framework(framework, Heartbeat())
    state.schedule(now + HEARTBEAT_INTERVAL_SECONDS, HeartbeatTimer(framework.id, msg.stream_id))
    state.allocation_pending = True
    return effects


def heartbeat(state: MasterState, timer: HeartbeatTimer, now: float) -> list[Effect]:
    framework = state.frameworks.get(timer.framework_id)
    if framework is None or not framework.connected or framework.stream_id != timer.stream_id:
        return []
    state.schedule(now + HEARTBEAT_INTERVAL_SECONDS, timer)
    return to_framework(framework, Heartbeat())


def withdraw_offers(state: MasterState, framework: FrameworkRecord) -> None:
    """Offers of a framework whose stream is gone: nobody to tell, the resources just go back."""
    for offer_id in list(framework.offer_ids):
        state.remove_offer(offer_id)
    state.allocation_pending = True


def rescind(state: MasterState, framework: FrameworkRecord, offer_ids: list[OfferId]) -> list[Effect]:
    effects: list[Effect] = []
    for offer_id in offer_ids:
        offer = state.remove_offer(offer_id)
        if offer is not None:
            effects += to_framework(framework, Rescind(offer_id=offer.id))
            state.allocation_pending = True
    return effects


def disconnect(state: MasterState, stream_id: StreamId, now: float) -> list[Effect]:
    framework_id = state.streams.pop(stream_id, None)
    if framework_id is None:
        return []  # an older stream of a framework that has re-subscribed since, or a refused one
    framework = state.frameworks[framework_id]
    framework.connected = False
    framework.stream_id = None
    withdraw_offers(state, framework)
    timeout = framework.info.failover_timeout
    if timeout <= 0:
        return remove(state, framework, now, why="it disconnected and its failover_timeout is 0")
    framework.failover_deadline = now + timeout
    state.schedule(framework.failover_deadline, FailoverTimer(framework_id))
    return [
        Notice(text=f"framework {framework_id} disconnected; removing it in {timeout:g} s unless it returns")
    ]


def failover_expired(state: MasterState, timer: FailoverTimer, now: float) -> list[Effect]:
    framework = state.frameworks.get(timer.framework_id)
    deadline = framework.failover_deadline if framework is not None else None
    if framework is None or framework.connected or deadline is None or deadline > now:
        return []
    return remove(state, framework, now, why="its failover timeout expired")


def remove(state: MasterState, framework: FrameworkRecord, now: float, *, why: str) -> list[Effect]:
    """Remove a framework for good: kill its tasks and executors on every agent, end its stream."""
    effects: list[Effect] = []
    for offer_id in list(framework.offer_ids):
        state.remove_offer(offer_id)
    agent_ids: set[AgentId] = {t.agent_id for t in framework.tasks.values()}
    agent_ids |= {agent_id for agent_id, _ in framework.executors}
    for agent_id in sorted(agent_ids):
        agent = state.agents.get(agent_id)
        if agent is not None and agent.connected:
            effects.append(
                SendToAgent(agent_id=agent_id, message=ShutdownFramework(framework_id=framework.id))
            )
    for task in list(framework.tasks.values()):
        status = master_status(
            framework,
            task.id,
            TaskState.TASK_KILLED,
            reason="REASON_FRAMEWORK_REMOVED",
            message=f"Framework {framework.id} removed",
            now=now,
            task=task,
        )
        task.record(status)
        transition(state, framework, task, TaskState.TASK_KILLED)
        state.complete_task(framework, task)
    for task in list(framework.unreachable_tasks.values()):
        state.complete_task(framework, task)
    for agent_id, executor_id in list(framework.executors):
        state.remove_executor(framework, agent_id, executor_id)
    if framework.stream_id is not None:
        state.streams.pop(framework.stream_id, None)
        effects.append(CloseStream(stream_id=framework.stream_id))
    framework.connected = False
    framework.stream_id = None
    framework.failover_deadline = None
    framework.unregistered_time = now
    del state.frameworks[framework.id]
    state.completed_frameworks.append(framework)
    state.allocation_pending = True
    effects.append(Notice(text=f"framework {framework.id} removed: {why}"))
    return effects


def roles_problem(state: MasterState, info: FrameworkInfo) -> str | None:
    """Why the framework's roles are refused: an invalid name, or a role not in `--roles`."""
    for role in info.roles:
        if (problem := role_problem(role)) is not None:
            return problem
        if not state.roles.is_allowed(role):
            return f"Role '{role}' is not present in the master's --roles"
    return None


def authorization_problem(authorizer: Authorizer, info: FrameworkInfo) -> str | None:
    """Why the framework's principal may not use its roles (register_frameworks), or None."""
    if authorizer.allowed_all(Action.REGISTER_FRAMEWORKS, info.principal, info.roles):
        return None
    who = f" as principal '{info.principal}'" if info.principal is not None else ""
    return f"Not authorized to use roles '{', '.join(info.roles)}'{who}"


def teardown(state: MasterState, framework_id: FrameworkId, now: float) -> list[Effect]:
    """An operator's TEARDOWN: the edge found the framework and authorized the call a moment ago."""
    framework = state.frameworks.get(framework_id)
    if framework is None:
        return []  # removed in between (its failover timeout, its own TEARDOWN)
    return remove(state, framework, now, why="torn down by an operator")


def update_problem(
    framework: FrameworkRecord, info: FrameworkInfo, state: MasterState | None = None
) -> str | None:
    """Why UPDATE_FRAMEWORK must be refused with 400, or None."""
    if info.id != framework.id:
        return "'framework_info.id' must be the framework's id"
    if state is not None and (problem := roles_problem(state, info)) is not None:
        return problem
    for name in ("principal", "user", "checkpoint"):
        if getattr(info, name) != getattr(framework.info, name):
            return f"Updating 'FrameworkInfo.{name}' is unsupported"
    return None


def update(state: MasterState, framework: FrameworkRecord, call: UpdateFramework) -> list[Effect]:
    framework.info = call.framework_info.with_id(framework.id)
    framework.suppressed_roles = set(call.suppressed_roles)
    roles = set(framework.info.roles)
    for role in [r for r in framework.filters if r not in roles]:
        del framework.filters[role]
    stale = [o for o in framework.offer_ids if state.offers[o].role not in roles]
    effects = rescind(state, framework, stale)
    agent_ids = sorted({t.agent_id for t in framework.tasks.values()} | {a for a, _ in framework.executors})
    for agent_id in agent_ids:
        agent = state.agents.get(agent_id)
        if agent is not None and agent.connected:
            message = UpdateFrameworkInfo(framework_info=framework.info)
            effects.append(SendToAgent(agent_id=agent_id, message=message))
    state.allocation_pending = True
    effects.append(Notice(text=f"framework {framework.id} updated"))
    return effects

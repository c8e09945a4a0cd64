"""The master's decisions: `MasterCore.handle(msg, now) -> effects`, with no I/O, no clock and no randomness
of its own (ids come from an `IdSource`, shuffling from the allocator's injected rng).

Flow: agents register and add their resources; on allocation (every `allocation_interval`, and on the
next tick after resources free up, a framework arrives or revives: pending runs coalesce into one) the
allocator splits free resources into offers; ACCEPTs are re-validated here, the single writer, and
become RunTask messages; agents' status updates are forwarded to frameworks with their uuid and
agent_id, and acknowledgements go back to the agent.

Corral runs command tasks inside the agent, without a command executor process, so unlike upstream the
master adds no executor overhead (0.1 cpus, 32 MB) to command tasks and records no executor for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import assert_never

from corral.core.ids import AgentId, FrameworkId, IdSource
from corral.core.reservations import is_subrole, role_problem
from corral.master import agents, calls, frameworks, registry
from corral.master.allocator import (
    AgentView,
    AllocationView,
    Allocator,
    FrameworkView,
    MinAllocatable,
    is_allocatable,
    parse_min_allocatable,
)
from corral.master.config import MasterConfig
from corral.master.messages import (
    AgentDisconnected,
    AgentMessage,
    AgentRegister,
    Effect,
    FrameworkCall,
    FrameworkSubscribe,
    Inbound,
    Notice,
    RecoverRegistry,
    StreamClosed,
    TeardownFramework,
    Tick,
    WakeAt,
)
from corral.master.offers import make_offer
from corral.master.roles import QuotaConfig
from corral.master.state import (
    AgentPingTimer,
    AllocationTimer,
    FailoverTimer,
    FrameworkRecord,
    HeartbeatTimer,
    MasterState,
    OfferTimer,
    RecoveryTimer,
    ReregisterTimer,
    Timer,
)
from corral.master.tasks import record_usage, to_framework
from corral.protocol.agent import ExecutorExited, ExecutorToFramework, Pong, StatusUpdate, UsageReport
from corral.protocol.mesos import MasterInfo, Offer
from corral.protocol.scheduler import Offers, UpdateFramework
from corral.security.acls import Authorizer


class MasterCore:
    def __init__(
        self,
        config: MasterConfig,
        master_info: MasterInfo,
        *,
        ids: IdSource,
        allocator: Allocator,
        now: float,
    ) -> None:
        self.config = config
        self.ids = ids
        self.allocator = allocator
        self.state = MasterState(
            master_info=master_info,
            start_time=now,
            max_completed_frameworks=config.max_completed_frameworks,
            max_completed_tasks=config.max_completed_tasks_per_framework,
        )
        self.state.roles.weights.update(config.weights)
        self.state.roles.whitelist = config.roles
        self.state.authorizer = Authorizer(config.acls)
        self.min_allocatable: MinAllocatable = parse_min_allocatable(config.min_allocatable_resources)
        # Agents with something to offer (unreserved resources worth offering, or reservations).
        self._offerable: dict[AgentId, AgentView] = {}
        # Roles whose quota limit was just set: their offers past it are rescinded at the next allocation.
        self._limit_roles: set[str] = set()
        self.state.schedule(now + config.allocation_interval, AllocationTimer())
        self.state.schedule(now + config.agent_ping_timeout, AgentPingTimer())

    # ------------------------------------------------------------ queries for the edge

    def framework(self, framework_id: FrameworkId) -> FrameworkRecord | None:
        return self.state.frameworks.get(framework_id)

    def update_problem(self, framework_id: FrameworkId, call: UpdateFramework) -> str | None:
        """Why an UPDATE_FRAMEWORK must be answered 400 (it is the one call answered synchronously)."""
        framework = self.state.frameworks.get(framework_id)
        if framework is None:
            return "Framework cannot be found"
        return frameworks.update_problem(framework, call.framework_info, self.state)

    # ------------------------------------------------------------ the one entry point

    def handle(self, msg: Inbound, now: float) -> list[Effect]:
        effects = self._dispatch(msg, now)
        deadline = self.state.next_deadline(now)
        if deadline is not None:
            effects.append(WakeAt(deadline=deadline))
        return effects

    def _dispatch(self, msg: Inbound, now: float) -> list[Effect]:
        state = self.state
        if not isinstance(msg, Tick):
            state.version += 1
        match msg:
            case FrameworkSubscribe():
                return frameworks.subscribe(state, self.ids, msg, now)
            case FrameworkCall():
                framework = state.frameworks.get(msg.framework_id)
                if framework is None or not framework.connected:
                    return []  # the edge answered 400/403 already; a race with a disconnect lands here
                return calls.apply(state, framework, msg.call, now)
            case TeardownFramework():
                return frameworks.teardown(state, msg.framework_id, now)
            case StreamClosed():
                return frameworks.disconnect(state, msg.stream_id, now)
            case AgentRegister():
                if (requested := msg.register.agent_info.id) is not None:
                    state.recovered_agents.pop(requested, None)
                return agents.register(state, self.ids, msg, now)
            case RecoverRegistry():
                # What operators set survives failover; the registry's values were valid when they were set.
                self.update_weights(dict(msg.weights))
                self.update_quota(list(msg.quotas), force=True)
                return registry.recover(state, self.config, msg, now)
            case AgentMessage():
                return self._agent_message(msg, now)
            case AgentDisconnected():
                return agents.disconnect(state, self.config, msg, now)
            case Tick():
                return self._tick(now)
            case _:
                assert_never(msg)

    def _agent_message(self, msg: AgentMessage, now: float) -> list[Effect]:
        agent = self.state.agents.get(msg.agent_id)
        if agent is None or not agent.connected:
            return []
        agent.missed_pings = 0  # any message shows the agent is alive, a Pong included
        match msg.message:
            case StatusUpdate():
                return agents.status_update(self.state, agent, msg.message, now)
            case ExecutorExited():
                return agents.executor_exited(self.state, agent, msg.message)
            case ExecutorToFramework():
                return agents.executor_message(self.state, agent, msg.message)
            case Pong():
                return []
            case UsageReport():
                record_usage(self.state, agent, msg.message)
                return []
            case _:
                assert_never(msg.message)

    # ------------------------------------------------------------ time

    def _tick(self, now: float) -> list[Effect]:
        effects: list[Effect] = []
        allocate = self.state.allocation_pending
        for timer in self.state.due_timers(now):
            if isinstance(timer, AllocationTimer):
                self.state.schedule(now + self.config.allocation_interval, timer)
                allocate = True
            else:
                effects += self._fire(timer, now)
        if allocate:
            effects += self.allocate(now)
        return effects

    def _fire(self, timer: Timer, now: float) -> list[Effect]:
        state = self.state
        match timer:
            case HeartbeatTimer():
                return frameworks.heartbeat(state, timer, now)
            case AgentPingTimer():
                return agents.ping(state, self.config, now)
            case FailoverTimer():
                state.version += 1
                return frameworks.failover_expired(state, timer, now)
            case ReregisterTimer():
                state.version += 1
                return agents.reregister_expired(state, self.config, timer, now)
            case OfferTimer():
                return self._offer_expired(timer)
            case RecoveryTimer():
                state.version += 1
                return registry.recovery_expired(state, now)
            case AllocationTimer():
                return []  # handled by _tick, which reschedules it
            case _:
                assert_never(timer)

    def _offer_expired(self, timer: OfferTimer) -> list[Effect]:
        offer = self.state.offers.get(timer.offer_id)
        if offer is None:
            return []
        self.state.version += 1
        framework = self.state.frameworks[offer.framework_id]
        effects = frameworks.rescind(self.state, framework, [offer.id])
        return [
            *effects,
            Notice(text=f"offer {offer.id} to framework {framework.id} rescinded after offer_timeout"),
        ]

    # ------------------------------------------------------------ allocation

    def _refresh_offerable(self) -> None:
        """Bring the index of agents with something to offer up to date with the agents that changed."""
        state = self.state
        minimum = self.min_allocatable
        for agent_id in state.dirty_agents:
            agent = state.agents.get(agent_id)
            if agent is None or not agent.connected:
                self._offerable.pop(agent_id, None)
                continue
            free = agent.free_unreserved
            reserved = agent.free_reserved
            if reserved or (not free.is_empty() and is_allocatable(free, minimum)):
                self._offerable[agent_id] = AgentView(
                    agent_id=agent_id, free=free, total=agent.total, reserved=reserved
                )
            else:
                self._offerable.pop(agent_id, None)
        state.dirty_agents.clear()

    def view(self) -> AllocationView:
        """What the allocator sees: the connected agents with something to offer, the connected frameworks
        with a role that is not suppressed (with their filters), every role, the cluster's totals. The view
        borrows the frameworks' filter tables for the duration of the call."""
        self._refresh_offerable()
        frameworks = tuple(
            FrameworkView(
                framework_id=f.id,
                roles=f.info.roles,
                suppressed_roles=frozenset(f.suppressed_roles),
                role_allocated=dict(f.allocated_by_role),
                role_filters=f.filters,
            )
            for f in self.state.frameworks.values()
            if f.connected and not f.suppressed_roles.issuperset(f.info.roles)
        )
        roles = self.state.roles
        extra = {r for f in frameworks for r in f.roles}
        return AllocationView(
            agents=tuple(self._offerable.values()),
            frameworks=frameworks,
            roles=roles.views(extra),
            totals=dict(roles.totals),
            min_allocatable=self.min_allocatable,
        )

    def allocate(self, now: float) -> list[Effect]:
        state = self.state
        state.allocation_pending = False
        state.metrics["allocation_runs"] += 1
        state.expire_filters(now)
        effects = self._enforce_limits()
        self._refresh_offerable()
        if not self._offerable or not any(f.connected for f in state.frameworks.values()):
            return effects
        allocations = self.allocator.allocate(self.view(), now)
        if not allocations:
            return effects
        state.version += 1
        by_framework: dict[FrameworkId, list[Offer]] = {}
        for allocation in allocations:
            framework = state.frameworks[allocation.framework_id]
            offer = make_offer(allocation, state.agents[allocation.agent_id], framework, self.ids)
            state.add_offer(offer)
            if self.config.offer_timeout is not None:
                state.schedule(now + self.config.offer_timeout, OfferTimer(offer.id))
            by_framework.setdefault(framework.id, []).append(offer)
        for framework_id, offers in by_framework.items():
            effects += to_framework(state.frameworks[framework_id], Offers(offers=tuple(offers)))
        return effects

    # ------------------------------------------------------------ weights and quota (operator calls)

    def update_weights(self, weights: Mapping[str, float]) -> str | None:
        """UPDATE_WEIGHTS and `PUT /weights`: a problem (400) or None. Takes effect at the next allocation."""
        for role, weight in weights.items():
            if (problem := role_problem(role)) is not None:
                return problem
            if not 0 < weight < math.inf:
                return f"Weight of role '{role}' must be a positive finite number"
        self.state.roles.weights.update(weights)
        self.state.version += 1
        self.state.allocation_pending = True
        return None

    def update_quota(self, configs: list[QuotaConfig], *, force: bool = False) -> str | None:
        """UPDATE_QUOTA: validate all, then apply all; an empty config removes the role's quota. Unless
        `force`, the guarantees must fit in the cluster. Offers past a new limit are rescinded."""
        roles = self.state.roles
        for config in configs:
            if (problem := config.problem()) is not None:
                return problem
        quotas = dict(roles.quotas)
        for config in configs:
            if config.is_empty:
                quotas.pop(config.role, None)
            else:
                quotas[config.role] = config
        if not force:
            guaranteed: dict[str, float] = {}
            for config in quotas.values():
                for name, value in config.guarantees.items():
                    guaranteed[name] = guaranteed.get(name, 0.0) + value
            for name, value in sorted(guaranteed.items()):
                if value > roles.totals.get(name, 0.0) + 1e-9:
                    return (
                        f"Total quota guarantees of '{name}' ({value:g}) exceed the cluster's capacity"
                        f" ({roles.totals.get(name, 0.0):g}); use 'force' to set them anyway"
                    )
        roles.quotas = quotas
        self._limit_roles |= {c.role for c in configs if c.limits}
        self.state.version += 1
        self.state.allocation_pending = True
        return None

    def _enforce_limits(self) -> list[Effect]:
        """Rescind the outstanding offers of roles a new quota limit puts over it (upstream does so)."""
        effects: list[Effect] = []
        state = self.state
        for role in sorted(self._limit_roles):
            config = state.roles.quotas.get(role)
            if config is None:
                continue
            consumed = state.roles.consumed(role)
            if not any(consumed.get(n, 0.0) > v + 1e-9 for n, v in config.limits.items()):
                continue
            for offer_id in sorted(o.id for o in state.offers.values() if is_subrole(o.role, role)):
                framework = state.frameworks.get(state.offers[offer_id].framework_id)
                if framework is not None:
                    effects += frameworks.rescind(state, framework, [offer_id])
            effects.append(Notice(text=f"offers of role {role} rescinded: the role is over its quota limit"))
        self._limit_roles.clear()
        return effects

"""What must survive a master failover (mesos.md d.3): agents admitted and unreachable, weights and quotas.

Frameworks, tasks and offers are soft state, rebuilt from re-registering agents and re-subscribing frameworks.
The registry lets a new leader tell "an agent that will come back" from "an agent it never heard of": while a
registry agent has not re-registered, explicit reconciliation of its tasks gets no answer (so a framework does
not replace tasks that are still running), and once `agent_reregister_timeout` has passed it is unreachable.

The document is JSON: `{"agents": [{"id", "hostname"}], "unreachable": [{"id", "time"}], "weights": {role:
weight}, "quotas": [{"role", "guarantees": {name: value}, "limits": {name: value}}]}`. It holds no resources
or tasks, so it stays small (about 100 bytes an agent) and changes only on admission, removal and operator
calls.
"""

from __future__ import annotations

from corral.core.ids import AgentId
from corral.master.config import MasterConfig
from corral.master.messages import Effect, Notice, RecoverRegistry
from corral.master.roles import QuotaConfig
from corral.master.state import MasterState, RecoveryTimer
from corral.protocol.json import JsonObject, Reader


def registry_document(state: MasterState) -> JsonObject:
    admitted = {a.id: a.info.hostname for a in state.agents.values()} | state.recovered_agents
    roles = state.roles
    return {
        "agents": [{"id": i, "hostname": h} for i, h in sorted(admitted.items())],
        "unreachable": [{"id": i, "time": t} for i, t in sorted(state.unreachable_agents.items())],
        "weights": dict(sorted(roles.weights.items())),
        "quotas": [
            {"role": q.role, "guarantees": dict(q.guarantees), "limits": dict(q.limits)}
            for _, q in sorted(roles.quotas.items())
        ],
    }


def decode_registry(document: JsonObject) -> RecoverRegistry:
    """Raises DecodeError (naming the field) for a document of another shape."""
    r = Reader(document)
    agents = r.each("agents", lambda a: (AgentId(a.text("id")), a.text("hostname")))
    unreachable = r.each("unreachable", lambda a: (AgentId(a.text("id")), a.number("time")))
    weights = r.opt_child("weights")
    quotas = r.each(
        "quotas",
        lambda q: QuotaConfig(
            role=q.text("role"), guarantees=_scalars(q, "guarantees"), limits=_scalars(q, "limits")
        ),
    )
    return RecoverRegistry(
        agents=agents,
        unreachable=unreachable,
        weights=tuple((role, weights.number(role)) for role in weights.obj) if weights else (),
        quotas=quotas,
    )


def _quota(r: Reader) -> QuotaConfig:
    guarantees, limits = _scalars(r, "guarantees"), _scalars(r, "limits")
    return QuotaConfig(role=r.text("role"), guarantees=guarantees, limits=limits)


def _scalars(r: Reader, key: str) -> dict[str, float]:
    child = r.opt_child(key)
    return {} if child is None else {name: child.number(name) for name in child.obj}


def recover(state: MasterState, config: MasterConfig, msg: RecoverRegistry, now: float) -> list[Effect]:
    for agent_id, since in msg.unreachable:
        if agent_id not in state.agents:
            state.unreachable_agents.setdefault(agent_id, since)
    expected = {i: h for i, h in msg.agents if i not in state.agents and i not in state.unreachable_agents}
    state.recovered_agents.update(expected)
    if not expected:
        return []
    state.schedule(now + config.agent_reregister_timeout, RecoveryTimer())
    text = (
        f"registry: {len(expected)} agent(s) expected to re-register within "
        f"{config.agent_reregister_timeout:g} s, {len(msg.unreachable)} unreachable"
    )
    return [Notice(text=text)]


def recovery_expired(state: MasterState, now: float) -> list[Effect]:
    """Registry agents that never came back are unreachable from now on (their tasks are unknown here)."""
    missing = list(state.recovered_agents)
    state.recovered_agents.clear()
    for agent_id in missing:
        state.unreachable_agents[agent_id] = now
    if not missing:
        return []
    return [Notice(text=f"registry: {len(missing)} agent(s) did not re-register and are unreachable")]

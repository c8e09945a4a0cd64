"""The master's v0 operator documents (`/master/state`, `/master/frameworks`, `/master/slaves`,
`/master/tasks`, `/metrics/snapshot`) rendered from its state, in upstream's shapes (mesos.md c.2-c.4).

Resources use the "model" format (`{"cpus":1.0,"gpus":0.0,"mem":128.0,"disk":0.0,"ports":"[31000-31000]"}`),
labels are arrays of `{key, value}`, and command tasks have `"executor_id": ""`.

Corral's addition: a running task has `statistics` (upstream's ResourceStatistics names: `timestamp`,
`cpus_user_time_secs`, `cpus_system_time_secs`, `cpus_limit`, `mem_rss_bytes`, `mem_limit_bytes`), what its
agent last reported (`UsageReport`). Only running tasks have it, so a completed task's JSON never changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

import orjson

from corral.core.ids import AgentId
from corral.core.reservations import reserved_by_role
from corral.core.resources import MODEL_SCALARS, Resources
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.roles import roles_json
from corral.master.state import AgentRecord, FrameworkRecord, MasterState, TaskRecord
from corral.protocol.json import JsonObject, JsonValue, dumps
from corral.protocol.mesos import MESOS_VERSION, ExecutorInfo, Offer, TaskStatus

BUILD_TIME = 1_605_800_000.0  # upstream 1.11.0's build, so tools comparing versions see a plausible one


def _model(resources: Resources) -> JsonObject:
    out: JsonObject = {**resources.to_model()}
    return out


def version_json() -> JsonObject:
    return {
        "version": MESOS_VERSION,
        "build_date": "2020-11-19 16:00:00",
        "build_time": BUILD_TIME,
        "build_user": "corral",
        "git_sha": "",
        "git_branch": "",
        "git_tag": MESOS_VERSION,
    }


def flags_json(config: MasterConfig) -> JsonObject:
    flags: JsonObject = {
        "ip": config.ip,
        "port": str(config.port),
        "hostname": config.advertised_hostname,
        "work_dir": str(config.work_dir),
        "allocation_interval": f"{config.allocation_interval:g}secs",
        "agent_reregister_timeout": f"{config.agent_reregister_timeout:g}secs",
        "agent_ping_timeout": f"{config.agent_ping_timeout:g}secs",
        "max_agent_ping_timeouts": str(config.max_agent_ping_timeouts),
        "max_completed_frameworks": str(config.max_completed_frameworks),
        "max_completed_tasks_per_framework": str(config.max_completed_tasks_per_framework),
        "registry": "in_memory",
        "version": "false",
    }
    flags["allocator"] = config.allocator
    flags["min_allocatable_resources"] = config.min_allocatable_resources
    if config.roles is not None:
        flags["roles"] = ",".join(sorted(r for r in config.roles if r != "*"))
    if config.weights:
        flags["weights"] = ",".join(f"{r}={w:g}" for r, w in sorted(config.weights.items()))
    if config.offer_timeout is not None:
        flags["offer_timeout"] = f"{config.offer_timeout:g}secs"
    if config.cluster is not None:
        flags["cluster"] = config.cluster
    if config.zk is not None:
        flags["zk"] = config.zk
    if config.quorum is not None:
        flags["quorum"] = str(config.quorum)
    flags.update(config.auth_flags)
    return flags


def _status_json(status: TaskStatus) -> JsonObject:
    out: JsonObject = {"state": status.state.value, "timestamp": status.timestamp}
    for key in ("labels", "container_status"):
        if (value := status.extra.get(key)) is not None:
            out[key] = value
    if status.healthy is not None:
        out["healthy"] = status.healthy
    return out


def task_json(task: TaskRecord) -> JsonObject:
    out: JsonObject = {
        "id": task.id,
        "name": task.info.name,
        "framework_id": task.framework_id,
        "executor_id": task.executor_id or "",
        "slave_id": task.agent_id,
        "state": task.state.value,
        "resources": _model(task.resources),
        "role": task.role,
        "statuses": [_status_json(s) for s in task.statuses],
    }
    if labels := task.info.labels:
        out["labels"] = labels
    for key in ("health_check", "discovery", "container", "kill_policy"):
        if (value := task.info.raw.get(key)) is not None:
            out[key] = value
    if task.unreachable_time is not None:
        out["unreachable_time"] = {"nanoseconds": round(task.unreachable_time * 1e9)}
    if task.statistics is not None and not task.state.is_terminal:  # a running task's latest usage
        out["statistics"] = task.statistics.to_json()
    return out


def _completed_task_json(task: TaskRecord) -> JsonValue:
    if task.completed_json is None:
        task.completed_json = dumps(task_json(task))
    return cast(JsonValue, orjson.Fragment(task.completed_json))


def _offer_json(offer: Offer) -> JsonObject:
    return {
        "id": offer.id,
        "framework_id": offer.framework_id,
        "slave_id": offer.agent_id,
        "allocation_info": {"role": offer.role},
        "resources": _model(offer.resources),
    }


def framework_json(state: MasterState, framework: FrameworkRecord) -> JsonObject:
    info = framework.info
    out: JsonObject = {
        "id": framework.id,
        "name": info.name,
        "user": info.user,
        "hostname": info.hostname or "",
        "webui_url": info.webui_url or "",
        "failover_timeout": info.failover_timeout,
        "checkpoint": info.checkpoint,
        "capabilities": [c for c in sorted(info.capabilities)],
        "active": framework.connected,
        "connected": framework.connected,
        "recovered": framework.recovered,
        "registered_time": framework.registered_time,
        "unregistered_time": framework.unregistered_time or 0.0,
        "used_resources": _model(framework.used),
        "offered_resources": _model(framework.offered),
        "resources": _model(framework.used + framework.offered),
        "tasks": [task_json(t) for t in framework.tasks.values()],
        "unreachable_tasks": [task_json(t) for t in framework.unreachable_tasks.values()],
        "completed_tasks": [_completed_task_json(t) for t in framework.completed_tasks],
        "offers": [_offer_json(state.offers[o]) for o in sorted(framework.offer_ids)],
        "executors": [_executor_json(framework, a, e) for (a, _), e in framework.executors.items()],
        "allocated_resources_by_role": {r: _model(v) for r, v in sorted(framework.allocated_by_role.items())},
        "offer_constraints": {},
    }
    if info.is_multi_role:
        out["roles"] = list(info.roles)
    else:
        out["role"] = info.roles[0]
    if framework.reregistered_time is not None:
        out["reregistered_time"] = framework.reregistered_time
    if info.principal is not None:
        out["principal"] = info.principal
    return out


def _executor_json(framework: FrameworkRecord, agent_id: str, executor: ExecutorInfo) -> JsonObject:
    return {
        **{k: v for k, v in executor.raw.items() if k in ("name", "command", "labels", "type")},
        "executor_id": executor.executor_id,
        "framework_id": framework.id,
        "resources": _model(executor.resources),
        "role": framework.executor_roles.get(
            (AgentId(agent_id), executor.executor_id), framework.default_role
        ),
        "slave_id": agent_id,
    }


def agent_json(agent: AgentRecord) -> JsonObject:
    return {
        "id": agent.id,
        "hostname": agent.info.hostname,
        "port": agent.info.port,
        "pid": f"slave(1)@{agent.ip}:{agent.info.port}",
        "attributes": {a.name: a.display() for a in agent.info.attributes},
        "registered_time": agent.registered_time,
        **({"reregistered_time": agent.reregistered_time} if agent.reregistered_time is not None else {}),
        "resources": _model(agent.total),
        "used_resources": _model(agent.used),
        "offered_resources": _model(agent.offered),
        "reserved_resources": {r: _model(v) for r, v in sorted(reserved_by_role(agent.reservations).items())},
        "unreserved_resources": _model(agent.unreserved_total),
        "active": agent.connected,
        "deactivated": False,
        "version": MESOS_VERSION,
        "capabilities": ["MULTI_ROLE", "HIERARCHICAL_ROLE", "TASK_RESOURCE_LIMITS"],
    }


def frameworks_json(state: MasterState, frameworks: Iterable[FrameworkRecord]) -> list[JsonValue]:
    return [framework_json(state, f) for f in frameworks]


def leader_json(state: MasterState) -> JsonObject:
    info = state.master_info
    return {"id": info.id, "pid": info.pid, "port": info.port, "hostname": info.hostname}


def state_json(state: MasterState, config: MasterConfig) -> JsonObject:
    info = state.master_info
    connected = sum(1 for a in state.agents.values() if a.connected)
    out: JsonObject = {
        **version_json(),
        "start_time": state.start_time,
        "elected_time": state.start_time,
        "id": info.id,
        "pid": info.pid,
        "hostname": info.hostname,
        "capabilities": ["AGENT_UPDATE"],
        "activated_slaves": float(connected),
        "deactivated_slaves": 0.0,
        "unreachable_slaves": float(len(state.unreachable_agents)),
        "leader": info.pid,
        "leader_info": leader_json(state),
        "log_dir": "",
        "flags": flags_json(config),
        "slaves": [agent_json(a) for a in state.agents.values()],
        "recovered_slaves": [{"id": i, "hostname": h} for i, h in state.recovered_agents.items()],
        "frameworks": frameworks_json(state, state.frameworks.values()),
        "completed_frameworks": frameworks_json(state, state.completed_frameworks),
        # Corral's addition: each role's weight, quota, books and DRF share, as `/roles` has them.
        "roles": roles_json(state.roles, frameworks_by_role(state))["roles"],
        "orphan_tasks": [],
        "unregistered_frameworks": [],
    }
    if config.cluster is not None:
        out["cluster"] = config.cluster
    return out


def frameworks_by_role(state: MasterState) -> dict[str, list[str]]:
    """The ids of the frameworks subscribed to each role (the `frameworks` of `/roles`)."""
    out: dict[str, list[str]] = {}
    for framework in state.frameworks.values():
        for role in framework.info.roles:
            out.setdefault(role, []).append(framework.id)
    return out


def all_tasks(state: MasterState) -> list[TaskRecord]:
    out: list[TaskRecord] = []
    for framework in [*state.frameworks.values(), *state.completed_frameworks]:
        out += framework.tasks.values()
        out += framework.unreachable_tasks.values()
        out += framework.completed_tasks
    return out


def _first_timestamp(task: TaskRecord) -> float:
    return min((s.timestamp or 0.0 for s in task.statuses), default=0.0)


def tasks_json(
    state: MasterState,
    *,
    limit: int,
    offset: int,
    descending: bool,
    framework_id: str | None,
    task_id: str | None,
) -> JsonObject:
    tasks = [
        t
        for t in all_tasks(state)
        if (framework_id is None or t.framework_id == framework_id) and (task_id is None or t.id == task_id)
    ]
    tasks.sort(key=_first_timestamp, reverse=descending)
    return {"tasks": [task_json(t) for t in tasks[offset : offset + limit]]}


def metrics_json(state: MasterState, now: float) -> JsonObject:
    total = Resources()
    used = Resources()
    for agent in state.agents.values():
        if agent.connected:
            total = total + agent.total
            used = used + agent.used
    out: dict[str, float] = {"master/elected": 1.0, "master/uptime_secs": now - state.start_time}
    for name in MODEL_SCALARS:
        have, use = total.scalar(name), used.scalar(name)
        out[f"master/{name}_total"] = have
        out[f"master/{name}_used"] = use
        out[f"master/{name}_percent"] = use / have if have else 0.0
    connected = sum(1 for a in state.agents.values() if a.connected)
    out["master/slaves_active"] = out["master/slaves_connected"] = float(connected)
    out["master/slaves_inactive"] = 0.0
    out["master/slaves_disconnected"] = float(len(state.agents) - connected)
    out["master/slaves_unreachable"] = float(len(state.unreachable_agents))
    active = sum(1 for f in state.frameworks.values() if f.connected)
    out["master/frameworks_active"] = out["master/frameworks_connected"] = float(active)
    out["master/frameworks_inactive"] = out["master/frameworks_disconnected"] = float(
        len(state.frameworks) - active
    )
    out["master/outstanding_offers"] = float(len(state.offers))
    live: dict[TaskState, int] = {}
    for framework in state.frameworks.values():
        for task in [*framework.tasks.values(), *framework.unreachable_tasks.values()]:
            if not task.state.is_terminal:
                live[task.state] = live.get(task.state, 0) + 1
    for task_state in TaskState:
        key = f"master/tasks_{task_state.metric_name}"
        if task_state.is_terminal:
            out[key] = float(state.metrics[f"tasks_{task_state.metric_name}"])
        else:
            out[key] = float(live.get(task_state, 0))
    for name, count in state.metrics.items():
        if name.startswith(("messages_", "slave_", "valid_", "invalid_")):
            out[f"master/{name}"] = float(count)
        elif name == "allocation_runs":
            out["allocator/mesos/allocation_runs"] = float(count)
    out.update(allocator_metrics(state))
    return dict(out)


def allocator_metrics(state: MasterState) -> dict[str, float]:
    """`allocator/mesos/...` (mesos.md c.4): totals, what is offered or allocated, per-role shares, quota."""
    roles = state.roles
    out: dict[str, float] = {}
    held: dict[str, float] = {}
    for role in roles.known():
        for name, value in roles.allocated(role).items():
            held[name] = held.get(name, 0.0) + value
    for name in ("cpus", "mem", "disk"):
        out[f"allocator/mesos/resources/{name}/total"] = roles.totals.get(name, 0.0)
        out[f"allocator/mesos/resources/{name}/offered_or_allocated"] = held.get(name, 0.0)
    for role in roles.known(frameworks_by_role(state)):
        out[f"allocator/mesos/roles/{role}/shares/dominant"] = roles.share(role)
        active = sum(len(f.filters.get(role, {})) for f in state.frameworks.values())
        out[f"allocator/mesos/offer_filters/roles/{role}/active"] = float(active)
    for role, config in roles.quotas.items():
        consumed = roles.consumed(role)
        for name in sorted({*config.guarantees, *config.limits}):
            prefix = f"allocator/mesos/quota/roles/{role}/resources/{name}"
            out[f"{prefix}/offered_or_allocated"] = consumed.get(name, 0.0)
            if name in config.guarantees:
                out[f"{prefix}/guarantee"] = config.guarantees[name]
            if name in config.limits:
                out[f"{prefix}/limit"] = config.limits[name]
    return out

"""What the agent tells operators: `GET /state` (`mesos.md` c.6) and `/metrics/snapshot` (c.4), built
from the core's records with no I/O.

With `--acls`, `/state` shows a principal only what it may view, as upstream's agent does: frameworks by
view_frameworks (their user), executors by view_executors, tasks by view_tasks, the flags by view_flags.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from corral.agent.core import AgentCore
from corral.agent.environment import format_duration
from corral.agent.state import Executor, ExecutorPhase, Framework, Task
from corral.coord.zk_url import str_masked
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import MESOS_VERSION, FrameworkInfo, TaskStatus, encode_resources
from corral.security.acls import Action, executor_user, task_user

# May the caller view this object (a UNIX user; None for the flags)? The ACLs' answer for one principal.
Sees = Callable[[Action, str | None], bool]


def sees_everything(action: Action, obj: str | None) -> bool:
    return True


_LIVE_STATES = (
    TaskState.TASK_STAGING,
    TaskState.TASK_STARTING,
    TaskState.TASK_RUNNING,
    TaskState.TASK_KILLING,
)
_TERMINAL_COUNTERS = ("finished", "failed", "killed", "lost", "gone", "error", "dropped")


def version_document() -> JsonObject:
    """`GET /version`: a plain numeric version, as pymesos requires."""
    return {
        "version": MESOS_VERSION,
        "build_date": "",
        "build_time": 0.0,
        "build_user": "corral",
        "git_sha": "",
        "git_branch": "",
        "git_tag": MESOS_VERSION,
    }


def _model(resources: Resources) -> JsonObject:
    """The v0 "model" format (`{"cpus": 1.0, "ports": "[31000-31000]", ...}`)."""
    return {name: value for name, value in resources.to_model().items()}


def _role(info: FrameworkInfo) -> JsonObject:
    return {"roles": list(info.roles)} if info.is_multi_role else {"role": info.roles[0]}


def _status(status: TaskStatus) -> JsonObject:
    out: JsonObject = {"state": status.state.value, "timestamp": status.timestamp or 0.0}
    if (container := status.extra.get("container_status")) is not None:
        out["container_status"] = container
    if status.healthy is not None:
        out["healthy"] = status.healthy
    return out


def _task(task: Task, executor: Executor, agent_id: str, role: str) -> JsonObject:
    out: JsonObject = {
        "id": task.id,
        "name": task.info.name,
        "framework_id": task.framework_id,
        "executor_id": "" if executor.is_command else executor.id,
        "slave_id": agent_id,
        "state": task.state.value,
        "resources": _model(task.info.resources),
        "role": role,
        "statuses": [_status(s) for s in task.statuses],
    }
    if labels := task.info.labels:
        out["labels"] = labels
    for key in ("discovery", "health_check", "kill_policy", "container"):
        if (value := task.info.raw.get(key)) is not None:
            out[key] = value
    return out


def _executor(executor: Executor, framework: FrameworkInfo, agent_id: str, sees: Sees) -> JsonObject:
    info = executor.info
    role = framework.roles[0]

    def tasks(items: Iterable[Task]) -> list[JsonValue]:
        shown = (t for t in items if sees(Action.VIEW_TASKS, task_user(framework, t.info)))
        return [_task(t, executor, agent_id, role) for t in shown]

    source = info.raw.get("source")
    out: JsonObject = {
        "id": executor.id,
        "name": info.name or "",
        "source": source if isinstance(source, str) else "",
        "container": executor.container_id,
        "directory": str(executor.directory),
        "resources": _model(_executor_resources(executor)),
        "role": role,
        "type": info.type,
        "tasks": tasks(executor.tasks.values()),
        "queued_tasks": tasks(executor.queued.values()),
        "completed_tasks": tasks(executor.completed),
    }
    if isinstance(labels := info.raw.get("labels"), dict) and isinstance(labels.get("labels"), list):
        out["labels"] = labels["labels"]
    return out


def _framework(framework: Framework, agent_id: str, sees: Sees) -> JsonObject:
    info = framework.info

    def executors(items: Iterable[Executor]) -> list[JsonValue]:
        shown = (e for e in items if sees(Action.VIEW_EXECUTORS, executor_user(info, e.info)))
        return [_executor(e, info, agent_id, sees) for e in shown]

    out: JsonObject = {
        "id": framework.id,
        "name": info.name,
        "user": info.user,
        "failover_timeout": info.failover_timeout,
        "checkpoint": info.checkpoint,
        "hostname": info.hostname or "",
        "capabilities": [c for c in sorted(info.capabilities)],
        **_role(info),
        "executors": executors(framework.executors.values()),
        "completed_executors": executors(framework.completed_executors),
    }
    if info.principal is not None:
        out["principal"] = info.principal
    return out


def _executor_resources(executor: Executor) -> Resources:
    """A custom executor's own resources plus its live tasks' (a command task has only its task's)."""
    total = Resources() if executor.is_command else executor.info.resources
    for task in executor.all_tasks():
        if not task.state.is_terminal:
            total = total + task.info.resources
    return total


def used_resources(core: AgentCore) -> Resources:
    total = Resources()
    for executor in core.state.executors():
        if executor.phase is not ExecutorPhase.TERMINATED:
            total = total + _executor_resources(executor)
    return total


def state_document(core: AgentCore, sees: Sees = sees_everything) -> JsonObject:
    """`GET /state`, of what `sees` allows (everything by default)."""
    state, config = core.state, core.config
    agent_id = state.agent_id or ""
    endpoint = f"{config.ip}:{config.port}"
    used = used_resources(core)

    def frameworks(items: Iterable[Framework]) -> list[JsonValue]:
        shown = (f for f in items if sees(Action.VIEW_FRAMEWORKS, f.info.user))
        return [_framework(f, agent_id, sees) for f in shown]

    document: JsonObject = {
        **version_document(),
        "start_time": state.start_time,
        "id": agent_id,
        "pid": f"slave(1)@{endpoint}",
        "hostname": config.advertised_hostname,
        "capabilities": [],
        "resources": _model(state.resources),
        "reserved_resources": {},
        "unreserved_resources": _model(state.resources),
        "reserved_resources_full": {},
        "unreserved_resources_full": encode_resources(state.resources),
        "reserved_resources_allocated": {},
        "unreserved_resources_allocated": _model(used),
        "attributes": {a.name: a.display() for a in config.attributes},
        "master_hostname": state.master.hostname if state.master else "",
        "log_dir": "",
        "external_log_file": "",
        "flags": {
            "work_dir": str(config.work_dir),
            "ip": config.ip,
            "port": str(config.port),
            "hostname": config.advertised_hostname,
            "master": str_masked(config.master),  # a zk:// URL may carry a password
            "executor_registration_timeout": f"{config.executor_registration_timeout:g}secs",
            "executor_reregistration_timeout": f"{config.executor_reregistration_timeout:g}secs",
            "executor_shutdown_grace_period": f"{config.executor_shutdown_grace_period:g}secs",
            "recover": config.recover.value,
            "gc_delay": format_duration(config.gc_delay),
            "gc_disk_headroom": f"{config.gc_disk_headroom:g}",
            "registration_backoff_factor": f"{config.registration_backoff_factor:g}secs",
            **config.auth_flags,
        },
        "frameworks": frameworks(state.frameworks.values()),
        "completed_frameworks": frameworks(state.completed_frameworks),
    }
    if not sees(Action.VIEW_FLAGS, None):
        del document["flags"]  # left out, as the master does, rather than refusing the whole state
    return document


def metrics(core: AgentCore, now: float) -> dict[str, float]:
    """The `slave/*` metrics that apply to Corral's agent, all as floats."""
    state = core.state
    total, used = state.resources, used_resources(core)
    out: dict[str, float] = {
        "slave/registered": 1.0 if state.connected else 0.0,
        "slave/uptime_secs": max(now - state.start_time, 0.0),
        "slave/frameworks_active": float(len(state.frameworks)),
    }
    for name in ("cpus", "mem", "disk", "gpus"):
        have, use = total.scalar(name), used.scalar(name)
        out[f"slave/{name}_total"] = have
        out[f"slave/{name}_used"] = use
        out[f"slave/{name}_percent"] = use / have if have else 0.0
    phases = [e.phase for e in state.executors() if not e.is_command]
    out["slave/executors_registering"] = float(phases.count(ExecutorPhase.REGISTERING))
    out["slave/executors_running"] = float(phases.count(ExecutorPhase.RUNNING))
    out["slave/executors_terminating"] = float(phases.count(ExecutorPhase.TERMINATING))
    out["slave/executors_terminated"] = float(state.counters.get("executors_terminated", 0))
    out["slave/executor_directory_max_allowed_age_secs"] = core.ledger.gc.max_allowed_age
    live = [t.state for e in state.executors() for t in e.all_tasks()]
    for task_state in _LIVE_STATES:
        out[f"slave/tasks_{task_state.metric_name}"] = float(live.count(task_state))
    for name in _TERMINAL_COUNTERS:
        out[f"slave/tasks_{name}"] = float(state.counters.get(f"tasks_{name}", 0))
    for name in (
        "valid_status_updates",
        "invalid_status_updates",
        "valid_framework_messages",
        "invalid_framework_messages",
        "container_launch_errors",
    ):
        out[f"slave/{name}"] = float(state.counters.get(name, 0))
    return out

"""Typed views of the operator endpoints the CLI reads: master `/master/state` (mesos.md c.2), agent `/state`
(c.6). Parsing is lenient about missing keys (older or partial documents) and strict about wrong types,
which raise DecodeError naming the field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, Reader

Model = dict[str, float | str]  # the v0 "model" resource format: {"cpus": 1.0, "ports": "[31000-32000]"}
SCALARS = ("cpus", "mem", "disk")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRow:
    id: str
    hostname: str
    address: str  # host:port of the agent's HTTP endpoint
    active: bool
    total: Model
    used: Model

    def usage(self) -> str:
        """`cpus 0.5/4  mem 128/4096  disk 0/10000`."""
        return "  ".join(f"{name} {_num(self.used, name)}/{_num(self.total, name)}" for name in SCALARS)

    def ports(self) -> str:
        return str(self.total.get("ports", ""))


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkRow:
    id: str
    name: str
    active: bool
    completed: bool
    tasks: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRow:
    id: str
    name: str
    framework_id: str
    framework: str  # the framework's name
    state: str
    agent_id: str
    agent: str  # the agent's hostname, or its id when unknown
    executor_id: str

    @property
    def is_terminal(self) -> bool:
        try:
            return TaskState(self.state).is_terminal
        except ValueError:
            return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ClusterView:
    master_id: str
    hostname: str
    version: str
    agents: tuple[AgentRow, ...] = ()
    frameworks: tuple[FrameworkRow, ...] = ()
    tasks: tuple[TaskRow, ...] = field(default=())

    def task_counts(self) -> dict[str, int]:
        counts = Counter(t.state for t in self.tasks)
        return dict(sorted(counts.items()))

    def live_tasks(self) -> tuple[TaskRow, ...]:
        return tuple(t for t in self.tasks if not t.is_terminal)

    def find_task(self, task_id: str) -> TaskRow | None:
        """The task with this id; a live one wins over completed ones that reused the id."""
        matches = [t for t in self.tasks if t.id == task_id]
        live = [t for t in matches if not t.is_terminal]
        candidates = live or matches
        return candidates[-1] if candidates else None

    def find_agent(self, agent_id: str) -> AgentRow | None:
        return next((a for a in self.agents if a.id == agent_id), None)


def _num(model: Model, name: str) -> str:
    value = model.get(name, 0.0)
    return f"{value:g}" if isinstance(value, float | int) else str(value)


def _model(r: Reader, key: str) -> Model:
    out: Model = {}
    for name, value in (r.raw_child(key) or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
        elif isinstance(value, str):
            out[name] = value
    return out


def _address(r: Reader) -> str:
    """`slave(1)@10.0.0.13:5051` -> `10.0.0.13:5051`; else hostname:port."""
    pid = r.opt_text("pid") or ""
    if "@" in pid:
        return pid.split("@", 1)[1]
    return f"{r.opt_text('hostname') or '127.0.0.1'}:{r.integer('port', 5051)}"


def _agent(r: Reader) -> AgentRow:
    return AgentRow(
        id=r.text("id"),
        hostname=r.opt_text("hostname") or "",
        address=_address(r),
        active=r.flag("active", True),
        total=_model(r, "resources"),
        used=_model(r, "used_resources"),
    )


def _task(r: Reader, framework_names: dict[str, str], agents: dict[str, AgentRow]) -> TaskRow:
    framework_id = r.opt_text("framework_id") or ""
    agent_id = r.opt_text("slave_id") or r.opt_text("agent_id") or ""
    agent = agents.get(agent_id)
    return TaskRow(
        id=r.text("id"),
        name=r.opt_text("name") or "",
        framework_id=framework_id,
        framework=framework_names.get(framework_id, framework_id),
        state=r.opt_text("state") or "",
        agent_id=agent_id,
        agent=agent.hostname if agent and agent.hostname else agent_id,
        executor_id=r.opt_text("executor_id") or "",
    )


def read_master_state(state: JsonValue) -> ClusterView:
    r = Reader(state, "/master/state")
    agents = tuple(_agent(a) for a in r.objs("slaves"))
    by_id = {a.id: a for a in agents}
    live, done = r.objs("frameworks"), r.objs("completed_frameworks")
    names = {f.text("id"): f.opt_text("name") or "" for f in live + done}
    frameworks: list[FrameworkRow] = []
    tasks: list[TaskRow] = []
    for completed, group in ((False, live), (True, done)):
        for f in group:
            own = [_task(t, names, by_id) for key in ("tasks", "unreachable_tasks") for t in f.objs(key)]
            finished = [_task(t, names, by_id) for t in f.objs("completed_tasks")]
            frameworks.append(
                FrameworkRow(
                    id=f.text("id"),
                    name=f.opt_text("name") or "",
                    active=f.flag("active", not completed),
                    completed=completed,
                    tasks=len(own),
                )
            )
            tasks += own + finished
    for t in r.objs("orphan_tasks"):
        tasks.append(_task(t, names, by_id))
    return ClusterView(
        master_id=r.opt_text("id") or "",
        hostname=r.opt_text("hostname") or "",
        version=r.opt_text("version") or "",
        agents=agents,
        frameworks=tuple(frameworks),
        tasks=tuple(tasks),
    )


def find_sandbox(agent_state: JsonValue, *, framework_id: str, task_id: str, executor_id: str) -> str | None:
    """The sandbox directory of a task from an agent's `/state`: the directory of the executor that runs
    (or ran) it. Command tasks have no executor id in the master's view; the agent names their executor
    after the task, or lists the task under it."""
    r = Reader(agent_state, "/state")
    wanted = {e for e in (executor_id, task_id) if e}
    for fw in r.objs("frameworks") + r.objs("completed_frameworks"):
        if framework_id and fw.opt_text("id") not in (None, framework_id):
            continue
        for ex in fw.objs("executors") + fw.objs("completed_executors"):
            directory = ex.opt_text("directory")
            if not directory:
                continue
            task_ids = {
                t.opt_text("id") for key in ("tasks", "queued_tasks", "completed_tasks") for t in ex.objs(key)
            }
            if task_id in task_ids or ex.opt_text("id") in wanted:
                return directory
    return None


def cluster_json(view: ClusterView) -> JsonObject:
    """`corral cluster status -o json`."""
    agents: list[JsonValue] = [
        {
            "id": a.id,
            "hostname": a.hostname,
            "address": a.address,
            "active": a.active,
            "resources": dict(a.total),
            "used_resources": dict(a.used),
        }
        for a in view.agents
    ]
    frameworks: list[JsonValue] = [
        {"id": f.id, "name": f.name, "active": f.active, "completed": f.completed, "tasks": f.tasks}
        for f in view.frameworks
    ]
    counts: dict[str, JsonValue] = dict(view.task_counts())
    return {
        "master": {"id": view.master_id, "hostname": view.hostname, "version": view.version},
        "agents": agents,
        "frameworks": frameworks,
        "tasks": counts,
    }


def task_json(task: TaskRow) -> JsonObject:
    return {
        "id": task.id,
        "name": task.name,
        "framework_id": task.framework_id,
        "framework": task.framework,
        "state": task.state,
        "agent_id": task.agent_id,
        "agent": task.agent,
    }

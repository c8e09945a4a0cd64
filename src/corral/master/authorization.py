"""What `--acls` lets one principal see and touch in the master's state (upstream's `FilterStateEndpoint`).

`visible_state` is a render-only copy of the state without what the principal may not view: frameworks
whose user view_frameworks refuses (with all their tasks), tasks whose user view_tasks refuses, executors
whose user view_executors refuses. The copy shares every record it keeps and is never mutated; without
ACLs it is the state itself, so the cached `/master/state` stays the fast path.

`sandbox_user` is the object of access_sandboxes for a `/files/*` path: the UNIX user of the executor (or
command task) whose sandbox the path names.
"""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import ExecutorId, FrameworkId, TaskId
from corral.master.state import FrameworkRecord, MasterState
from corral.security.acls import Action, Authorizer, executor_user, task_user


def visible_state(state: MasterState, principal: str | None) -> MasterState:
    authorizer = state.authorizer
    if not authorizer.is_enabled:
        return state
    live = {
        framework_id: visible
        for framework_id, framework in state.frameworks.items()
        if (visible := _visible(authorizer, principal, framework)) is not None
    }
    view = replace(state, frameworks=live)
    view.completed_frameworks.extend(
        visible
        for framework in state.completed_frameworks
        if (visible := _visible(authorizer, principal, framework)) is not None
    )
    return view


def _visible(
    authorizer: Authorizer, principal: str | None, framework: FrameworkRecord
) -> FrameworkRecord | None:
    info = framework.info
    if not authorizer.allowed(Action.VIEW_FRAMEWORKS, principal, info.user):
        return None

    def sees_task(user: str) -> bool:
        return authorizer.allowed(Action.VIEW_TASKS, principal, user)

    view = replace(
        framework,
        tasks={i: t for i, t in framework.tasks.items() if sees_task(task_user(info, t.info))},
        unreachable_tasks={
            i: t for i, t in framework.unreachable_tasks.items() if sees_task(task_user(info, t.info))
        },
        executors={
            key: executor
            for key, executor in framework.executors.items()
            if authorizer.allowed(Action.VIEW_EXECUTORS, principal, executor_user(info, executor))
        },
    )
    view.completed_tasks.extend(t for t in framework.completed_tasks if sees_task(task_user(info, t.info)))
    return view


def sandbox_user(state: MasterState, path: str) -> str | None:
    """The user owning the sandbox `path` names (`.../frameworks/<fid>/executors/<eid>/runs/...`, real or
    virtual); None when the path names no framework the master knows (then only ANY rules allow it)."""
    parts = [p for p in path.split("/") if p]
    for i in range(len(parts) - 3):  # the first match is the sandbox's own (the agent refuses `..`)
        if parts[i] == "frameworks" and parts[i + 2] == "executors":
            return _owner(state, FrameworkId(parts[i + 1]), parts[i + 3])
    return None


def _owner(state: MasterState, framework_id: FrameworkId, executor_id: str) -> str | None:
    framework = state.frameworks.get(framework_id) or next(
        (f for f in state.completed_frameworks if f.id == framework_id), None
    )
    if framework is None:
        return None
    info = framework.info
    for (_, known), executor in framework.executors.items():
        if known == ExecutorId(executor_id):
            return executor_user(info, executor)
    # A command task's executor has the task's id (Corral runs it without an executor process).
    task_id = TaskId(executor_id)
    task = framework.tasks.get(task_id) or framework.unreachable_tasks.get(task_id)
    task = task or next((t for t in framework.completed_tasks if t.id == task_id), None)
    return task_user(info, task.info) if task is not None else info.user

"""Deployments: plans of steps (marathon.md c.1, a.5) and the health-gated rolling restart.

A plan is computed from the original and target apps (upstream `DeploymentPlan.apply`, 1.9):
step 1 stops every removed app; step 2 starts every new app at 0 instances; then one step per dependency
depth (apps others depend on first): a new app or a scale-only change (or a target of 0 instances) is a
ScaleApplication, any other change a RestartApplication. Empty steps are dropped; actions in a step run
together, steps one after the other. Deployment ids and versions are the caller's.

The plan does not act. While step k runs, the scheduler realizes `scheduling_target(plan, k)`: the target
for apps whose action has started, the original for the rest; `is_step_done` says when to move on. A
RestartApplication is realized by `restart_step`, re-evaluated on every change (it keeps no state):

- minHealthy = ceil(n * minimumHealthCapacity), maxCapacity = floor(n * (1 + maximumOverCapacity)), and
  one more when they are equal and the app is at capacity (upstream `computeRestartStrategy`);
- an old instance is killed only while the healthy (and, for new ones, ready) instances stay >= minHealthy
  afterwards; unhealthy old ones go first, then by killSelection;
- new instances are launched while old + new alive instances stay <= maxCapacity (killed ones count until
  they are gone);
- done when n new instances are healthy and ready and no old one is left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from corral.marathon.instance import Goal, Instance, InstanceId, kill_order
from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.protocol.json import JsonObject, JsonValue

_EPSILON = 1e-9


class ActionKind(StrEnum):
    START_APPLICATION = "StartApplication"
    STOP_APPLICATION = "StopApplication"
    SCALE_APPLICATION = "ScaleApplication"
    RESTART_APPLICATION = "RestartApplication"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentAction:
    kind: ActionKind
    app_id: PathId
    sentenced: tuple[InstanceId, ...] = ()  # kill-and-scale: these go first

    def to_json(self) -> JsonObject:
        return {"action": self.kind.value, "app": str(self.app_id)}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentStep:
    actions: tuple[DeploymentAction, ...]

    def to_json(self) -> JsonObject:
        return {"actions": [a.to_json() for a in self.actions]}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentPlan:
    id: str
    version: str
    original: Mapping[PathId, AppDefinition]
    target: Mapping[PathId, AppDefinition]
    steps: tuple[DeploymentStep, ...]

    @property
    def affected_apps(self) -> tuple[PathId, ...]:
        return tuple(sorted({a.app_id for s in self.steps for a in s.actions}))

    @property
    def is_empty(self) -> bool:
        return not self.steps

    def to_json(
        self, *, current_step: int, readiness: Mapping[PathId, Sequence[JsonObject]] | None = None
    ) -> JsonObject:
        """`GET /v2/deployments` item; `current_step` is 1-based (0: not started), as upstream counts."""
        current: list[JsonValue] = []
        if 1 <= current_step <= len(self.steps):
            for action in self.steps[current_step - 1].actions:
                results = list[JsonValue]((readiness or {}).get(action.app_id, ()))
                current.append({**action.to_json(), "readinessCheckResults": results})
        return {
            "id": self.id,
            "version": self.version,
            "affectedApps": [str(a) for a in self.affected_apps],
            "affectedPods": [],
            "steps": [s.to_json() for s in self.steps],
            "currentActions": current,
            "currentStep": current_step,
            "totalSteps": len(self.steps),
        }


def is_scale_only_change(old: AppDefinition, new: AppDefinition) -> bool:
    return replace(new, instances=old.instances) == old


def dependency_edges(
    apps: Mapping[PathId, AppDefinition], group_dependencies: Mapping[PathId, Sequence[PathId]] | None = None
) -> dict[PathId, frozenset[PathId]]:
    """The apps each app waits for (upstream `RootGroup.applicationDependencies`): those its dependencies
    include (a dependency on a group means every app inside it), and those the dependencies of every group
    around it include. Apps that wait for nothing are left out."""
    inherited = [(g, deps) for g, deps in (group_dependencies or {}).items() if deps]
    under: dict[PathId, list[PathId]] = {}  # every path -> the apps at or below it, built only if needed
    edges: dict[PathId, frozenset[PathId]] = {}
    for app_id, app in apps.items():
        deps = list(app.dependencies)
        for group_id, group_deps in inherited:
            if group_id.includes(app_id):
                deps += group_deps
        if not deps:
            continue
        if not under:
            for other in apps:
                for n in range(len(other.segments) + 1):
                    under.setdefault(PathId(other.segments[:n]), []).append(other)
        prerequisites = frozenset(o for d in deps for o in under.get(d, ()) if o != app_id)
        if prerequisites:
            edges[app_id] = prerequisites
    return edges


def _longest_paths(
    apps: Iterable[PathId], edges: Mapping[PathId, frozenset[PathId]]
) -> tuple[dict[PathId, int], bool]:
    """Longest dependency path from each app (Kahn's order, no recursion), and whether a cycle was left."""
    depths = dict.fromkeys(apps, 0)
    waiting = {a: len(deps) for a, deps in edges.items()}
    dependents: dict[PathId, list[PathId]] = {}
    for app_id, deps in edges.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(app_id)
    ready = [a for a in dependents if a not in waiting]
    done = 0
    while ready:
        app_id = ready.pop()
        if app_id in edges:
            depths[app_id] = 1 + max(depths.get(d, 0) for d in edges[app_id])
            done += 1
        for dependent in dependents.get(app_id, ()):
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                ready.append(dependent)
    return depths, done < len(edges)  # apps in or behind a cycle (validation refuses those) keep depth 0


def dependency_depths(
    apps: Mapping[PathId, AppDefinition], group_dependencies: Mapping[PathId, Sequence[PathId]] | None = None
) -> dict[PathId, int]:
    return _longest_paths(apps, dependency_edges(apps, group_dependencies))[0]


def has_dependency_cycle(
    apps: Mapping[PathId, AppDefinition], group_dependencies: Mapping[PathId, Sequence[PathId]] | None = None
) -> bool:
    """Upstream's "Dependency graph has cyclic dependencies." check."""
    return _longest_paths((), dependency_edges(apps, group_dependencies))[1]


def plan_deployment(
    original: Mapping[PathId, AppDefinition],
    target: Mapping[PathId, AppDefinition],
    *,
    deployment_id: str,
    version: str,
    restart: frozenset[PathId] = frozenset(),
    sentenced: Mapping[PathId, tuple[InstanceId, ...]] | None = None,
    group_dependencies: Mapping[PathId, Sequence[PathId]] | None = None,
) -> DeploymentPlan:
    """`restart` forces a RestartApplication of unchanged apps (`POST /v2/apps/{id}/restart`);
    `group_dependencies` are the target groups' (`groups.GroupTable.dependencies`)."""
    removed = sorted(set(original) - set(target))
    added = sorted(set(target) - set(original))
    steps = [
        tuple(DeploymentAction(kind=ActionKind.STOP_APPLICATION, app_id=a) for a in removed),
        tuple(DeploymentAction(kind=ActionKind.START_APPLICATION, app_id=a) for a in added),
    ]
    by_depth: dict[int, list[DeploymentAction]] = {}
    depths = dependency_depths(target, group_dependencies)
    for app_id in sorted(target):
        new, old = target[app_id], original.get(app_id)
        if old is new and app_id not in restart and not (sentenced or {}).get(app_id):
            continue  # untouched (the common case, and cheap: the checks below copy the app)
        if old is None or new.instances == 0 or (is_scale_only_change(old, new) and app_id not in restart):
            if old is not None and old == new and not (sentenced or {}).get(app_id):
                continue
            action = DeploymentAction(
                kind=ActionKind.SCALE_APPLICATION, app_id=app_id, sentenced=(sentenced or {}).get(app_id, ())
            )
        else:
            action = DeploymentAction(kind=ActionKind.RESTART_APPLICATION, app_id=app_id)
        by_depth.setdefault(depths[app_id], []).append(action)
    steps += [tuple(by_depth[d]) for d in sorted(by_depth)]
    return DeploymentPlan(
        id=deployment_id,
        version=version,
        original=dict(original),
        target=dict(target),
        steps=tuple(DeploymentStep(actions=s) for s in steps if s),
    )


def scheduling_target(
    plan: DeploymentPlan, step_index: int
) -> tuple[dict[PathId, AppDefinition], frozenset[PathId]]:
    """(apps to realize, apps under a rolling restart) while step `step_index` (0-based) runs."""
    apps = dict(plan.original)
    restarting: set[PathId] = set()
    for index, step in enumerate(plan.steps[: step_index + 1]):
        for action in step.actions:
            match action.kind:
                case ActionKind.STOP_APPLICATION:
                    apps.pop(action.app_id, None)
                case ActionKind.START_APPLICATION:
                    apps[action.app_id] = replace(plan.target[action.app_id], instances=0)
                case ActionKind.SCALE_APPLICATION:
                    apps[action.app_id] = plan.target[action.app_id]
                case ActionKind.RESTART_APPLICATION:
                    apps[action.app_id] = plan.target[action.app_id]
                    if index == step_index:
                        restarting.add(action.app_id)
    return apps, frozenset(restarting)


def is_serving(instance: Instance, app: AppDefinition, ready: frozenset[InstanceId]) -> bool:
    """Running, healthy if the app has health checks, ready if it has readiness checks."""
    if not instance.is_running or instance.is_kill_requested:
        return False
    if app.health_checks and instance.healthy is not True:
        return False
    return not app.readiness_checks or instance.instance_id in ready


@dataclass(frozen=True, slots=True, kw_only=True)
class RestartDecision:
    kill: tuple[Instance, ...]
    launch: int
    done: bool
    min_healthy: int
    max_capacity: int


def restart_step(
    app: AppDefinition,
    config_version: str,
    instances: Sequence[Instance],
    *,
    ready: frozenset[InstanceId] = frozenset(),
) -> RestartDecision:
    """What a rolling restart of `app` to `config_version` does next, from its instances alone."""
    n = app.instances
    strategy = app.upgrade_strategy
    alive = [i for i in instances if not i.is_terminal]
    old = [i for i in alive if not i.is_launched_with(config_version)]
    new = [i for i in alive if i.is_launched_with(config_version)]
    active = [i for i in alive if i.goal is Goal.RUNNING and not i.is_kill_requested]
    min_healthy = math.ceil(n * strategy.minimum_health_capacity - _EPSILON)
    max_capacity = math.floor(n * (1 + strategy.maximum_over_capacity) + _EPSILON)
    if min_healthy == max_capacity and len(active) >= max_capacity:
        max_capacity += 1  # one extra instance, or the restart could never start
    old_ids = frozenset(i.instance_id for i in old)  # readiness gates new instances only
    serving = {i.instance_id for i in alive if is_serving(i, app, ready | old_ids)}
    serving_new = [i for i in new if i.instance_id in serving]
    candidates = [i for i in old if i.goal is Goal.RUNNING and not i.is_kill_requested]
    budget = len(serving_new) + sum(i.instance_id in serving for i in candidates) - min_healthy
    ordered = sorted(kill_order(candidates, app.kill_selection), key=lambda i: i.instance_id in serving)
    kill: list[Instance] = []
    for instance in ordered:
        cost = 1 if instance.instance_id in serving else 0
        if budget - cost >= 0:
            kill.append(instance)
            budget -= cost
    new_alive = [i for i in new if i.goal is Goal.RUNNING]
    launch = max(0, min(n - len(new_alive), max_capacity - len(alive)))
    done = not old and len(serving_new) >= n
    return RestartDecision(
        kill=tuple(kill), launch=launch, done=done, min_healthy=min_healthy, max_capacity=max_capacity
    )


def is_action_done(
    action: DeploymentAction,
    app: AppDefinition | None,
    config_version: str,
    instances: Sequence[Instance],
    *,
    ready: frozenset[InstanceId] = frozenset(),
    now: float,
) -> bool:
    """`instances` are the action's app's. Start is immediate; Stop waits for every instance to be gone."""
    alive = [i for i in instances if not i.is_terminal]
    match action.kind:
        case ActionKind.START_APPLICATION:
            return True
        case ActionKind.STOP_APPLICATION:
            return not alive
        case ActionKind.RESTART_APPLICATION:
            assert app is not None
            return restart_step(app, config_version, instances, ready=ready).done
        case ActionKind.SCALE_APPLICATION:
            assert app is not None
            running = [i for i in alive if i.counts_as_running(app.unreachable_strategy, now)]
            leaving = [i for i in alive if i.goal is not Goal.RUNNING]
            serving = [i for i in running if is_serving(i, app, ready)]
            return len(running) == app.instances and not leaving and len(serving) >= app.instances


def is_step_done(
    step: DeploymentStep,
    apps: Mapping[PathId, AppDefinition],
    config_versions: Mapping[PathId, str],
    instances: Sequence[Instance],
    *,
    ready: frozenset[InstanceId] = frozenset(),
    now: float,
) -> bool:
    """`apps` and `config_versions` are the target's (what `scheduling_target` realizes)."""
    return all(
        is_action_done(
            action,
            apps.get(action.app_id),
            config_versions.get(action.app_id, ""),
            [i for i in instances if i.app_id == action.app_id],
            ready=ready,
            now=now,
        )
        for action in step.actions
    )

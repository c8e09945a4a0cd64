"""The parents graph of dependent jobs, and when a dependent job becomes due.

Rule (Chronos docs/index.md, `JobGraph.getExecutableChildren`): a dependent job runs once every parent has
succeeded (or failed with `softError`) at least once since the job last started; extra parent runs collapse
into one. Chronos kept the per-edge counters behind this in memory, so a leader change between two parents
lost the first one's success and the child never ran (#811). Here the same fact is a plain value,
`DependencyProgress`: the set of (parent, child) edges whose parent succeeded since the child last started.
The store saves it (`to_json`) in the same write as the runs it causes, and every transition is a pure
function, so a new leader continues from the stored progress.

Checks Chronos skipped (#815: a child of an unknown parent silently vanished; cycles were never checked) are
made when a job is posted: `parent_problems` names unknown parents and the cycle a job would close.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from corral.chronos.validation import Problem
from corral.protocol.json import JsonObject, JsonValue, Reader

if TYPE_CHECKING:
    from corral.chronos.model import Job


class CycleError(ValueError):
    def __init__(self, cycle: tuple[str, ...]) -> None:
        super().__init__(f"dependency cycle: {' -> '.join(cycle)}")
        self.cycle = cycle


@dataclass(frozen=True, slots=True, kw_only=True)
class JobGraph:
    """Every job by name with its parents (a scheduled job has none), and the inverse edges."""

    parents: Mapping[str, tuple[str, ...]]
    children: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, parents: Mapping[str, Iterable[str]]) -> JobGraph:
        fixed = {name: tuple(dict.fromkeys(ps)) for name, ps in parents.items()}
        children: dict[str, list[str]] = {}
        for name in sorted(fixed):
            for parent in fixed[name]:
                children.setdefault(parent, []).append(name)
        return cls(parents=fixed, children={p: tuple(cs) for p, cs in children.items()})

    @classmethod
    def from_jobs(cls, jobs: Iterable[Job]) -> JobGraph:
        return cls.of({job.name: job.parents for job in jobs})

    def with_job(self, name: str, parents: Iterable[str]) -> JobGraph:
        return JobGraph.of({**self.parents, name: tuple(parents)})

    def without_job(self, name: str) -> JobGraph:
        return JobGraph.of({n: ps for n, ps in self.parents.items() if n != name})

    def children_of(self, name: str) -> tuple[str, ...]:
        return self.children.get(name, ())


def parent_problems(graph: JobGraph, name: str, parents: Iterable[str]) -> tuple[Problem, ...]:
    """What is wrong with giving job `name` these parents: unknown parents, or the cycle it would close."""
    parents = tuple(parents)
    found = [
        Problem(path="parents", message=f"unknown parent {p!r} of job {name!r}")
        for p in parents
        if p not in graph.parents and p != name
    ]
    cycle = _cycle_through(graph, name, parents)
    if cycle is not None:
        found.append(Problem(path="parents", message=f"dependency cycle: {' -> '.join(cycle)}"))
    return tuple(found)


def graph_problems(graph: JobGraph) -> tuple[Problem, ...]:
    """Every unknown parent and one cycle, if any, of a whole graph (e.g. jobs loaded from a store)."""
    found = [
        Problem(path="parents", message=f"unknown parent {p!r} of job {name!r}")
        for name in sorted(graph.parents)
        for p in graph.parents[name]
        if p not in graph.parents
    ]
    try:
        topological_order(graph)
    except CycleError as e:
        found.append(Problem(path="parents", message=str(e)))
    return tuple(found)


def topological_order(graph: JobGraph) -> list[str]:
    """Every job, parents before children, ties by name. Raises CycleError naming a cycle."""
    waiting = {name: sum(p in graph.parents for p in ps) for name, ps in graph.parents.items()}
    ready = [name for name, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for child in graph.children_of(name):
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    if len(order) < len(graph.parents):
        raise CycleError(find_cycle(graph) or ())
    return order


def parents_after_delete(graph: JobGraph, deleted: str) -> dict[str, tuple[str, ...]]:
    """The new parents of each child of `deleted`: its other parents plus the deleted job's own parents
    (JobManagementResource.delete). A child left with none (its only parent was a scheduled job) maps to ();
    the caller decides what it becomes."""
    inherited = graph.parents.get(deleted, ())
    out: dict[str, tuple[str, ...]] = {}
    for child in graph.children_of(deleted):
        others = [p for p in graph.parents[child] if p != deleted]
        out[child] = tuple(dict.fromkeys([*others, *(p for p in inherited if p != child)]))
    return out


def _cycle_through(graph: JobGraph, name: str, parents: tuple[str, ...]) -> tuple[str, ...] | None:
    """A cycle closed by the edges parent -> name: a parent that `name` already leads to, as a path."""
    if name in parents:
        return (name, name)
    came_from: dict[str, str] = {}
    queue = deque([name])
    while queue:
        node = queue.popleft()
        for child in graph.children_of(node):
            if child not in came_from and child != name:
                came_from[child] = node
                queue.append(child)
    for parent in parents:
        if parent in came_from:
            path = [parent]
            while path[-1] != name:
                path.append(came_from[path[-1]])
            return (parent, *reversed(path))
    return None


def find_cycle(graph: JobGraph) -> tuple[str, ...] | None:
    """A cycle in parent -> child order, first and last the same job (`a -> b -> a`), or None."""
    done: set[str] = set()
    for start in sorted(graph.parents):
        if start in done:
            continue
        path = [start]  # path[i + 1] is a parent of path[i]
        on_path = {start}
        stack = [iter(graph.parents[start])]
        while stack:
            parent = next((p for p in stack[-1] if p in graph.parents and p not in done), None)
            if parent is None:
                node = path.pop()
                on_path.discard(node)
                done.add(node)
                stack.pop()
                continue
            if parent in on_path:
                loop = path[path.index(parent) :]
                return (loop[0], *reversed(loop[1:]), loop[0])
            path.append(parent)
            on_path.add(parent)
            stack.append(iter(graph.parents[parent]))
    return None


# ---- progress --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class DependencyProgress:
    """Edges (parent, child) whose parent succeeded since the child last started. Saved by the store."""

    succeeded: frozenset[tuple[str, str]] = frozenset()

    def to_json(self) -> JsonObject:
        by_child: dict[str, list[str]] = {}
        for parent, child in sorted(self.succeeded):
            by_child.setdefault(child, []).append(parent)
        return {"succeeded": {child: list[JsonValue](ps) for child, ps in by_child.items()}}

    @classmethod
    def from_json(cls, obj: JsonValue) -> DependencyProgress:
        table = Reader(obj).opt_child("succeeded")
        if table is None:
            return cls()
        edges: set[tuple[str, str]] = set()
        for child in table.obj:
            edges.update((parent, child) for parent in table.strs(child))
        return cls(succeeded=frozenset(edges))


def parent_succeeded(
    progress: DependencyProgress, graph: JobGraph, parent: str, *, disabled: Collection[str] = ()
) -> tuple[DependencyProgress, tuple[str, ...]]:
    """Record a success of `parent` (or a failure with softError); return the children now due, by name.

    A child stays due until `child_started`; the caller keeps at most one queued run per job."""
    edges = {(parent, child) for child in graph.children_of(parent)}
    progress = replace(progress, succeeded=progress.succeeded | edges)
    due = tuple(
        child
        for child in graph.children_of(parent)
        if child not in disabled and _all_parents_succeeded(progress, graph, child)
    )
    return progress, due


def child_started(progress: DependencyProgress, child: str) -> DependencyProgress:
    """The child reported STAGING/STARTING/RUNNING: its parents must succeed again before it reruns."""
    return replace(progress, succeeded=frozenset(e for e in progress.succeeded if e[1] != child))


def prune(progress: DependencyProgress, graph: JobGraph) -> DependencyProgress:
    """Forget edges that no longer exist (a job deleted, a child's parents changed)."""
    kept = frozenset(e for e in progress.succeeded if e[0] in graph.parents.get(e[1], ()))
    return progress if kept == progress.succeeded else replace(progress, succeeded=kept)


def _all_parents_succeeded(progress: DependencyProgress, graph: JobGraph, child: str) -> bool:
    parents = graph.parents.get(child, ())
    return bool(parents) and all((p, child) in progress.succeeded for p in parents)

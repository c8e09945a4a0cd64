"""Dependent jobs (chronos.md c "Dependent jobs"): a child runs once every parent has succeeded since it last
started; extra parent runs collapse; the progress survives a leader change (#811); unknown parents and cycles
are refused when posted (#815); deleting a job rewires its children (JobManagementResource.delete).
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corral.chronos.dag import (
    CycleError,
    DependencyProgress,
    JobGraph,
    child_started,
    find_cycle,
    graph_problems,
    parent_problems,
    parent_succeeded,
    parents_after_delete,
    prune,
    topological_order,
)
from corral.chronos.model import Job
from corral.protocol.json import dumps, loads

# export_a and export_b are scheduled; report joins them; mail follows report
DIAMOND = JobGraph.of(
    {"export_a": (), "export_b": (), "report": ("export_a", "export_b"), "mail": ("report",)}
)


def test_children_and_topological_order() -> None:
    assert DIAMOND.children_of("export_a") == ("report",)
    assert DIAMOND.children_of("mail") == ()
    assert topological_order(DIAMOND) == ["export_a", "export_b", "report", "mail"]


def test_the_graph_is_built_from_jobs() -> None:
    jobs = [
        Job(name="a", schedule=None, parents=("b",)),
        Job(name="b", parents=("c",)),
        Job(name="c", parents=("a",)),
    ]
    graph = JobGraph.from_jobs(jobs)
    assert graph.parents == {"a": ("b",), "b": ("c",), "c": ("a",)}


def test_a_join_runs_once_both_parents_have_succeeded() -> None:
    progress = DependencyProgress()
    progress, due = parent_succeeded(progress, DIAMOND, "export_a")
    assert due == ()  # still waiting for export_b
    progress, due = parent_succeeded(progress, DIAMOND, "export_a")
    assert due == ()  # a second export_a run adds nothing
    progress, due = parent_succeeded(progress, DIAMOND, "export_b")
    assert due == ("report",)


def test_extra_parent_runs_collapse_until_the_child_starts() -> None:
    progress, _ = parent_succeeded(DependencyProgress(), DIAMOND, "export_a")
    progress, due = parent_succeeded(progress, DIAMOND, "export_b")
    progress, again = parent_succeeded(progress, DIAMOND, "export_b")
    assert due == again == ("report",)  # still the one pending run: the caller keeps one queued run per job
    progress = child_started(progress, "report")
    assert progress.succeeded == frozenset()
    progress, due = parent_succeeded(progress, DIAMOND, "export_a")
    assert due == ()  # export_b must succeed again since report started


def test_a_single_parent_triggers_at_once() -> None:
    _, due = parent_succeeded(DependencyProgress(), DIAMOND, "report")
    assert due == ("mail",)


def test_disabled_children_are_not_triggered_but_keep_their_progress() -> None:
    progress, due = parent_succeeded(DependencyProgress(), DIAMOND, "report", disabled={"mail"})
    assert due == ()
    assert progress.succeeded == {("report", "mail")}


def test_progress_survives_a_leader_change_between_two_parents() -> None:
    # #811: export_a succeeds, the leader dies, the new leader sees export_b succeed: report must run
    progress, _ = parent_succeeded(DependencyProgress(), DIAMOND, "export_a")
    stored = loads(dumps(progress.to_json()))
    recovered = DependencyProgress.from_json(stored)
    assert recovered == progress
    _, due = parent_succeeded(recovered, DIAMOND, "export_b")
    assert due == ("report",)


def test_progress_round_trips_through_json() -> None:
    progress, _ = parent_succeeded(DependencyProgress(), DIAMOND, "export_a")
    progress, _ = parent_succeeded(progress, DIAMOND, "export_b")
    progress, _ = parent_succeeded(progress, DIAMOND, "report")
    assert progress.to_json() == {"succeeded": {"mail": ["report"], "report": ["export_a", "export_b"]}}
    assert DependencyProgress.from_json(loads(dumps(progress.to_json()))) == progress
    assert DependencyProgress.from_json({}) == DependencyProgress()


def test_changing_a_childs_parents_forgets_edges_that_are_gone() -> None:
    progress, _ = parent_succeeded(DependencyProgress(), DIAMOND, "export_a")
    narrowed = DIAMOND.with_job("report", ("export_b",))
    progress = prune(progress, narrowed)
    assert progress.succeeded == frozenset()
    _, due = parent_succeeded(progress, narrowed, "export_b")
    assert due == ("report",)


def test_unknown_parents_are_named() -> None:
    problems = parent_problems(DIAMOND, "audit", ("report", "export_c"))
    assert [p.message for p in problems] == ["unknown parent 'export_c' of job 'audit'"]


def test_a_job_that_would_close_a_cycle_is_refused_naming_the_cycle() -> None:
    # export_a becomes a child of mail: export_a -> report -> mail -> export_a
    [problem] = parent_problems(DIAMOND, "export_a", ("mail",))
    assert problem.message == "dependency cycle: mail -> export_a -> report -> mail"
    [self_loop] = parent_problems(DIAMOND, "mail", ("mail",))
    assert self_loop.message == "dependency cycle: mail -> mail"
    assert parent_problems(DIAMOND, "mail", ("export_a", "report")) == ()


def test_a_stored_graph_with_a_cycle_and_a_missing_parent_is_reported() -> None:
    graph = JobGraph.of({"a": ("c",), "b": ("a",), "c": ("b",), "d": ("gone",)})
    assert [p.message for p in graph_problems(graph)] == [
        "unknown parent 'gone' of job 'd'",
        "dependency cycle: a -> b -> c -> a",
    ]
    with pytest.raises(CycleError, match=r"^dependency cycle: a -> b -> c -> a$"):
        topological_order(graph)


def test_deleting_a_dependent_job_hands_its_parents_to_its_children() -> None:
    assert parents_after_delete(DIAMOND, "report") == {"mail": ("export_a", "export_b")}


def test_deleting_a_scheduled_parent_leaves_single_parent_children_without_parents() -> None:
    graph = JobGraph.of({"s": (), "t": (), "only": ("s",), "both": ("s", "t")})
    assert parents_after_delete(graph, "s") == {"both": ("t",), "only": ()}
    assert graph.without_job("s").parents == {"t": (), "only": ("s",), "both": ("s", "t")}


# ---------------------------------------------------------------- against a naive reference

graphs = st.dictionaries(
    st.sampled_from("abcdefgh"), st.lists(st.sampled_from("abcdefgh"), max_size=3), min_size=1
).map(JobGraph.of)


def naive_is_acyclic(graph: JobGraph) -> bool:
    """Peel off jobs whose known parents are all peeled; a cycle is what never peels."""
    left = set(graph.parents)
    while True:
        free = {n for n in left if not any(p in left for p in graph.parents[n])}
        if not free:
            return not left
        left -= free


@settings(max_examples=200, deadline=None)
@given(graph=graphs)
def test_cycles_are_found_exactly_when_a_naive_peel_gets_stuck(graph: JobGraph) -> None:
    cycle = find_cycle(graph)
    assert (cycle is None) == naive_is_acyclic(graph)
    if cycle is not None:
        assert cycle[0] == cycle[-1]
        for parent, child in pairwise(cycle):
            assert parent in graph.parents[child]
        with pytest.raises(CycleError):
            topological_order(graph)
    else:
        order = topological_order(graph)
        assert sorted(order) == sorted(graph.parents)
        position = {name: i for i, name in enumerate(order)}
        for child, parents in graph.parents.items():
            assert all(position[p] < position[child] for p in parents if p in position)


@settings(max_examples=200, deadline=None)
@given(
    graph=graphs,
    successes=st.lists(st.sampled_from("abcdefgh"), max_size=20),
    starts=st.sets(st.sampled_from("abcdefgh")),
)
def test_a_child_is_due_exactly_when_every_parent_succeeded_since_it_started(
    graph: JobGraph, successes: list[str], starts: set[str]
) -> None:
    progress = DependencyProgress()
    since: dict[str, set[str]] = {child: set() for child in graph.parents}  # naive: parents seen per child
    for i, parent in enumerate(successes):
        progress, due = parent_succeeded(progress, graph, parent)
        for child in graph.children_of(parent):
            since[child].add(parent)
        expected = tuple(c for c in graph.children_of(parent) if since[c] >= set(graph.parents[c]))
        assert due == expected
        if i % 3 == 2:
            for child in starts:
                progress = child_started(progress, child)
                since.setdefault(child, set()).clear()
    assert progress.succeeded == {(p, c) for c, ps in since.items() for p in ps}

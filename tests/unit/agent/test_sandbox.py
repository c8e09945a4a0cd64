"""Sandbox layout (`mesos.md` f.3, upstream's `src/slave/paths.hpp`)."""

from __future__ import annotations

import os
from pathlib import Path

from corral.agent.sandbox import (
    delete,
    disk_usage,
    find_runs,
    mark_latest_agent,
    meta_run_directory,
    prepare,
    run_directory,
    virtual_latest,
)
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId


def test_runs_live_under_the_agent_framework_and_executor_with_a_latest_link(tmp_path: Path) -> None:
    first = run_directory(tmp_path, AgentId("S0"), FrameworkId("F"), ExecutorId("e"), ContainerId("c1"))
    assert first == tmp_path / "slaves/S0/frameworks/F/executors/e/runs/c1"

    prepare(first)
    assert first.is_dir()
    assert os.readlink(first.parent / "latest") == "c1"
    second = first.with_name("c2")
    prepare(second)
    assert os.readlink(first.parent / "latest") == "c2"  # replaced, not left dangling or duplicated
    assert sorted(p.name for p in first.parent.iterdir()) == ["c1", "c2", "latest"]


def test_the_latest_agent_and_the_virtual_path() -> None:
    assert virtual_latest(FrameworkId("F"), ExecutorId("e")) == "/frameworks/F/executors/e/runs/latest"


def test_slaves_latest_names_the_agent(tmp_path: Path) -> None:
    mark_latest_agent(tmp_path, AgentId("S0"))
    mark_latest_agent(tmp_path, AgentId("S1"))
    assert os.readlink(tmp_path / "slaves" / "latest") == "S1"


def test_every_run_of_every_agent_is_found_with_its_mtime_once(tmp_path: Path) -> None:
    ids = (FrameworkId("F"), ExecutorId("e"), ContainerId("c1"))
    old = run_directory(tmp_path, AgentId("S0"), *ids)
    new = run_directory(tmp_path, AgentId("S1"), *ids)
    meta = meta_run_directory(tmp_path, AgentId("S1"), *ids)
    assert meta == tmp_path / "meta/slaves/S1/frameworks/F/executors/e/runs/c1"
    for run in (old, new):
        prepare(run)  # and runs/latest
    meta.mkdir(parents=True)
    mark_latest_agent(tmp_path, AgentId("S1"))  # slaves/latest -> S1: not a second copy of S1's runs
    os.utime(old, (1000.0, 1000.0))

    found = dict(find_runs(tmp_path))
    assert sorted(found) == sorted([old, new, meta])
    assert found[old] == 1000.0


def test_collected_directories_are_deleted_with_their_contents(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "tasks" / "t").mkdir(parents=True)
    (run / "stdout").write_text("x")
    delete([run, tmp_path / "gone already"])
    assert not run.exists()
    usage = disk_usage(tmp_path)
    assert usage is not None and 0.0 <= usage <= 1.0

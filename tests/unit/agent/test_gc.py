"""Sandbox garbage collection (`mesos.md` f.5; upstream's `docs/sandbox.md`): `--gc_delay` after the last
change, sooner the fuller the disk: max age = gc_delay * max(0, 1 - gc_disk_headroom - disk usage)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from corral.agent.effects import (
    CollectGarbage,
    DiskUsage,
    Effect,
    ProcessExited,
    ProcessStarted,
    Tick,
)
from corral.agent.gc import GarbageCollector, max_allowed_age
from corral.agent.reports import metrics
from corral.agent.sandbox import meta_run_directory, run_directory
from corral.core.ids import ContainerId, ExecutorId
from corral.protocol.agent import RunTask
from corral.testing.clock import FakeClock

from .builders import (
    AGENT,
    CONFIG,
    FRAMEWORK,
    ack,
    command_task,
    framework_info,
    make_core,
    registered,
    sent_updates,
)

WEEK = 7 * 86400.0
A, B, C = Path("/w/a"), Path("/w/b"), Path("/w/c")


def collected(effects: list[Effect]) -> set[Path]:
    return {path for e in effects if isinstance(e, CollectGarbage) for path in e.paths}


@pytest.mark.parametrize(
    ("usage", "age"),
    [(0.0, 0.9 * WEEK), (0.5, 0.4 * WEEK), (0.9, 0.0), (0.97, 0.0)],
)
def test_the_maximum_age_shrinks_as_the_disk_fills(usage: float, age: float) -> None:
    assert max_allowed_age(WEEK, 0.1, usage) == pytest.approx(age)


def test_a_directory_goes_gc_delay_after_its_last_change() -> None:
    clock, gc = FakeClock(), GarbageCollector(delay=WEEK, headroom=0.1)
    gc.schedule(A, clock.now() - 3600.0)  # found at start, last changed an hour ago
    gc.schedule(B, clock.now())
    assert gc.next_deadline() == clock.now() + WEEK - 3600.0
    clock.advance(WEEK - 3601.0)
    assert gc.due(clock.now()) == []
    clock.advance(1.0)
    assert gc.due(clock.now()) == [A]
    assert gc.next_deadline() == clock.now() + 3600.0
    clock.advance(3600.0)
    assert gc.due(clock.now()) == [B]
    assert gc.next_deadline() is None and len(gc) == 0


def test_scheduling_again_moves_the_deadline() -> None:
    clock, gc = FakeClock(), GarbageCollector(delay=100.0, headroom=0.1)
    gc.schedule(A, clock.now())
    clock.advance(50.0)
    gc.schedule(A, clock.now())
    clock.advance(50.0)
    assert gc.due(clock.now()) == []  # its first deadline is stale
    assert gc.next_deadline() == clock.now() + 50.0
    clock.advance(50.0)
    assert gc.due(clock.now()) == [A]


def test_disk_pressure_prunes_everything_older_than_the_maximum_age() -> None:
    clock, gc = FakeClock(), GarbageCollector(delay=100.0, headroom=0.1)
    for path, age in ((A, 70.0), (B, 40.0), (C, 10.0)):
        gc.schedule(path, clock.now() - age)
    assert gc.prune(0.3, clock.now()) == [A]  # max age 100 * (1 - 0.1 - 0.3) = 60
    assert gc.max_allowed_age == pytest.approx(60.0)
    assert gc.prune(0.95, clock.now()) == [B, C]  # a full disk: max age 0, everything goes
    assert gc.due(clock.now() + 1000.0) == [] and gc.next_deadline() is None  # nothing is deleted twice


def test_the_agent_collects_a_retired_executors_sandbox_and_checkpoints() -> None:
    clock, core = FakeClock(), make_core(replace(CONFIG, gc_delay=WEEK))
    registered(core, clock.now())
    run = RunTask(framework_info=framework_info(checkpoint=True), task=command_task("t1"))
    sent = sent_updates(core.handle(run, clock.now()))
    sent += sent_updates(core.handle(ack(sent[0]), clock.now()))
    sent += sent_updates(core.handle(ProcessStarted(container_id=ContainerId("c0"), pid=7), clock.now()))
    sent += sent_updates(core.handle(ack(sent[-1]), clock.now()))
    [finished] = sent_updates(
        core.handle(ProcessExited(container_id=ContainerId("c0"), wait_status=0), clock.now())
    )
    clock.advance(60.0)
    core.handle(ack(finished), clock.now())  # the executor is retired now
    assert core.ledger.gc.next_deadline() == clock.now() + WEEK
    ids = (AGENT, FRAMEWORK, ExecutorId("t1"), ContainerId("c0"))
    garbage = {run_directory(CONFIG.work_dir, *ids), meta_run_directory(CONFIG.work_dir, *ids)}

    assert collected(core.handle(DiskUsage(fraction=0.5), clock.now())) == set()  # max age 0.4 weeks
    clock.advance(0.4 * WEEK)
    assert collected(core.handle(DiskUsage(fraction=0.5), clock.now())) == garbage
    assert metrics(core, clock.now())["slave/executor_directory_max_allowed_age_secs"] == pytest.approx(
        0.4 * WEEK
    )
    clock.advance(WEEK)
    assert collected(core.handle(Tick(), clock.now())) == set()  # gone already

"""Status updates are delivered at least once, in order, and resent on the agent's schedule until acked.

Upstream: mesos.md a.10 "Reliable status updates" (only the head of a task's stream is in flight; it is
retried from STATUS_UPDATE_RETRY_INTERVAL_MIN = 10 s, doubling up to 10 min) and Key facts 4.
"""

from __future__ import annotations

import itertools

from corral.core.task_state import TaskState
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster

STARTING, RUNNING, FINISHED = TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED


def launched_without_acks() -> tuple[SimCluster, float]:
    sim = SimCluster()
    fw = sim.subscribe_framework("slow", auto_ack=False)
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_task("t1")])
    return sim, sim.now()


def test_unacknowledged_update_is_resent_after_10_20_40_seconds_until_acknowledged() -> None:
    sim, launched = launched_without_acks()
    [fw] = sim.frameworks

    sim.run_for(75)

    # Only the head (TASK_STARTING) is in flight; it goes out at 0 s, then 10, 10+20, 10+20+40 s later.
    sent_at = [t - launched for t, status in fw.timed_updates("t1")]
    assert sent_at == [0, 10, 30, 70]
    assert {s.state for s in fw.updates("t1")} == {STARTING}
    assert len({s.uuid for s in fw.updates("t1")}) == 1  # the same update each time

    fw.acknowledge_all()  # the ack releases the head; TASK_RUNNING, queued behind it, goes out at once
    assert fw.states("t1") == [STARTING, RUNNING]

    fw.acknowledge_all()
    received = len(fw.updates("t1"))
    sim.run_for(700)
    assert len(fw.updates("t1")) == received  # acknowledged: never resent


def test_master_records_latest_state_while_the_head_is_still_unacknowledged() -> None:
    sim, _ = launched_without_acks()
    [fw] = sim.frameworks

    assert sim.tasks(state=STARTING) == ["t1"]

    # Each resend of the head carries the latest state the agent knows (`latest_state`): the scheduler
    # has heard only TASK_STARTING, the master knows the task is running (and would release its
    # resources early had it ended).
    sim.run_for(10)
    assert fw.states("t1") == [STARTING]
    assert sim.tasks(state=RUNNING) == ["t1"]


def test_retry_interval_is_capped_at_ten_minutes() -> None:
    sim, launched = launched_without_acks()
    [fw] = sim.frameworks

    sim.run_for(3000)

    sent_at = [t - launched for t, _ in fw.timed_updates("t1")]
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert gaps[:6] == [10, 20, 40, 80, 160, 320]
    assert set(gaps[6:]) == {600}


def test_updates_reach_the_scheduler_in_order_once_each_is_acknowledged() -> None:
    sim, _ = launched_without_acks()
    [fw] = sim.frameworks
    sim.exit("t1", code=0)  # TASK_FINISHED queues behind STARTING and RUNNING

    for _ in range(3):
        fw.acknowledge_all()

    assert fw.states("t1") == [STARTING, RUNNING, FINISHED]
    assert fw.unacknowledged() == []
    assert sim.tasks() == []  # the terminal update was acknowledged: the master completed the task

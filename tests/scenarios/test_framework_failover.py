"""A scheduler that disconnects keeps its tasks for `failover_timeout`, and loses them after.

Upstream: mesos.md a.10 "Scheduler disconnection" (offers rescinded, calls answered 403, a timer for
failover_timeout; when it fires the framework is removed, its executors shut down and its tasks killed; a
re-SUBSCRIBE with the same id before then restores it) and d.4 "Framework failover".
"""

from __future__ import annotations

from signal import SIGTERM

from corral.core.task_state import TaskState
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster, SimFramework

RUNNING = TaskState.TASK_RUNNING


def scheduler_with_a_task(failover_timeout: float) -> tuple[SimCluster, SimFramework]:
    sim = SimCluster(agents=1)
    fw = sim.subscribe_framework("svc", failover_timeout=failover_timeout)
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_task("t1", command="sleep 1000")])
    assert fw.state_of("t1") == RUNNING
    return sim, fw


def test_framework_back_within_failover_timeout_keeps_its_task() -> None:
    sim, fw = scheduler_with_a_task(failover_timeout=60)

    fw.disconnect()
    assert fw.kill("t1") == 403  # not subscribed: the edge refuses its calls
    sim.run_for(59)
    fw.resubscribe()

    assert fw.subscribed and fw.errors() == []
    assert sim.process("t1").is_running
    assert sim.tasks(state=RUNNING) == ["t1"]
    fw.reconcile("t1")
    assert fw.updates("t1")[-1].state == RUNNING
    assert fw.updates("t1")[-1].reason == "REASON_RECONCILIATION"


def test_framework_past_failover_timeout_is_removed_and_its_task_killed() -> None:
    sim, fw = scheduler_with_a_task(failover_timeout=60)

    fw.disconnect()
    sim.run_for(60)

    assert sim.process("t1").signals == [SIGTERM]
    assert not sim.process("t1").is_running
    assert sim.tasks() == []
    assert sim.agents[0].live_tasks() == []

    fw.resubscribe()
    assert fw.errors() == ["Framework has been removed"]
    assert not fw.subscribed


def test_disconnected_framework_loses_its_offers_at_once() -> None:
    sim = SimCluster(agents=1)
    fw = sim.subscribe_framework("svc", failover_timeout=60)
    sim.run_for(1)
    [offer] = fw.offers()

    fw.disconnect()
    fw.resubscribe()
    assert fw.accept(offer, [make_task("t1")]) == 202  # accepted at the edge, but the offer is gone

    [dropped] = fw.updates("t1")
    assert dropped.state == TaskState.TASK_LOST  # TASK_DROPPED for partition-aware frameworks
    assert dropped.reason == "REASON_INVALID_OFFERS"
    sim.run_for(1)
    assert len(fw.offers()) == 1  # the resources went back to the pool


def test_framework_with_zero_failover_timeout_is_removed_when_it_disconnects() -> None:
    sim, fw = scheduler_with_a_task(failover_timeout=0)

    fw.disconnect()

    assert not sim.process("t1").is_running
    assert sim.tasks() == []


def test_updates_sent_while_the_framework_was_away_arrive_after_it_returns() -> None:
    sim, fw = scheduler_with_a_task(failover_timeout=3600)

    fw.disconnect()
    sim.exit("t1", code=0)  # TASK_FINISHED: the master has nobody to forward it to
    sim.run_for(30)
    fw.resubscribe()
    sim.run_for(80)  # the agent resends the unacknowledged update on its schedule

    assert fw.state_of("t1") == TaskState.TASK_FINISHED
    assert fw.unacknowledged() == []
    assert sim.tasks() == []


def test_agent_forgets_a_removed_framework_and_stops_resending_its_updates() -> None:
    sim, fw = scheduler_with_a_task(failover_timeout=60)
    agent = sim.agents[0]
    fw.disconnect()
    sim.run_for(60)
    assert agent.live_tasks() == []

    sim.run_for(60)  # the kill's updates have had their chance
    updates_heard = sim.master.state.metrics["messages_status_update"]
    sim.run_for(3600)

    assert sim.master.state.metrics["messages_status_update"] == updates_heard
    assert fw.id not in agent.core.state.frameworks

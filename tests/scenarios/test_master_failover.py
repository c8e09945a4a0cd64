"""A new master rebuilds frameworks and tasks from re-registering agents and re-subscribing schedulers.

Upstream: mesos.md d.4 "Master failover" (agents re-register with their tasks, executors and frameworks;
schedulers SUBSCRIBE again with their framework id; offers never survive a failover), a.10 "Scheduler
disconnection" (the new master accepts re-SUBSCRIBE for ids it has never seen) and a.10 "Reconciliation"
(SOURCE_MASTER, REASON_RECONCILIATION, no uuid; implicit: every known task's latest state).
"""

from __future__ import annotations

from corral.core.task_state import TaskState
from corral.protocol.mesos import Source
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster, SimFramework

RUNNING = TaskState.TASK_RUNNING


def two_tasks_on_two_agents() -> tuple[SimCluster, SimFramework]:
    sim = SimCluster(agents=2)
    fw = sim.subscribe_framework("svc", failover_timeout=3600)
    sim.run_for(1)
    for n, offer in enumerate(fw.offers(), start=1):
        fw.accept(offer, [make_task(f"t{n}", command="sleep 1000")])
    return sim, fw


def test_restarted_master_rebuilds_tasks_from_agents_and_answers_reconciliation() -> None:
    sim, fw = two_tasks_on_two_agents()
    framework_id = fw.id

    sim.restart_master()
    assert not fw.subscribed
    assert sim.tasks(state=RUNNING) == ["t1", "t2"]  # from the agents' re-registrations

    fw.resubscribe()
    assert fw.subscribed and fw.id == framework_id
    before = len(fw.updates())
    fw.reconcile()  # implicit: every task the master knows

    answers = fw.updates()[before:]
    assert sorted((s.task_id, s.state) for s in answers) == [("t1", RUNNING), ("t2", RUNNING)]
    assert all(s.source == Source.SOURCE_MASTER and s.uuid is None for s in answers)
    assert all(s.reason == "REASON_RECONCILIATION" for s in answers)
    assert {s.agent_id for s in answers} == {a.id for a in sim.agents}


def test_after_a_restart_the_rebuilt_tasks_count_against_their_agents() -> None:
    sim, fw = two_tasks_on_two_agents()

    sim.restart_master()
    fw.resubscribe()
    sim.run_for(1)

    # Each agent is offered what its task leaves free: cpus:2;mem:2048 minus cpus:0.5;mem:128.
    assert sorted((o.resources.cpus, o.resources.mem) for o in fw.offers()) == [(1.5, 1920), (1.5, 1920)]


def test_explicit_reconciliation_of_a_task_the_new_master_never_heard_of_is_task_lost() -> None:
    sim, fw = two_tasks_on_two_agents()
    sim.restart_master()
    fw.resubscribe()

    fw.reconcile("t1", ("ghost", sim.agents[0].id))

    assert fw.updates("t1")[-1].state == RUNNING
    [ghost] = fw.updates("ghost")
    assert ghost.state == TaskState.TASK_LOST  # TASK_GONE for partition-aware frameworks
    assert ghost.message == "Reconciliation: Task is unknown to the agent"


def test_task_updates_flow_again_through_the_new_master() -> None:
    sim, fw = two_tasks_on_two_agents()
    sim.restart_master()
    fw.resubscribe()

    sim.exit("t1", code=0)
    fw.kill("t2")

    assert fw.state_of("t1") == TaskState.TASK_FINISHED
    assert fw.state_of("t2") == TaskState.TASK_KILLED
    assert sim.tasks() == []


def test_update_sent_while_the_master_was_down_is_delivered_by_the_new_one() -> None:
    sim, fw = two_tasks_on_two_agents()
    for agent in sim.agents:
        sim.isolate(agent)
    sim.exit("t1", code=0)

    sim.restart_master()
    for agent in sim.agents:
        sim.heal(agent)
    fw.resubscribe()
    sim.run_for(10)  # the agent resends its unacknowledged TASK_FINISHED

    assert fw.state_of("t1") == TaskState.TASK_FINISHED
    assert fw.unacknowledged() == []
    assert sim.tasks() == ["t2"]

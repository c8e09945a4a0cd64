"""A command task's life on a whole cluster: offer -> accept -> launch -> updates -> acknowledgements.

Upstream: mesos.md a.10 ("The master never sends TASK_STAGING to schedulers"; "Reliable status updates")
and b.6 (the built-in command executor: TASK_STARTING, then TASK_RUNNING; exit code -> terminal state).
"""

from __future__ import annotations

from corral.core.task_state import TaskState
from corral.protocol.mesos import Source
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster

STARTING, RUNNING = TaskState.TASK_STARTING, TaskState.TASK_RUNNING
FINISHED, FAILED = TaskState.TASK_FINISHED, TaskState.TASK_FAILED


def test_command_task_runs_starting_running_finished_with_every_update_acknowledged() -> None:
    sim = SimCluster(agents=1, resources="cpus:2;mem:2048")
    fw = sim.subscribe_framework("batch")
    sim.run_for(1)  # the allocation cycle
    [offer] = fw.offers()

    fw.accept(offer, [make_task("t1", cpus=1, mem=256, command="true")])
    assert fw.states("t1") == [STARTING, RUNNING]
    assert sim.tasks(state=RUNNING) == ["t1"]

    sim.exit("t1", code=0)
    assert fw.states("t1") == [STARTING, RUNNING, FINISHED]
    finished = fw.updates("t1")[-1]
    assert finished.source == Source.SOURCE_EXECUTOR
    assert finished.message == "Command exited with status 0"
    assert finished.agent_id == offer.agent_id and finished.uuid is not None

    # Every update was acknowledged: nothing is resent, and the master and agent both let the task go.
    assert fw.unacknowledged() == []
    sim.run_for(700)  # longer than the longest retry interval (10 min)
    assert fw.states("t1") == [STARTING, RUNNING, FINISHED]
    assert len(fw.updates("t1")) == 3
    assert sim.tasks() == []
    assert sim.agents[0].live_tasks() == []


def test_non_zero_exit_is_task_failed_and_frees_the_resources() -> None:
    sim = SimCluster(agents=1, resources="cpus:2;mem:2048")
    fw = sim.subscribe_framework("batch")
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_task("t1", cpus=2, mem=2048, command="false")], refuse_seconds=0)
    assert sim.free(sim.agents[0]).is_empty()

    sim.exit("t1", code=1)

    assert fw.states("t1") == [STARTING, RUNNING, FAILED]
    assert fw.updates("t1")[-1].message == "Command exited with status 1"
    sim.run_for(1)  # the freed agent is offered again
    [offer] = fw.offers()
    assert offer.resources.cpus == 2 and offer.resources.mem == 2048


def test_task_never_reported_staging_to_the_scheduler() -> None:
    sim = SimCluster()
    fw = sim.subscribe_framework()
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_task("t1")])
    sim.exit("t1")
    assert TaskState.TASK_STAGING not in fw.states("t1")


def test_task_asking_for_more_than_offered_is_an_error_and_launches_nothing() -> None:
    sim = SimCluster(resources="cpus:1;mem:512")
    fw = sim.subscribe_framework()
    sim.run_for(1)

    fw.accept(fw.offers()[0], [make_task("big", cpus=2, mem=128)])

    [error] = fw.updates("big")
    assert error.state == TaskState.TASK_ERROR
    assert error.reason == "REASON_TASK_INVALID"
    assert error.source == Source.SOURCE_MASTER and error.uuid is None
    assert sim.processes.running() == []


def test_task_past_its_max_completion_time_is_killed_and_failed() -> None:
    sim = SimCluster()
    fw = sim.subscribe_framework()
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_task("t1", command="sleep 1000", max_completion_time=30)])

    sim.run_for(29.9)
    assert fw.state_of("t1") == RUNNING
    sim.run_for(0.1)

    failed = fw.updates("t1")[-1]
    assert (failed.state, failed.reason) == (FAILED, "REASON_MAX_COMPLETION_TIME_REACHED")


def test_task_whose_launch_fails_is_failed_by_the_agent() -> None:
    sim = SimCluster()
    fw = sim.subscribe_framework()
    sim.run_for(1)
    sim.fail_launch("t1", "Failed to fetch all URIs")

    fw.accept(fw.offers()[0], [make_task("t1")])

    failed = fw.updates("t1")[-1]
    assert (failed.state, failed.source) == (FAILED, Source.SOURCE_AGENT)
    assert failed.reason == "REASON_CONTAINER_LAUNCH_FAILED"
    assert failed.message == "Failed to fetch all URIs"
    assert sim.processes.running() == []
    assert sim.tasks() == []

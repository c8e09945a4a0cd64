"""A custom executor: launched by the agent, it subscribes over the v1 executor API, runs its tasks, relays
messages both ways and shuts down.

Upstream: mesos.md b.2/b.3 (SUBSCRIBE -> SUBSCRIBED, then LAUNCH; UPDATE; MESSAGE; ACKNOWLEDGED after the
scheduler's ack; KILL; SHUTDOWN), b.5 (SHUTDOWN: after the grace period the agent destroys the container
and marks remaining tasks TASK_KILLED / TASK_FAILED, REASON_EXECUTOR_TERMINATED) and a.7 (FAILURE with
executor_id and status when an executor exits).
"""

from __future__ import annotations

from signal import SIGKILL

from corral.core.task_state import TaskState
from corral.protocol import executor as ex
from corral.protocol.mesos import Source
from corral.testing.builders import make_executor_info, make_executor_task
from corral.testing.fake_executor import FakeExecutor
from corral.testing.sim import SimCluster, SimFramework

RUNNING, FINISHED, KILLED = TaskState.TASK_RUNNING, TaskState.TASK_FINISHED, TaskState.TASK_KILLED


def executor_with_a_task() -> tuple[SimCluster, SimFramework, FakeExecutor]:
    sim = SimCluster()
    fw = sim.subscribe_framework("exec-fw")
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_executor_task("t1", "e1", data=b"job-1")])
    executor = sim.executor("e1")
    assert executor.subscribe() == 200
    assert executor.update("t1", RUNNING) == 202
    return sim, fw, executor


def test_executor_subscribes_receives_its_task_and_reports_it_running() -> None:
    sim = SimCluster()
    fw = sim.subscribe_framework("exec-fw")
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_executor_task("t1", "e1", data=b"job-1")])

    executor = sim.executor("e1")
    assert executor.process.is_running and executor.events == []  # started, not yet subscribed
    assert fw.updates("t1") == []  # nothing before the executor speaks: no STAGING to schedulers

    executor.subscribe()
    subscribed, launch = executor.events
    assert isinstance(subscribed, ex.Subscribed) and subscribed.framework_info.id == fw.id
    assert isinstance(launch, ex.Launch) and launch.task.data == b"job-1"

    executor.update("t1", RUNNING)
    [running] = fw.updates("t1")
    assert (running.state, running.source) == (RUNNING, Source.SOURCE_EXECUTOR)
    assert running.executor_id == "e1" and running.agent_id == sim.agents[0].id
    assert executor.acknowledged() == ["t1"]  # the scheduler's ack came back to the executor

    executor.update("t1", FINISHED)
    assert fw.states("t1") == [RUNNING, FINISHED]
    assert sim.tasks() == []


def test_framework_messages_flow_both_ways() -> None:
    sim, fw, executor = executor_with_a_task()
    agent_id = sim.agents[0].id

    assert fw.message(agent_id, "e1", b"ping") == 202
    assert executor.messages() == [b"ping"]

    executor.message(b"pong")
    [message] = fw.messages()
    assert (message.agent_id, message.executor_id, message.data) == (agent_id, "e1", b"pong")


def test_kill_goes_to_the_executor_which_reports_task_killed() -> None:
    _, fw, executor = executor_with_a_task()

    fw.kill("t1")
    assert executor.kills() == ["t1"]
    executor.update("t1", KILLED)

    assert fw.state_of("t1") == KILLED
    assert executor.process.is_running  # the executor outlives its task


def test_shutdown_executor_that_exits_leaves_its_unfinished_tasks_killed() -> None:
    sim, fw, executor = executor_with_a_task()

    assert fw.shutdown("e1", sim.agents[0].id) == 202
    assert executor.was_shut_down()
    executor.exit(0)

    killed = fw.updates("t1")[-1]
    assert (killed.state, killed.source) == (KILLED, Source.SOURCE_AGENT)
    assert killed.reason == "REASON_EXECUTOR_TERMINATED"
    [failure] = fw.failures()
    assert (failure.executor_id, failure.status) == ("e1", 0)
    assert sim.tasks() == []


def test_executor_ignoring_shutdown_is_killed_after_its_grace_period() -> None:
    sim, fw, executor = executor_with_a_task()

    fw.shutdown("e1", sim.agents[0].id)
    sim.run_for(4.9)  # executor_shutdown_grace_period: 5 s
    assert executor.process.is_running
    sim.run_for(0.1)

    assert executor.process.signals == [SIGKILL]
    assert not executor.process.is_running
    assert fw.state_of("t1") == KILLED
    [failure] = fw.failures()
    assert failure.status == SIGKILL  # the raw wait status of a SIGKILLed process


def test_second_task_for_a_running_executor_is_launched_on_it_without_a_new_process() -> None:
    sim, fw, executor = executor_with_a_task()
    sim.run_for(5)  # the rest of the agent, filtered for the accept's default 5 s
    info = make_executor_info("e1")

    fw.accept(fw.offers()[0], [make_executor_task("t2", info)])

    assert [t.task_id for t in executor.launched()] == ["t1", "t2"]
    assert len(sim.executors) == 1


def test_executor_that_never_subscribes_is_killed_and_its_task_fails() -> None:
    sim = SimCluster()
    fw = sim.subscribe_framework()
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_executor_task("t1", "e1")])
    executor = sim.executor("e1")

    sim.run_for(60)  # executor_registration_timeout: 1 min

    assert executor.process.signals == [SIGKILL]
    failed = fw.updates("t1")[-1]
    assert (failed.state, failed.reason) == (TaskState.TASK_FAILED, "REASON_EXECUTOR_REGISTRATION_TIMEOUT")

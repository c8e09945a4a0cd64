"""Agents in the master core: registration, status updates, executor events, disconnection, removal and
re-registration (mesos.md a.7 UPDATE/FAILURE notes, a.10 reliable updates, d.4 agent health, h)."""

from __future__ import annotations

from corral.core.ids import AgentId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.messages import AgentMessage
from corral.protocol.agent import (
    AgentTask,
    ExecutorExited,
    ExecutorToFramework,
    Registered,
    ShutdownFramework,
)
from corral.protocol.mesos import Capability, FrameworkInfo
from corral.protocol.scheduler import Failure, FrameworkMessage, Rescind, Teardown

from .harness import Harness, command_task

UUID = b"0123456789abcdef"


def running(master: Harness, *, capabilities: frozenset[str] = frozenset()) -> tuple[AgentId, FrameworkId]:
    agent_id = master.add_agent(cpus=4, mem=4096)
    framework_id = master.subscribe(capabilities=capabilities)
    [offer] = master.offers_to(framework_id, master.tick())
    master.launch(framework_id, offer, command_task("t1", agent_id, cpus=1, mem=128))
    master.status_update(agent_id, framework_id, "t1", TaskState.TASK_RUNNING)
    return agent_id, framework_id


def test_a_new_agent_gets_an_id_and_registered_first() -> None:
    master = Harness()
    agent_id = master.add_agent()
    assert agent_id == "M-S0"
    [registered] = master.to_agent(agent_id)
    assert isinstance(registered, Registered) and registered.agent_id == agent_id


def test_status_updates_are_forwarded_with_uuid_and_agent_id() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    [status] = master.updates_to(framework_id)
    # pymesos acknowledges with status["agent_id"] and dies with a KeyError without it.
    assert status.uuid == UUID and status.agent_id == agent_id and status.state == TaskState.TASK_RUNNING
    assert master.state.frameworks[framework_id].tasks[TaskId("t1")].state == TaskState.TASK_RUNNING


def test_an_update_for_a_disconnected_framework_is_not_forwarded_and_not_acknowledged() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    master.disconnect_framework(framework_id)
    effects = master.status_update(agent_id, framework_id, "t1", TaskState.TASK_FAILED)
    assert master.updates_to(framework_id, effects) == []
    assert master.to_agent(agent_id, effects) == []  # the agent resends until a scheduler acknowledges


def test_a_terminal_update_frees_the_resources_and_reoffers_them_on_the_next_turn() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    master.tick(5.0)  # the accept's filter has expired
    effects = master.status_update(agent_id, framework_id, "t1", TaskState.TASK_FINISHED)
    assert master.state.agents[agent_id].used.is_empty()
    offers = master.offers_to(framework_id, master.tick(0.0))  # no allocation_interval wait
    assert offers and offers[-1].resources == Resources.of(cpus=1, mem=128)
    assert master.updates_to(framework_id, effects)[0].state == TaskState.TASK_FINISHED


def test_an_update_of_a_removed_framework_makes_the_agent_shut_it_down() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    master.call(framework_id, Teardown())
    effects = master.status_update(agent_id, framework_id, "t1", TaskState.TASK_KILLED)
    assert master.to_agent(agent_id, effects) == [ShutdownFramework(framework_id=framework_id)]
    assert master.state.metrics["invalid_status_updates"] == 1


def test_an_executor_exit_is_a_failure_event() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    exited = ExecutorExited(framework_id=framework_id, executor_id=ExecutorId("ex"), status=9)
    effects = master.send(AgentMessage(agent_id=agent_id, message=exited))
    assert master.events_of(framework_id, effects) == [
        Failure(agent_id=agent_id, executor_id=ExecutorId("ex"), status=9)
    ]


def test_an_executor_message_reaches_the_framework() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    message = ExecutorToFramework(framework_id=framework_id, executor_id=ExecutorId("ex"), data=b"hello")
    effects = master.send(AgentMessage(agent_id=agent_id, message=message))
    assert master.events_of(framework_id, effects) == [
        FrameworkMessage(agent_id=agent_id, executor_id=ExecutorId("ex"), data=b"hello")
    ]


def test_a_disconnected_agent_has_its_offers_rescinded() -> None:
    master = Harness()
    agent_id = master.add_agent()
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    effects = master.disconnect_agent(agent_id)
    assert master.events_of(framework_id, effects) == [Rescind(offer_id=offer.id)]
    assert master.offers_to(framework_id, master.tick(1.0)) == []


def test_an_agent_not_back_in_time_loses_its_tasks_and_frameworks_hear_failure() -> None:
    master = Harness(config=MasterConfig(agent_reregister_timeout=600.0))
    agent_id, framework_id = running(master)
    master.disconnect_agent(agent_id)
    assert master.updates_to(framework_id, master.tick(599.0)) == []

    effects = master.tick(1.0)

    [status] = master.updates_to(framework_id, effects)
    assert (status.state, status.reason, status.uuid) == (TaskState.TASK_LOST, "REASON_AGENT_REMOVED", None)
    assert Failure(agent_id=agent_id) in master.events_of(framework_id, effects)
    assert agent_id not in master.state.agents
    assert master.state.frameworks[framework_id].used.is_empty()


def test_partition_aware_frameworks_see_task_unreachable_and_the_task_comes_back() -> None:
    master = Harness()
    agent_id, framework_id = running(master, capabilities=frozenset({Capability.PARTITION_AWARE}))
    master.disconnect_agent(agent_id)
    [status] = master.updates_to(framework_id, master.tick(master.config.agent_reregister_timeout))
    assert status.state == TaskState.TASK_UNREACHABLE and "unreachable_time" in status.extra
    assert TaskId("t1") in master.state.frameworks[framework_id].unreachable_tasks

    mark = len(master.effects)
    reported = AgentTask(
        framework_id=framework_id,
        executor_id=None,
        task=command_task("t1", agent_id),
        state=TaskState.TASK_RUNNING,
    )
    master.add_agent(agent_id=agent_id, tasks=(reported,))

    [back] = master.updates_to(framework_id, master.effects[mark:])
    assert (back.state, back.reason) == (TaskState.TASK_RUNNING, "REASON_AGENT_REREGISTERED")
    assert master.state.frameworks[framework_id].tasks[TaskId("t1")].state == TaskState.TASK_RUNNING
    assert master.state.agents[agent_id].used == Resources.of(cpus=1, mem=128)


def test_an_agent_reregistering_after_a_master_restart_rebuilds_frameworks_and_tasks() -> None:
    master = Harness()  # a fresh master: it knows nothing
    framework_id = FrameworkId("old-0000")
    agent_id = AgentId("old-S3")
    info = FrameworkInfo(user="alice", name="fw", id=framework_id, failover_timeout=100.0)
    reported = AgentTask(
        framework_id=framework_id,
        executor_id=None,
        task=command_task("t1", agent_id),
        state=TaskState.TASK_RUNNING,
    )

    assert master.add_agent(agent_id=agent_id, tasks=(reported,), frameworks=(info,)) == agent_id

    framework = master.state.frameworks[framework_id]
    assert framework.recovered and not framework.connected and framework.info.name == "fw"
    assert framework.tasks[TaskId("t1")].state == TaskState.TASK_RUNNING
    assert master.state.agents[agent_id].used == Resources.of(cpus=1, mem=128)
    # The scheduler comes back with its id and finds its task.
    assert master.subscribe(framework_id=framework_id) == framework_id
    assert master.state.frameworks[framework_id].tasks[TaskId("t1")].state == TaskState.TASK_RUNNING


def test_a_task_the_reregistering_agent_does_not_know_is_lost() -> None:
    master = Harness()
    agent_id, framework_id = running(master)
    master.disconnect_agent(agent_id)
    mark = len(master.effects)
    master.add_agent(agent_id=agent_id, tasks=())
    [status] = master.updates_to(framework_id, master.effects[mark:])
    assert (status.task_id, status.state, status.message) == (
        "t1",
        TaskState.TASK_LOST,
        "Task is unknown to the agent",
    )
    assert master.state.agents[agent_id].used.is_empty()


def test_offers_are_rescinded_after_offer_timeout() -> None:
    master = Harness(config=MasterConfig(offer_timeout=30.0))
    master.add_agent()
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    assert Rescind(offer_id=offer.id) not in master.events_of(framework_id, master.tick(29.0))
    assert Rescind(offer_id=offer.id) in master.events_of(framework_id, master.tick(1.0))

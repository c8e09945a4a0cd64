"""Scheduler calls in the master core: ACCEPT, DECLINE, REVIVE, SUPPRESS, KILL, ACKNOWLEDGE, RECONCILE,
MESSAGE, SHUTDOWN (mesos.md a.5, a.6 semantics, a.10, h)."""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.agent import (
    AcknowledgeUpdate,
    FrameworkToExecutor,
    KillTask,
    RunTask,
    ShutdownExecutor,
)
from corral.protocol.mesos import Capability, Offer, Source
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Decline,
    Kill,
    Message,
    Reconcile,
    Revive,
    Shutdown,
    Suppress,
)

from .harness import Harness, command_task, executor_task

UUID = b"0123456789abcdef"


def started(*, capabilities: frozenset[str] = frozenset()) -> tuple[Harness, AgentId, FrameworkId, Offer]:
    master = Harness()
    agent_id = master.add_agent(cpus=4, mem=4096)
    framework_id = master.subscribe(capabilities=capabilities)
    [offer] = master.offers_to(framework_id, master.tick())
    return master, agent_id, framework_id, offer


# ---------------------------------------------------------------- ACCEPT


def test_accept_launches_the_task_on_the_offers_agent() -> None:
    master, agent_id, framework_id, offer = started()
    task = command_task("t1", agent_id, cpus=1, mem=128)
    [message] = master.to_agent(agent_id, master.launch(framework_id, offer, task))
    assert isinstance(message, RunTask) and message.task == task and message.framework_info.id == framework_id
    assert master.state.agents[agent_id].used == Resources.of(cpus=1, mem=128)
    assert master.state.frameworks[framework_id].tasks[TaskId("t1")].state == TaskState.TASK_STAGING


def test_accept_never_tells_the_framework_task_staging() -> None:
    master, agent_id, framework_id, offer = started()
    effects = master.launch(framework_id, offer, command_task("t1", agent_id))
    assert master.updates_to(framework_id, effects) == []


def test_unused_resources_of_an_accept_are_withheld_for_refuse_seconds() -> None:
    master, agent_id, framework_id, offer = started()
    master.launch(framework_id, offer, command_task("t1", agent_id, cpus=1, mem=128), refuse=5.0)
    assert master.offers_to(framework_id, master.tick(4.9)) == []
    [again] = master.offers_to(framework_id, master.tick(1.0))  # the next allocation after the filter expires
    assert again.resources == Resources.of(cpus=3, mem=3968)


def test_a_stale_offer_reports_task_lost_with_no_uuid() -> None:
    master, agent_id, framework_id, offer = started()
    master.call(framework_id, Decline(offer_ids=(offer.id,), refuse_seconds=0))
    effects = master.launch(framework_id, offer, command_task("t1", agent_id))
    [status] = master.updates_to(framework_id, effects)
    assert status.state == TaskState.TASK_LOST and status.reason == "REASON_INVALID_OFFERS"
    assert status.source == Source.SOURCE_MASTER and status.uuid is None
    assert status.message is not None and status.message.startswith("Task launched with invalid offers")
    assert master.to_agent(agent_id, effects) == []


def test_a_stale_offer_reports_task_dropped_to_partition_aware_frameworks() -> None:
    master, agent_id, framework_id, offer = started(capabilities=frozenset({Capability.PARTITION_AWARE}))
    unknown = replace(offer, id=OfferId("M-O99"))
    effects = master.launch(framework_id, unknown, command_task("t1", agent_id))
    [status] = master.updates_to(framework_id, effects)
    assert status.state == TaskState.TASK_DROPPED


def test_an_invalid_task_is_task_error_and_the_valid_ones_still_launch() -> None:
    master, agent_id, framework_id, offer = started()
    too_big = command_task("big", agent_id, cpus=8)
    fine = command_task("fine", agent_id, cpus=1)
    effects = master.launch(framework_id, offer, too_big, fine)
    [status] = master.updates_to(framework_id, effects)
    assert (status.task_id, status.state, status.reason) == (
        "big",
        TaskState.TASK_ERROR,
        "REASON_TASK_INVALID",
    )
    assert status.uuid is None
    [message] = master.to_agent(agent_id, effects)
    assert isinstance(message, RunTask) and message.task.task_id == "fine"


def test_accept_with_no_operations_declines_with_the_filter() -> None:
    master, _, framework_id, offer = started()
    master.call(framework_id, Accept(offer_ids=(offer.id,), operations=(), refuse_seconds=10.0))
    assert master.offers_to(framework_id, master.tick(9.0)) == []
    assert len(master.offers_to(framework_id, master.tick(1.0))) == 1


def test_a_custom_executor_is_charged_once_per_agent() -> None:
    master, agent_id, framework_id, offer = started()
    master.launch(
        framework_id, offer, executor_task("t1", agent_id, "ex"), executor_task("t2", agent_id, "ex")
    )
    # 2 tasks of 1 cpu + one executor of 0.1 cpu
    assert master.state.agents[agent_id].used.cpus == 2.1
    assert master.state.frameworks[framework_id].tasks[TaskId("t2")].executor_id == ExecutorId("ex")


# ---------------------------------------------------------------- DECLINE, REVIVE, SUPPRESS


def test_a_declined_offer_is_withheld_for_refuse_seconds() -> None:
    master, _, framework_id, offer = started()
    master.call(framework_id, Decline(offer_ids=(offer.id,), refuse_seconds=2.0))
    assert master.offers_to(framework_id, master.tick(1.0)) == []
    [again] = master.offers_to(framework_id, master.tick(1.0))
    assert again.resources == offer.resources


def test_revive_clears_filters() -> None:
    master, _, framework_id, offer = started()
    master.call(framework_id, Decline(offer_ids=(offer.id,), refuse_seconds=3600.0))
    master.call(framework_id, Revive())
    assert len(master.offers_to(framework_id, master.tick())) == 1


def test_suppress_stops_offers_until_revive() -> None:
    master, _, framework_id, offer = started()
    master.call(framework_id, Suppress())
    master.call(framework_id, Decline(offer_ids=(offer.id,), refuse_seconds=0.0))
    assert master.offers_to(framework_id, master.tick(10.0)) == []
    master.call(framework_id, Revive())
    assert len(master.offers_to(framework_id, master.tick())) == 1


# ---------------------------------------------------------------- KILL, SHUTDOWN, MESSAGE


def test_kill_with_only_a_task_id_finds_the_agent() -> None:
    master, agent_id, framework_id, offer = started()
    master.launch(framework_id, offer, command_task("t1", agent_id))
    effects = master.call(framework_id, Kill(task_id=TaskId("t1")))
    assert master.to_agent(agent_id, effects) == [KillTask(framework_id=framework_id, task_id=TaskId("t1"))]


def test_kill_of_an_unknown_task_answers_like_reconciliation() -> None:
    master, _, framework_id, _ = started()
    [status] = master.updates_to(framework_id, master.call(framework_id, Kill(task_id=TaskId("ghost"))))
    assert (status.state, status.reason, status.uuid) == (TaskState.TASK_LOST, "REASON_RECONCILIATION", None)
    assert status.message == "Reconciliation: Task is unknown"


def test_shutdown_and_message_go_to_the_named_agent() -> None:
    master, agent_id, framework_id, _ = started()
    executor_id = ExecutorId("ex")
    effects = master.call(framework_id, Shutdown(executor_id=executor_id, agent_id=agent_id))
    effects += master.call(framework_id, Message(agent_id=agent_id, executor_id=executor_id, data=b"hi"))
    assert master.to_agent(agent_id, effects) == [
        ShutdownExecutor(framework_id=framework_id, executor_id=executor_id),
        FrameworkToExecutor(framework_id=framework_id, executor_id=executor_id, data=b"hi"),
    ]


# ---------------------------------------------------------------- ACKNOWLEDGE


def test_acknowledge_is_forwarded_to_the_agent() -> None:
    master, agent_id, framework_id, offer = started()
    master.launch(framework_id, offer, command_task("t1", agent_id))
    master.status_update(agent_id, framework_id, "t1", TaskState.TASK_RUNNING, uuid=UUID)
    effects = master.call(framework_id, Acknowledge(agent_id=agent_id, task_id=TaskId("t1"), uuid=UUID))
    assert master.to_agent(agent_id, effects) == [
        AcknowledgeUpdate(framework_id=framework_id, task_id=TaskId("t1"), uuid=UUID)
    ]


def test_acknowledging_the_terminal_update_moves_the_task_to_completed() -> None:
    master, agent_id, framework_id, offer = started()
    master.launch(framework_id, offer, command_task("t1", agent_id))
    master.status_update(agent_id, framework_id, "t1", TaskState.TASK_FINISHED, uuid=UUID)
    framework = master.state.frameworks[framework_id]
    assert TaskId("t1") in framework.tasks  # until the framework has heard of it
    master.call(framework_id, Acknowledge(agent_id=agent_id, task_id=TaskId("t1"), uuid=UUID))
    assert TaskId("t1") not in framework.tasks
    assert [t.id for t in framework.completed_tasks] == ["t1"]


# ---------------------------------------------------------------- RECONCILE (mesos.md a.10)


def test_implicit_reconciliation_reports_the_latest_state_of_every_task() -> None:
    master, agent_id, framework_id, offer = started()
    master.launch(framework_id, offer, command_task("t1", agent_id), command_task("t2", agent_id))
    master.status_update(agent_id, framework_id, "t1", TaskState.TASK_RUNNING)
    [status] = master.updates_to(framework_id, master.call(framework_id, Reconcile(tasks=())))
    assert (status.task_id, status.state) == ("t1", TaskState.TASK_RUNNING)  # t2 is still staging: no answer
    assert status.reason == "REASON_RECONCILIATION" and status.uuid is None
    assert status.source == Source.SOURCE_MASTER and status.agent_id == agent_id


def test_explicit_reconciliation_follows_the_table_for_partition_aware_frameworks() -> None:
    master, agent_id, framework_id, offer = started(capabilities=frozenset({Capability.PARTITION_AWARE}))
    master.launch(framework_id, offer, command_task("t1", agent_id))
    master.status_update(agent_id, framework_id, "t1", TaskState.TASK_RUNNING)
    gone_agent = master.add_agent("agent2")
    master.disconnect_agent(gone_agent)
    master.tick(master.config.agent_reregister_timeout)
    asked = (
        (TaskId("t1"), None),  # known
        (TaskId("x"), agent_id),  # registered agent, unknown task
        (TaskId("y"), gone_agent),  # unreachable agent
        (TaskId("z"), None),  # anything else
    )
    statuses = master.updates_to(framework_id, master.call(framework_id, Reconcile(tasks=asked)))
    assert [s.state for s in statuses] == [
        TaskState.TASK_RUNNING,
        TaskState.TASK_GONE,
        TaskState.TASK_UNREACHABLE,
        TaskState.TASK_UNKNOWN,
    ]
    assert statuses[2].extra["unreachable_time"] == {"nanoseconds": round(master.clock.now() * 1e9)}


def test_explicit_reconciliation_says_task_lost_to_older_frameworks() -> None:
    master, agent_id, framework_id, _ = started()
    asked = ((TaskId("x"), agent_id), (TaskId("z"), None))
    statuses = master.updates_to(framework_id, master.call(framework_id, Reconcile(tasks=asked)))
    assert [s.state for s in statuses] == [TaskState.TASK_LOST, TaskState.TASK_LOST]
    assert statuses[0].message == "Reconciliation: Task is unknown to the agent"

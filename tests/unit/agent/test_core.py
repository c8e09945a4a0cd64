"""The agent core's dealings with the master: registration, re-registration, reconnection."""

from __future__ import annotations

from corral.agent.effects import (
    AgentRecord,
    Checkpoint,
    MasterDisconnected,
    ProcessStarted,
    SendToMaster,
    Tick,
)
from corral.core.ids import ContainerId, ExecutorId
from corral.core.task_state import TaskState
from corral.protocol.agent import AgentTask, Ping, Pong, RunTask
from corral.testing.clock import FakeClock

from .builders import (
    AGENT,
    FRAMEWORK,
    command_task,
    executor_task,
    framework_info,
    make_core,
    registered,
    sent_updates,
)


def test_the_first_registration_is_checkpointed_so_a_restart_keeps_the_id() -> None:
    clock, core = FakeClock(), make_core()
    assert core.registration().agent_info.id is None
    effects = registered(core, clock.now())
    assert Checkpoint(record=AgentRecord(info=core.agent_info())) in effects
    assert core.agent_info().id == AGENT
    assert not any(isinstance(e, Checkpoint) for e in registered(core, clock.now()))  # same id: nothing new


def test_a_re_registration_carries_every_framework_executor_and_task() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=command_task("cmd")), clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())

    register = core.registration()
    assert register.agent_info.id == AGENT and register.ip == "10.0.0.7"
    assert [f.id for f in register.frameworks] == [FRAMEWORK]
    assert [(f, e.executor_id) for f, e in register.executors] == [
        (FRAMEWORK, ExecutorId("e1"))
    ]  # no command ones
    assert [(t.task.task_id, t.executor_id, t.state) for t in register.tasks] == [
        ("cmd", None, TaskState.TASK_STARTING),
        ("t1", ExecutorId("e1"), TaskState.TASK_STAGING),
    ]
    [cmd, _] = register.tasks
    assert isinstance(cmd, AgentTask) and cmd.latest_status is not None
    assert cmd.latest_status.state == TaskState.TASK_STARTING


def test_updates_wait_while_the_master_is_away_and_go_out_at_once_when_it_is_back() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    [starting] = sent_updates(
        core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    )

    core.handle(MasterDisconnected(reason="stream ended"), clock.now())
    clock.advance(10.0)
    assert sent_updates(core.handle(Tick(), clock.now())) == []  # no retry while disconnected
    assert core.handle(Ping(), clock.now()) == [SendToMaster(message=Pong())]  # answered, nothing resent
    core.handle(ProcessStarted(container_id=ContainerId("c0"), pid=7), clock.now())

    clock.advance(300.0)
    assert sent_updates(registered(core, clock.now())) == [starting]  # only the head, at once

"""A framework the master removed (failover timeout, TEARDOWN: `ShutdownFramework`) is shut down and then
forgotten, as upstream's `Slave::shutdownFramework` and `Slave::removeFramework` do (`mesos.md` b.5, f.4,
f.5): its executors are shut down, its updates are no longer sent (nothing could acknowledge them), and once
its last executor is gone its status update streams are closed and it is kept among the completed ones.
A framework that is merely away (failing over) keeps having its updates resent."""

from __future__ import annotations

import signal

from corral.agent.core import AgentCore
from corral.agent.effects import (
    Effect,
    Ignored,
    ProcessExited,
    ProcessStarted,
    SendToMaster,
    Tick,
    Transition,
    WakeAt,
)
from corral.agent.reports import state_document
from corral.agent.state import Framework
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.protocol import executor as ex
from corral.protocol.agent import (
    ExecutorExited,
    FrameworkToExecutor,
    KillTask,
    RunTask,
    RunTaskGroup,
    ShutdownExecutor,
    ShutdownFramework,
)
from corral.protocol.json import Reader
from corral.protocol.mesos import ExecutorInfo, TaskStatus
from corral.testing.clock import FakeClock

from .builders import (
    CONFIG,
    FRAMEWORK,
    ack,
    command_task,
    executor_events,
    executor_task,
    executor_update,
    framework_info,
    make_core,
    registered,
    sent_updates,
    signals,
    subscribe,
)

C0, C1, C2 = (ContainerId(f"c{i}") for i in range(3))
E1 = ExecutorId("e1")
SHUTDOWN = ShutdownFramework(framework_id=FRAMEWORK)
RETRY_MAX = CONFIG.status_update_retry_max
SIGTERMED = signal.SIGTERM  # a raw wait status: terminated by SIGTERM


def running_command(clock: FakeClock, *, acked: bool) -> tuple[AgentCore, list[TaskStatus]]:
    """Command task t1 (container c0, pid 7) running; its updates acknowledged, or not (the framework is
    away, so the master cannot forward them)."""
    core = make_core()
    registered(core, clock.now())
    sent = sent_updates(
        core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    )
    if acked:
        core.handle(ack(sent[0]), clock.now())
    sent += sent_updates(core.handle(ProcessStarted(container_id=C0, pid=7), clock.now()))
    if acked:
        core.handle(ack(sent[-1]), clock.now())
    return core, sent


def next_wake(core: AgentCore) -> float | None:
    deadlines = (core.ledger.updates.next_deadline(), core.ledger.timers.next())
    return min((d for d in deadlines if d is not None), default=None)


def updates_over(core: AgentCore, clock: FakeClock, seconds: float) -> list[TaskStatus]:
    """Every update the agent sends while `seconds` pass, waking it whenever it asked to be."""
    end, sent = clock.now() + seconds, []
    while (deadline := next_wake(core)) is not None and deadline <= end:
        clock.advance(max(deadline - clock.now(), 0.0))
        sent += sent_updates(core.handle(Tick(), clock.now()))
    clock.advance(max(end - clock.now(), 0.0))
    return sent


def retired(core: AgentCore) -> Framework:
    assert FRAMEWORK not in core.state.frameworks
    [framework] = [f for f in core.state.completed_frameworks if f.id == FRAMEWORK]
    return framework


def completed_states(framework: Framework) -> dict[str, tuple[str, ...]]:
    """task id -> the states recorded for it, over the framework's completed executors."""
    return {
        task.id: tuple(s.state.value for s in task.statuses)
        for executor in framework.completed_executors
        for task in executor.completed
    }


def transitions(effects: list[Effect], kind: str) -> list[tuple[str, str]]:
    return [(e.old, e.new) for e in effects if isinstance(e, Transition) and e.kind == kind]


# ---------------------------------------------------------------- command tasks


def test_a_removed_framework_is_forgotten_once_its_task_is_killed_and_nothing_is_resent() -> None:
    clock = FakeClock()
    core, _ = running_command(clock, acked=False)
    assert [s.state.value for s in updates_over(core, clock, 60.0)] == ["TASK_STARTING"] * 2  # at 10 and 30 s

    effects = core.handle(SHUTDOWN, clock.now())
    assert transitions(effects, "framework") == [("ACTIVE", "TERMINATING")]
    assert signals(effects) == [signal.SIGTERM]
    assert core.state.frameworks[FRAMEWORK].terminating

    effects = core.handle(ProcessExited(container_id=C0, wait_status=SIGTERMED), clock.now())
    assert sent_updates(effects) == []  # TASK_KILLED is recorded, not sent: no one would acknowledge it
    assert transitions(effects, "framework") == [("TERMINATING", "COMPLETED")]
    framework = retired(core)
    assert completed_states(framework) == {"t1": ("TASK_STARTING", "TASK_RUNNING", "TASK_KILLED")}
    assert core.state.containers == {}
    assert core.state.counters["tasks_killed"] == 1

    retired_at = clock.now()
    assert updates_over(core, clock, 24 * 3600.0) == []  # the unacknowledged streams are closed
    assert next_wake(core) is None
    wakes = [e.deadline for e in core.handle(Tick(), clock.now()) if isinstance(e, WakeAt)]
    assert wakes == [retired_at + core.config.gc_delay]  # only to delete the sandbox, a week on


def test_the_master_repeating_itself_about_a_removed_framework_gets_no_answer() -> None:
    clock = FakeClock()
    core, sent = running_command(clock, acked=False)
    core.handle(SHUTDOWN, clock.now())

    again = core.handle(SHUTDOWN, clock.now())  # while it is shutting down: ignored, no second SIGTERM
    assert signals(again) == [] and all(isinstance(e, Ignored) for e in again) and again
    kill = core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1"), grace_period=0.0), clock.now())
    assert signals(kill) == [] and all(isinstance(e, Ignored) for e in kill)
    shut = core.handle(ShutdownExecutor(framework_id=FRAMEWORK, executor_id=ExecutorId("t1")), clock.now())
    assert signals(shut) == [] and all(isinstance(e, Ignored) for e in shut)
    rerun = core.handle(RunTask(framework_info=framework_info(), task=command_task("t2")), clock.now())
    assert sent_updates(rerun) == [] and all(isinstance(e, Ignored) for e in rerun)

    core.handle(ProcessExited(container_id=C0, wait_status=SIGTERMED), clock.now())
    retired(core)
    assert core.handle(SHUTDOWN, clock.now()) == []  # forgotten: a no-op
    assert core.handle(ack(sent[0]), clock.now()) == []  # its streams are gone
    assert all(
        isinstance(e, Ignored)
        for e in core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1")), clock.now())
    )
    assert core.registration().frameworks == () and core.registration().tasks == ()


def test_a_shutdown_framework_for_an_unknown_framework_is_a_no_op() -> None:
    clock = FakeClock()
    core, _ = running_command(clock, acked=True)
    assert core.handle(ShutdownFramework(framework_id=FrameworkId("M-9999")), clock.now()) == []
    assert list(core.state.frameworks) == [FRAMEWORK]
    assert not core.state.frameworks[FRAMEWORK].terminating
    assert list(core.state.completed_frameworks) == []


def test_a_framework_whose_executor_already_terminated_is_forgotten_at_once() -> None:
    clock = FakeClock()
    core, _ = running_command(clock, acked=True)
    [finished] = sent_updates(core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now()))
    assert finished.state == TaskState.TASK_FINISHED  # never acknowledged: the framework went away

    effects = core.handle(SHUTDOWN, clock.now())
    assert signals(effects) == []
    assert transitions(effects, "framework") == [("ACTIVE", "TERMINATING"), ("TERMINATING", "COMPLETED")]
    assert completed_states(retired(core)) == {"t1": ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")}
    assert updates_over(core, clock, 3600.0) == []


def test_a_framework_that_is_only_away_keeps_having_its_update_resent() -> None:
    """No ShutdownFramework: the framework may fail over, and its updates must reach it when it is back."""
    clock = FakeClock()
    core, sent = running_command(clock, acked=False)
    [head] = sent[:1]
    core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())

    resent = updates_over(core, clock, 6 * 3600.0)
    assert resent and {s.uuid for s in resent} == {head.uuid}  # only the head, over and over
    assert len(resent) >= 6 * 3600.0 // RETRY_MAX - 1  # every 10 minutes, for as long as it takes
    assert FRAMEWORK in core.state.frameworks and not core.state.frameworks[FRAMEWORK].terminating

    released = [head]
    while released:  # the framework is back and acknowledges each one: RUNNING, then FINISHED follow
        released = sent_updates(core.handle(ack(released[0]), clock.now()))
        sent += released
    assert [s.state.value for s in sent] == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    assert completed_states(retired(core)) == {"t1": ("TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED")}


# ---------------------------------------------------------------- custom executors


def test_a_custom_executor_of_a_removed_framework_is_shut_down_and_its_updates_are_not_sent() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())
    core.handle(subscribe(), clock.now())
    [running] = sent_updates(core.handle(executor_update("t1", "TASK_RUNNING", b"r" * 16), clock.now()))

    effects = core.handle(SHUTDOWN, clock.now())
    assert executor_events(effects) == [ex.Shutdown()]
    message = FrameworkToExecutor(framework_id=FRAMEWORK, executor_id=E1, data=b"hi")
    assert executor_events(core.handle(message, clock.now())) == []
    invalid = core.state.counters.get("invalid_status_updates", 0)
    killed = core.handle(executor_update("t1", "TASK_KILLED", b"k" * 16), clock.now())
    assert sent_updates(killed) == [] and executor_events(killed) == []  # no ACKNOWLEDGED either
    assert core.state.counters["invalid_status_updates"] == invalid + 1

    effects = core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())
    assert SendToMaster(message=ExecutorExited(framework_id=FRAMEWORK, executor_id=E1, status=0)) in effects
    assert sent_updates(effects) == []
    assert completed_states(retired(core)) == {"t1": ("TASK_RUNNING", "TASK_KILLED")}
    assert core.executor_call_problem(subscribe()) == (400, "Framework cannot be found")
    assert core.handle(ack(running), clock.now()) == []
    assert updates_over(core, clock, 3600.0) == []


def test_an_executor_that_never_started_ends_its_queued_tasks_and_the_framework_is_forgotten() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())

    assert signals(core.handle(SHUTDOWN, clock.now())) == []  # still launching: nothing to signal yet
    assert signals(core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())) == [signal.SIGKILL]
    effects = core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())
    assert sent_updates(effects) == []
    framework = retired(core)
    assert completed_states(framework) == {"t1": ("TASK_KILLED",)}
    assert framework.executor_of_task == {}


# ---------------------------------------------------------------- the DEFAULT executor


def test_a_task_group_of_a_removed_framework_is_killed_and_the_framework_forgotten() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    pod = ExecutorInfo.from_json(Reader({"type": "DEFAULT", "executor_id": {"value": "pod"}}))
    group = RunTaskGroup(
        framework_info=framework_info(), executor=pod, tasks=(command_task("a"), command_task("b"))
    )
    core.handle(group, clock.now())
    core.handle(ProcessStarted(container_id=C1, pid=101), clock.now())
    core.handle(ProcessStarted(container_id=C2, pid=102), clock.now())

    assert signals(core.handle(SHUTDOWN, clock.now())) == [signal.SIGTERM, signal.SIGTERM]
    first = core.handle(ProcessExited(container_id=C1, wait_status=SIGTERMED), clock.now())
    assert sent_updates(first) == [] and FRAMEWORK in core.state.frameworks
    last = core.handle(ProcessExited(container_id=C2, wait_status=SIGTERMED), clock.now())
    assert (
        SendToMaster(message=ExecutorExited(framework_id=FRAMEWORK, executor_id=ExecutorId("pod"), status=0))
        in last
    )
    assert sent_updates(last) == []
    assert completed_states(retired(core)) == {
        "a": ("TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"),
        "b": ("TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"),
    }
    assert core.state.task_containers == {}
    assert updates_over(core, clock, 3600.0) == []

    document = Reader(state_document(core))
    [done] = document.objs("completed_frameworks")
    [executor] = done.objs("completed_executors")
    assert (done.text("id"), executor.text("id")) == (FRAMEWORK, "pod")
    assert sorted(t.text("id") for t in executor.objs("completed_tasks")) == ["a", "b"]

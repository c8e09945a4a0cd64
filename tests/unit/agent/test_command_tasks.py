"""Command tasks, supervised by the agent itself (`mesos.md` b.6: the built-in command executor)."""

from __future__ import annotations

import signal

import pytest

from corral.agent.effects import Launch, LaunchFailed, ProcessExited, ProcessStarted, Tick, WakeAt
from corral.agent.state import ExecutorPhase
from corral.core.ids import ContainerId, ExecutorId, TaskId
from corral.protocol.agent import KillTask, RunTask, ShutdownExecutor
from corral.testing.clock import FakeClock

from .builders import (
    AGENT,
    FRAMEWORK,
    ack,
    command_task,
    framework_info,
    make_core,
    registered,
    sent_updates,
    signals,
    statuses_of,
)

C0 = ContainerId("c0")


def exited_with(code: int) -> int:
    return code << 8


def test_echo_goes_starting_running_finished_one_update_in_flight_at_a_time() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())

    effects = core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    [starting] = sent_updates(effects)
    [launch] = [e for e in effects if isinstance(e, Launch)]
    assert starting.state == "TASK_STARTING"
    assert (starting.source, starting.executor_id, starting.agent_id) == ("SOURCE_EXECUTOR", "t1", AGENT)
    assert launch.argv == ("/bin/sh", "-c", "echo hi")
    assert launch.sandbox.name == "c0" and launch.sandbox.parent.name == "runs"

    running_effects = core.handle(ProcessStarted(container_id=C0, pid=4242), clock.now())
    assert sent_updates(running_effects) == []  # STARTING is still in flight
    finished_effects = core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())
    assert sent_updates(finished_effects) == []

    [running] = sent_updates(core.handle(ack(starting), clock.now()))
    assert running.state == "TASK_RUNNING"
    assert running.extra["container_status"] == {
        "container_id": {"value": "c0"},
        "network_infos": [{"ip_addresses": [{"ip_address": "10.0.0.7"}]}],
        "executor_pid": 4242,
    }
    [finished] = sent_updates(core.handle(ack(running), clock.now()))
    assert (finished.state, finished.message) == ("TASK_FINISHED", "Command exited with status 0")
    assert len({starting.uuid, running.uuid, finished.uuid}) == 3

    core.handle(ack(finished), clock.now())
    assert core.state.frameworks == {}  # its only executor is retired, and the framework with it
    [completed] = core.state.completed_frameworks
    [executor] = completed.completed_executors
    assert [t.state for t in executor.completed] == ["TASK_FINISHED"]


@pytest.mark.parametrize(
    ("wait_status", "state", "message"),
    [
        (exited_with(0), "TASK_FINISHED", "Command exited with status 0"),
        (exited_with(3), "TASK_FAILED", "Command exited with status 3"),
        (signal.SIGSEGV, "TASK_FAILED", "Command terminated with signal SIGSEGV"),
        (signal.SIGKILL | 0x80, "TASK_FAILED", "Command terminated with signal SIGKILL"),  # core dumped bit
    ],
)
def test_exit_status_maps_to_a_terminal_state(wait_status: int, state: str, message: str) -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=7), clock.now())
    core.handle(ProcessExited(container_id=C0, wait_status=wait_status), clock.now())

    [_, _, terminal] = statuses_of(core, "t1")
    assert (terminal.state, terminal.message, terminal.reason) == (state, message, None)


def test_kill_sends_killing_then_sigterm_and_sigkill_after_the_grace_period() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    info = framework_info(capabilities=("TASK_KILLING_STATE",))
    task = command_task(kill_policy={"grace_period": {"nanoseconds": 10_000_000_000}})
    [starting] = sent_updates(core.handle(RunTask(framework_info=info, task=task), clock.now()))
    core.handle(ProcessStarted(container_id=C0, pid=99), clock.now())
    [running] = sent_updates(core.handle(ack(starting), clock.now()))

    effects = core.handle(
        KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1"), grace_period=2.0), clock.now()
    )
    assert signals(effects) == [signal.SIGTERM]  # KILL's policy (2 s) wins over the task's (10 s)
    assert WakeAt(deadline=clock.now() + 2.0) in effects
    [killing] = sent_updates(core.handle(ack(running), clock.now()))
    assert killing.state == "TASK_KILLING"

    clock.advance(1.9)
    assert signals(core.handle(Tick(), clock.now())) == []
    clock.advance(0.1)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]

    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())
    [killed] = sent_updates(core.handle(ack(killing), clock.now()))
    assert (killed.state, killed.message) == ("TASK_KILLED", "Command terminated with signal SIGKILL")


def test_a_repeated_kill_only_shortens_the_grace_period() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=99), clock.now())

    first = core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1")), clock.now())
    assert signals(first) == [signal.SIGTERM]
    assert WakeAt(deadline=clock.now() + 3.0) in first  # the default grace period
    longer = core.handle(
        KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1"), grace_period=30.0), clock.now()
    )
    assert signals(longer) == [] and not any(isinstance(e, WakeAt) for e in longer)
    shorter = core.handle(
        KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1"), grace_period=0.5), clock.now()
    )
    assert WakeAt(deadline=clock.now() + 0.5) in shorter

    clock.advance(0.5)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]
    clock.advance(2.5)
    assert signals(core.handle(Tick(), clock.now())) == []  # the 3 s deadline is void


def test_no_killing_update_without_the_capability_and_a_kill_before_start_waits_for_the_pid() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())

    effects = core.handle(
        KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1"), grace_period=1.0), clock.now()
    )
    assert effects == []  # no TASK_KILLING (no capability), and no pid to signal yet
    started = core.handle(ProcessStarted(container_id=C0, pid=5), clock.now())
    assert signals(started) == [signal.SIGTERM]
    assert [s.state for s in sent_updates(started)] == []  # never TASK_RUNNING
    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGTERM), clock.now())
    assert [s.state for s in statuses_of(core, "t1")] == ["TASK_STARTING", "TASK_KILLED"]


def test_max_completion_time_fails_the_task() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    task = command_task(max_completion_time={"nanoseconds": 5_000_000_000})
    core.handle(RunTask(framework_info=framework_info(), task=task), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=5), clock.now())

    clock.advance(5.0)
    term = core.handle(Tick(), clock.now())
    assert signals(term) == [signal.SIGTERM]
    assert WakeAt(deadline=clock.now()) in term  # zero grace: SIGKILL at once
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]
    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())
    last = statuses_of(core, "t1")[-1]
    assert (last.state, last.reason) == ("TASK_FAILED", "REASON_MAX_COMPLETION_TIME_REACHED")


def test_a_failed_launch_fails_the_task_with_the_reason() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    [starting] = sent_updates(
        core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    )
    core.handle(
        LaunchFailed(container_id=C0, message="Failed to fetch 'http://x/a.tgz': 404 Not Found"), clock.now()
    )

    [failed] = sent_updates(core.handle(ack(starting), clock.now()))
    assert (failed.state, failed.source, failed.reason) == (
        "TASK_FAILED",
        "SOURCE_AGENT",
        "REASON_CONTAINER_LAUNCH_FAILED",
    )
    assert failed.message == "Failed to fetch 'http://x/a.tgz': 404 Not Found"


def test_shutdown_of_a_command_executor_kills_its_task() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=command_task()), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=5), clock.now())

    effects = core.handle(ShutdownExecutor(framework_id=FRAMEWORK, executor_id=ExecutorId("t1")), clock.now())
    assert signals(effects) == [signal.SIGTERM]
    core.handle(ProcessExited(container_id=C0, wait_status=exited_with(143)), clock.now())
    executor = core.state.frameworks[FRAMEWORK].executors[ExecutorId("t1")]
    assert executor.phase is ExecutorPhase.TERMINATED
    assert executor.tasks[TaskId("t1")].state == "TASK_KILLED"

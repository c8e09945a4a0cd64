"""Health checks wired into the agent core: command tasks and DEFAULT executor tasks are probed, their health
changes reach the master as reliable TASK_RUNNING updates, and a task failing too often is killed
(`mesos.md` b.6 "Health checks" and "Kill"; a health-check kill ends TASK_KILLED with `healthy: false`)."""

from __future__ import annotations

import signal
from dataclasses import replace

from corral.agent.core import AgentCore
from corral.agent.effects import (
    CancelProbe,
    Effect,
    HealthProbe,
    HealthProbed,
    ProcessExited,
    ProcessStarted,
    Tick,
    WakeAt,
)
from corral.agent.health_checks import REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
from corral.core.ids import ContainerId, ExecutorId, TaskId
from corral.protocol.agent import KillTask, RunTask, RunTaskGroup
from corral.protocol.json import JsonObject, Reader
from corral.protocol.mesos import HealthCheck, TaskStatus
from corral.testing.clock import FakeClock

from .builders import (
    FRAMEWORK,
    ack,
    command_task,
    executor_task,
    framework_info,
    make_core,
    registered,
    sent_updates,
    signals,
    statuses_of,
)
from .test_task_groups import default_executor

C0 = ContainerId("c0")
KILLING = ("TASK_KILLING_STATE",)
CHECK: JsonObject = {
    "type": "COMMAND",
    "command": {"value": "test -f healthy"},
    "delay_seconds": 5,
    "interval_seconds": 1,
    "timeout_seconds": 1,
    "consecutive_failures": 2,
    "grace_period_seconds": 0,
}


def probes(effects: list[Effect]) -> list[HealthProbe]:
    return [e for e in effects if isinstance(e, HealthProbe)]


def answer(core: AgentCore, probe: HealthProbe, healthy: bool, now: float) -> list[Effect]:
    probed = HealthProbed(
        framework_id=probe.framework_id,
        task_id=probe.task_id,
        attempt=probe.attempt,
        healthy=healthy,
        message="" if healthy else "command exited with status 1",
    )
    return core.handle(probed, now)


def next_probe(core: AgentCore, clock: FakeClock, seconds: float) -> HealthProbe:
    clock.advance(seconds)
    [probe] = probes(core.handle(Tick(), clock.now()))
    return probe


def health_updates(statuses: list[TaskStatus]) -> list[bool | None]:
    return [s.healthy for s in statuses if s.reason == REASON_TASK_HEALTH_CHECK_STATUS_UPDATED]


def running_command_task(clock: FakeClock, *, capabilities: tuple[str, ...] = ()) -> AgentCore:
    core = make_core()
    registered(core, clock.now())
    task = command_task(health_check=CHECK, kill_policy={"grace_period": {"nanoseconds": 4_000_000_000}})
    core.handle(RunTask(framework_info=framework_info(capabilities=capabilities), task=task), clock.now())
    effects = core.handle(ProcessStarted(container_id=C0, pid=4242), clock.now())
    assert WakeAt(deadline=clock.now() + 5) in effects  # the first probe, delay_seconds after TASK_RUNNING
    return core


def test_a_command_check_runs_in_the_task_sandbox_after_its_delay() -> None:
    clock = FakeClock()
    core = running_command_task(clock)
    clock.advance(4.9)
    assert probes(core.handle(Tick(), clock.now())) == []
    probe = next_probe(core, clock, 0.1)
    assert probe.sandbox.name == "c0"  # the command task's sandbox
    assert dict(probe.environment)["MESOS_TASK_ID"] == "t1"
    assert probe.check.command is not None and probe.check.command.value == "test -f healthy"


def test_health_changes_go_out_as_reliable_task_running_updates() -> None:
    clock = FakeClock()
    core = running_command_task(clock)
    starting, running = statuses_of(core, "t1")
    core.handle(ack(starting), clock.now())
    core.handle(ack(running), clock.now())

    effects = answer(core, next_probe(core, clock, 5), True, clock.now())
    [healthy] = sent_updates(effects)
    assert (healthy.state, healthy.reason, healthy.healthy, healthy.source) == (
        "TASK_RUNNING",
        REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
        True,
        "SOURCE_EXECUTOR",
    )
    assert healthy.uuid not in (starting.uuid, running.uuid)
    assert WakeAt(deadline=clock.now() + 1) in effects  # interval_seconds after the probe ended

    assert health_updates(statuses_of(core, "t1")) == [True]
    answer(core, next_probe(core, clock, 1), True, clock.now())
    assert health_updates(statuses_of(core, "t1")) == [True]  # no change, no update
    assert sent_updates(answer(core, next_probe(core, clock, 1), False, clock.now())) == []  # in order:
    [unhealthy] = sent_updates(core.handle(ack(healthy), clock.now()))  # after the one in flight
    assert (unhealthy.state, unhealthy.healthy) == ("TASK_RUNNING", False)


def test_consecutive_failures_kill_the_task_which_ends_killed_and_unhealthy() -> None:
    clock = FakeClock()
    core = running_command_task(clock, capabilities=KILLING)
    assert signals(answer(core, next_probe(core, clock, 5), False, clock.now())) == []

    assert signals(answer(core, next_probe(core, clock, 1), False, clock.now())) == [signal.SIGTERM]
    clock.advance(3.9)
    effects = core.handle(Tick(), clock.now())
    assert (probes(effects), signals(effects)) == ([], [])  # no more probes once it is being killed
    clock.advance(0.1)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]  # the task's own kill policy
    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())

    statuses = statuses_of(core, "t1")
    assert [s.state for s in statuses] == [
        "TASK_STARTING",
        "TASK_RUNNING",
        "TASK_RUNNING",  # unhealthy, 1 of 2
        "TASK_RUNNING",  # unhealthy, 2 of 2
        "TASK_KILLING",
        "TASK_KILLED",
    ]
    assert health_updates(statuses) == [False, False]
    killed = statuses[-1]
    assert (killed.healthy, killed.message) == (False, "Command terminated with signal SIGKILL")


def test_a_kill_stops_the_checks_and_cancels_the_running_probe() -> None:
    clock = FakeClock()
    core = running_command_task(clock)
    probe = next_probe(core, clock, 5)
    effects = core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1")), clock.now())
    assert CancelProbe(framework_id=FRAMEWORK, task_id=TaskId("t1")) in effects
    assert sent_updates(answer(core, probe, False, clock.now())) == []  # a late answer is dropped
    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGTERM), clock.now())
    killed = statuses_of(core, "t1")[-1]
    assert (killed.state, killed.healthy) == ("TASK_KILLED", None)  # killed by the framework, not for health


def test_a_task_that_ends_by_itself_cancels_its_running_probe() -> None:
    clock = FakeClock()
    core = running_command_task(clock)
    next_probe(core, clock, 5)
    effects = core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())
    assert CancelProbe(framework_id=FRAMEWORK, task_id=TaskId("t1")) in effects


def test_an_unhealthy_task_of_a_default_executor_is_killed_and_takes_its_group_down() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    checked = command_task("a", "sleep 60", health_check={**CHECK, "consecutive_failures": 1})
    group = RunTaskGroup(
        framework_info=framework_info(), executor=default_executor(), tasks=(checked, command_task("b"))
    )
    core.handle(group, clock.now())
    core.handle(ProcessStarted(container_id=ContainerId("c1"), pid=101), clock.now())
    core.handle(ProcessStarted(container_id=ContainerId("c2"), pid=102), clock.now())

    probe = next_probe(core, clock, 5)
    assert probe.sandbox.parts[-2:] == ("tasks", "a")  # the task's own sandbox
    assert signals(answer(core, probe, False, clock.now())) == [signal.SIGTERM]
    effects = core.handle(
        ProcessExited(container_id=ContainerId("c1"), wait_status=signal.SIGTERM), clock.now()
    )
    assert signals(effects) == [signal.SIGTERM]  # then its sibling
    a = statuses_of(core, "a", "pod")
    assert [(s.state, s.healthy) for s in a[-2:]] == [("TASK_RUNNING", False), ("TASK_KILLED", False)]


def test_tasks_of_a_custom_executor_run_their_own_checks() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    task = replace(executor_task(), health_check=HealthCheck.from_json(Reader(CHECK)))
    core.handle(RunTask(framework_info=framework_info(), task=task), clock.now())
    [executor] = core.state.frameworks[FRAMEWORK].executors.values()
    assert executor.id == ExecutorId("e1")
    assert all(t.health is None for t in executor.all_tasks())

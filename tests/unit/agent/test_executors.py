"""Custom executors through the v1 executor API (`mesos.md` b.1-b.5)."""

from __future__ import annotations

import signal
from dataclasses import replace

from corral.agent.effects import (
    DisconnectExecutor,
    Launch,
    ProcessExited,
    ProcessStarted,
    SendToMaster,
    Tick,
    WakeAt,
)
from corral.core.ids import ContainerId, ExecutorId, TaskId
from corral.protocol import executor as ex
from corral.protocol.agent import (
    ExecutorExited,
    ExecutorToFramework,
    FrameworkToExecutor,
    KillTask,
    RunTask,
    RunTaskGroup,
    ShutdownExecutor,
    ShutdownFramework,
)
from corral.protocol.mesos import ExecutorInfo
from corral.testing.clock import FakeClock

from .builders import (
    AGENT,
    CONFIG,
    FRAMEWORK,
    ack,
    executor_events,
    executor_task,
    executor_update,
    framework_info,
    make_core,
    registered,
    sent_updates,
    signals,
    statuses_of,
    subscribe,
)

C0 = ContainerId("c0")
E1 = ExecutorId("e1")


def test_tasks_wait_for_subscribe_then_arrive_as_launch_and_launch_group() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    info = framework_info()

    first = core.handle(RunTask(framework_info=info, task=executor_task("t1")), clock.now())
    [launch] = [e for e in first if isinstance(e, Launch)]
    assert launch.argv == ("/bin/sh", "-c", "python3 executor.py")
    assert executor_events(first) == []
    second = core.handle(RunTask(framework_info=info, task=executor_task("t2")), clock.now())
    assert not any(isinstance(e, Launch) for e in second)  # same executor, still registering
    group = (executor_task("t3"), executor_task("t4"))
    assert group[0].executor is not None
    core.handle(RunTaskGroup(framework_info=info, executor=group[0].executor, tasks=group), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())

    assert core.executor_call_problem(executor_update("t1", "TASK_RUNNING", b"u" * 16)) == (
        403,
        "Executor is not subscribed",
    )
    assert core.executor_call_problem(subscribe("nope")) == (400, "Executor cannot be found")
    assert core.executor_call_problem(subscribe()) is None

    events = executor_events(core.handle(subscribe(), clock.now()))
    subscribed, *launches = events
    assert isinstance(subscribed, ex.Subscribed)
    assert subscribed.framework_info.id == FRAMEWORK and subscribed.container_id == C0
    assert subscribed.agent_info.id == AGENT
    encoded = ex.encode_event(subscribed)["subscribed"]
    assert isinstance(encoded, dict)
    assert encoded["executor_info"]["executor_id"] == {"value": "e1"}  # type: ignore[index,call-overload]
    assert encoded["framework_info"]["id"] == {"value": FRAMEWORK}  # type: ignore[index,call-overload]
    assert launches == [
        ex.LaunchGroup(tasks=group),
        ex.Launch(task=executor_task("t1")),
        ex.Launch(task=executor_task("t2")),
    ]
    later = core.handle(RunTask(framework_info=info, task=executor_task("t5")), clock.now())
    assert executor_events(later) == [ex.Launch(task=executor_task("t5"))]


def test_executor_updates_are_completed_forwarded_and_acknowledged_back() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())
    core.handle(subscribe(), clock.now())

    uuid = bytes(range(16))
    [forwarded] = sent_updates(core.handle(executor_update("t1", "TASK_RUNNING", uuid), clock.now()))
    assert (forwarded.agent_id, forwarded.executor_id, forwarded.uuid) == (AGENT, E1, uuid)
    assert forwarded.extra["container_status"] == {
        "container_id": {"value": "c0"},
        "network_infos": [{"ip_addresses": [{"ip_address": "10.0.0.7"}]}],
        "executor_pid": 300,
    }
    duplicate = core.handle(executor_update("t1", "TASK_RUNNING", uuid), clock.now())
    assert sent_updates(duplicate) == []

    assert executor_events(core.handle(ack(forwarded), clock.now())) == [
        ex.Acknowledged(task_id=TaskId("t1"), uuid=uuid)
    ]
    message = ex.Message(framework_id=FRAMEWORK, executor_id=E1, data=b"hi")
    assert core.handle(message, clock.now()) == [
        SendToMaster(message=ExecutorToFramework(framework_id=FRAMEWORK, executor_id=E1, data=b"hi"))
    ]
    reply = FrameworkToExecutor(framework_id=FRAMEWORK, executor_id=E1, data=b"yo")
    assert executor_events(core.handle(reply, clock.now())) == [ex.FrameworkMessage(data=b"yo")]
    kill = core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1"), grace_period=1.5), clock.now())
    assert executor_events(kill) == [ex.Kill(task_id=TaskId("t1"), grace_period=1.5)]


def test_an_executor_that_never_subscribes_is_killed_and_its_tasks_fail() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task()), clock.now())
    started = core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())
    assert WakeAt(deadline=clock.now() + 60.0) in started  # executor_registration_timeout

    clock.advance(60.0)
    effects = core.handle(Tick(), clock.now())
    assert signals(effects) == [signal.SIGKILL]
    [failed] = sent_updates(effects)
    assert (failed.state, failed.reason, failed.source) == (
        "TASK_FAILED",
        "REASON_EXECUTOR_REGISTRATION_TIMEOUT",
        "SOURCE_AGENT",
    )
    assert failed.message == "Executor did not register within 1mins"

    exited = core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())
    assert SendToMaster(message=ExecutorExited(framework_id=FRAMEWORK, executor_id=E1, status=9)) in exited
    assert sent_updates(exited) == []  # its task is already terminal


def test_shutdown_asks_the_executor_then_kills_it_after_the_grace_period() -> None:
    clock, core = FakeClock(), make_core(replace(CONFIG, executor_shutdown_grace_period=2.0))
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())
    core.handle(subscribe(), clock.now())
    [running] = sent_updates(core.handle(executor_update("t1", "TASK_RUNNING", b"r" * 16), clock.now()))
    core.handle(ack(running), clock.now())

    effects = core.handle(ShutdownExecutor(framework_id=FRAMEWORK, executor_id=E1), clock.now())
    assert executor_events(effects) == [ex.Shutdown()]
    assert WakeAt(deadline=clock.now() + 2.0) in effects
    clock.advance(2.0)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]

    exited = core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())
    assert SendToMaster(message=ExecutorExited(framework_id=FRAMEWORK, executor_id=E1, status=9)) in exited
    assert DisconnectExecutor(framework_id=FRAMEWORK, executor_id=E1) in exited
    [killed] = sent_updates(exited)
    assert (killed.state, killed.reason, killed.message) == (
        "TASK_KILLED",
        "REASON_EXECUTOR_TERMINATED",
        "Executor terminated",
    )


def test_an_executor_that_dies_fails_its_tasks() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())
    core.handle(subscribe(), clock.now())

    exited = core.handle(ProcessExited(container_id=C0, wait_status=1 << 8), clock.now())
    [failed] = sent_updates(exited)
    assert (failed.state, failed.source, failed.reason, failed.message) == (
        "TASK_FAILED",
        "SOURCE_AGENT",
        "REASON_EXECUTOR_TERMINATED",
        "Executor terminated",
    )
    assert SendToMaster(message=ExecutorExited(framework_id=FRAMEWORK, executor_id=E1, status=256)) in exited
    core.handle(ack(failed), clock.now())
    assert core.state.frameworks == {}  # executor and framework retired once the last update is acked


def test_killing_a_queued_task_ends_it_without_the_executor() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())

    effects = core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1")), clock.now())
    [killed] = sent_updates(effects)
    assert (killed.state, killed.reason) == ("TASK_KILLED", "REASON_TASK_KILLED_DURING_LAUNCH")
    events = executor_events(core.handle(subscribe(), clock.now()))
    assert [type(e) for e in events] == [ex.Subscribed]


def test_shutdown_framework_shuts_down_an_unsubscribed_executor_at_once() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    core.handle(RunTask(framework_info=framework_info(), task=executor_task("t1")), clock.now())
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())

    effects = core.handle(ShutdownFramework(framework_id=FRAMEWORK), clock.now())
    assert signals(effects) == [signal.SIGKILL]
    assert executor_events(core.handle(subscribe(), clock.now())) == [ex.Shutdown()]
    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL), clock.now())
    assert [s.state for s in statuses_of(core, "t1", "e1")] == ["TASK_KILLED"]


def test_a_default_executor_cannot_launch() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    task = executor_task("t1")
    default = ExecutorInfo(executor_id=E1, type="DEFAULT")
    effects = core.handle(
        RunTaskGroup(framework_info=framework_info(), executor=default, tasks=(task,)), clock.now()
    )
    assert not any(isinstance(e, Launch) for e in effects)
    [failed] = sent_updates(effects)
    assert (failed.state, failed.reason) == ("TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED")
    assert SendToMaster(message=ExecutorExited(framework_id=FRAMEWORK, executor_id=E1, status=-1)) in effects

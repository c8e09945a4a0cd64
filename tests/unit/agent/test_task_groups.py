"""Task groups on the DEFAULT executor, which the agent plays itself (`mesos.md` a.6: LAUNCH_GROUP; upstream's
`src/launcher/default_executor.cpp`: one nested container per task, the group killed when one fails)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from corral.agent.core import AgentCore
from corral.agent.effects import (
    Effect,
    Launch,
    LaunchFailed,
    ProcessExited,
    ProcessStarted,
    SendToMaster,
    Tick,
    WakeAt,
)
from corral.agent.isolation.limitations import memory_limitation
from corral.agent.isolation.limits import MB
from corral.agent.reports import state_document
from corral.agent.sandbox import prepare, run_directory, task_directory
from corral.agent.state import ExecutorPhase
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId
from corral.protocol.agent import ExecutorExited, KillTask, RunTaskGroup, ShutdownExecutor
from corral.protocol.json import JsonValue, Reader
from corral.protocol.mesos import ExecutorInfo, FrameworkInfo, TaskInfo
from corral.testing.clock import FakeClock

from .builders import (
    AGENT,
    FRAMEWORK,
    WORK_DIR,
    ack,
    command_task,
    framework_info,
    make_core,
    registered,
    sent_updates,
    signals,
    statuses_of,
    subscribe,
)

POD = ExecutorId("pod")
C0, C1, C2, C3 = (ContainerId(f"c{i}") for i in range(4))  # the executor's, then one per task
RUN_DIR = WORK_DIR / "slaves" / AGENT / "frameworks" / FRAMEWORK / "executors" / "pod" / "runs" / "c0"
KILLING = ("TASK_KILLING_STATE",)
EXITED = ExecutorExited(framework_id=FRAMEWORK, executor_id=POD, status=0)


def exited_with(code: int) -> int:
    return code << 8


def default_executor() -> ExecutorInfo:
    resources: list[JsonValue] = [
        {"name": name, "type": "SCALAR", "scalar": {"value": value}}
        for name, value in (("cpus", 0.1), ("mem", 32.0), ("disk", 32.0))
    ]
    return ExecutorInfo.from_json(
        Reader({"type": "DEFAULT", "executor_id": {"value": POD}, "resources": resources})
    )


def launch_group(
    core: AgentCore, now: float, *tasks: TaskInfo, info: FrameworkInfo | None = None
) -> list[Effect]:
    group = RunTaskGroup(framework_info=info or framework_info(), executor=default_executor(), tasks=tasks)
    return core.handle(group, now)


def states(core: AgentCore, task_id: str) -> list[str]:
    return [s.state.value for s in statuses_of(core, task_id, POD)]


def running_pair(clock: FakeClock, info: FrameworkInfo | None = None) -> AgentCore:
    """Tasks a (pid 101, container c1) and b (pid 102, container c2) of executor `pod`, both running."""
    core = make_core()
    registered(core, clock.now())
    b = command_task("b", "sleep 60", kill_policy={"grace_period": {"nanoseconds": 5_000_000_000}})
    launch_group(core, clock.now(), command_task("a", "sleep 60"), b, info=info)
    core.handle(ProcessStarted(container_id=C1, pid=101), clock.now())
    core.handle(ProcessStarted(container_id=C2, pid=102), clock.now())
    return core


def test_a_group_runs_each_task_in_its_own_sandbox_under_the_executor() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())

    effects = launch_group(core, clock.now(), command_task("a", "echo a"), command_task("b", "echo b"))
    launches = [e for e in effects if isinstance(e, Launch)]
    assert [(launch.container_id, launch.argv) for launch in launches] == [
        (C1, ("/bin/sh", "-c", "echo a")),
        (C2, ("/bin/sh", "-c", "echo b")),
    ]
    assert [launch.sandbox for launch in launches] == [RUN_DIR / "tasks" / "a", RUN_DIR / "tasks" / "b"]
    env = dict(launches[0].environment)
    assert (env["MESOS_SANDBOX"], env["MESOS_TASK_ID"], env["MESOS_EXECUTOR_ID"]) == (
        str(RUN_DIR / "tasks" / "a"),
        "a",
        "pod",
    )
    assert env["MESOS_CONTAINER_IP"] == "10.0.0.7"

    starting_a, starting_b = sent_updates(effects)  # two tasks, two streams: both go out at once
    assert (starting_a.state, starting_a.source, starting_a.executor_id) == (
        "TASK_STARTING",
        "SOURCE_EXECUTOR",
        POD,
    )
    assert starting_a.extra["container_status"] == {
        "container_id": {"value": "c1", "parent": {"value": "c0"}},
        "network_infos": [{"ip_addresses": [{"ip_address": "10.0.0.7"}]}],
    }
    assert starting_b.task_id == "b"

    core.handle(ProcessStarted(container_id=C1, pid=101), clock.now())
    [running_a] = sent_updates(core.handle(ack(starting_a), clock.now()))
    assert (running_a.state, running_a.executor_id) == ("TASK_RUNNING", POD)
    assert states(core, "b") == ["TASK_STARTING"]  # its own process has not started yet
    executor = core.state.frameworks[FRAMEWORK].executors[POD]
    assert (executor.is_default, executor.phase, executor.directory) == (True, ExecutorPhase.RUNNING, RUN_DIR)
    assert core.executor_call_problem(subscribe("pod")) == (400, "Executor cannot be found")


def test_when_one_task_fails_the_rest_of_its_group_is_killed() -> None:
    clock = FakeClock()
    core = running_pair(clock, framework_info(capabilities=KILLING))

    effects = core.handle(ProcessExited(container_id=C1, wait_status=exited_with(1)), clock.now())
    assert signals(effects) == [signal.SIGTERM]  # b's process group, with b's own 5 s grace
    assert WakeAt(deadline=clock.now() + 5.0) in effects
    failed = statuses_of(core, "a", POD)[-1]
    assert (failed.state, failed.message) == ("TASK_FAILED", "Command exited with status 1")
    assert states(core, "b") == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLING"]

    done = core.handle(ProcessExited(container_id=C2, wait_status=signal.SIGTERM), clock.now())
    killed = statuses_of(core, "b", POD)[-1]
    assert (killed.state, killed.message) == ("TASK_KILLED", "Command terminated with signal SIGTERM")
    assert SendToMaster(message=EXITED) in done  # every task is terminal: the executor is done


def test_a_task_the_oom_killer_took_fails_with_the_memory_limitation_and_takes_its_group_down() -> None:
    clock = FakeClock()
    core = running_pair(clock)
    limitation = memory_limitation(160 * MB, 160 * MB)  # the group's limit, in the executor's container

    effects = core.handle(
        ProcessExited(container_id=C1, wait_status=signal.SIGKILL, limitation=limitation), clock.now()
    )
    failed = statuses_of(core, "a", POD)[-1]
    assert (failed.state, failed.source, failed.reason) == (
        "TASK_FAILED",
        "SOURCE_AGENT",
        "REASON_CONTAINER_LIMITATION_MEMORY",
    )
    assert failed.message == "Memory limit exceeded: Requested: 160MB Maximum Used: 160MB"
    assert signals(effects) == [signal.SIGTERM]  # b goes with it


def test_a_finished_task_leaves_its_siblings_running_and_the_last_one_ends_the_executor() -> None:
    clock = FakeClock()
    core = running_pair(clock)

    effects = core.handle(ProcessExited(container_id=C1, wait_status=0), clock.now())
    assert signals(effects) == []
    assert not any(isinstance(e, SendToMaster) and e.message == EXITED for e in effects)
    assert states(core, "a")[-1] == "TASK_FINISHED"
    assert states(core, "b")[-1] == "TASK_RUNNING"

    effects = core.handle(ProcessExited(container_id=C2, wait_status=0), clock.now())
    assert SendToMaster(message=EXITED) in effects
    executor = core.state.frameworks[FRAMEWORK].executors[POD]
    assert executor.phase is ExecutorPhase.TERMINATED

    for task_id in ("a", "b"):  # acknowledge every update in order: the executor is then forgotten
        pending = statuses_of(core, task_id, POD)
        for status in pending:
            core.handle(ack(status), clock.now())
    assert core.state.frameworks == {}
    [completed] = core.state.completed_frameworks
    [executor] = completed.completed_executors
    assert sorted((t.id, t.state) for t in executor.completed) == [
        ("a", "TASK_FINISHED"),
        ("b", "TASK_FINISHED"),
    ]
    assert core.state.task_containers == {}


def test_kill_of_one_task_kills_the_whole_group() -> None:
    clock = FakeClock()
    core = running_pair(clock)

    effects = core.handle(
        KillTask(framework_id=FRAMEWORK, task_id=TaskId("a"), grace_period=2.0), clock.now()
    )
    assert signals(effects) == [signal.SIGTERM]  # a first, with KILL's 2 s
    assert WakeAt(deadline=clock.now() + 2.0) in effects
    clock.advance(2.0)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]

    effects = core.handle(ProcessExited(container_id=C1, wait_status=signal.SIGKILL), clock.now())
    assert states(core, "a")[-1] == "TASK_KILLED"
    assert signals(effects) == [signal.SIGTERM]  # then b, with its own 5 s kill policy
    clock.advance(4.9)
    assert signals(core.handle(Tick(), clock.now())) == []
    clock.advance(0.1)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]

    effects = core.handle(ProcessExited(container_id=C2, wait_status=signal.SIGKILL), clock.now())
    killed = statuses_of(core, "b", POD)[-1]
    assert (killed.state, killed.message) == ("TASK_KILLED", "Command terminated with signal SIGKILL")
    assert SendToMaster(message=EXITED) in effects


def test_shutdown_kills_every_group_of_the_executor_and_ignores_kills_meanwhile() -> None:
    clock = FakeClock()
    core = running_pair(clock)
    later = launch_group(core, clock.now(), command_task("c", "sleep 60"))  # a second group joins `pod`
    [launch] = [e for e in later if isinstance(e, Launch)]
    assert (launch.container_id, launch.sandbox) == (C3, RUN_DIR / "tasks" / "c")
    core.handle(ProcessStarted(container_id=C3, pid=103), clock.now())

    effects = core.handle(ShutdownExecutor(framework_id=FRAMEWORK, executor_id=POD), clock.now())
    assert signals(effects) == [signal.SIGTERM] * 3
    assert core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("a")), clock.now()) == []

    core.handle(ProcessExited(container_id=C1, wait_status=signal.SIGTERM), clock.now())
    effects = core.handle(ProcessExited(container_id=C3, wait_status=exited_with(143)), clock.now())
    assert signals(effects) == []  # nothing more to kill: the shutdown already covers everyone
    effects = core.handle(ProcessExited(container_id=C2, wait_status=signal.SIGTERM), clock.now())
    assert SendToMaster(message=EXITED) in effects
    assert [states(core, t)[-1] for t in ("a", "b", "c")] == ["TASK_KILLED"] * 3

    dropped = launch_group(core, clock.now(), command_task("d", "true"))  # the executor is gone
    assert [(s.task_id, s.state, s.reason) for s in sent_updates(dropped)] == [
        ("d", "TASK_LOST", "REASON_EXECUTOR_TERMINATED")
    ]


def test_a_task_that_cannot_launch_fails_and_its_group_is_killed() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    launch_group(core, clock.now(), command_task("a", "sleep 60"), command_task("b", "sleep 60"))

    killed_early = core.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("b")), clock.now())
    assert signals(killed_early) == []  # b has no process yet: the kill waits for it
    effects = core.handle(LaunchFailed(container_id=C1, message="Failed to fetch 'x': 404"), clock.now())
    failed = statuses_of(core, "a", POD)[-1]
    assert (failed.state, failed.source, failed.reason, failed.message) == (
        "TASK_FAILED",
        "SOURCE_AGENT",
        "REASON_CONTAINER_LAUNCH_FAILED",
        "Failed to fetch 'x': 404",
    )
    assert signals(effects) == []

    assert signals(core.handle(ProcessStarted(container_id=C2, pid=102), clock.now())) == [signal.SIGTERM]
    core.handle(ProcessExited(container_id=C2, wait_status=signal.SIGTERM), clock.now())
    assert states(core, "b") == ["TASK_STARTING", "TASK_KILLED"]  # never TASK_RUNNING


def test_max_completion_time_fails_the_task_and_kills_its_group() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    limited = command_task("a", "sleep 60", max_completion_time={"nanoseconds": 5_000_000_000})
    launch_group(core, clock.now(), limited, command_task("b", "sleep 60"))
    core.handle(ProcessStarted(container_id=C1, pid=101), clock.now())
    core.handle(ProcessStarted(container_id=C2, pid=102), clock.now())

    clock.advance(5.0)
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGTERM]
    assert signals(core.handle(Tick(), clock.now())) == [signal.SIGKILL]  # zero grace
    effects = core.handle(ProcessExited(container_id=C1, wait_status=signal.SIGKILL), clock.now())
    last = statuses_of(core, "a", POD)[-1]
    assert (last.state, last.reason) == ("TASK_FAILED", "REASON_MAX_COMPLETION_TIME_REACHED")
    assert signals(effects) == [signal.SIGTERM]


def test_state_lists_the_group_under_its_default_executor() -> None:
    clock = FakeClock()
    core = running_pair(clock)

    [framework] = Reader(state_document(core)).objs("frameworks")
    [executor] = framework.objs("executors")
    assert (executor.text("id"), executor.text("type"), executor.text("directory")) == (
        "pod",
        "DEFAULT",
        str(RUN_DIR),
    )
    assert [(t.text("id"), t.text("executor_id"), t.text("state")) for t in executor.objs("tasks")] == [
        ("a", "pod", "TASK_RUNNING"),
        ("b", "pod", "TASK_RUNNING"),
    ]
    assert executor.child("resources").number("disk") == 32.0


def test_a_task_sandbox_is_made_inside_the_run_that_runs_latest_points_at(tmp_path: Path) -> None:
    run = run_directory(tmp_path, AgentId("S0"), FrameworkId("F"), ExecutorId("pod"), ContainerId("c0"))
    sandbox = task_directory(run, TaskId("latest"))  # even a task named like the link
    assert sandbox == run / "tasks" / "latest"

    prepare(sandbox)
    assert sandbox.is_dir()
    assert os.readlink(run.parent / "latest") == "c0"
    assert sorted(p.name for p in (run / "tasks").iterdir()) == ["latest"]

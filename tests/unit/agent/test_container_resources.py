"""What each container may use, as the core tells its isolator (`mesos.md` f.2): upstream's
`Executor::allocatedResources`, the executor's resources plus its live tasks', updated as tasks come and go
(`containerizer->update`); a command task's resources plus the command executor's overhead (b.6)."""

from __future__ import annotations

from pathlib import Path

from corral.agent.effects import (
    AdoptContainer,
    DestroyContainer,
    Effect,
    Launch,
    ProcessExited,
    ProcessStarted,
    UpdateContainer,
)
from corral.core.ids import ContainerId, ExecutorId
from corral.core.resources import Resources
from corral.protocol.agent import RunTask, RunTaskGroup, ShutdownExecutor
from corral.protocol.json import JsonObject, JsonValue, Reader
from corral.protocol.mesos import ExecutorInfo, TaskInfo
from corral.testing.clock import FakeClock

from .builders import (
    FRAMEWORK,
    command_task,
    executor_task,
    executor_update,
    framework_info,
    make_core,
    registered,
    sent_updates,
    subscribe,
)
from .test_recovery import Agent

C0, C1, C2, C3 = (ContainerId(f"c{i}") for i in range(4))
POD = ExecutorId("pod")


def scalars(cpus: float, mem: float) -> list[JsonValue]:
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]


def custom_task(task_id: str, mem: float) -> TaskInfo:
    """A task asking for 0.5 cpus and `mem`, of executor e1, which asks for 0.1 cpus and 32 MB itself."""
    task = executor_task(task_id, resources=scalars(0.1, 32))
    return TaskInfo.from_json(Reader({**task.raw, "resources": scalars(0.5, mem)}))


def pod() -> ExecutorInfo:
    raw: JsonObject = {"type": "DEFAULT", "executor_id": {"value": POD}, "resources": scalars(0.1, 32)}
    return ExecutorInfo.from_json(Reader(raw))


def sized(effects: list[Effect]) -> list[Effect]:
    return [e for e in effects if isinstance(e, UpdateContainer | DestroyContainer | AdoptContainer)]


def launches(effects: list[Effect]) -> list[Launch]:
    return [e for e in effects if isinstance(e, Launch)]


def test_a_command_tasks_container_holds_the_task_and_the_command_executors_overhead() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    task = command_task("t1", resources=scalars(0.5, 96))
    [launch] = launches(core.handle(RunTask(framework_info=framework_info(), task=task), clock.now()))
    assert launch.resources == Resources.of(cpus=0.6, mem=128)  # + 0.1 cpus and 32 MB


def test_a_custom_executors_container_grows_with_each_task_and_shrinks_as_they_end() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    info = framework_info()

    [launch] = launches(core.handle(RunTask(framework_info=info, task=custom_task("t1", 64)), clock.now()))
    assert launch.resources == Resources.of(cpus=0.6, mem=96)  # the executor's 0.1/32 + the task's 0.5/64
    queued = core.handle(RunTask(framework_info=info, task=custom_task("t2", 128)), clock.now())
    assert sized(queued) == [UpdateContainer(container_id=C0, resources=Resources.of(cpus=1.1, mem=224))]
    core.handle(ProcessStarted(container_id=C0, pid=300), clock.now())
    core.handle(subscribe(), clock.now())

    finished = core.handle(executor_update("t2", "TASK_FINISHED", b"f" * 16), clock.now())
    assert sized(finished) == [UpdateContainer(container_id=C0, resources=Resources.of(cpus=0.6, mem=96))]
    assert sized(core.handle(executor_update("t2", "TASK_FINISHED", b"f" * 16), clock.now())) == []

    core.handle(ShutdownExecutor(framework_id=FRAMEWORK, executor_id=ExecutorId("e1")), clock.now())
    killed = core.handle(executor_update("t1", "TASK_KILLED", b"k" * 16), clock.now())
    assert sized(killed) == []  # on its way out: its cgroups go with its process


def test_a_default_executors_container_holds_the_group_and_its_tasks_nest_in_it() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    a = command_task("a", "sleep 60", resources=scalars(1, 64))
    b = command_task("b", "true", resources=scalars(0.5, 32))

    effects = core.handle(RunTaskGroup(framework_info=framework_info(), executor=pod(), tasks=(a, b)), 0.0)
    [made] = sized(effects)
    assert made == UpdateContainer(container_id=C0, resources=Resources.of(cpus=1.6, mem=128))
    assert effects.index(made) < effects.index(launches(effects)[0])  # made before the tasks nest in it
    assert [(x.container_id, x.parent, x.resources) for x in launches(effects)] == [
        (C1, C0, Resources()),  # no limits of their own: the executor's container holds them
        (C2, C0, Resources()),
    ]
    core.handle(ProcessStarted(container_id=C1, pid=101), clock.now())
    core.handle(ProcessStarted(container_id=C2, pid=102), clock.now())

    finished = core.handle(ProcessExited(container_id=C2, wait_status=0), clock.now())
    assert sized(finished) == [UpdateContainer(container_id=C0, resources=Resources.of(cpus=1.1, mem=96))]
    ended = core.handle(ProcessExited(container_id=C1, wait_status=0), clock.now())
    assert sized(ended) == [DestroyContainer(container_id=C0)]  # not resized first: it goes


def test_a_restarted_agent_adopts_each_running_container_with_its_resources(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    info = framework_info(checkpoint=True)
    sent = sent_updates(
        agent.handle(RunTask(framework_info=info, task=command_task("cmd", resources=scalars(0.5, 64))))
    )
    group = (command_task("a", "sleep 60", resources=scalars(1, 64)),)
    sent += sent_updates(agent.handle(RunTaskGroup(framework_info=info, executor=pod(), tasks=group)))
    agent.handle(RunTask(framework_info=info, task=custom_task("t1", 64)))
    for container, pid in ((C0, 100), (C2, 102), (C3, 103)):
        sent += sent_updates(agent.handle(ProcessStarted(container_id=container, pid=pid)))
    agent.acknowledge(sent)

    effects = agent.restart(running={C0: 100, C2: 102, C3: 103})
    adopted = {
        e.container_id: (e.pid, e.parent, e.resources)
        for e in sized(effects)
        if isinstance(e, AdoptContainer)
    }
    assert adopted == {
        C0: (100, None, Resources.of(cpus=0.6, mem=96)),  # the command task's, with the overhead
        C1: (None, None, Resources.of(cpus=1.1, mem=96)),  # the pod's, which runs no process
        C2: (102, C1, Resources()),  # its task's, nested in it
        C3: (103, None, Resources.of(cpus=0.6, mem=96)),  # the custom executor's, with its task
    }


def test_a_default_executor_with_no_task_left_after_a_restart_loses_its_container(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    info = framework_info(checkpoint=True)
    sent = sent_updates(
        agent.handle(RunTaskGroup(framework_info=info, executor=pod(), tasks=(command_task("a"),)))
    )
    sent += sent_updates(agent.handle(ProcessStarted(container_id=C1, pid=101)))
    agent.acknowledge(sent)

    effects = agent.restart(exited={C1: 0})  # it ended while no agent ran
    directory = agent.core.state.frameworks[FRAMEWORK].executors[POD].directory
    assert sized(effects) == [
        AdoptContainer(
            container_id=C0, pid=None, sandbox=directory, resources=Resources.of(cpus=0.2, mem=32)
        ),
        DestroyContainer(container_id=C0),
    ]
    # The agent died between the task's end and its executor's DestroyContainer: the next run does it.
    assert sized(agent.restart()) == [DestroyContainer(container_id=C0)]

"""A command task's container: its resources (task + executor overhead), a limitation ending it
(`mesos.md` f.2: an OOM kill is TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY), and its GPUs."""

from __future__ import annotations

import itertools
import signal

from corral.agent.command_tasks import outcome
from corral.agent.core import AgentCore
from corral.agent.effects import Launch, ProcessExited, ProcessStarted
from corral.agent.isolation.limitations import Limitation, memory_limitation
from corral.agent.isolation.limits import MB
from corral.core.ids import ContainerId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.agent import RunTask
from corral.protocol.json import JsonObject, JsonValue
from corral.testing.clock import FakeClock

from ..builders import CONFIG, ack, command_task, framework_info, make_core, registered, sent_updates

C0 = ContainerId("c0")
OOM = memory_limitation(64 * MB, 64 * MB)


def scalar(name: str, value: float) -> dict[str, object]:
    return {"name": name, "type": "SCALAR", "scalar": {"value": value}}


def test_a_limitation_decides_the_outcome_whatever_the_exit_status() -> None:
    assert outcome(signal.SIGKILL, killed=False, timed_out=False, limitation=OOM) == (
        TaskState.TASK_FAILED,
        "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB",
        "REASON_CONTAINER_LIMITATION_MEMORY",
    )
    disk = Limitation(
        reason="REASON_CONTAINER_LIMITATION_DISK", message="Disk usage (2MB) exceeds quota (1MB)"
    )
    assert outcome(0, killed=True, timed_out=True, limitation=disk)[2] == "REASON_CONTAINER_LIMITATION_DISK"
    assert outcome(signal.SIGKILL, killed=False, timed_out=False) == (
        TaskState.TASK_FAILED,
        "Command terminated with signal SIGKILL",
        None,
    )


def test_an_oom_killed_task_fails_with_the_memory_limitation_reported_by_the_agent() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    task = command_task(resources=[scalar("cpus", 0.5), scalar("mem", 32)])
    effects = core.handle(RunTask(framework_info=framework_info(), task=task), clock.now())
    [launch] = [e for e in effects if isinstance(e, Launch)]
    assert launch.resources == Resources.of(cpus=0.6, mem=64)  # the task plus 0.1 cpus and 32 MB
    [starting] = sent_updates(effects)
    core.handle(ProcessStarted(container_id=C0, pid=4242), clock.now())
    [running] = sent_updates(core.handle(ack(starting), clock.now()))

    core.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL, limitation=OOM), clock.now())
    [failed] = sent_updates(core.handle(ack(running), clock.now()))
    assert (failed.state, failed.reason, failed.source) == (
        "TASK_FAILED",
        "REASON_CONTAINER_LIMITATION_MEMORY",
        "SOURCE_AGENT",
    )
    assert failed.message == "Memory limit exceeded: Requested: 64MB Maximum Used: 64MB"


def gpu_core() -> AgentCore:
    containers = (ContainerId(f"c{i}") for i in itertools.count())
    uuids = (i.to_bytes(16, "big") for i in itertools.count(1))
    return AgentCore(
        CONFIG,
        resources=Resources.of(cpus=4, mem=4096, gpus=2),
        new_container_id=lambda: next(containers),
        new_uuid=lambda: next(uuids),
        gpus=(0, 1),
    )


def launched_devices(
    core: AgentCore, task_id: str, gpus: float, now: float, command: str | JsonObject = "nvidia-smi"
) -> str | None:
    resources = [scalar("cpus", 0.1)] + ([scalar("gpus", gpus)] if gpus else [])
    task = command_task(task_id, command, resources=resources)
    effects = core.handle(RunTask(framework_info=framework_info(), task=task), now)
    [launch] = [e for e in effects if isinstance(e, Launch)]
    return dict(launch.environment).get("CUDA_VISIBLE_DEVICES")


def test_each_task_sees_only_its_own_gpus_and_they_are_free_again_once_it_ends() -> None:
    clock, core = FakeClock(), gpu_core()
    registered(core, clock.now())
    assert launched_devices(core, "a", 1, clock.now()) == "0"
    assert launched_devices(core, "b", 1, clock.now()) == "1"
    assert launched_devices(core, "none", 0, clock.now()) == ""  # CUDA shows it no device
    core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())
    assert launched_devices(core, "c", 1, clock.now()) == "0"
    variables: JsonValue = [{"name": "CUDA_VISIBLE_DEVICES", "value": "7"}]
    command: JsonObject = {"value": "nvidia-smi", "environment": {"variables": variables}}
    assert launched_devices(core, "pinned", 1, clock.now(), command) == "7"  # the task's own wins


def test_an_agent_without_gpus_changes_nothing() -> None:
    clock, core = FakeClock(), make_core()
    registered(core, clock.now())
    assert launched_devices(core, "a", 0, clock.now()) is None

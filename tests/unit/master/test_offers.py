"""`validate_accept`: upstream's ACCEPT validation (mesos.md a.6 "Rules", a.10 stale offers)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources
from corral.master.offers import Accepted, InvalidTask, Rejected, TaskLaunch, validate_accept
from corral.protocol.mesos import ExecutorInfo, Offer, TaskInfo
from corral.protocol.scheduler import Launch, LaunchGroup

from .harness import Harness, command_task, executor_task


@pytest.fixture
def master() -> Harness:
    return Harness()


def offered(master: Harness, *hosts: str) -> tuple[FrameworkId, list[Offer]]:
    for host in hosts:
        master.add_agent(host, cpus=2, mem=1024, disk=1024)
    framework_id = master.subscribe()
    return framework_id, master.offers_to(framework_id, master.tick())


def check(
    master: Harness, framework_id: FrameworkId, offers: list[Offer], *ops: Launch | LaunchGroup
) -> Accepted | Rejected:
    framework = master.state.frameworks[framework_id]
    return validate_accept(master.state, framework, tuple(o.id for o in offers), ops)


def reasons(result: Accepted | Rejected) -> list[str]:
    assert isinstance(result, Accepted)
    return [i.reason for i in result.invalid]


def test_a_fitting_task_is_accepted_and_the_rest_is_unused(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    task = command_task("t1", offer.agent_id, cpus=0.5, mem=128)
    result = check(master, framework_id, [offer], Launch(tasks=(task,)))
    assert result == Accepted(
        agent_id=offer.agent_id,
        offered=offer.resources,
        launches=(TaskLaunch(task=task),),
        invalid=(),
        unused=Resources.of(cpus=1.5, mem=896, disk=1024),
    )


@pytest.mark.parametrize("problem", ["unknown", "twice", "two agents", "none"])
def test_offer_problems_reject_the_whole_accept(master: Harness, problem: str) -> None:
    framework_id, offers = offered(master, "a1", "a2")
    chosen = {
        "unknown": [replace(offers[0], id=OfferId("M-O404"))],
        "twice": [offers[0], offers[0]],
        "two agents": offers,
        "none": [],
    }[problem]
    result = check(master, framework_id, chosen, Launch(tasks=(command_task("t", offers[0].agent_id),)))
    assert isinstance(result, Rejected)


def test_an_offer_of_another_framework_is_rejected(master: Harness) -> None:
    _, [offer] = offered(master, "a1")
    other = master.subscribe("other")
    assert isinstance(check(master, other, [offer], Launch(tasks=())), Rejected)


def test_tasks_consume_the_offer_in_order(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    first = command_task("t1", offer.agent_id, cpus=1.5)
    second = command_task("t2", offer.agent_id, cpus=1.0)
    assert reasons(check(master, framework_id, [offer], Launch(tasks=(first, second)))) == [
        "Task uses more resources than offered (cpus: need 1, have 0.5)"
    ]


def test_duplicate_task_ids_are_invalid(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    task = command_task("t1", offer.agent_id, cpus=0.1, mem=32)
    assert reasons(check(master, framework_id, [offer], Launch(tasks=(task, task)))) == [
        "Task has duplicate ID: t1"
    ]


def test_a_task_needs_exactly_one_of_command_or_executor(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    neither = replace(command_task("t1", offer.agent_id), command=None)
    both = replace(
        executor_task("t2", offer.agent_id, "ex"), command=command_task("x", offer.agent_id).command
    )
    assert len(reasons(check(master, framework_id, [offer], Launch(tasks=(neither, both))))) == 2


def test_a_task_without_resources_or_on_another_agent_is_invalid(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    empty = replace(command_task("t1", offer.agent_id), resources=Resources())
    elsewhere = command_task("t2", AgentId("M-S99"))
    assert reasons(check(master, framework_id, [offer], Launch(tasks=(empty, elsewhere)))) == [
        "Task uses no resources",
        f"Task uses agent M-S99, but the offers are for agent {offer.agent_id}",
    ]


def test_a_new_executor_counts_against_the_offer(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    task = executor_task("t1", offer.agent_id, "ex", cpus=2.0, mem=128)  # + executor 0.1 cpus
    assert reasons(check(master, framework_id, [offer], Launch(tasks=(task,))))[0].startswith(
        "Task uses more"
    )


def test_a_task_group_needs_a_default_executor_with_disk(master: Harness) -> None:
    framework_id, [offer] = offered(master, "a1")
    executor = ExecutorInfo(
        executor_id=ExecutorId("pod"), type="DEFAULT", resources=Resources.of(cpus=0.1, mem=32)
    )
    task = TaskInfo(
        name="main", task_id=TaskId("main"), agent_id=offer.agent_id, resources=Resources.of(cpus=1)
    )
    result = check(master, framework_id, [offer], LaunchGroup(executor=executor, tasks=(task,)))
    assert isinstance(result, Accepted)
    [invalid] = result.invalid
    assert invalid == InvalidTask(task=task, reason=invalid.reason, in_group=True)
    with_disk = replace(executor, resources=Resources.of(cpus=0.1, mem=32, disk=32))
    result = check(master, framework_id, [offer], LaunchGroup(executor=with_disk, tasks=(task,)))
    assert isinstance(result, Accepted) and result.invalid == () and len(result.launches) == 1

"""KILL of a command task: SIGTERM, a grace period, then SIGKILL; the task ends TASK_KILLED.

Upstream: mesos.md b.6 "Kill" (grace period = KILL's kill_policy > the task's kill_policy > 3 s; send
TASK_KILLING if the framework has TASK_KILLING_STATE; SIGTERM the process tree, SIGKILL it after the grace
period; killed by the executor -> TASK_KILLED) and a.10 (a KILL of an unknown task is answered as an
explicit reconciliation).
"""

from __future__ import annotations

from signal import SIGKILL, SIGTERM

from corral.core.task_state import TaskState
from corral.protocol.mesos import Capability
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster, SimFramework

RUNNING, KILLING, KILLED = TaskState.TASK_RUNNING, TaskState.TASK_KILLING, TaskState.TASK_KILLED


def running_task(
    *capabilities: str, kill_grace_period: float | None = None
) -> tuple[SimCluster, SimFramework]:
    sim = SimCluster()
    fw = sim.subscribe_framework("svc", capabilities=capabilities)
    sim.run_for(1)
    task = make_task("t1", command="sleep 1000", kill_grace_period=kill_grace_period)
    fw.accept(fw.offers()[0], [task])
    assert fw.state_of("t1") == RUNNING
    return sim, fw


def test_kill_sends_sigterm_and_the_task_ends_killed() -> None:
    sim, fw = running_task()

    fw.kill("t1")

    assert sim.process("t1").signals == [SIGTERM]
    [*_, killed] = fw.updates("t1")
    assert killed.state == KILLED
    assert killed.message == "Command terminated with signal SIGTERM"
    assert sim.tasks() == []


def test_kill_of_a_task_ignoring_sigterm_escalates_to_sigkill_after_the_grace_period() -> None:
    sim, fw = running_task()
    sim.ignore_sigterm("t1")

    fw.kill("t1")
    sim.run_for(2.9)  # the default grace period is 3 s
    assert sim.process("t1").signals == [SIGTERM]
    assert fw.state_of("t1") == RUNNING

    sim.run_for(0.1)
    assert sim.process("t1").signals == [SIGTERM, SIGKILL]
    assert fw.states("t1")[-1] == KILLED
    assert fw.updates("t1")[-1].message == "Command terminated with signal SIGKILL"


def test_framework_with_task_killing_state_hears_task_killing_first() -> None:
    sim, fw = running_task(Capability.TASK_KILLING_STATE)
    sim.ignore_sigterm("t1")

    fw.kill("t1")
    assert fw.states("t1")[-1] == KILLING
    sim.run_for(3)

    assert fw.states("t1") == [TaskState.TASK_STARTING, RUNNING, KILLING, KILLED]


def test_grace_period_comes_from_the_kill_call_then_the_task_kill_policy() -> None:
    sim, fw = running_task(kill_grace_period=10)
    sim.ignore_sigterm("t1")

    fw.kill("t1")
    sim.run_for(9.9)  # the task's kill_policy: 10 s
    assert sim.process("t1").is_running
    fw.kill("t1", grace_period=1)  # a repeated KILL can only shorten it: now + 1 s
    sim.run_for(1)

    assert not sim.process("t1").is_running
    assert fw.state_of("t1") == KILLED


def test_task_killed_by_a_signal_it_did_not_get_from_the_agent_failed() -> None:
    sim, fw = running_task()

    sim.kill_signal("t1", SIGKILL)  # the OOM killer, say

    assert fw.state_of("t1") == TaskState.TASK_FAILED
    assert fw.updates("t1")[-1].message == "Command terminated with signal SIGKILL"


def test_kill_of_an_unknown_task_is_answered_like_a_reconciliation() -> None:
    _, fw = running_task()

    fw.kill("nope")

    [answer] = fw.updates("nope")
    assert answer.state == TaskState.TASK_LOST  # TASK_UNKNOWN, for a framework that is not partition-aware
    assert answer.reason == "REASON_RECONCILIATION"

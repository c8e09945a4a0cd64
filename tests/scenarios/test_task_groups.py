"""Task groups (LAUNCH_GROUP) on the DEFAULT executor, which the agent itself plays.

Upstream: mesos.md a.6 ("ACCEPT with LAUNCH_GROUP"; "Killing one task of a group kills the whole group"),
and upstream's default executor: a failed task takes its siblings down, a finished one does not.
"""

from __future__ import annotations

from corral.core.task_state import TaskState
from corral.testing.builders import make_default_executor, make_task
from corral.testing.sim import SimCluster
from corral.testing.sim_framework import SimFramework

STARTING, RUNNING, FINISHED = TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_FINISHED
FAILED, KILLED = TaskState.TASK_FAILED, TaskState.TASK_KILLED


def launched_group(sim: SimCluster) -> SimFramework:
    fw = sim.subscribe_framework("pods")
    sim.run_for(1)
    [offer] = fw.offers()
    group = [make_task("pod.web", cpus=0.5, mem=128), make_task("pod.sidecar", cpus=0.5, mem=128)]
    fw.launch_group(offer, make_default_executor("pod"), group)
    assert fw.states("pod.web") == [STARTING, RUNNING]
    assert fw.states("pod.sidecar") == [STARTING, RUNNING]
    return fw


def test_every_task_of_a_group_runs_and_reports_under_the_groups_executor() -> None:
    sim = SimCluster(agents=1, resources="cpus:2;mem:2048;disk:1024")
    fw = launched_group(sim)
    assert {u.executor_id for u in fw.updates("pod.web") + fw.updates("pod.sidecar")} == {"pod"}

    sim.exit("pod.web", code=0)  # a finished task leaves its sibling running
    assert fw.states("pod.web")[-1] == FINISHED
    assert fw.states("pod.sidecar")[-1] == RUNNING

    sim.exit("pod.sidecar", code=0)
    assert fw.states("pod.sidecar")[-1] == FINISHED
    assert sim.tasks() == []


def test_a_failed_task_takes_the_rest_of_its_group_down() -> None:
    sim = SimCluster(agents=1, resources="cpus:2;mem:2048;disk:1024")
    fw = launched_group(sim)

    sim.exit("pod.web", code=1)

    assert fw.states("pod.web")[-1] == FAILED
    assert fw.states("pod.sidecar")[-1] == KILLED

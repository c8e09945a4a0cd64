"""An agent cut off from the master: back in time it keeps its tasks; too late they are lost, and found.

Upstream: mesos.md d.4 "Agent health" and "TCP disconnect without failed pings" (the agent is
deactivated and its offers rescinded; if it does not re-register within agent_reregister_timeout it is
marked unreachable: TASK_LOST (TASK_UNREACHABLE for PARTITION_AWARE), REASON_AGENT_REMOVED, FAILURE{agent_id};
since 1.5.0 a returning agent's tasks are re-added and re-announced with REASON_AGENT_REREGISTERED).
"""

from __future__ import annotations

from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.protocol.mesos import Capability, Source
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster, SimFramework

RUNNING, LOST = TaskState.TASK_RUNNING, TaskState.TASK_LOST
TIMEOUT = 600.0  # agent_reregister_timeout, upstream's default and minimum (10 min)


def cluster_with_a_task(*capabilities: str) -> tuple[SimCluster, SimFramework]:
    sim = SimCluster(agents=2, master_config=MasterConfig(agent_reregister_timeout=TIMEOUT))
    fw = sim.subscribe_framework("svc", failover_timeout=86400, capabilities=capabilities)
    sim.run_for(1)
    fw.accept(fw.offers(sim.agents[0].id), [make_task("t1", command="sleep 1000")])
    fw.decline_all()
    assert fw.state_of("t1") == RUNNING
    return sim, fw


def test_isolated_agent_loses_its_offers_at_once() -> None:
    sim = SimCluster(agents=2)
    fw = sim.subscribe_framework()
    sim.run_for(1)
    agent = sim.agents[0]

    sim.isolate(agent)

    assert [o.agent_id for o in fw.offers()] == [sim.agents[1].id]
    sim.run_for(10)
    assert all(o.agent_id != agent.id for o in fw.offers())


def test_agent_back_before_the_reregister_timeout_keeps_its_tasks() -> None:
    sim, fw = cluster_with_a_task()
    seen = len(fw.updates("t1"))

    sim.isolate(sim.agents[0])
    sim.run_for(TIMEOUT - 1)
    sim.heal(sim.agents[0])
    sim.run_for(TIMEOUT)

    assert sim.tasks(state=RUNNING) == ["t1"]
    assert len(fw.updates("t1")) == seen  # nothing to tell: the task never stopped running
    assert fw.failures() == []
    assert sim.process("t1").is_running


def test_agent_past_the_reregister_timeout_has_its_tasks_lost_then_found_when_it_returns() -> None:
    sim, fw = cluster_with_a_task()
    agent = sim.agents[0]

    sim.isolate(agent)
    sim.run_for(TIMEOUT)

    lost = fw.updates("t1")[-1]
    assert (lost.state, lost.reason, lost.source) == (LOST, "REASON_AGENT_REMOVED", Source.SOURCE_MASTER)
    assert [f.agent_id for f in fw.failures()] == [agent.id]
    assert sim.process("t1").is_running  # the task itself never noticed

    sim.heal(agent)

    back = fw.updates("t1")[-1]
    assert (back.state, back.reason) == (RUNNING, "REASON_AGENT_REREGISTERED")
    assert sim.tasks(state=RUNNING) == ["t1"]


def test_partition_aware_framework_hears_task_unreachable() -> None:
    sim, fw = cluster_with_a_task(Capability.PARTITION_AWARE)

    sim.isolate(sim.agents[0])
    sim.run_for(TIMEOUT)

    unreachable = fw.updates("t1")[-1]
    assert unreachable.state == TaskState.TASK_UNREACHABLE
    assert unreachable.reason == "REASON_AGENT_REMOVED"
    assert "unreachable_time" in unreachable.extra

    sim.heal(sim.agents[0])
    assert fw.state_of("t1") == RUNNING


def test_task_that_finished_during_the_partition_is_reported_when_the_agent_returns() -> None:
    sim, fw = cluster_with_a_task()

    sim.isolate(sim.agents[0])
    sim.exit("t1", code=0)  # the agent records TASK_FINISHED but cannot send it
    sim.run_for(60)
    assert fw.state_of("t1") == RUNNING
    sim.heal(sim.agents[0])

    assert fw.state_of("t1") == TaskState.TASK_FINISHED
    assert sim.tasks() == []


def test_task_lost_with_its_agent_that_finished_meanwhile_is_reported_finished_when_it_returns() -> None:
    sim, fw = cluster_with_a_task()

    sim.isolate(sim.agents[0])
    sim.exit("t1", code=0)
    sim.run_for(TIMEOUT)
    sim.heal(sim.agents[0])

    # TASK_LOST is not final (rule 1 of core/task_state.py, upstream since 1.5): the agent's report wins.
    assert fw.states("t1")[-2:] == [LOST, TaskState.TASK_FINISHED]
    assert fw.unacknowledged() == []
    assert sim.tasks() == []


def test_resources_of_a_lost_agent_are_not_offered_until_it_returns() -> None:
    sim, fw = cluster_with_a_task()
    agent = sim.agents[0]
    sim.isolate(agent)
    sim.run_for(TIMEOUT)
    sim.run_for(10)
    assert all(o.agent_id != agent.id for o in fw.offers())

    sim.heal(agent)
    sim.run_for(10)

    [offer] = fw.offers(agent.id)
    assert offer.resources.cpus == 1.5  # cpus:2 minus the 0.5 of t1, which is running again


def test_agent_back_from_a_silent_partition_keeps_its_tasks() -> None:
    sim, fw = cluster_with_a_task()

    sim.isolate(sim.agents[0], silent=True)  # no connection closes: neither end notices at once
    sim.exit("t1", code=0)
    sim.run_for(30)
    sim.heal(sim.agents[0])

    assert fw.state_of("t1") == TaskState.TASK_FINISHED
    assert sim.tasks() == []


def test_silent_agent_is_marked_unreachable_after_five_missed_pings() -> None:
    sim, fw = cluster_with_a_task()
    agent = sim.agents[0]

    sim.isolate(agent, silent=True)
    sim.run_for(5 * 15 + 15)  # max_agent_ping_timeouts x agent_ping_timeout, and one more ping period

    assert fw.state_of("t1") == LOST
    assert fw.updates("t1")[-1].reason == "REASON_AGENT_REMOVED"
    assert [f.agent_id for f in fw.failures()] == [agent.id]


def test_kill_sent_while_the_agent_is_disconnected_takes_effect_when_it_returns() -> None:
    sim, fw = cluster_with_a_task()
    agent = sim.agents[0]

    sim.isolate(agent)
    assert fw.kill("t1") == 202
    sim.run_for(30)
    sim.heal(agent)
    sim.run_for(10)

    assert not sim.process("t1").is_running
    assert fw.state_of("t1") == TaskState.TASK_KILLED

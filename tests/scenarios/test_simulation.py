"""SimCluster itself: deterministic, and as lossy as the links it models (testing/sim.py rules 1-4)."""

from __future__ import annotations

from corral.core.task_state import TaskState
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster


def busy_cluster(seed: int) -> SimCluster:
    sim = SimCluster(agents=3, seed=seed)
    a = sim.subscribe_framework("a", failover_timeout=60)
    b = sim.subscribe_framework("b", auto_ack=False)
    sim.run_for(1)
    for n, offer in enumerate(a.offers()):
        a.accept(offer, [make_task(f"a{n}")])
    b.decline_all(refuse_seconds=2)
    sim.run_for(3)
    for n, offer in enumerate(b.offers()):
        b.accept(offer, [make_task(f"b{n}", cpus=1)])
    sim.isolate(sim.agents[0])
    sim.exit_all(code=0)
    a.disconnect()
    sim.run_for(30)
    sim.heal(sim.agents[0])
    a.resubscribe()
    sim.run_for(100)
    return sim


def test_same_seed_same_history() -> None:
    first, second = busy_cluster(seed=7), busy_cluster(seed=7)

    assert first.log == second.log
    assert [f.received for f in first.frameworks] == [f.received for f in second.frameworks]


def test_nothing_crosses_a_cut_link_and_processes_survive_it() -> None:
    sim = SimCluster()
    fw = sim.subscribe_framework(failover_timeout=60)
    sim.run_for(1)
    fw.accept(fw.offers()[0], [make_task("t1")])

    sim.isolate(sim.agents[0])
    sim.exit("t1")
    sim.run_for(60)

    assert fw.state_of("t1") == TaskState.TASK_RUNNING  # the agent's TASK_FINISHED never left it
    assert not sim.process("t1").is_running


def test_clock_moves_only_in_run_for() -> None:
    sim = SimCluster()
    start = sim.now()
    fw = sim.subscribe_framework()
    assert fw.offers() == []  # the allocation the subscription asked for runs on the next loop turn

    sim.run_for(0)

    assert len(fw.offers()) == 1
    assert sim.now() == start

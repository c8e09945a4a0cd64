"""Offers, refused-offer filters and DRF across frameworks, on a whole cluster.

Upstream: mesos.md e.1 (one offer is a whole agent's free resources; "Each declined or unused bundle
installs a refused-offer filter ... lasting refuse_seconds (default 5 s)"; DRF share = max over resources
of allocated / total; 1 s allocation interval) and a.10 "Offer lifecycle".
"""

from __future__ import annotations

from corral.core.task_state import TaskState
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster


def test_declined_offer_is_offered_again_only_after_refuse_seconds() -> None:
    sim = SimCluster(agents=1)
    fw = sim.subscribe_framework()
    sim.run_for(1)
    [offer] = fw.offers()

    fw.decline(offer, refuse_seconds=10)
    sim.run_for(9.5)  # nine more allocation cycles: the filter holds
    assert fw.offers() == []

    sim.run_for(0.5)  # 10 s after the decline the filter has expired
    [again] = fw.offers()
    assert again.agent_id == offer.agent_id and again.id != offer.id
    assert again.resources == offer.resources


def test_decline_without_filter_uses_the_default_five_seconds() -> None:
    sim = SimCluster(agents=1)
    fw = sim.subscribe_framework()
    sim.run_for(1)

    fw.decline_all()  # no refuse_seconds given: 5 s
    sim.run_for(4.5)
    assert fw.offers() == []
    sim.run_for(0.5)
    assert len(fw.offers()) == 1


def test_resources_an_accept_leaves_unused_are_filtered_for_its_refuse_seconds() -> None:
    sim = SimCluster(agents=1, resources="cpus:4;mem:4096")
    fw = sim.subscribe_framework()
    sim.run_for(1)

    fw.accept(fw.offers()[0], [make_task("t1", cpus=1, mem=1024)], refuse_seconds=3)
    sim.run_for(2.5)
    assert fw.offers() == []
    sim.run_for(0.5)

    [rest] = fw.offers()  # cpus:4;mem:4096 - cpus:1;mem:1024
    assert (rest.resources.cpus, rest.resources.mem) == (3, 3072)


def test_a_filtered_agent_is_offered_to_another_framework_at_the_next_cycle() -> None:
    sim = SimCluster(agents=1)
    first = sim.subscribe_framework("first")
    sim.run_for(1)
    second = sim.subscribe_framework("second")

    first.decline_all(refuse_seconds=60)
    sim.run_for(1)

    assert first.offers() == []
    assert len(second.offers()) == 1


def test_two_frameworks_share_the_cluster_by_dominant_resource_fairness() -> None:
    sim = SimCluster(agents=4, resources="cpus:4;mem:4096")  # cluster: cpus 16, mem 16384
    a = sim.subscribe_framework("a")
    b = sim.subscribe_framework("b")
    sim.run_for(1)  # both subscribed in the same instant: one allocation cycle serves both

    # Each agent goes to the framework with the lower dominant share: a 0 -> a, b 0 -> b, a 1/4 = b 1/4 ->
    # a, b 1/4 -> b. Two agents each.
    assert len(a.offers()) == 2 and len(b.offers()) == 2

    # a fills its two agents (share 8/16 = 0.5); b declines its two without a filter (share 0).
    for offer in a.offers():
        a.accept(offer, [make_task(f"a-{offer.hostname}", cpus=4, mem=4096)])
    b.decline_all(refuse_seconds=0)
    sim.run_for(1)

    # The freed agents both go to b: b 0 < a 0.5, then b 0.25 < a 0.5.
    assert len(b.offers()) == 2 and a.offers() == []
    assert len(sim.tasks(state=TaskState.TASK_RUNNING)) == 2


def test_dominant_share_is_the_largest_share_over_all_resources() -> None:
    sim = SimCluster(agents=0)
    a1 = sim.add_agent("cpus:4;mem:512")
    a2 = sim.add_agent("cpus:1;mem:4096")
    cpu_heavy = sim.subscribe_framework("cpu-heavy")
    sim.run_for(1)
    cpu_heavy.accept(cpu_heavy.offers(a1.id), [make_task("crunch", cpus=4, mem=512)])
    cpu_heavy.decline(cpu_heavy.offers(a2.id), refuse_seconds=3600)
    mem_heavy = sim.subscribe_framework("mem-heavy")
    sim.run_for(1)
    mem_heavy.accept(mem_heavy.offers(a2.id), [make_task("cache", cpus=1, mem=4096)])

    a3 = sim.add_agent("cpus:3;mem:1536")  # cluster: cpus 8, mem 6144
    sim.run_for(1)

    # cpu-heavy: max(cpus 4/8, mem 512/6144) = 0.5; mem-heavy: max(cpus 1/8, mem 4096/6144) = 0.67.
    # Counting cpus alone would favour mem-heavy (0.125 < 0.5); DRF serves cpu-heavy first.
    assert [o.agent_id for o in cpu_heavy.offers()] == [a3.id]
    assert mem_heavy.offers() == []

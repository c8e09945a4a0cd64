"""Marathon's offer cycle (marathon.md c.1 scale-down, c.2, c.3, c.7): launches, declines, kills, revive and
suppress, each as a short scenario on a `Fleet` with a fake clock."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.core.task_state import TaskState
from corral.marathon.instance import Goal
from corral.marathon.paths import PathId
from corral.marathon.scheduler import SchedulerConfig
from corral.protocol.json import JsonValue
from corral.protocol.scheduler import Accept, Decline, Kill, Launch, Revive, Suppress

from .scheduling_fixtures import Fleet, make_app, make_offer

WEB = PathId.parse("/web")


def test_an_app_is_launched_on_one_offer_and_the_instances_are_returned_first() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=2, cpus=1, mem=128))
    decision = fleet.cycle(make_offer("a1", cpus=4, mem=1024))
    assert len(decision.launched) == 2  # two instances on one offer
    [accept] = decision.plan.accepts
    [launch] = accept.operations
    assert isinstance(launch, Launch)
    assert [t.task_id for t in launch.tasks] == [i.task_id for i in decision.launched]
    assert all(str(t.task_id).startswith("web.") for t in launch.tasks)
    assert decision.queue == ()  # nothing left to launch
    assert decision.plan.suppress  # so the master stops offering


def test_instances_spread_over_offers_when_one_is_too_small() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=3, cpus=1, mem=128))
    decision = fleet.cycle(make_offer("a1", cpus=1), make_offer("a2", cpus=2))
    assert sorted(i.agent.agent_id for i in decision.launched) == ["a1", "a2", "a2"]


def test_two_instances_on_one_offer_get_different_ports() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=2, portDefinitions=[{"port": 0}, {"port": 0}]))
    decision = fleet.cycle(make_offer("a1", ports=[(31000, 31003)]))
    assert [i.host_ports for i in decision.launched] == [(31000, 31001), (31002, 31003)]


def test_at_most_max_instances_per_offer_are_launched_on_one_offer() -> None:
    fleet = Fleet(config=SchedulerConfig(max_instances_per_offer=2))
    fleet.put(make_app("/web", instances=5, cpus=0.1))
    decision = fleet.cycle(make_offer("a1"))
    assert len(decision.launched) == 2
    assert decision.queue[0].count == 3


def test_an_offer_cut_short_by_the_limit_is_refused_for_no_time_while_instances_wait() -> None:
    fleet = Fleet(config=SchedulerConfig(max_instances_per_offer=2))
    fleet.put(make_app("/web", instances=3, cpus=0.1))
    [accept] = fleet.cycle(make_offer("a1")).plan.accepts
    assert accept.refuse_seconds == 0.0  # the rest of the offer comes back with the next allocation
    [accept] = fleet.cycle(make_offer("a1")).plan.accepts  # the last instance: nothing waits after it
    assert accept.refuse_seconds == fleet.config.accept_refuse_seconds


def test_one_decision_places_hundreds_of_instances_of_one_app() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=500, cpus=0.01, mem=1))
    offers = [
        make_offer(f"a{n}", cpus=64, mem=65536, ports=[(31000 + 200 * n, 31199 + 200 * n)]) for n in range(5)
    ]
    decision = fleet.cycle(*offers)
    assert len(decision.launched) == 500  # 100 per offer: upstream's 5 made this take 20 allocations
    assert decision.queue == ()


def test_waiting_apps_take_turns_on_an_offer() -> None:
    fleet = Fleet()
    fleet.put(make_app("/a", instances=3, cpus=1))
    fleet.put(make_app("/b", instances=3, cpus=1))
    decision = fleet.cycle(make_offer("a1", cpus=2))
    assert sorted(str(i.app_id) for i in decision.launched) == ["/a", "/b"]


def test_an_unused_offer_is_declined_for_120_s_when_nothing_waits() -> None:
    fleet = Fleet()
    decision = fleet.cycle(make_offer("a1"))
    assert [(d.offer_ids, d.refuse_seconds) for d in decision.plan.declines] == [(("offer-a1",), 120.0)]


def test_an_offer_too_small_for_a_waiting_app_is_declined_briefly_and_the_reason_kept() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", cpus=2))
    decision = fleet.cycle(make_offer("a1", cpus=1))
    assert [d.refuse_seconds for d in decision.plan.declines] == [5.0]
    [outcome] = decision.offer_outcomes
    assert outcome.no_match is not None
    assert [r.detail for r in outcome.no_match.rejections] == ["cpus: need 2, have 1"]


def test_suppress_when_the_queue_empties_and_revive_when_an_app_is_added() -> None:
    fleet = Fleet()
    assert fleet.cycle().plan.suppress  # nothing to do: stop the offers
    assert fleet.cycle().plan.is_empty  # already suppressed: say nothing
    fleet.put(make_app("/web"))
    calls = fleet.cycle().plan.to_calls()
    assert [type(c) for c in calls] == [Revive]
    assert fleet.cycle().plan.is_empty  # still waiting, already revived
    decision = fleet.cycle(make_offer("a1"))
    assert [type(c) for c in decision.plan.to_calls()] == [Accept, Suppress]


def test_a_delayed_app_waits_and_the_cycle_asks_to_be_woken_when_the_delay_ends() -> None:
    fleet = Fleet()
    app = make_app("/web", backoffSeconds=10)
    fleet.put(app)
    fleet.delays = fleet.delays.add_failure(app, "2024-01-01T00:00:00.000Z", fleet.clock.now())
    decision = fleet.cycle(make_offer("a1"))
    assert decision.launched == ()
    assert decision.queue[0].delayed_until == fleet.clock.now() + 10
    assert decision.wake_at == fleet.clock.now() + 10
    assert decision.plan.declines[0].refuse_seconds == 120.0  # nothing can use offers before then
    fleet.clock.advance(10)
    assert fleet.cycle().plan.revive  # it may launch again: ask for offers
    decision = fleet.cycle(make_offer("a1"))
    assert len(decision.launched) == 1


def test_a_launch_never_confirmed_is_killed_after_the_confirm_timeout_and_then_replaced() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=1))
    [lost] = fleet.cycle(make_offer("a1")).launched  # the ACCEPT never reached the master
    assert fleet.cycle().wake_at == fleet.clock.now() + 300
    fleet.clock.advance(300)
    [kill] = fleet.cycle().plan.kills
    assert kill.task_id == lost.task_id
    fleet.update(lost, TaskState.TASK_LOST)  # what the master answers for a task it does not know
    assert len(fleet.cycle(make_offer("a1")).launched) == 1


def test_a_failed_instance_is_replaced() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=1))
    [first] = fleet.cycle(make_offer("a1")).launched
    fleet.update(first, TaskState.TASK_FAILED)
    [second] = fleet.cycle(make_offer("a1")).launched
    assert second.instance_id != first.instance_id


def test_scale_down_kills_the_youngest() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=3))
    for agent in ("a1", "a2", "a3"):  # one each, started one second apart
        fleet.cycle(make_offer(agent, cpus=0.5))
        fleet.run_all()
        fleet.clock.advance(1)
    fleet.put(make_app("/web", instances=1))
    decision = fleet.cycle()
    assert sorted(str(k.agent_id) for k in decision.plan.kills) == ["a2", "a3"]
    assert all(i.goal is Goal.DECOMMISSIONED for i in decision.updated)
    assert fleet.cycle().plan.kills == ()  # asked once, not every turn


def test_scale_down_with_oldest_first_kills_the_oldest() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=2))
    for agent in ("a1", "a2"):
        fleet.cycle(make_offer(agent, cpus=0.5))
        fleet.run_all()
        fleet.clock.advance(1)
    fleet.put(make_app("/web", instances=1, killSelection="OLDEST_FIRST"))
    [kill] = fleet.cycle().plan.kills
    assert kill.agent_id == "a1"


def test_staging_instances_are_killed_before_running_ones() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=1))
    fleet.cycle(make_offer("a1"))
    fleet.run_all()
    fleet.put(make_app("/web", instances=2))
    fleet.cycle(make_offer("a2"))  # staged, never running
    fleet.put(make_app("/web", instances=1))
    [kill] = fleet.cycle().plan.kills
    assert kill.agent_id == "a2"


def test_scale_down_evens_out_group_by_groups_first() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=3, constraints=[["rack", "GROUP_BY"]]))
    fleet.cycle(make_offer("a2", attributes="rack:r2", cpus=1))  # room for two: r2 has 2
    fleet.run_all()
    fleet.clock.advance(1)
    fleet.cycle(make_offer("a1", attributes="rack:r1", cpus=0.5))  # r1 has 1, the youngest
    fleet.run_all()
    fleet.put(make_app("/web", instances=2, constraints=[["rack", "GROUP_BY"]]))
    [kill] = fleet.cycle().plan.kills
    assert kill.agent_id == "a2"  # not the youngest: the one that evens out the racks


def test_kill_grace_period_comes_from_the_app_and_kills_are_retried() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=1, taskKillGracePeriodSeconds=7))
    fleet.cycle(make_offer("a1"))
    fleet.put(make_app("/web", instances=0, taskKillGracePeriodSeconds=7))
    decision = fleet.cycle()
    assert [k.grace_period for k in decision.plan.kills] == [7]
    assert decision.wake_at == fleet.clock.now() + 10
    fleet.clock.advance(10)  # no TASK_KILLED yet: ask again
    assert [type(c) for c in fleet.cycle().plan.to_calls()] == [Kill]


def test_instances_of_a_removed_app_are_killed() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=2))
    fleet.cycle(make_offer("a1"))
    fleet.remove("/web")
    decision = fleet.cycle()
    assert len(decision.plan.kills) == 2
    assert fleet.cycle().plan.kills == ()


def test_an_unreachable_instance_is_replaced_after_inactive_after_seconds() -> None:
    fleet = Fleet()
    strategy: JsonValue = {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120}
    fleet.put(make_app("/web", instances=1, unreachableStrategy=strategy))
    [lost] = fleet.cycle(make_offer("a1")).launched
    fleet.run_all()
    fleet.update(lost, TaskState.TASK_UNREACHABLE)
    decision = fleet.cycle(make_offer("a2"))
    assert decision.launched == ()  # still counts as running for 60 s
    assert decision.wake_at == fleet.clock.now() + 60
    fleet.clock.advance(60)
    [replacement] = fleet.cycle(make_offer("a2")).launched
    fleet.run_all()
    fleet.update(lost, TaskState.TASK_RUNNING)  # it came back: one too many, the youngest goes
    [kill] = fleet.cycle().plan.kills
    assert kill.task_id == replacement.task_id


@given(
    agents=st.lists(st.sampled_from(["a1", "a2", "a3", "a4"]), min_size=1, max_size=12),
    instances=st.integers(1, 6),
    cpus=st.sampled_from([0.5, 1.0, 4.0]),
)
@settings(max_examples=60, deadline=None)
def test_unique_hostname_never_puts_two_instances_on_one_agent(
    agents: list[str], instances: int, cpus: float
) -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=instances, cpus=cpus, constraints=[["hostname", "UNIQUE"]]))
    for agent in agents:  # offers arrive one by one, from any agent, any number of times
        fleet.cycle(make_offer(agent, cpus=4))
    hosts = [i.agent.hostname for i in fleet.live()]
    assert len(hosts) == len(set(hosts))
    assert len(hosts) == min(instances, len(set(agents)))


def test_a_declined_offer_is_reported_once_per_refuse_duration() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", cpus=8))
    decision = fleet.cycle(make_offer("a1", cpus=1), make_offer("a2", cpus=1))
    [decline] = [c for c in decision.plan.to_calls() if isinstance(c, Decline)]
    assert decline.offer_ids == ("offer-a1", "offer-a2")  # one call for both


def test_an_instance_already_killed_for_its_health_counts_toward_a_scale_down() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web", instances=3))
    fleet.cycle(make_offer("a1"))
    fleet.run_all()
    sick = fleet.live()[0]
    fleet.instances[sick.instance_id] = sick.with_kill_requested(fleet.clock.now(), decommission=False)
    fleet.put(make_app("/web", instances=2))
    assert fleet.cycle().plan.kills == ()  # the sick one leaving is the scale-down

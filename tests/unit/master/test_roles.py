"""Roles in the master core: MULTI_ROLE offers, reservations, weights, quota, per-role filters, SUPPRESS and
REVIVE per role, `--roles`, `--min_allocatable_resources` (mesos.md e.1, a.6, a.9, a.10).

Share arithmetic is written beside each step, as upstream's allocator tests do; clusters are sized so the
numbers are round.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.core.reservations import static
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.messages import AgentRegister, BindAgent, CloseStream, Effect, FrameworkSubscribe
from corral.master.roles import QuotaConfig
from corral.master.state import StreamId
from corral.master.state_json import metrics_json, state_json
from corral.protocol.agent import Register
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import AgentInfo, Capability, FrameworkInfo, Offer, TaskInfo
from corral.protocol.scheduler import Decline, Revive, Subscribe, Suppress

from .harness import Harness, command_task

MULTI_ROLE = frozenset({Capability.MULTI_ROLE.value})


def reserved_agent(
    master: Harness, hostname: str, *, cpus: float, mem: float, role: str, rcpus: float, rmem: float
) -> AgentId:
    """An agent with `cpus`/`mem` unreserved plus `rcpus`/`rmem` statically reserved for `role`."""
    reserved = {static(role): Resources.of(cpus=rcpus, mem=rmem)}
    info = AgentInfo(
        hostname=hostname,
        resources=Resources.of(cpus=cpus + rcpus, mem=mem + rmem),
        reservations=reserved,
    )
    connection = len(master.connection_of) + 100
    effects = master.send(
        AgentRegister(connection=connection, register=Register(agent_info=info, ip="10.0.0.9"))
    )
    [bound] = [e for e in effects if isinstance(e, BindAgent)]
    master.connection_of[bound.agent_id] = connection
    return bound.agent_id


def doc(value: JsonValue) -> Any:
    """A JSON document, to index freely in assertions."""
    return value


def offers_by_role(
    master: Harness, framework_id: FrameworkId, effects: list[Effect] | None = None
) -> dict[str, int]:
    counts: dict[str, int] = {}
    for offer in master.offers_to(framework_id, effects):
        counts[offer.role] = counts.get(offer.role, 0) + 1
    return counts


def reserved_task(task_id: str, agent_id: AgentId, role: str, *, cpus: float, mem: float) -> TaskInfo:
    """A task using reserved resources, tagged as the framework echoes them (pre-refinement `role`)."""
    task = command_task(task_id, agent_id, cpus=cpus, mem=mem)
    raw: JsonObject = {
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": role},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": role},
        ]
    }
    return replace(task, raw=raw)


# ---------------------------------------------------------------- MULTI_ROLE


def test_a_multi_role_framework_is_offered_in_each_of_its_roles() -> None:
    master = Harness()
    for i in range(2):
        master.add_agent(f"a{i}", cpus=2, mem=2048)
    framework_id = master.subscribe(roles=("eng", "ops"), capabilities=MULTI_ROLE)
    offers = master.offers_to(framework_id, master.tick())
    # a0 -> eng (both shares 0, eng first by name); then eng holds 2/4 cpus = 0.5 > ops 0 -> a1 -> ops
    assert sorted(o.role for o in offers) == ["eng", "ops"]
    encoded = doc(offers[0].to_json(multi_role=True))
    assert encoded["allocation_info"] == {"role": offers[0].role}
    assert all(r["allocation_info"] == {"role": offers[0].role} for r in encoded["resources"])


def test_a_single_role_framework_sees_role_star_and_no_allocation_info() -> None:
    master = Harness()
    master.add_agent(cpus=2, mem=2048)
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    encoded = doc(offer.to_json(multi_role=False))
    assert "allocation_info" not in encoded
    assert all(r["role"] == "*" and "allocation_info" not in r for r in encoded["resources"])


# ---------------------------------------------------------------- reservations


def test_reserved_resources_go_only_to_their_role_with_the_unreserved_ones() -> None:
    master = Harness()
    agent_id = reserved_agent(master, "a1", cpus=2, mem=1024, role="eng", rcpus=2, rmem=1024)
    ops = master.subscribe("ops", roles=("ops",), capabilities=MULTI_ROLE)
    [offer] = master.offers_to(ops, master.tick())
    assert offer.resources == Resources.of(cpus=2, mem=1024) and offer.reservations == {}

    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    [eng_offer] = master.offers_to(eng, master.tick())
    assert eng_offer.resources == Resources.of(cpus=2, mem=1024), "only the reservation is left"
    assert eng_offer.reservations == {static("eng"): Resources.of(cpus=2, mem=1024)}
    [cpus, _] = doc(eng_offer.to_json(multi_role=True))["resources"]
    assert cpus == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 2.0},
        "role": "eng",
        "reservations": [{"type": "STATIC", "role": "eng"}],
        "allocation_info": {"role": "eng"},
    }
    assert master.state.agents[agent_id].free.is_empty()


def test_a_subrole_is_offered_its_parents_reservations() -> None:
    master = Harness()
    reserved_agent(master, "a1", cpus=0, mem=0, role="eng", rcpus=1, rmem=128)
    web = master.subscribe("web", roles=("eng/web",), capabilities=MULTI_ROLE)
    [offer] = master.offers_to(web, master.tick())
    assert offer.role == "eng/web" and offer.reservations == {static("eng"): Resources.of(cpus=1, mem=128)}


def test_tasks_use_reserved_resources_as_tagged() -> None:
    master = Harness()
    agent_id = reserved_agent(master, "a1", cpus=1, mem=256, role="eng", rcpus=2, rmem=512)
    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    [offer] = master.offers_to(eng, master.tick())
    master.launch(eng, offer, reserved_task("t1", agent_id, "eng", cpus=2, mem=512))
    agent = master.state.agents[agent_id]
    assert agent.used_reserved == {static("eng"): Resources.of(cpus=2, mem=512)}
    assert agent.free_reserved == {}
    assert master.state.roles.used_reserved == {"eng": {"cpus": 2.0, "mem": 512.0}}

    [again] = master.offers_to(eng, master.tick(5))  # the filter on what was left has lapsed
    assert again.resources == Resources.of(cpus=1, mem=256) and again.reservations == {}
    # Untagged resources are unreserved: 2 cpus do not fit in the 1 unreserved cpu offered.
    effects = master.launch(eng, again, command_task("t2", agent_id, cpus=2, mem=128))
    [update] = master.updates_to(eng, effects)
    assert update.state == TaskState.TASK_ERROR

    master.status_update(agent_id, eng, "t1", TaskState.TASK_FINISHED)
    assert agent.used_reserved == {} and agent.free_reserved == {static("eng"): Resources.of(cpus=2, mem=512)}


def test_state_shows_reserved_and_unreserved_resources_per_agent() -> None:
    master = Harness()
    reserved_agent(master, "a1", cpus=2, mem=1024, role="eng", rcpus=1, rmem=64)
    [agent] = doc(state_json(master.state, master.config))["slaves"]
    assert agent["reserved_resources"] == {"eng": {"cpus": 1.0, "gpus": 0.0, "mem": 64.0, "disk": 0.0}}
    assert agent["unreserved_resources"]["cpus"] == 2.0


# ---------------------------------------------------------------- weights and DRF across roles


def test_weights_scale_a_roles_share() -> None:
    master = Harness(config=MasterConfig(weights={"eng": 2.0}))
    for i in range(6):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    ops = master.subscribe("ops", roles=("ops",), capabilities=MULTI_ROLE)
    effects = master.tick()
    # totals 6 cpus. Shares: eng = held/6/2, ops = held/6. Ties go to the name (eng < ops).
    # a0 eng (0 vs 0) -> eng 1/12; a1 ops -> ops 1/6; a2 eng (1/12 < 1/6) -> eng 2/12;
    # a3 eng (2/12 = 1/6, tie, eng first) -> eng 3/12; a4 ops (3/12 > 1/6) -> ops 2/6; a5 eng -> eng 4/12
    assert len(master.offers_to(eng, effects)) == 4
    assert len(master.offers_to(ops, effects)) == 2


def test_drf_across_roles_then_across_the_frameworks_of_a_role() -> None:
    master = Harness()
    for i in range(4):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    a = master.subscribe("a", roles=("eng",), capabilities=MULTI_ROLE)
    b = master.subscribe("b", roles=("eng",), capabilities=MULTI_ROLE)
    c = master.subscribe("c", roles=("ops",), capabilities=MULTI_ROLE)
    effects = master.tick()
    # roles: eng and ops alternate (a0 eng, a1 ops, a2 eng, a3 ops); inside eng, a then b.
    assert [len(master.offers_to(f, effects)) for f in (a, b, c)] == [1, 1, 2]


# ---------------------------------------------------------------- quota


def test_a_quota_guarantee_is_served_before_fair_sharing() -> None:
    master = Harness()
    for i in range(4):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    assert master.core.update_quota([QuotaConfig(role="ops", guarantees={"cpus": 3})]) is None
    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    ops = master.subscribe("ops", roles=("ops",), capabilities=MULTI_ROLE)
    effects = master.tick()
    # Stage 1: ops is below its guarantee of 3 cpus: it takes a0, a1, a2 (cpus only up to the guarantee,
    # memory as headroom allows). Stage 2: eng (share 0) gets what is left on a3.
    ops_offers = master.offers_to(ops, effects)
    assert sum(o.resources.cpus for o in ops_offers) == 3
    [eng_offer] = master.offers_to(eng, effects)
    assert eng_offer.resources.cpus == 1


def test_headroom_holds_back_a_guarantee_for_a_role_without_frameworks() -> None:
    master = Harness()
    for i in range(4):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    master.core.update_quota([QuotaConfig(role="ops", guarantees={"cpus": 2})])
    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    effects = master.tick()
    # required headroom = 2 cpus; available = 4: eng may take 2 cpus, never the 2 held for ops.
    assert sum(o.resources.cpus for o in master.offers_to(eng, effects)) == 2


def test_a_quota_limit_caps_a_role_and_a_lower_one_rescinds_its_offers() -> None:
    master = Harness()
    for i in range(4):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    master.core.update_quota([QuotaConfig(role="eng", limits={"cpus": 2})])
    effects = master.tick()
    offers = master.offers_to(eng, effects)
    assert sum(o.resources.cpus for o in offers) == 2, "cpus stop at the limit; memory is not limited"

    master.core.update_quota([QuotaConfig(role="eng", limits={"cpus": 1})])
    effects = master.tick()
    rescinded = [e for e in master.events_of(eng, effects) if type(e).__name__ == "Rescind"]
    assert len(rescinded) == len(offers)


def test_quota_configs_are_validated() -> None:
    master = Harness()
    master.add_agent(cpus=2, mem=1024)
    core = master.core
    assert core.update_quota([QuotaConfig(role="*", guarantees={"cpus": 1})]) is not None
    assert core.update_quota([QuotaConfig(role="eng/web", limits={"cpus": 1})]) is not None
    assert (
        core.update_quota([QuotaConfig(role="eng", guarantees={"cpus": 2}, limits={"cpus": 1})]) is not None
    )
    assert core.update_quota([QuotaConfig(role="eng", guarantees={"ports": 2})]) is not None
    problem = core.update_quota([QuotaConfig(role="eng", guarantees={"cpus": 3})])
    assert problem is not None and "capacity" in problem
    assert core.update_quota([QuotaConfig(role="eng", guarantees={"cpus": 3})], force=True) is None
    assert core.update_quota([QuotaConfig(role="eng")]) is None and master.state.roles.quotas == {}


def test_state_and_metrics_show_roles_weights_quota_and_shares() -> None:
    master = Harness(config=MasterConfig(weights={"eng": 2.0}))
    master.add_agent(cpus=4, mem=4096)
    master.core.update_quota([QuotaConfig(role="eng", guarantees={"cpus": 1}, limits={"cpus": 4})])
    eng = master.subscribe("eng", roles=("eng",), capabilities=MULTI_ROLE)
    master.tick()
    [role] = [r for r in doc(state_json(master.state, master.config))["roles"] if r["name"] == "eng"]
    assert role["weight"] == 2.0
    assert role["frameworks"] == [eng]
    assert role["allocated"]["cpus"] == 4.0 and role["offered"]["cpus"] == 4.0
    assert role["quota"]["guarantee"]["cpus"] == 1.0 and role["quota"]["limit"] == {"cpus": 4.0}
    assert role["share"] == 0.5  # max(4/4 cpus, 4096/4096 mem) / weight 2
    metrics = metrics_json(master.state, master.clock.now())
    assert metrics["allocator/mesos/roles/eng/shares/dominant"] == 0.5
    assert metrics["allocator/mesos/quota/roles/eng/resources/cpus/guarantee"] == 1.0


# ---------------------------------------------------------------- filters, SUPPRESS and REVIVE per role


def two_role_framework(master: Harness) -> tuple[FrameworkId, list[Offer]]:
    for i in range(2):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    framework_id = master.subscribe(roles=("eng", "ops"), capabilities=MULTI_ROLE)
    return framework_id, master.offers_to(framework_id, master.tick())


def test_a_decline_filters_only_the_offers_role() -> None:
    master = Harness()
    framework_id, offers = two_role_framework(master)
    eng_offer = next(o for o in offers if o.role == "eng")
    master.call(framework_id, Decline(offer_ids=(eng_offer.id,), refuse_seconds=60))
    # eng refused that agent for 60 s; ops may still have it.
    assert offers_by_role(master, framework_id, master.tick(1)) == {"ops": 1}


def test_suppress_and_revive_per_role() -> None:
    master = Harness()
    framework_id, offers = two_role_framework(master)
    master.call(framework_id, Suppress(roles=("ops",)))
    master.call(framework_id, Decline(offer_ids=tuple(o.id for o in offers), refuse_seconds=0))
    assert offers_by_role(master, framework_id, master.tick(1)) == {"eng": 2}, "ops is suppressed"

    master.call(framework_id, Decline(offer_ids=tuple(master.offer_ids(framework_id)), refuse_seconds=60))
    master.call(framework_id, Revive(roles=("ops",)))
    # REVIVE un-suppresses ops and clears ops' filters only: eng's 60 s filters stay.
    assert offers_by_role(master, framework_id, master.tick()) == {"ops": 2}


def test_filters_lapse_on_time_and_are_forgotten() -> None:
    master = Harness()
    master.add_agent(cpus=1, mem=1024)
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    master.call(framework_id, Decline(offer_ids=(offer.id,), refuse_seconds=3))
    assert master.state.frameworks[framework_id].filters
    assert master.offers_to(framework_id, master.tick(2)) == []
    assert len(master.offers_to(framework_id, master.tick(1))) == 1
    assert master.state.frameworks[framework_id].filters == {}


# ---------------------------------------------------------------- --roles and --min_allocatable_resources


def test_roles_outside_the_whitelist_are_refused() -> None:
    master = Harness(config=MasterConfig(roles=frozenset({"eng", "*"})))
    info = FrameworkInfo(user="u", name="n", roles=("ops",), capabilities=MULTI_ROLE)
    effects = master.send(
        FrameworkSubscribe(stream_id=StreamId("s1"), framework_id=None, call=Subscribe(framework_info=info))
    )
    [closed] = [e for e in effects if isinstance(e, CloseStream)]
    assert closed.error == "Role 'ops' is not present in the master's --roles"
    assert master.subscribe(roles=("eng",), capabilities=MULTI_ROLE)


def test_min_allocatable_resources_withholds_small_bundles() -> None:
    master = Harness(config=MasterConfig(min_allocatable_resources="cpus:1;mem:256"))
    master.add_agent("small", cpus=0.5, mem=4096)
    big = master.add_agent("big", cpus=1, mem=256)
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    assert offer.agent_id == big


def test_agents_with_nothing_to_offer_are_not_in_the_view() -> None:
    master = Harness()
    for i in range(3):
        master.add_agent(f"a{i}", cpus=1, mem=1024)
    framework_id = master.subscribe()
    offers = master.offers_to(framework_id, master.tick())
    assert len(offers) == 3 and master.core.view().agents == ()
    master.call(framework_id, Decline(offer_ids=(offers[0].id,), refuse_seconds=0))
    assert [a.agent_id for a in master.core.view().agents] == [offers[0].agent_id]
    assert master.state.frameworks[framework_id].tasks.get(TaskId("none")) is None

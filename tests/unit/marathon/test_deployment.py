"""Deployment plans (marathon.md c.1, a.5) and the rolling restart (upstream `TaskReplaceActor`), run as
scenarios on a `Fleet` and checked for their two promises with hypothesis."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.marathon.deployment import (
    ActionKind,
    DeploymentAction,
    DeploymentStep,
    is_action_done,
    is_step_done,
    plan_deployment,
    restart_step,
    scheduling_target,
)
from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.protocol.json import JsonValue

from .scheduling_fixtures import V1, V2, Fleet, make_app, make_offer

WEB, DB = PathId.parse("/web"), PathId.parse("/db")


def apps(*defs: AppDefinition) -> dict[PathId, AppDefinition]:
    return {a.id: a for a in defs}


def kinds(steps: Sequence[DeploymentStep]) -> list[list[tuple[str, str]]]:
    return [[(a.kind.value, str(a.app_id)) for a in s.actions] for s in steps]


# ---------------------------------------------------------------- plans


def test_a_new_app_is_started_at_zero_then_scaled() -> None:
    p = plan_deployment({}, apps(make_app("/web", instances=5)), deployment_id="d1", version=V2)
    assert kinds(p.steps) == [[("StartApplication", "/web")], [("ScaleApplication", "/web")]]
    assert p.to_json(current_step=0) == {
        "id": "d1",
        "version": V2,
        "affectedApps": ["/web"],
        "affectedPods": [],
        "steps": [
            {"actions": [{"action": "StartApplication", "app": "/web"}]},
            {"actions": [{"action": "ScaleApplication", "app": "/web"}]},
        ],
        "currentActions": [],
        "currentStep": 0,
        "totalSteps": 2,
    }
    current = p.to_json(current_step=2)["currentActions"]
    assert current == [{"action": "ScaleApplication", "app": "/web", "readinessCheckResults": []}]


def test_a_removed_app_is_stopped_first() -> None:
    p = plan_deployment(
        apps(make_app("/old"), make_app("/web")),
        apps(make_app("/web", instances=3)),
        deployment_id="d",
        version=V2,
    )
    assert kinds(p.steps) == [[("StopApplication", "/old")], [("ScaleApplication", "/web")]]


def test_a_config_change_restarts_and_a_scale_does_not() -> None:
    before = apps(make_app("/web", instances=2), make_app("/db"))
    after = apps(make_app("/web", instances=4), make_app("/db", cmd="other"))
    p = plan_deployment(before, after, deployment_id="d", version=V2)
    assert kinds(p.steps) == [[("RestartApplication", "/db"), ("ScaleApplication", "/web")]]


def test_a_change_to_zero_instances_is_a_scale() -> None:
    p = plan_deployment(
        apps(make_app("/web")),
        apps(make_app("/web", instances=0, cmd="other")),
        deployment_id="d",
        version=V2,
    )
    assert kinds(p.steps) == [[("ScaleApplication", "/web")]]


def test_nothing_changed_means_no_steps_unless_a_restart_is_asked() -> None:
    same = apps(make_app("/web"))
    assert plan_deployment(same, same, deployment_id="d", version=V2).is_empty
    forced = plan_deployment(same, same, deployment_id="d", version=V2, restart=frozenset({WEB}))
    assert kinds(forced.steps) == [[("RestartApplication", "/web")]]


def test_dependencies_come_first_including_dependencies_on_groups() -> None:
    target = apps(
        make_app("/prod/db", instances=1),
        make_app("/prod/cache", instances=1, dependencies=["/prod/db"]),
        make_app("/web", instances=1, dependencies=["/prod"]),  # the whole group
    )
    p = plan_deployment({}, target, deployment_id="d", version=V2)
    assert kinds(p.steps)[1:] == [  # after the one Start step
        [("ScaleApplication", "/prod/db")],
        [("ScaleApplication", "/prod/cache")],
        [("ScaleApplication", "/web")],
    ]


def test_apps_in_later_steps_keep_their_original_definition_until_their_step() -> None:
    original = apps(make_app("/db", instances=1), make_app("/web", instances=1, dependencies=["/db"]))
    target = apps(make_app("/db", instances=1, cmd="v2"), make_app("/web", instances=3, dependencies=["/db"]))
    p = plan_deployment(original, target, deployment_id="d", version=V2)
    realized, restarting = scheduling_target(p, 0)
    assert realized[DB].cmd == "v2" and realized[WEB].instances == 1
    assert restarting == {DB}
    realized, restarting = scheduling_target(p, 1)
    assert realized[WEB].instances == 3 and restarting == frozenset()


def test_a_scale_step_is_done_when_the_instances_run_and_a_stop_when_they_are_gone() -> None:
    fleet = Fleet()
    app = make_app("/web", instances=2)
    fleet.put(app)
    scale = DeploymentAction(kind=ActionKind.SCALE_APPLICATION, app_id=WEB)
    now = fleet.clock.now()
    fleet.cycle(make_offer("a1"))
    assert not is_action_done(scale, app, V1, fleet.live(), now=now)  # staged, not running
    fleet.run_all()
    assert is_action_done(scale, app, V1, fleet.live(), now=now)
    stop = DeploymentAction(kind=ActionKind.STOP_APPLICATION, app_id=WEB)
    fleet.remove("/web")
    fleet.cycle()
    assert not is_action_done(stop, None, V1, fleet.live(), now=now)
    fleet.finish_kills()
    step = plan_deployment(apps(app), {}, deployment_id="d", version=V2).steps[0]
    assert is_step_done(step, {}, {}, list(fleet.instances.values()), now=now)


# ---------------------------------------------------------------- rolling restart


def upgrade(fleet: Fleet, n: int, health: float, over: float, **fields: JsonValue) -> AppDefinition:
    """n healthy instances of v1 running, then a restart to v2 begins."""
    checks: list[JsonValue] = [{"protocol": "COMMAND", "command": {"value": "true"}}]
    v1 = make_app("/web", instances=n, cpus=0.1, healthChecks=checks, **fields)
    fleet.put(v1)
    fleet.cycle(make_offer("a1", cpus=64, ports=[(31000, 32000)]))
    fleet.run_all(healthy=True)
    fleet.clock.advance(1)
    strategy: JsonValue = {"minimumHealthCapacity": health, "maximumOverCapacity": over}
    v2 = make_app(
        "/web", instances=n, cpus=0.1, healthChecks=checks, cmd="v2", upgradeStrategy=strategy, **fields
    )
    fleet.put(v2, version=V2)
    fleet.restarting = frozenset({WEB})
    return v2


def serving(fleet: Fleet) -> int:
    return sum(1 for i in fleet.live() if i.is_running and i.healthy and not i.is_kill_requested)


def test_a_rolling_upgrade_of_4_with_minimum_health_half_never_has_fewer_than_2_healthy() -> None:
    fleet = Fleet()
    v2 = upgrade(fleet, 4, health=0.5, over=0.0)
    offer = make_offer("a1", cpus=64)
    decision = fleet.cycle(offer)
    assert len(decision.plan.kills) == 2 and decision.launched == ()  # capacity 4 is full until they die
    assert serving(fleet) == 2
    for _ in range(10):
        fleet.finish_kills()
        fleet.cycle(offer)
        assert serving(fleet) >= 2 and len(fleet.live()) <= 4
        fleet.run_all()
        fleet.cycle(offer)
        assert serving(fleet) >= 2
        for instance in fleet.running():
            fleet.set_healthy(instance)  # the new ones pass their checks
        fleet.cycle(offer)
        assert serving(fleet) >= 2 and len(fleet.live()) <= 4
    assert restart_step(v2, V2, fleet.live()).done
    assert [i.version for i in fleet.live()] == [V2] * 4


def test_with_full_capacity_and_double_room_all_new_instances_start_before_any_old_one_dies() -> None:
    fleet = Fleet()
    upgrade(fleet, 4, health=1.0, over=1.0)
    decision = fleet.cycle(make_offer("a1", cpus=64))
    assert len(decision.launched) == 4 and decision.plan.kills == ()
    fleet.run_all()
    for instance in fleet.running()[:]:
        if instance.version == V2:
            fleet.set_healthy(instance)
            break
    assert len(fleet.cycle().plan.kills) == 1  # one new is healthy: one old may go


def test_with_no_minimum_and_no_room_every_old_instance_is_killed_first() -> None:
    fleet = Fleet()
    upgrade(fleet, 4, health=0.0, over=0.0)
    decision = fleet.cycle(make_offer("a1", cpus=64))
    assert len(decision.plan.kills) == 4 and decision.launched == ()
    fleet.finish_kills()
    assert len(fleet.cycle(make_offer("a1", cpus=64)).launched) == 4


def test_when_minimum_equals_capacity_one_extra_instance_is_allowed() -> None:
    fleet = Fleet()
    v2 = upgrade(fleet, 2, health=1.0, over=0.0)
    step = restart_step(v2, V2, fleet.live())
    assert (step.min_healthy, step.max_capacity, step.launch, step.kill) == (2, 3, 1, ())


def test_unhealthy_old_instances_are_killed_before_healthy_ones() -> None:
    fleet = Fleet()
    v2 = upgrade(fleet, 3, health=0.5, over=0.0)
    sick = fleet.live()[2]
    fleet.set_healthy(sick, False)
    step = restart_step(v2, V2, fleet.live())
    # min healthy = ceil(3 * 0.5) = 2 and 2 are healthy: the sick one may go, a healthy one may not
    assert [i.instance_id for i in step.kill] == [sick.instance_id]


@st.composite
def restart_events(draw: st.DrawFn) -> list[str]:
    return draw(st.lists(st.sampled_from(["offer", "killed", "running", "healthy", "sick"]), max_size=40))


@given(
    n=st.integers(1, 5),
    health=st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]),
    over=st.sampled_from([0.0, 0.5, 1.0]),
    events=restart_events(),
)
@settings(max_examples=80, deadline=None)
def test_a_restart_never_kills_below_minimum_health_nor_launches_above_capacity_and_finishes(
    n: int, health: float, over: float, events: list[str]
) -> None:
    fleet = Fleet()
    v2 = upgrade(fleet, n, health=health, over=over)
    offer = make_offer("a1", cpus=64, ports=[(31000, 32000)])

    def turn(event: str) -> None:
        before_serving, before_live = serving(fleet), len(fleet.live())
        if event == "offer":
            step = restart_step(v2, V2, fleet.live())
            fleet.cycle(offer)
            assert serving(fleet) >= min(step.min_healthy, before_serving)
            assert len(fleet.live()) <= max(step.max_capacity, before_live)
        elif event == "killed":
            fleet.finish_kills()
        elif event == "running":
            fleet.run_all()
        else:  # the new instances' checks pass, or one of them fails
            for instance in fleet.running():
                if instance.version == V2 and instance.healthy is None:
                    fleet.set_healthy(instance, event == "healthy")

    for event in events:
        turn(event)
    for instance in fleet.running():  # from here on every check passes
        fleet.set_healthy(instance)
    for _ in range(3 * n + 3):
        for event in ("offer", "killed", "running", "healthy"):
            turn(event)
    assert restart_step(v2, V2, fleet.live()).done

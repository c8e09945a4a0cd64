"""Instance health from check results (marathon.md b.2, upstream `HealthCheckActor` and `Health` 1.9): the
grace period, the kill after too many failures, `alive`, and when Marathon probes next."""

from __future__ import annotations

from dataclasses import replace

from corral.core.task_state import TaskState
from corral.marathon.checks import HealthCheck, HealthCheckProtocol
from corral.marathon.health import (
    Health,
    instance_healthy,
    next_check_at,
    probe_port,
    record_mesos_health,
    record_result,
)
from corral.marathon.instance import Condition, Instance, InstanceId
from corral.testing.clock import FakeClock

from .scheduling_fixtures import Fleet, make_app, make_offer

CHECK = HealthCheck(grace_period_seconds=30, interval_seconds=10, max_consecutive_failures=3)


def running_instance(fleet: Fleet) -> Instance:
    fleet.put(make_app("/web", portDefinitions=[{"port": 0}, {"port": 0}]))
    [instance] = fleet.cycle(make_offer("a1")).launched
    return fleet.update(instance, TaskState.TASK_RUNNING)


def test_failures_in_the_grace_period_are_ignored_until_the_first_success() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    health = Health(instance_id=instance.instance_id)
    fleet.clock.advance(29)
    outcome = record_result(health, CHECK, instance, healthy=False, now=fleet.clock.now(), cause="503")
    assert outcome.ignored and outcome.health == health
    outcome = record_result(health, CHECK, instance, healthy=True, now=fleet.clock.now())
    assert outcome.health.alive and outcome.alive_changed(health)
    fleet.clock.advance(0.5)  # still within the grace period, but it has succeeded once: it counts
    failed = record_result(outcome.health, CHECK, instance, healthy=False, now=fleet.clock.now(), cause="503")
    assert not failed.ignored and failed.health.consecutive_failures == 1 and not failed.health.alive


def test_failures_of_a_task_that_is_not_running_are_ignored() -> None:
    fleet = Fleet()
    fleet.put(make_app("/web"))
    [staging] = fleet.cycle(make_offer("a1")).launched
    fleet.clock.advance(1000)
    assert record_result(
        Health(instance_id=staging.instance_id), CHECK, staging, healthy=False, now=1e10
    ).ignored


def test_the_instance_is_killed_on_the_failure_after_max_consecutive_failures() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    fleet.clock.advance(31)  # past the grace period
    health = Health(instance_id=instance.instance_id)
    kills = []
    for _ in range(4):
        outcome = record_result(
            health, CHECK, instance, healthy=False, now=fleet.clock.now(), cause="timeout"
        )
        health = outcome.health
        kills.append(outcome.kill)
        fleet.clock.advance(10)
    assert kills == [False, False, False, True]  # upstream checks the count before this failure
    assert health.last_failure_cause == "timeout"


def test_max_consecutive_failures_0_never_kills_nor_does_an_unreachable_instance_get_killed() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    fleet.clock.advance(31)
    failing = Health(instance_id=instance.instance_id, consecutive_failures=50)
    never = replace(CHECK, max_consecutive_failures=0)
    assert not record_result(failing, never, instance, healthy=False, now=fleet.clock.now()).kill
    unreachable = replace(instance, condition=Condition.UNREACHABLE)
    assert not record_result(failing, CHECK, unreachable, healthy=False, now=fleet.clock.now()).kill


def test_a_success_resets_the_count_and_alive_follows_the_latest_result() -> None:
    clock = FakeClock()
    health = Health(instance_id=InstanceId("web.instance-1"))
    health = health.failed(clock.now(), "refused").failed(clock.now(), "refused")
    clock.advance(1)
    health = health.succeeded(clock.now())
    assert (health.alive, health.consecutive_failures, health.first_success) == (True, 0, clock.now())
    clock.advance(1)
    health = record_mesos_health(health, healthy=False, now=clock.now())
    assert not health.alive and health.first_success == clock.now() - 1


def test_health_json_as_tasks_show_it() -> None:
    health = Health(instance_id=InstanceId("web.instance-1"), first_success=0.0, last_success=1.5)
    assert health.to_json() == {
        "alive": True,
        "consecutiveFailures": 0,
        "firstSuccess": "1970-01-01T00:00:00.000Z",
        "lastFailure": None,
        "lastSuccess": "1970-01-01T00:00:01.500Z",
        "lastFailureCause": None,
        "instanceId": "web.instance-1",
    }
    assert instance_healthy([]) is None
    assert instance_healthy([health]) is True
    assert instance_healthy([health, health.failed(2.0, "x")]) is False


def test_marathon_probes_5_s_after_start_then_every_interval_and_on_the_right_port() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    started = instance.since
    assert next_check_at(CHECK, instance, None) == started + 5
    assert next_check_at(CHECK, instance, started + 5) == started + 15
    mesos = HealthCheck(protocol=HealthCheckProtocol.MESOS_HTTP)
    assert next_check_at(mesos, instance, None) is None  # the agent runs those
    app = fleet.apps[instance.app_id].app
    assert probe_port(HealthCheck(port_index=1), app, instance) == instance.host_ports[1]
    assert probe_port(HealthCheck(port=8080), app, instance) == 8080

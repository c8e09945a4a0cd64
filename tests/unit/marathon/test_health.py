"""Instance health from check results (marathon.md b.2, upstream `HealthCheckActor` and `Health` 1.9): the
grace period, the kill after too many failures, `alive`, and when Marathon probes next."""

from __future__ import annotations

from dataclasses import replace

from corral.core.task_state import TaskState
from corral.marathon.checks import HealthCheck, HealthCheckProtocol
from corral.marathon.health import (
    Health,
    HealthTracker,
    HealthVerdict,
    http_verdict,
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
    assert outcome.health.alive and outcome.alive_changed and not outcome.failed
    fleet.clock.advance(0.5)  # still within the grace period, but it has succeeded once: it counts
    failed = record_result(outcome.health, CHECK, instance, healthy=False, now=fleet.clock.now(), cause="503")
    assert failed.failed and failed.health.consecutive_failures == 1 and failed.alive_changed


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


def test_http_answers_200_to_399_are_healthy_and_1xx_can_be_ignored() -> None:
    assert http_verdict(200, "OK", ignore_http1xx=False) == HealthVerdict(healthy=True)
    assert http_verdict(302, "Found", ignore_http1xx=False) == HealthVerdict(healthy=True)
    assert http_verdict(500, "Internal Server Error", ignore_http1xx=False) == HealthVerdict(
        healthy=False, cause="500 Internal Server Error"
    )
    assert http_verdict(101, "Switching Protocols", ignore_http1xx=True) is None  # no result at all
    assert http_verdict(101, "Switching Protocols", ignore_http1xx=False) == HealthVerdict(
        healthy=False, cause="101 Switching Protocols"
    )
    assert not http_verdict(404, "", ignore_http1xx=True).healthy  # type: ignore[union-attr]


def test_the_tracker_hands_out_each_probe_once_until_its_verdict_arrives() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    app = replace(fleet.apps[instance.app_id].app, health_checks=(CHECK,))
    tracker = HealthTracker()
    assert tracker.due([instance], lambda i: app, fleet.clock.now()) == ([], instance.since + 5)
    fleet.clock.advance(5)
    [probe], wake = tracker.due([instance], lambda i: app, fleet.clock.now())
    assert (probe.host, probe.port, wake) == ("a1.example.com", instance.host_ports[0], None)
    fleet.clock.advance(60)
    assert tracker.due([instance], lambda i: app, fleet.clock.now()) == ([], None)  # still in flight
    outcome = tracker.record(probe, HealthVerdict(healthy=True), instance, fleet.clock.now())
    assert outcome is not None and outcome.alive_changed and tracker.healthy(instance.instance_id)
    [again], _ = tracker.due([instance], lambda i: app, fleet.clock.now())  # overdue: at once
    assert again == probe


def test_the_tracker_forgets_instances_that_are_gone() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    app = replace(fleet.apps[instance.app_id].app, health_checks=(CHECK,))
    tracker = HealthTracker()
    fleet.clock.advance(5)
    [probe], _ = tracker.due([instance], lambda i: app, fleet.clock.now())
    tracker.record(probe, HealthVerdict(healthy=True), instance, fleet.clock.now())
    tracker.due([], lambda i: app, fleet.clock.now())
    assert tracker.results(instance.instance_id) == [] and tracker.healthy(instance.instance_id) is None
    [probe], _ = tracker.due([instance], lambda i: app, fleet.clock.now())  # a fresh start
    assert tracker.record(probe, HealthVerdict(healthy=True), None, fleet.clock.now()) is None


def test_a_check_whose_port_the_task_lacks_is_probed_without_one() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    app = replace(fleet.apps[instance.app_id].app, health_checks=(replace(CHECK, port_index=5),))
    fleet.clock.advance(5)
    [probe], _ = HealthTracker().due([instance], lambda i: app, fleet.clock.now())
    assert probe.port is None  # the prober fails it with upstream's cause


def test_mesos_verdicts_share_the_model() -> None:
    fleet = Fleet()
    instance = running_instance(fleet)
    check = HealthCheck(protocol=HealthCheckProtocol.MESOS_TCP)
    tracker = HealthTracker()
    outcome = tracker.record_mesos(instance, check, healthy=True, now=fleet.clock.now())
    assert outcome.alive_changed and tracker.healthy(instance.instance_id) is True
    outcome = tracker.record_mesos(instance, check, healthy=False, now=fleet.clock.now() + 1)
    assert outcome.failed and not outcome.kill and tracker.healthy(instance.instance_id) is False
    tracker.forget(instance.instance_id)
    assert tracker.results(instance.instance_id) == []

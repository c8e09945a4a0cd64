"""Instances: ids in upstream's formats (marathon.md b.5), conditions from status updates, unreachable
handling (c.7), kill order (c.1 scale-down) and the task JSON clients read (clients.md 3.5)."""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import AgentId
from corral.core.task_state import TaskState
from corral.marathon.instance import (
    AgentPlacement,
    Condition,
    Goal,
    Instance,
    InstanceId,
    TaskJsonCache,
    app_id_of_task,
    format_timestamp,
    instance_id_of_task,
    kill_order,
    task_json,
)
from corral.marathon.paths import PathId
from corral.marathon.strategies import KillSelection, UnreachableDisabled, UnreachableEnabled
from corral.testing.clock import FakeClock

from .scheduling_fixtures import V1, status

UUID = "8cad6a69-6ca8-11e7-beb2-0e2beceebfcc"
CLIENT_TASK_KEYS = {
    "appId", "healthCheckResults", "host", "id", "ports", "servicePorts", "slaveId", "stagedAt", "startedAt",
    "version", "ipAddresses", "state", "localVolumes", "region", "zone", "role",
}  # fmt: skip


def new_instance(clock: FakeClock, app: str = "/prod/web") -> Instance:
    return Instance.provision(
        app_id=PathId.parse(app),
        version=V1,
        agent=AgentPlacement(agent_id=AgentId("S1"), hostname="10.0.2.148"),
        host_ports=(31565,),
        uuid=UUID,
        now=clock.now(),
    )


def test_ids_follow_upstream_and_lead_back_to_the_app() -> None:
    instance = new_instance(FakeClock())
    assert instance.instance_id == f"prod_web.instance-{UUID}"
    assert instance.task_id == f"prod_web.{UUID}"
    assert app_id_of_task(instance.task_id) == PathId.parse("/prod/web")
    assert app_id_of_task(f"prod_web.instance-{UUID}._app.2") == PathId.parse("/prod/web")  # 1.8+ form
    assert instance_id_of_task(instance.task_id) == instance.instance_id
    assert app_id_of_task("no-separator") is None


def test_status_updates_move_the_condition_and_record_when_it_started() -> None:
    clock = FakeClock()
    instance = new_instance(clock)
    assert instance.condition is Condition.PROVISIONED and instance.state is None
    clock.advance(1)
    instance = instance.with_status(status(instance, TaskState.TASK_STARTING), clock.now())
    clock.advance(1)
    instance = instance.with_status(status(instance, TaskState.TASK_RUNNING, healthy=True), clock.now())
    assert (instance.condition, instance.started_at, instance.since, instance.healthy) == (
        Condition.RUNNING,
        clock.now(),
        clock.now(),
        True,
    )
    clock.advance(1)
    again = instance.with_status(status(instance, TaskState.TASK_RUNNING), clock.now())
    assert again.since == instance.since and again.started_at == instance.started_at and again.healthy
    failed = again.with_status(status(again, TaskState.TASK_FAILED), clock.now())
    assert failed.is_terminal


def test_task_lost_means_unreachable_only_when_the_agent_may_come_back() -> None:
    clock = FakeClock()
    instance = new_instance(clock)
    lost = status(instance, TaskState.TASK_LOST, reason="REASON_AGENT_DISCONNECTED")
    assert instance.with_status(lost, clock.now()).condition is Condition.UNREACHABLE
    gone = status(instance, TaskState.TASK_LOST, reason="REASON_RECONCILIATION")
    assert instance.with_status(gone, clock.now()).condition is Condition.GONE


def test_an_unreachable_instance_turns_inactive_then_expires() -> None:
    clock = FakeClock()
    instance = new_instance(clock)
    instance = instance.with_status(status(instance, TaskState.TASK_UNREACHABLE), clock.now())
    strategy = UnreachableEnabled(inactive_after_seconds=300, expunge_after_seconds=600)
    clock.advance(299)
    assert instance.counts_as_running(strategy, clock.now())
    clock.advance(1)
    assert not instance.counts_as_running(strategy, clock.now())  # a replacement is due
    assert not instance.is_expired(strategy, clock.now())
    clock.advance(300)
    assert instance.is_expired(strategy, clock.now())
    assert instance.counts_as_running(UnreachableDisabled(), clock.now())  # never replaced


def test_a_kill_request_decommissions_without_touching_the_condition() -> None:
    clock = FakeClock()
    instance = new_instance(clock).with_kill_requested(clock.now(), decommission=True)
    assert (instance.goal, instance.condition, instance.kill_requested_at) == (
        Goal.DECOMMISSIONED,
        Condition.PROVISIONED,
        clock.now(),
    )
    assert not instance.counts_as_running(UnreachableEnabled(), clock.now())


def test_kill_order_takes_unreachable_then_staging_then_running_and_ages_by_kill_selection() -> None:
    clock = FakeClock()
    base = new_instance(clock)

    def at(name: str, condition: Condition, started: float | None) -> Instance:
        return replace(base, instance_id=InstanceId(name), condition=condition, started_at=started)

    old, young = at("old", Condition.RUNNING, 10.0), at("young", Condition.RUNNING, 20.0)
    staging, lost = at("staging", Condition.STAGING, None), at("lost", Condition.UNREACHABLE, 5.0)
    pool = [old, young, staging, lost]
    assert [i.instance_id for i in kill_order(pool, KillSelection.YOUNGEST_FIRST)] == [
        "lost",
        "staging",
        "young",
        "old",
    ]
    assert [i.instance_id for i in kill_order(pool, KillSelection.OLDEST_FIRST)][2:] == ["old", "young"]


def test_task_json_has_only_keys_the_client_knows_and_hides_details_of_finished_tasks() -> None:
    clock = FakeClock(t=1500000000.25)
    instance = new_instance(clock)
    out = task_json(instance, service_ports=(10101,))
    assert set(out) <= CLIENT_TASK_KEYS
    assert out["state"] == "TASK_STAGING"  # no status yet
    assert out["stagedAt"] == "2017-07-14T02:40:00.250Z" == format_timestamp(clock.now())
    assert (out["ports"], out["servicePorts"], out["slaveId"], out["appId"]) == (
        [31565],
        [10101],
        "S1",
        "/prod/web",
    )
    assert "startedAt" not in out
    killed = instance.with_status(status(instance, TaskState.TASK_KILLED), clock.now())
    out = task_json(killed)
    assert out["state"] == "TASK_KILLED"
    assert not {"ports", "stagedAt", "startedAt", "version"} & set(out)


def test_timestamps_keep_upstream_s_format_and_truncate_to_milliseconds() -> None:
    assert format_timestamp(0.0) == "1970-01-01T00:00:00.000Z"
    assert format_timestamp(1443604157.6149) == "2015-09-30T09:09:17.614Z"  # truncated, not rounded
    assert format_timestamp(1443604157.9999) == "2015-09-30T09:09:17.999Z"


def test_the_task_json_cache_hands_out_the_same_json_until_the_instance_changes() -> None:
    clock = FakeClock(t=1500000000.0)
    cache = TaskJsonCache()
    instance = new_instance(clock)
    first = cache.task_json(instance, (10101,), keep=10)
    assert first == task_json(instance, service_ports=(10101,))
    assert cache.task_json(instance, (10101,), keep=10) is first
    assert cache.task_json(instance, (10102,), keep=10)["servicePorts"] == [10102]  # other service ports
    running = instance.with_status(status(instance, TaskState.TASK_RUNNING), clock.now())
    assert cache.task_json(running, (10102,), keep=10)["state"] == "TASK_RUNNING"


def test_the_task_json_cache_forgets_what_two_generations_did_not_ask_for() -> None:
    clock = FakeClock(t=1500000000.0)
    cache = TaskJsonCache()
    instances = [new_instance(clock, f"/app-{n}") for n in range(6)]
    for instance in instances[:2]:
        cache.task_json(instance, (), keep=2)
    for instance in instances[2:]:  # two more generations of two
        cache.task_json(instance, (), keep=2)
    assert len(cache) == 4  # the first two are gone

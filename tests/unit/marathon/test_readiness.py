"""Readiness checks during deployments (marathon.md b.2, a.5; upstream `ReadinessBehavior` and
`ReadinessCheckResult`): which instances are probed and when, the URL, readiness, and the results' JSON."""

from __future__ import annotations

from dataclasses import replace

from corral.core.task_state import TaskState
from corral.marathon.checks import HttpScheme, ReadinessCheck
from corral.marathon.instance import Instance
from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.marathon.readiness import (
    HttpResponse,
    ProbeFailure,
    ReadinessProbe,
    ReadinessTarget,
    ReadinessTracker,
    readiness_result,
    readiness_url,
)

from .scheduling_fixtures import V1, V2, Fleet, make_app, make_offer

CHECK = ReadinessCheck(name="warmup", path="/ready", port_name="api", interval_seconds=10, timeout_seconds=5)
OK = HttpResponse(status=200, content_type="text/plain", body="ok")
BUSY = HttpResponse(status=503, content_type="application/json", body='{"busy":true}')


def launch(fleet: Fleet, *, version: str = V1) -> tuple[AppDefinition, Instance]:
    app = make_app(
        "/web",
        portDefinitions=[{"port": 0, "name": "metrics"}, {"port": 0, "name": "api"}],
        readinessChecks=[
            {
                "name": "warmup",
                "path": "/ready",
                "portName": "api",
                "intervalSeconds": 10,
                "timeoutSeconds": 5,
            }
        ],
    )
    fleet.put(app, version=version)
    [instance] = fleet.cycle(make_offer("a1")).launched
    return app, fleet.update(instance, TaskState.TASK_RUNNING)


def target(app: AppDefinition, config_version: str = V1) -> dict[PathId, ReadinessTarget]:
    return {app.id: ReadinessTarget(deployment_id="d1", app=app, config_version=config_version)}


def test_the_url_is_the_host_port_of_the_named_port() -> None:
    app, instance = launch(Fleet())
    assert readiness_url(CHECK, app, instance) == f"http://a1.example.com:{instance.host_ports[1]}/ready"
    https = replace(CHECK, protocol=HttpScheme.HTTPS, path="/")
    assert readiness_url(https, app, instance) == f"https://a1.example.com:{instance.host_ports[1]}/"
    assert readiness_url(replace(CHECK, port_name="nope"), app, instance) is None


def test_ready_is_one_of_the_status_codes_and_the_last_response_is_kept_only_if_asked() -> None:
    _, instance = launch(Fleet())
    probe = ReadinessProbe(
        deployment_id="d1",
        app_id=instance.app_id,
        instance_id=instance.instance_id,
        task_id=instance.task_id,
        check=CHECK,
        url="http://a1:31000/ready",
    )
    assert readiness_result(probe, OK).to_json() == {
        "name": "warmup",
        "taskId": instance.task_id,
        "ready": True,
    }
    assert not readiness_result(probe, BUSY).ready
    accepting = replace(probe, check=replace(CHECK, http_status_codes_for_ready=(200, 503)))
    assert readiness_result(accepting, BUSY).ready
    preserving = replace(probe, check=replace(CHECK, preserve_last_response=True))
    assert readiness_result(preserving, BUSY).to_json()["lastResponse"] == {
        "status": 503,
        "contentType": "application/json",
        "body": '{"busy":true}',
    }
    any_code = replace(preserving, check=replace(preserving.check, http_status_codes_for_ready=(504,)))
    no_answer = readiness_result(any_code, ProbeFailure(message="TimeoutError: no answer within 5 s"))
    assert not no_answer.ready  # as upstream: never ready without an answer, whatever the codes
    assert no_answer.last_response == HttpResponse(
        status=504,
        content_type="text/plain",
        body="Marathon could not query http://a1:31000/ready: TimeoutError: no answer within 5 s",
    )


def test_running_instances_of_the_target_are_probed_at_once_then_each_interval_after_the_answer() -> None:
    fleet = Fleet()
    app, instance = launch(fleet)
    tracker = ReadinessTracker()
    now = fleet.clock.now()
    assert tracker.due({}, [instance], {"d1"}, now) == ([], None)  # no deployment gates the app
    [probe], wake = tracker.due(target(app), [instance], {"d1"}, now)
    assert (probe.deployment_id, probe.url, wake) == ("d1", readiness_url(CHECK, app, instance), None)
    assert tracker.due(target(app), [instance], {"d1"}, now + 100) == ([], None)  # in flight: not twice
    fleet.clock.advance(2)
    assert tracker.record(probe, BUSY, alive=True, now=fleet.clock.now()) is not None
    assert tracker.ready == frozenset()
    assert tracker.due(target(app), [instance], {"d1"}, fleet.clock.now()) == ([], fleet.clock.now() + 10)
    fleet.clock.advance(10)
    [again], _ = tracker.due(target(app), [instance], {"d1"}, fleet.clock.now())
    tracker.record(again, OK, alive=True, now=fleet.clock.now())
    assert tracker.ready == {instance.instance_id}
    assert tracker.due(target(app), [instance], {"d1"}, fleet.clock.now() + 100) == ([], None)  # done
    assert tracker.results("d1") == {app.id: [{"name": "warmup", "taskId": instance.task_id, "ready": True}]}


def test_only_running_instances_of_the_new_configuration_are_probed() -> None:
    fleet = Fleet()
    app, old = launch(fleet, version=V1)
    tracker = ReadinessTracker()
    now = fleet.clock.now()
    assert tracker.due(target(app, V2), [old], {"d1"}, now) == ([], None)  # a restart gates new ones only
    staging = fleet.update(old, TaskState.TASK_STAGING)
    assert tracker.due(target(app), [staging], {"d1"}, now) == ([], None)
    killing = old.with_kill_requested(now, decommission=True)
    assert tracker.due(target(app), [killing], {"d1"}, now) == ([], None)


def test_results_and_readiness_go_with_their_instance_and_deployment() -> None:
    fleet = Fleet()
    app, instance = launch(fleet)
    tracker = ReadinessTracker()
    [probe], _ = tracker.due(target(app), [instance], {"d1"}, fleet.clock.now())
    tracker.record(probe, OK, alive=True, now=fleet.clock.now())
    assert tracker.app_results(app.id, ["d1"]) != [] and tracker.app_results(app.id, []) == []
    tracker.due({}, [instance], set(), fleet.clock.now())  # the deployment is over
    assert tracker.results("d1") == {} and tracker.ready == {instance.instance_id}
    tracker.due({}, [], set(), fleet.clock.now())  # the instance is gone
    assert tracker.ready == frozenset()
    [probe], _ = tracker.due(target(app), [instance], {"d1"}, fleet.clock.now())
    assert tracker.record(probe, OK, alive=False, now=fleet.clock.now()) is None
    assert tracker.ready == frozenset()

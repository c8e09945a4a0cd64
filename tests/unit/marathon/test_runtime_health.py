"""Marathon's own health checks, readiness checks and periodic reconciliation, wired into the runtime, with a
fake driver, a fake prober and a fake clock (marathon.md b.2, a.5, a.7, c.4)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from corral.coord.local import SqliteStore
from corral.core.task_state import TaskState
from corral.marathon.events import Subscription
from corral.marathon.health import HealthProbe, HealthVerdict
from corral.marathon.instance import Instance
from corral.marathon.readiness import HttpResponse, ProbeFailure, ReadinessProbe
from corral.marathon.runtime import Driver, MarathonConfig, MarathonRuntime
from corral.marathon.store import MarathonStore
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import FrameworkInfo, TaskStatus
from corral.protocol.scheduler import Kill, Reconcile, Update
from corral.testing.clock import FakeClock

from .scheduling_fixtures import Uuids, make_app
from .test_runtime import PATH_WEB, FakeDriver, Harness, launched_tasks

HTTP_CHECK: JsonObject = {
    "protocol": "HTTP",
    "path": "/health",
    "gracePeriodSeconds": 10,
    "intervalSeconds": 5,
    "timeoutSeconds": 2,
    "maxConsecutiveFailures": 2,
}
HEALTHY = HealthVerdict(healthy=True)
FAILING = HealthVerdict(healthy=False, cause="500 Internal Server Error")
READY = HttpResponse(status=200, content_type="text/plain", body="ok")


@dataclass
class FakeProber:
    """Answers every probe with `verdict` / `answer`; `gate`, when set, holds each probe until it opens."""

    verdict: HealthVerdict | None = HEALTHY
    answer: HttpResponse | ProbeFailure = field(default_factory=lambda: READY)
    health_probes: list[HealthProbe] = field(default_factory=list)
    readiness_probes: list[ReadinessProbe] = field(default_factory=list)
    gate: asyncio.Event | None = None
    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def health(self, probe: HealthProbe) -> HealthVerdict | None:
        self.health_probes.append(probe)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return self.verdict

    async def readiness(self, probe: ReadinessProbe) -> HttpResponse | ProbeFailure:
        self.readiness_probes.append(probe)
        return self.answer

    async def aclose(self) -> None:
        pass


@dataclass
class Checked:
    h: Harness
    prober: FakeProber
    events: Subscription
    seen: list[JsonObject] = field(default_factory=list)

    def published(self, event_type: str) -> list[JsonObject]:
        while not self.events.queue.empty():
            event = self.events.queue.get_nowait()
            assert event is not None
            self.seen.append(event)
        return [e for e in self.seen if e["eventType"] == event_type]

    async def running_instance(self, **app: JsonValue) -> Instance:
        await self.h.runtime.create_app(make_app("/web", instances=1, **app))
        await self.h.offer()
        [instance] = self.h.instances()
        await self.h.update(instance, TaskState.TASK_RUNNING)
        return self.h.instances()[0]

    async def probe_after(self, seconds: float) -> None:
        self.h.clock.advance(seconds)
        await self.h.runtime.probe_due()

    def task(self) -> JsonObject:
        [instance] = self.h.instances()
        return self.h.runtime.task_json(instance)

    def health_results(self) -> list[dict[str, Any]]:
        results: Any = self.task().get("healthCheckResults", [])
        return list(results)

    def app(self) -> JsonObject:
        return self.h.runtime.app_json(self.h.runtime.apps[PATH_WEB], frozenset({"readiness"}))

    def current_action(self) -> dict[str, Any]:
        [deployment] = self.h.runtime.deployments_json()
        assert isinstance(deployment, dict)
        actions: Any = deployment["currentActions"]
        [action] = actions
        return dict(action)


@pytest.fixture
async def c(tmp_path: Path) -> AsyncIterator[Checked]:
    clock, prober = FakeClock(), FakeProber()
    sqlite = SqliteStore(tmp_path / "marathon.db")
    drivers: list[FakeDriver] = []

    def make_driver(info: FrameworkInfo) -> Driver:
        drivers.append(FakeDriver(info))
        return drivers[-1]

    runtime = MarathonRuntime(
        MarathonConfig(reconciliation_interval=60.0),
        MarathonStore(sqlite),
        make_driver,
        clock=clock.now,
        new_uuid=Uuids(),
        prober=prober,
    )
    await runtime.start()
    h = Harness(runtime, clock, sqlite, drivers)
    await h.subscribe()
    yield Checked(h, prober, runtime.events.subscribe())
    await sqlite.close()


async def test_a_passing_http_check_makes_the_task_healthy_and_ends_the_deployment(c: Checked) -> None:
    instance = await c.running_instance(healthChecks=[HTTP_CHECK])
    await c.h.runtime.probe_due()
    assert c.prober.health_probes == []  # the first check comes min(interval, 5 s) after TASK_RUNNING
    assert c.h.runtime.deployments  # a ScaleApplication waits for health
    await c.probe_after(5)
    [probe] = c.prober.health_probes
    assert (probe.host, probe.port, probe.check.path) == ("a1.example.com", instance.host_ports[0], "/health")
    assert c.health_results() == [
        {
            "alive": True,
            "consecutiveFailures": 0,
            "firstSuccess": "2023-11-14T22:13:25.000Z",
            "lastFailure": None,
            "lastSuccess": "2023-11-14T22:13:25.000Z",
            "lastFailureCause": None,
            "instanceId": instance.instance_id,
        }
    ]
    assert (c.app()["tasksHealthy"], c.app()["tasksUnhealthy"]) == (1, 0)
    assert c.h.runtime.deployments == {}
    [changed] = c.published("health_status_changed_event")
    assert {k: changed[k] for k in ("appId", "instanceId", "version", "alive")} == {
        "appId": "/web",
        "instanceId": instance.instance_id,
        "version": instance.version,
        "alive": True,
    }
    [overall] = c.published("instance_health_changed_event")
    assert (overall["runSpecId"], overall["healthy"]) == ("/web", True)
    await c.probe_after(4.9)
    assert len(c.prober.health_probes) == 1  # every intervalSeconds after the last start
    await c.probe_after(0.1)
    assert len(c.prober.health_probes) == 2


async def test_failures_in_the_grace_period_are_ignored(c: Checked) -> None:
    await c.running_instance(healthChecks=[HTTP_CHECK])
    c.prober.verdict = FAILING
    await c.probe_after(5)  # 5 s after running, within the 10 s grace period
    await c.probe_after(4.9)
    assert len(c.prober.health_probes) == 1 and c.published("failed_health_check_event") == []
    [result] = c.health_results()
    assert (result["alive"], result["consecutiveFailures"], result["lastFailure"]) == (False, 0, None)
    await c.probe_after(0.1)  # 10 s: past the grace period, the failure counts
    [failed] = c.published("failed_health_check_event")
    assert failed["taskId"] == c.h.instances()[0].instance_id  # upstream names the instance "taskId"
    check: Any = failed["healthCheck"]
    assert check["path"] == "/health"
    [result] = c.health_results()
    assert (result["consecutiveFailures"], result["lastFailureCause"]) == (1, "500 Internal Server Error")
    assert (c.app()["tasksHealthy"], c.app()["tasksUnhealthy"]) == (0, 1)


async def test_an_instance_failing_max_plus_one_times_is_killed_and_replaced_after_backoff(
    c: Checked,
) -> None:
    instance = await c.running_instance(healthChecks=[HTTP_CHECK], backoffSeconds=7)
    c.prober.verdict = FAILING
    await c.probe_after(10)  # failure 1 (past the grace period)
    await c.probe_after(5)  # failure 2: maxConsecutiveFailures reached, not exceeded
    c.h.driver.take()
    await c.probe_after(5)  # failure 3: killed
    assert Kill(task_id=instance.task_id, agent_id=instance.agent.agent_id) in c.h.driver.take()
    [kill] = c.published("unhealthy_instance_kill_event")
    assert kill == {
        "eventType": "unhealthy_instance_kill_event",
        "timestamp": kill["timestamp"],
        "appId": "/web",
        "taskId": instance.task_id,
        "instanceId": instance.instance_id,
        "version": instance.version,
        "reason": "500 Internal Server Error",
        "host": "a1.example.com",
        "slaveId": "a1",
    }
    assert len(c.published("failed_health_check_event")) == 3
    await c.probe_after(5)
    assert len(c.prober.health_probes) == 3  # a task being killed is not probed again
    await c.h.update(instance, TaskState.TASK_KILLED)
    assert c.h.instances() == [] and c.h.runtime.health.results(instance.instance_id) == []
    assert launched_tasks(await c.h.offer()) == []  # the kill counts toward the launch delay: 7 s
    c.h.clock.advance(7)
    [replacement] = launched_tasks(await c.h.offer())
    assert replacement != instance.task_id


async def test_an_ignored_1xx_answer_records_nothing(c: Checked) -> None:
    await c.running_instance(healthChecks=[HTTP_CHECK])
    c.prober.verdict = None
    await c.probe_after(5)
    assert len(c.prober.health_probes) == 1 and "healthCheckResults" not in c.task()


async def test_probes_wait_on_the_network_without_holding_the_runtime(c: Checked) -> None:
    instance = await c.running_instance(healthChecks=[HTTP_CHECK])
    c.prober.gate = asyncio.Event()
    c.h.clock.advance(5)
    probing = asyncio.create_task(c.h.runtime.probe_due())
    await c.prober.entered.wait()
    status = TaskStatus(
        task_id=instance.task_id, state=TaskState.TASK_RUNNING, agent_id=instance.agent.agent_id
    )
    await asyncio.wait_for(c.h.runtime.deliver(Update(status=status)), timeout=10)  # the lock is free
    c.prober.gate.set()
    await probing
    assert c.health_results()[0]["alive"] is True


async def test_mesos_side_checks_arrive_in_status_updates_and_show_the_same(c: Checked) -> None:
    check: JsonValue = {"protocol": "MESOS_HTTP", "path": "/", "gracePeriodSeconds": 10}
    await c.h.runtime.create_app(make_app("/web", instances=1, healthChecks=[check]))
    await c.h.offer()
    [instance] = c.h.instances()
    status = TaskStatus(
        task_id=instance.task_id, state=TaskState.TASK_RUNNING, agent_id=instance.agent.agent_id, healthy=True
    )
    await c.h.runtime.deliver(Update(status=status))
    await c.probe_after(60)
    assert c.prober.health_probes == []  # the agent runs those
    [result] = c.health_results()
    assert result["alive"] is True and result["instanceId"] == instance.instance_id
    assert c.app()["tasksHealthy"] == 1 and c.h.runtime.deployments == {}
    await c.h.runtime.deliver(Update(status=replace(status, healthy=False)))
    assert c.app()["tasksUnhealthy"] == 1 and c.h.instances()[0].healthy is False
    assert [e["alive"] for e in c.published("health_status_changed_event")] == [True, False]


async def test_a_health_status_without_a_mesos_check_is_ignored(c: Checked) -> None:
    await c.h.runtime.create_app(make_app("/web", instances=1))
    await c.h.offer()
    [instance] = c.h.instances()
    status = TaskStatus(
        task_id=instance.task_id,
        state=TaskState.TASK_RUNNING,
        agent_id=instance.agent.agent_id,
        healthy=False,
    )
    await c.h.runtime.deliver(Update(status=status))
    assert c.h.instances()[0].healthy is None and "healthCheckResults" not in c.task()


READINESS: JsonObject = {
    "name": "warmup",
    "path": "/ready",
    "portName": "http-api",
    "intervalSeconds": 10,
    "timeoutSeconds": 5,
    "httpStatusCodesForReady": [200],
    "preserveLastResponse": True,
}


async def test_a_deployment_waits_for_readiness_and_shows_the_results(c: Checked) -> None:
    c.prober.answer = HttpResponse(status=503, content_type="text/plain", body="warming up")
    instance = await c.running_instance(
        portDefinitions=[{"port": 0, "name": "http-api"}], readinessChecks=[READINESS]
    )
    await c.h.runtime.probe_due()  # the first readiness probe goes at once
    [probe] = c.prober.readiness_probes
    assert probe.url == f"http://a1.example.com:{instance.host_ports[0]}/ready"
    assert c.current_action()["readinessCheckResults"] == [
        {
            "name": "warmup",
            "taskId": instance.task_id,
            "ready": False,
            "lastResponse": {"status": 503, "contentType": "text/plain", "body": "warming up"},
        }
    ]
    await c.probe_after(9.9)
    assert len(c.prober.readiness_probes) == 1  # intervalSeconds after the answer
    c.prober.answer = READY
    await c.probe_after(0.1)
    assert c.h.runtime.deployments == {}  # ready: the ScaleApplication is done
    assert c.app()["readinessCheckResults"] == []  # results live as long as their deployment
    await c.probe_after(60)
    assert len(c.prober.readiness_probes) == 2  # a ready instance is not probed again


async def test_an_unanswered_readiness_probe_is_not_ready(c: Checked) -> None:
    c.prober.answer = ProbeFailure(message="ConnectionRefusedError: refused")
    instance = await c.running_instance(
        portDefinitions=[{"port": 0, "name": "http-api"}],
        readinessChecks=[{**READINESS, "preserveLastResponse": False}],
    )
    await c.h.runtime.probe_due()
    assert c.app()["readinessCheckResults"] == [
        {"name": "warmup", "taskId": instance.task_id, "ready": False}
    ]


async def test_marathon_reconciles_every_interval_and_replaces_what_the_master_does_not_know(
    c: Checked,
) -> None:
    instance = await c.running_instance()
    c.h.driver.take()
    c.h.clock.advance(59)
    assert await c.h.runtime.reconcile_if_due() == c.h.clock.now() + 1
    assert c.h.driver.take() == []
    c.h.clock.advance(1)
    await c.h.runtime.reconcile_if_due()
    assert c.h.driver.take() == [
        Reconcile(tasks=((instance.task_id, instance.agent.agent_id),)),
        Reconcile(tasks=()),
    ]
    unknown = TaskStatus(
        task_id=instance.task_id,
        state=TaskState.TASK_UNKNOWN,
        agent_id=instance.agent.agent_id,
        reason="REASON_RECONCILIATION",
    )
    await c.h.runtime.deliver(Update(status=unknown))
    assert c.h.instances() == []
    [replacement] = launched_tasks(await c.h.offer())
    assert replacement != instance.task_id


async def test_in_a_rolling_restart_old_instances_keep_the_checks_they_were_launched_with(c: Checked) -> None:
    old = await c.running_instance(healthChecks=[HTTP_CHECK])
    await c.probe_after(5)
    assert c.h.runtime.deployments == {}
    await c.h.runtime.update_app(PATH_WEB, {"healthChecks": [{**HTTP_CHECK, "path": "/v2/health"}]})
    await c.h.offer()  # maxOverCapacity 1: the new instance starts beside the old one
    [new] = [i for i in c.h.instances() if i.instance_id != old.instance_id]
    await c.h.update(new, TaskState.TASK_RUNNING)
    c.prober.health_probes.clear()
    await c.probe_after(5)
    paths = {p.instance_id: p.check.path for p in c.prober.health_probes}
    assert paths == {old.instance_id: "/health", new.instance_id: "/v2/health"}
    assert any(isinstance(call, Kill) and call.task_id == old.task_id for call in c.h.driver.take())

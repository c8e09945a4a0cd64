"""Marathon's shell: the one owner of apps, instances and deployments, fed by the driver and the HTTP API.

Everything that reads or changes state holds `_lock`, so the driver's events, API calls and timers are
serialized as if they came through one inbox. Each change ends in `_react`: advance deployments, run the pure
`scheduler.decide` (with the offers, if any), persist what it launched or marked for killing, then send its
calls. Invariants:

- instances are written to the store before the ACCEPT that launches them (scheduler.py);
- a status update is persisted before it is acknowledged; updates for tasks Marathon does not know are
  answered with a KILL (and acknowledged);
- terminal instances are expunged at once: the launch queue is derived (instances - running), so a failed
  or lost instance is replaced as soon as its terminal update is recorded, after its launch delay (backoff);
- at SUBSCRIBED Marathon reconciles: explicitly for every instance it knows, then implicitly;
- the framework id is persisted, so a restarted Marathon re-subscribes as the same framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from corral.core.errors import CorralError
from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.frameworks.driver import Disconnected, DriverError
from corral.marathon.backoff import LaunchDelays
from corral.marathon.deployment import (
    ActionKind,
    DeploymentPlan,
    is_scale_only_change,
    is_step_done,
    plan_deployment,
    scheduling_target,
)
from corral.marathon.events import EventBus
from corral.marathon.instance import (
    LIMIT_WORTHY,
    Instance,
    InstanceId,
    format_timestamp,
    instance_id_of_task,
    task_json,
)
from corral.marathon.model import AppDefinition, VersionInfo, apply_patch, rollback_version
from corral.marathon.paths import PathId
from corral.marathon.queue_info import QueueStats, queue_item_json
from corral.marathon.scheduler import (
    OfferState,
    QueuedLaunch,
    RunSpec,
    SchedulerConfig,
    SchedulerView,
    decide,
)
from corral.marathon.service_ports import assign_service_ports, service_ports
from corral.marathon.store import MarathonStore, RunningDeployment, StoredApp
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import FrameworkInfo, Offer, TaskStatus
from corral.protocol.scheduler import (
    Acknowledge,
    Call,
    Error,
    Event,
    Kill,
    Offers,
    Reconcile,
    Subscribed,
    Update,
)

log = logging.getLogger(__name__)

MARATHON_VERSION = "1.9.109"
SCALE_CHECK_SECONDS = 10.0  # react at least this often (upstream's scale check, made cheap)


# ------------------------------------------------------------------ errors the API maps to statuses


class MarathonApiError(CorralError):
    status = 400

    def __init__(self, message: str, **extra: JsonValue) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    def body(self) -> JsonObject:
        return {"message": self.message, **self.extra}


class NotFound(MarathonApiError):
    status = 404


class Conflict(MarathonApiError):
    status = 409


class AppLocked(Conflict):
    def __init__(self, deployment_ids: Sequence[str]) -> None:
        super().__init__(
            "App is locked by one or more deployments. Override with the option '?force=true'. "
            f"View details at '/v2/deployments/{deployment_ids[0]}'.",
            deployments=[{"id": d} for d in deployment_ids],
        )


def app_not_found(app_id: PathId) -> NotFound:
    return NotFound(f"App '{app_id}' does not exist")


# ------------------------------------------------------------------ configuration and ports


@dataclass(frozen=True, slots=True, kw_only=True)
class MarathonConfig:
    master: str = "127.0.0.1:5050"
    hostname: str = "127.0.0.1"
    http_address: str = "127.0.0.1"
    http_port: int = 8080
    framework_name: str = "marathon"
    failover_timeout: float = 604800.0
    user: str = "root"
    zk: str | None = None

    def framework_info(self, framework_id: str | None) -> FrameworkInfo:
        info = FrameworkInfo(
            user=self.user,
            name=self.framework_name,
            failover_timeout=self.failover_timeout,
            checkpoint=True,
            hostname=self.hostname,
            webui_url=f"http://{self.hostname}:{self.http_port}",
        )
        return info if framework_id is None else info.with_id(FrameworkId(framework_id))


class Driver(Protocol):
    """What the runtime needs of `frameworks.driver.SchedulerDriver` (a fake in unit tests)."""

    @property
    def is_subscribed(self) -> bool: ...

    def events(self) -> AsyncIterator[Event | Disconnected]: ...

    async def call(self, call: Call) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentResult:
    version: str
    deployment_id: str
    created: bool = False

    def to_json(self) -> JsonObject:
        return {"version": self.version, "deploymentId": self.deployment_id}


class MarathonRuntime:
    def __init__(
        self,
        config: MarathonConfig,
        store: MarathonStore,
        make_driver: Callable[[FrameworkInfo], Driver],
        *,
        clock: Callable[[], float] = time.time,
        new_uuid: Callable[[], str] = lambda: str(uuid.uuid4()),
        scheduler_config: SchedulerConfig | None = None,
    ) -> None:
        self.config = config
        self.store = store
        self._make_driver = make_driver
        self.clock = clock
        self._new_uuid = new_uuid
        self.scheduler_config = scheduler_config or SchedulerConfig()
        self.driver: Driver | None = None
        self.framework_id: str | None = None
        self.apps: dict[PathId, StoredApp] = {}
        self.instances: dict[InstanceId, Instance] = {}
        self.deployments: dict[str, RunningDeployment] = {}
        self.delays = LaunchDelays()
        self.offer_state = OfferState()
        self.queue: tuple[QueuedLaunch, ...] = ()
        self.queue_stats = QueueStats()
        self.failures: dict[PathId, JsonObject] = {}
        self.events = EventBus(lambda: format_timestamp(self.clock()))
        self.master: str | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._wake_at: float | None = None
        self._wake_changed = asyncio.Event()
        self._last_version = 0.0

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the stored state and make the driver (with the stored framework id)."""
        async with self._lock:
            state = await self.store.load()
            self.framework_id = state.framework_id
            self.apps = state.apps
            self.instances = state.instances
            self.deployments = {d.plan.id: d for d in state.deployments}
            self.driver = self._make_driver(self.config.framework_info(self.framework_id))
            log.info(
                "marathon loaded %d apps, %d instances, %d deployments (framework %s)",
                len(self.apps),
                len(self.instances),
                len(self.deployments),
                self.framework_id or "new",
            )
        self._ready.set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    async def run(self) -> None:
        await self.start()
        assert self.driver is not None
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._consume(self.driver), name="marathon-driver")
                group.create_task(self._timer(), name="marathon-timer")
        finally:
            with contextlib.suppress(Exception):
                await self.driver.aclose()

    async def _consume(self, driver: Driver) -> None:
        async for event in driver.events():
            async with self._lock:
                await self.handle(event)

    async def _timer(self) -> None:
        while True:
            self._wake_changed.clear()
            timeout = SCALE_CHECK_SECONDS
            if self._wake_at is not None:
                timeout = min(timeout, max(0.0, self._wake_at - self.clock()))
            try:
                await asyncio.wait_for(self._wake_changed.wait(), timeout)
            except TimeoutError:
                async with self._lock:
                    self._wake_at = None
                    await self._react()

    # ------------------------------------------------------------ driver events

    async def handle(self, event: Event | Disconnected) -> None:
        """One driver event; the caller holds the lock (tests call `deliver`)."""
        match event:
            case Subscribed():
                await self._subscribed(event)
            case Offers():
                await self._react(event.offers)
            case Update():
                await self._update(event.status)
            case Error():
                log.error("the master refused Marathon: %s", event.message)
            case Disconnected():
                log.warning("marathon disconnected from the master: %s", event.reason)
            case _:
                pass

    async def deliver(self, event: Event | Disconnected) -> None:
        async with self._lock:
            await self.handle(event)

    async def _subscribed(self, event: Subscribed) -> None:
        if event.framework_id != self.framework_id:
            self.framework_id = event.framework_id
            await self.store.put_framework_id(event.framework_id)
        self.master = f"{event.master_info.hostname or event.master_info.ip}:{event.master_info.port}"
        self.offer_state = OfferState()
        known = tuple((i.task_id, i.agent.agent_id) for i in self.instances.values() if not i.is_terminal)
        log.info("marathon subscribed as %s; reconciling %d tasks", event.framework_id, len(known))
        if known:
            await self._send([Reconcile(tasks=known)])
        await self._send([Reconcile(tasks=())])
        await self._react()

    async def _update(self, status: TaskStatus) -> None:
        now = self.clock()
        instance_id = instance_id_of_task(status.task_id)
        instance = self.instances.get(instance_id) if instance_id is not None else None
        calls: list[Call] = []
        if instance is None or instance.task_id != status.task_id:
            if not status.state.is_terminal:
                log.info("task %s is unknown to Marathon (%s): killing it", status.task_id, status.state)
                calls.append(Kill(task_id=status.task_id, agent_id=status.agent_id))
        else:
            updated = instance.with_status(status, now)
            log.info(
                "task %s %s -> %s (%s)",
                status.task_id,
                instance.condition,
                updated.condition,
                status.message or status.reason or "",
            )
            stored = self.apps.get(updated.app_id)
            if updated.condition in LIMIT_WORTHY and stored is not None and not updated.is_kill_requested:
                self.delays = self.delays.add_failure(stored.app, stored.config_version, now)
            if updated.is_terminal and status.state.value not in ("TASK_KILLED", "TASK_FINISHED"):
                self.failures[updated.app_id] = {
                    "appId": str(updated.app_id),
                    "host": updated.agent.hostname,
                    "message": status.message or "",
                    "state": status.state.value,
                    "taskId": status.task_id,
                    "timestamp": format_timestamp(now),
                    "version": updated.version,
                    "slaveId": updated.agent.agent_id,
                }
            if updated.is_terminal:
                del self.instances[updated.instance_id]
                await self.store.delete_instance(updated.instance_id)
            else:
                self.instances[updated.instance_id] = updated
                await self.store.put_instance(updated)
            self._publish_status(updated, status)
        if status.uuid is not None and status.agent_id is not None:
            calls.append(Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid))
        await self._send(calls)
        await self._react()

    def _publish_status(self, instance: Instance, status: TaskStatus) -> None:
        self.events.publish(
            "status_update_event",
            slaveId=instance.agent.agent_id,
            taskId=instance.task_id,
            taskStatus=status.state.value,
            message=status.message or "",
            appId=str(instance.app_id),
            host=instance.agent.hostname,
            ipAddresses=[],
            ports=list(instance.host_ports),
            version=instance.version,
        )
        self.events.publish(
            "instance_changed_event",
            instanceId=instance.instance_id,
            condition=instance.condition.value,
            runSpecId=str(instance.app_id),
            agentId=instance.agent.agent_id,
            host=instance.agent.hostname,
            runSpecVersion=instance.version,
        )

    # ------------------------------------------------------------ the decision cycle

    def _view(self) -> SchedulerView:
        specs = {
            app_id: RunSpec(app=s.app, version=s.version, config_version=s.config_version)
            for app_id, s in self.apps.items()
        }
        restarting: set[PathId] = set()
        for d in self.deployments.values():
            apps, restart = scheduling_target(d.plan, d.step)
            started = {a.app_id for step in d.plan.steps[: d.step + 1] for a in step.actions}
            for app_id in d.plan.affected_apps:
                if app_id not in apps:
                    specs.pop(app_id, None)
                    continue
                stored = self.apps.get(app_id)
                if app_id in started and stored is not None:
                    version, config_version = stored.version, stored.config_version
                else:
                    version, config_version = d.original_versions.get(
                        app_id, (d.plan.version, d.plan.version)
                    )
                specs[app_id] = RunSpec(app=apps[app_id], version=version, config_version=config_version)
            restarting |= restart
        return SchedulerView(
            apps=specs,
            instances=tuple(self.instances.values()),
            restarting=frozenset(restarting),
            delays=self.delays,
            offer_state=self.offer_state,
        )

    async def _advance_deployments(self, now: float) -> None:
        progressed = True
        while progressed:
            progressed = False
            for d in list(self.deployments.values()):
                apps, _ = scheduling_target(d.plan, d.step)
                versions = {a: s.config_version for a, s in self.apps.items()}
                instances = tuple(self.instances.values())
                if not is_step_done(d.plan.steps[d.step], apps, versions, instances, now=now):
                    continue
                progressed = True
                self.events.publish("deployment_step_success", plan=self._plan_event(d.plan))
                if d.step + 1 >= len(d.plan.steps):
                    del self.deployments[d.plan.id]
                    await self.store.delete_deployment(d.plan.id)
                    log.info("deployment %s finished", d.plan.id)
                    self.events.publish("deployment_success", id=d.plan.id, plan=self._plan_event(d.plan))
                    continue
                advanced = replace(d, step=d.step + 1)
                for action in advanced.plan.steps[advanced.step].actions:
                    if action.kind is ActionKind.RESTART_APPLICATION:
                        self.delays = self.delays.reset(action.app_id)
                self.deployments[d.plan.id] = advanced
                await self.store.put_deployment(advanced)

    def _plan_event(self, plan: DeploymentPlan) -> JsonObject:
        return {
            "id": plan.id,
            "version": plan.version,
            "steps": [s.to_json() for s in plan.steps],
            "original": {"id": "/", "apps": [], "groups": [], "dependencies": []},
            "target": {"id": "/", "apps": [], "groups": [], "dependencies": []},
        }

    async def _react(self, offers: Sequence[Offer] = ()) -> None:
        now = self.clock()
        await self._advance_deployments(now)
        for instance in list(self.instances.values()):  # expunge long-unreachable instances
            stored = self.apps.get(instance.app_id)
            if stored is not None and instance.is_expired(stored.app.unreachable_strategy, now):
                del self.instances[instance.instance_id]
                await self.store.delete_instance(instance.instance_id)
        subscribed = self.driver is not None and self.driver.is_subscribed
        view = self._view()
        if not subscribed:
            view = replace(view, offer_state=OfferState(suppressed=True))
        decision = decide(view, offers, now, new_uuid=self._new_uuid, config=self.scheduler_config)
        for instance in (*decision.launched, *decision.updated):
            self.instances[instance.instance_id] = instance
            await self.store.put_instance(instance)
        for instance in decision.launched:
            log.info("task %s launching on %s", instance.task_id, instance.agent.hostname)
        self.queue = decision.queue
        self.queue_stats = self.queue_stats.record(decision.queue, decision.offer_outcomes, now)
        self._set_wake(decision.wake_at)
        if subscribed:
            self.offer_state = decision.offer_state
            await self._send(decision.plan.to_calls())

    def _set_wake(self, at: float | None) -> None:
        if at != self._wake_at:
            self._wake_at = at
            self._wake_changed.set()

    async def _send(self, calls: Iterable[Call]) -> None:
        driver = self.driver
        for call in calls:
            if driver is None or not driver.is_subscribed:
                log.debug("not subscribed: dropping %s", type(call).__name__)
                continue
            try:
                await driver.call(call)
            except DriverError as e:
                log.warning("%s failed: %s", type(call).__name__, e)

    # ------------------------------------------------------------ changes (the HTTP API calls these)

    def _new_version(self) -> str:
        now = max(self.clock(), self._last_version + 0.001)
        self._last_version = now
        return format_timestamp(now)

    async def _deploy(
        self,
        target: Mapping[PathId, StoredApp],
        *,
        changed: set[PathId],
        version: str,
        force: bool,
        restart: frozenset[PathId] = frozenset(),
    ) -> DeploymentResult:
        """Make `target` the apps, through a deployment; the caller holds the lock."""
        conflicting = [d for d in self.deployments.values() if set(d.plan.affected_apps) & changed]
        if conflicting and not force:
            raise AppLocked([d.plan.id for d in conflicting])
        for d in conflicting:
            log.info("deployment %s cancelled by a forced change", d.plan.id)
            del self.deployments[d.plan.id]
            await self.store.delete_deployment(d.plan.id)
        plan = plan_deployment(
            {k: s.app for k, s in self.apps.items()},
            {k: s.app for k, s in target.items()},
            deployment_id=self._new_uuid(),
            version=version,
            restart=restart,
        )
        originals = {
            a: (self.apps[a].version, self.apps[a].config_version)
            for a in plan.affected_apps
            if a in self.apps
        }
        for app_id in sorted(changed):
            if app_id in target:
                await self.store.put_app(target[app_id])
            else:
                await self.store.delete_app(app_id)
                self.failures.pop(app_id, None)
                self.delays = self.delays.reset(app_id)
                self.events.publish("app_terminated_event", appId=str(app_id))
        self.apps = dict(target)
        if not plan.is_empty:
            deployment = RunningDeployment(plan=plan, original_versions=originals)
            self.deployments[plan.id] = deployment
            await self.store.put_deployment(deployment)
            log.info("deployment %s: %s", plan.id, [s.to_json() for s in plan.steps])
            self.events.publish(
                "deployment_info", plan=self._plan_event(plan), currentStep=plan.steps[0].to_json()
            )
        await self._react()
        return DeploymentResult(version=version, deployment_id=plan.id)

    def _with_service_ports(self, app: AppDefinition, previous: AppDefinition | None) -> AppDefinition:
        others = [s.app for a, s in self.apps.items() if a != app.id]
        return assign_service_ports(app, others, previous)

    async def create_app(self, app: AppDefinition, *, force: bool = False) -> tuple[StoredApp, str]:
        async with self._lock:
            if app.id in self.apps:
                raise Conflict(f"An app with id [{app.id}] already exists.")
            version = self._new_version()
            stored = StoredApp(
                app=self._with_service_ports(app, None),
                version=version,
                version_info=VersionInfo(last_scaling_at=version, last_config_change_at=version),
            )
            result = await self._deploy(
                {**self.apps, app.id: stored}, changed={app.id}, version=version, force=force
            )
            return stored, result.deployment_id

    async def update_app(
        self,
        app_id: PathId,
        body: JsonValue,
        *,
        partial: bool = True,
        force: bool = False,
        create: bool = True,
    ) -> DeploymentResult:
        """PUT (create-or-update; partial by default) and PATCH (`create=False`): marathon.md a.3."""
        async with self._lock:
            existing = self.apps.get(app_id)
            rollback = rollback_version(body)
            if rollback is not None:
                if existing is None:
                    raise app_not_found(app_id)
                restored = await self.store.app_version(app_id, rollback)
                if restored is None:
                    raise NotFound(f"App '{app_id}' does not exist in version {rollback}")
                app = restored
            elif existing is None:
                if not create:
                    raise app_not_found(app_id)
                app = AppDefinition.from_json(_with_id(body, app_id))
            elif partial:
                app = apply_patch(existing.app, body)
            else:
                app = AppDefinition.from_json(_with_id(body, app_id))
            app = self._with_service_ports(app, existing.app if existing is not None else None)
            version = self._new_version()
            if existing is not None and rollback is None and is_scale_only_change(existing.app, app):
                info = VersionInfo(last_scaling_at=version, last_config_change_at=existing.config_version)
            else:
                info = VersionInfo(last_scaling_at=version, last_config_change_at=version)
            stored = StoredApp(app=app, version=version, version_info=info)
            result = await self._deploy(
                {**self.apps, app_id: stored}, changed={app_id}, version=version, force=force
            )
            return replace(result, created=existing is None)

    async def delete_app(self, app_id: PathId, *, force: bool = True) -> DeploymentResult:
        async with self._lock:
            if app_id not in self.apps:
                raise app_not_found(app_id)
            target = {k: v for k, v in self.apps.items() if k != app_id}
            return await self._deploy(target, changed={app_id}, version=self._new_version(), force=force)

    async def restart_app(self, app_id: PathId, *, force: bool = False) -> DeploymentResult:
        async with self._lock:
            existing = self.apps.get(app_id)
            if existing is None:
                raise app_not_found(app_id)
            version = self._new_version()
            stored = replace(
                existing,
                version=version,
                version_info=VersionInfo(last_scaling_at=version, last_config_change_at=version),
            )
            return await self._deploy(
                {**self.apps, app_id: stored},
                changed={app_id},
                version=version,
                force=force,
                restart=frozenset({app_id}),
            )

    async def kill_tasks(
        self, task_ids: Iterable[str], *, scale: bool = False, force: bool = False
    ) -> list[Instance] | DeploymentResult:
        """Kill the named tasks (unknown ids are ignored). Without `scale` they are replaced; with it the
        apps shrink by as many, in one deployment."""
        async with self._lock:
            now = self.clock()
            by_task = {i.task_id: i for i in self.instances.values()}
            chosen = [by_task[TaskId(t)] for t in dict.fromkeys(task_ids) if TaskId(t) in by_task]
            calls: list[Call] = []
            killed: list[Instance] = []
            for instance in chosen:
                updated = instance.with_kill_requested(now, decommission=scale)
                self.instances[instance.instance_id] = updated
                await self.store.put_instance(updated)
                killed.append(updated)
                calls.append(Kill(task_id=instance.task_id, agent_id=AgentId(instance.agent.agent_id)))
            if not scale:
                await self._send(calls)
                await self._react()
                return killed
            target = dict(self.apps)
            for app_id in {i.app_id for i in chosen}:
                if app_id in target:
                    count = sum(1 for i in chosen if i.app_id == app_id)
                    stored = target[app_id]
                    target[app_id] = replace(
                        stored, app=replace(stored.app, instances=max(0, stored.app.instances - count))
                    )
            version = self._new_version()
            changed = set()
            for app_id, stored in target.items():
                if stored is not self.apps[app_id]:
                    changed.add(app_id)
                    target[app_id] = replace(
                        stored,
                        version=version,
                        version_info=replace(stored.version_info, last_scaling_at=version),
                    )
            await self._send(calls)
            return await self._deploy(target, changed=changed, version=version, force=force)

    async def cancel_deployment(self, deployment_id: str, *, force: bool = False) -> DeploymentResult | None:
        """`DELETE /v2/deployments/{id}`: with force just stop it (None); else deploy a revert."""
        async with self._lock:
            d = self.deployments.get(deployment_id)
            if d is None:
                raise NotFound(f"DeploymentPlan {deployment_id} does not exist")
            if force:
                del self.deployments[deployment_id]
                await self.store.delete_deployment(deployment_id)
                await self._react()
                return None
            version = self._new_version()
            target = dict(self.apps)
            for app_id in d.plan.affected_apps:
                original = d.plan.original.get(app_id)
                if original is None:
                    target.pop(app_id, None)
                else:
                    target[app_id] = StoredApp(
                        app=original,
                        version=version,
                        version_info=VersionInfo(last_scaling_at=version, last_config_change_at=version),
                    )
            return await self._deploy(target, changed=set(d.plan.affected_apps), version=version, force=True)

    async def reset_delay(self, app_id: PathId) -> None:
        async with self._lock:
            if not any(q.app_id == app_id for q in self.queue):
                raise NotFound(f"Application {app_id} not found in tasks queue.")
            self.delays = self.delays.reset(app_id)
            self.queue_stats = self.queue_stats.reset(app_id)
            await self._react()

    # ------------------------------------------------------------ reads (JSON for the API)

    def instances_of(self, app_id: PathId) -> list[Instance]:
        return sorted(
            (i for i in self.instances.values() if i.app_id == app_id), key=lambda i: (i.staged_at, i.task_id)
        )

    def task_json(self, instance: Instance) -> JsonObject:
        stored = self.apps.get(instance.app_id)
        ports = service_ports(stored.app) if stored is not None else ()
        results: tuple[JsonObject, ...] = ()
        if instance.healthy is not None:
            results = (
                {
                    "alive": instance.healthy,
                    "consecutiveFailures": 0 if instance.healthy else 1,
                    "firstSuccess": None,
                    "lastFailure": None,
                    "lastSuccess": None,
                    "lastFailureCause": None,
                    "instanceId": instance.instance_id,
                },
            )
        return task_json(instance, service_ports=ports, health_check_results=results)

    def app_json(self, stored: StoredApp, embed: frozenset[str]) -> JsonObject:
        """AppInfo (marathon.md b.4): counts and deployments always; tasks, lastTaskFailure on request."""
        out = stored.app.to_json(version=stored.version, version_info=stored.version_info)
        instances = self.instances_of(stored.app.id)
        live = [i for i in instances if not i.is_terminal]
        out["tasksStaged"] = sum(1 for i in live if i.state is None or i.state.value == "TASK_STAGING")
        out["tasksRunning"] = sum(1 for i in live if i.is_running)
        out["tasksHealthy"] = sum(1 for i in live if i.healthy is True)
        out["tasksUnhealthy"] = sum(1 for i in live if i.healthy is False)
        out["deployments"] = [
            {"id": d.plan.id} for d in self.deployments.values() if stored.app.id in d.plan.affected_apps
        ]
        if "tasks" in embed:
            out["tasks"] = [self.task_json(i) for i in live]
        if "lastTaskFailure" in embed and stored.app.id in self.failures:
            out["lastTaskFailure"] = self.failures[stored.app.id]
        return out

    def deployments_json(self) -> list[JsonValue]:
        return [d.plan.to_json(current_step=d.step + 1) for d in self.deployments.values()]

    def queue_json(self, *, embed_last_unused_offers: bool = False) -> list[JsonValue]:
        now = self.clock()
        out: list[JsonValue] = []
        for queued in self.queue:
            stored = self.apps.get(queued.app_id)
            if stored is None:
                continue
            out.append(
                queue_item_json(
                    app_json=stored.app.to_json(version=stored.version, version_info=stored.version_info),
                    queued=queued,
                    delay=self.delays.get(queued.app_id, stored.config_version),
                    stats=self.queue_stats.apps.get(queued.app_id),
                    now=now,
                    embed_last_unused_offers=embed_last_unused_offers,
                )
            )
        return out


def _with_id(body: JsonValue, app_id: PathId) -> JsonValue:
    return {**body, "id": str(app_id)} if isinstance(body, dict) else body

"""Marathon's shell: the one owner of apps, instances and deployments, fed by the driver and the HTTP API.

Everything that reads or changes state holds `_lock`, so the driver's events, API calls and timers are
serialized as if they came through one inbox. Each change ends in `_react`: advance deployments, run the pure
`scheduler.decide` (with the offers, if any), persist what it launched or marked for killing, then send its
calls. Status updates from the driver come in bursts (what arrived meanwhile) and share one react, made
REACT_DELAY_SECONDS later by the timer: a react costs O(apps + instances). Invariants:

- instances are written to the store before the ACCEPT that launches them (scheduler.py);
- a status update is persisted before it is acknowledged; updates for tasks Marathon does not know are
  answered with a KILL (and acknowledged);
- terminal instances are expunged at once: the launch queue is derived (instances - running), so a failed
  or lost instance is replaced as soon as its terminal update is recorded, after its launch delay (backoff);
- at SUBSCRIBED, and every `reconciliation_interval` after, Marathon reconciles: explicitly for every
  instance it knows, then implicitly; the master answers a task it does not know with a terminal state, so
  the instance is expunged and replaced;
- health and readiness probes run in their own tasks, outside the lock; each result comes back under it
  (`_record_health`, `_record_readiness`). Health lives in memory (`health.HealthTracker`), as upstream's;
- the framework id is persisted, so a restarted Marathon re-subscribes as the same framework.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from corral.aio import within
from corral.core.errors import CorralError
from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.frameworks.bursts import bursts
from corral.frameworks.driver import Disconnected, DriverError
from corral.marathon.backoff import LaunchDelays
from corral.marathon.checks import MESOS_PROTOCOLS, HealthCheck, encode_health_check
from corral.marathon.deployment import (
    ActionKind,
    DeploymentPlan,
    is_scale_only_change,
    is_step_done,
    plan_deployment,
    scheduling_target,
)
from corral.marathon.errors import OBJECT_NOT_VALID, ValidationError
from corral.marathon.events import EventBus
from corral.marathon.groups import (
    Group,
    GroupTable,
    GroupUpdate,
    apply_update,
    build_tree,
    decode_group_update,
    definition_json,
    encode_group,
    put_group,
    remove_group,
    scale_group,
    snapshot_group,
    snapshot_json,
    table_of,
    tree_violations,
)
from corral.marathon.health import (
    Health,
    HealthOutcome,
    HealthProbe,
    HealthTracker,
    HealthVerdict,
    instance_healthy,
)
from corral.marathon.instance import (
    LIMIT_WORTHY,
    Instance,
    InstanceId,
    TaskJsonCache,
    format_timestamp,
    instance_id_of_task,
    task_json,
)
from corral.marathon.model import AppDefinition, VersionInfo, apply_patch, rollback_version
from corral.marathon.paths import ROOT, PathId
from corral.marathon.probes import HttpProber
from corral.marathon.queue_info import QueueStats, queue_item_json
from corral.marathon.readiness import (
    HttpResponse,
    ProbeFailure,
    ReadinessProbe,
    ReadinessTarget,
    ReadinessTracker,
)
from corral.marathon.scheduler import (
    OfferState,
    QueuedLaunch,
    Realized,
    RunSpec,
    SchedulerConfig,
    SchedulerView,
    decide,
)
from corral.marathon.service_ports import assign_service_ports, service_ports
from corral.marathon.store import MarathonStore, RunningDeployment, StoredApp
from corral.net.tls import PLAIN, TlsConfig
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import FrameworkInfo, Offer, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
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
_STAGED_ORDER = operator.attrgetter("staged_at", "task_id")  # the order of an app's tasks in the API
SCALE_CHECK_SECONDS = 10.0  # react at least this often (upstream's scale check, made cheap)
REACT_DELAY_SECONDS = 0.01  # status updates wait this long for others to share their react
_INDEPENDENT_CALLS = (Accept, Decline, Kill, Acknowledge)


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


class Unprocessable(MarathonApiError):
    """Upstream's IllegalArgumentException: 422 with just a message."""

    status = 422


def app_not_found(app_id: PathId) -> NotFound:
    return NotFound(f"App '{app_id}' does not exist")


def group_not_found(group_id: PathId) -> NotFound:
    return NotFound(f"Group '{group_id}' does not exist")


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
    reconciliation_interval: float = 600.0  # seconds (`--reconciliation_interval` is in ms)
    principal: str | None = None  # `--mesos_authentication_principal`
    tls: TlsConfig = PLAIN  # served, and spoken to the master

    def framework_info(self, framework_id: str | None) -> FrameworkInfo:
        info = FrameworkInfo(
            user=self.user,
            name=self.framework_name,
            failover_timeout=self.failover_timeout,
            checkpoint=True,
            hostname=self.hostname,
            principal=self.principal,
            webui_url=self.tls.url(f"{self.hostname}:{self.http_port}"),
        )
        return info if framework_id is None else info.with_id(FrameworkId(framework_id))


class Driver(Protocol):
    """What the runtime needs of `frameworks.driver.SchedulerDriver` (a fake in unit tests)."""

    @property
    def is_subscribed(self) -> bool: ...

    def events(self) -> AsyncIterator[Event | Disconnected]: ...

    async def call(self, call: Call) -> None: ...

    async def aclose(self) -> None: ...


class Prober(Protocol):
    """What the runtime needs of `probes.HttpProber` (a fake in unit tests)."""

    async def health(self, probe: HealthProbe) -> HealthVerdict | None: ...

    async def readiness(self, probe: ReadinessProbe) -> HttpResponse | ProbeFailure: ...

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
        prober: Prober | None = None,
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
        self.groups = GroupTable()
        self.prober: Prober = prober or HttpProber()
        self.health = HealthTracker()
        self._task_jsons = TaskJsonCache()
        self.readiness = ReadinessTracker()
        self._checks_changed = asyncio.Event()
        self._reconciled_at = clock()

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Load the stored state and make the driver (with the stored framework id)."""
        async with self._lock:
            state = await self.store.load()
            self.framework_id = state.framework_id
            self.apps = state.apps
            self.groups = state.groups
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
                group.create_task(self._run_checks(), name="marathon-checks")
                group.create_task(self._reconcile_periodically(), name="marathon-reconcile")
        finally:
            with contextlib.suppress(Exception):
                await self.driver.aclose()
            await self.prober.aclose()

    async def _consume(self, driver: Driver) -> None:
        """Updates that arrived together are recorded together; their react comes REACT_DELAY_SECONDS later,
        shared with the updates arriving meanwhile (a launch of 500 instances brings 1,500 in a stream)."""
        async for burst in bursts(driver.events()):
            async with self._lock:
                statuses: list[TaskStatus] = []
                for event in burst:
                    if isinstance(event, Update):
                        statuses.append(event.status)
                        continue
                    if statuses:
                        await self._record_updates(statuses)
                        statuses = []
                    await self.handle(event)
                if statuses:
                    await self._record_updates(statuses)

    def _react_soon(self) -> None:
        """React within REACT_DELAY_SECONDS (the timer does; any react before that covers it)."""
        soon = self.clock() + REACT_DELAY_SECONDS
        self._set_wake(soon if self._wake_at is None else min(self._wake_at, soon))

    async def _timer(self) -> None:
        while True:
            self._wake_changed.clear()
            timeout = SCALE_CHECK_SECONDS
            if self._wake_at is not None:
                timeout = min(timeout, max(0.0, self._wake_at - self.clock()))
            try:
                await within(self._wake_changed.wait(), timeout)
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
                await self._updates([event.status])
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
        log.info("marathon subscribed as %s", event.framework_id)
        await self.reconcile()
        await self._react()

    async def _updates(self, statuses: Sequence[TaskStatus]) -> None:
        await self._record_updates(statuses)
        await self._react()

    async def _record_updates(self, statuses: Sequence[TaskStatus]) -> None:
        """Apply the updates, persist them, then acknowledge them; a react is due soon."""
        now = self.clock()
        writes: dict[InstanceId, Instance | None] = {}  # None: expunged
        calls: list[Call] = []
        for status in statuses:
            calls += self._update(status, now, writes)
        await self.store.put_instances(i for i in writes.values() if i is not None)
        await self.store.delete_instances(k for k, i in writes.items() if i is None)
        await self._send(calls)
        self._react_soon()

    def _update(
        self, status: TaskStatus, now: float, writes: dict[InstanceId, Instance | None]
    ) -> list[Call]:
        """Apply one update to the state; what to persist goes into `writes`; returns the calls to send."""
        instance_id = instance_id_of_task(status.task_id)
        instance = self.instances.get(instance_id) if instance_id is not None else None
        calls: list[Call] = []
        if instance is None or instance.task_id != status.task_id:
            if not status.state.is_terminal:
                log.info("task %s is unknown to Marathon (%s): killing it", status.task_id, status.state)
                calls.append(Kill(task_id=status.task_id, agent_id=status.agent_id))
        else:
            updated = self._with_mesos_health(instance, instance.with_status(status, now), status, now)
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
                writes[updated.instance_id] = None
            else:
                self.instances[updated.instance_id] = updated
                writes[updated.instance_id] = updated
            self._publish_status(updated, status)
        if status.uuid is not None and status.agent_id is not None:
            calls.append(Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid))
        return calls

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
        specs: dict[PathId, Realized] = {**self.apps}
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
            ready=self.readiness.ready,
            delays=self.delays,
            offer_state=self.offer_state,
        )

    async def _advance_deployments(self, now: float) -> None:
        if not self.deployments:
            return
        by_app: dict[PathId, list[Instance]] = {}
        for instance in self.instances.values():
            by_app.setdefault(instance.app_id, []).append(instance)
        progressed = True
        while progressed:
            progressed = False
            for d in list(self.deployments.values()):
                apps, _ = scheduling_target(d.plan, d.step)
                step = d.plan.steps[d.step]
                ids = {a.app_id for a in step.actions}
                versions = {a: self.apps[a].config_version for a in ids if a in self.apps}
                instances = [i for a in ids for i in by_app.get(a, ())]
                if not is_step_done(step, apps, versions, instances, ready=self.readiness.ready, now=now):
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
        """The plan as 1.6-1.7 events carry it, with the original and target root groups (which the PyPI
        client requires); building them costs O(apps), so they are left out while nobody listens. A plan
        keeps apps, not groups: the original shows the groups its apps imply, the target the current ones."""
        event: JsonObject = {
            "id": plan.id,
            "version": plan.version,
            "steps": [s.to_json() for s in plan.steps],
        }
        if self.events.subscriber_count:
            for key, apps, table in (
                ("original", plan.original, GroupTable()),
                ("target", plan.target, self.groups),
            ):
                root = build_tree(apps, table)
                event[key] = encode_group(root, app_json=definition_json, version=plan.version)
        return event

    async def _react(self, offers: Sequence[Offer] = ()) -> None:
        now = self.clock()
        await self._advance_deployments(now)
        expired = []
        for instance in list(self.instances.values()):  # expunge long-unreachable instances
            stored = self.apps.get(instance.app_id) if instance.is_unreachable else None
            if stored is not None and instance.is_expired(stored.app.unreachable_strategy, now):
                del self.instances[instance.instance_id]
                expired.append(instance.instance_id)
        await self.store.delete_instances(expired)
        subscribed = self.driver is not None and self.driver.is_subscribed
        view = self._view()
        if not subscribed:
            view = replace(view, offer_state=OfferState(suppressed=True))
        decision = decide(view, offers, now, new_uuid=self._new_uuid, config=self.scheduler_config)
        for instance in (*decision.launched, *decision.updated):
            self.instances[instance.instance_id] = instance
        await self.store.put_instances((*decision.launched, *decision.updated))
        for instance in decision.launched:
            log.info("task %s launching on %s", instance.task_id, instance.agent.hostname)
        self.queue = decision.queue
        self.queue_stats = self.queue_stats.record(decision.queue, decision.offer_outcomes, now)
        self._set_wake(decision.wake_at)
        if subscribed:
            self.offer_state = decision.offer_state
            await self._send(decision.plan.to_calls())
        self._checks_changed.set()  # instances or deployments may have changed: probes may be due

    def _set_wake(self, at: float | None) -> None:
        if at != self._wake_at:
            self._wake_at = at
            self._wake_changed.set()

    async def _send(self, calls: Iterable[Call]) -> None:
        """Accepts, declines, kills and acknowledgements all at once (each is about its own offer or task,
        and the lock is held meanwhile); then the rest in order (a revive follows the declines it clears)."""
        ordered = list(calls)
        await asyncio.gather(*(self._call(c) for c in ordered if isinstance(c, _INDEPENDENT_CALLS)))
        for call in ordered:
            if not isinstance(call, _INDEPENDENT_CALLS):
                await self._call(call)

    async def _call(self, call: Call) -> None:
        driver = self.driver
        if driver is None or not driver.is_subscribed:
            log.debug("not subscribed: dropping %s", type(call).__name__)
            return
        try:
            await driver.call(call)
        except DriverError as e:
            log.warning("%s failed: %s", type(call).__name__, e)

    # ------------------------------------------------------------ health, readiness and reconciliation

    async def reconcile(self) -> None:
        """Explicit reconciliation of every task Marathon knows, then implicit (marathon.md c.4); the caller
        holds the lock. Answers come back as updates: `_update` expunges (and so replaces) what the master
        does not know and kills what Marathon does not know."""
        self._reconciled_at = self.clock()
        known = tuple((i.task_id, i.agent.agent_id) for i in self.instances.values() if not i.is_terminal)
        log.info("reconciling %d tasks with the master", len(known))
        if known:
            await self._send([Reconcile(tasks=known)])
        await self._send([Reconcile(tasks=())])

    async def reconcile_if_due(self) -> float:
        """Reconcile when `reconciliation_interval` has passed since the last time; returns the next time."""
        async with self._lock:
            if self.clock() >= self._reconciled_at + self.config.reconciliation_interval:
                await self.reconcile()
            return self._reconciled_at + self.config.reconciliation_interval

    async def _reconcile_periodically(self) -> None:
        while True:
            due_at = await self.reconcile_if_due()
            await asyncio.sleep(max(0.0, due_at - self.clock()))

    async def _run_checks(self) -> None:
        """Start each probe when it is due, in a task of its own; wake early when state changes."""
        async with asyncio.TaskGroup() as probes:
            while True:
                self._checks_changed.clear()
                wake_at = await self._start_due_probes(probes.create_task)
                timeout = None if wake_at is None else max(0.0, wake_at - self.clock())
                with contextlib.suppress(TimeoutError):
                    await within(self._checks_changed.wait(), timeout)

    async def probe_due(self) -> None:
        """Run the probes due now and record their results: one turn of `_run_checks`, waited for."""
        async with asyncio.TaskGroup() as probes:
            await self._start_due_probes(probes.create_task)

    async def _start_due_probes(self, spawn: Callable[[Coroutine[Any, Any, None]], object]) -> float | None:
        async with self._lock:
            now = self.clock()
            instances = list(self.instances.values())
            health, health_wake = self.health.due(instances, self._checked_app, now)
            targets = self._readiness_targets()
            readiness, ready_wake = self.readiness.due(targets, instances, self.deployments.keys(), now)
        for probe in health:
            spawn(self._probe_health(probe))
        for ready_probe in readiness:
            spawn(self._probe_readiness(ready_probe))
        wakes = [w for w in (health_wake, ready_wake) if w is not None]
        return min(wakes) if wakes else None

    def _checked_app(self, instance: Instance) -> AppDefinition | None:
        """The definition whose health checks apply to `instance`: the one it was launched with (an old
        instance in a rolling restart keeps the original's checks)."""
        stored = self.apps.get(instance.app_id)
        if stored is None or instance.is_launched_with(stored.config_version):
            return stored.app if stored is not None else None
        for d in self.deployments.values():
            original = d.plan.original.get(instance.app_id)
            if original is not None and instance.app_id in d.plan.affected_apps:
                return original
        return stored.app

    def _readiness_targets(self) -> dict[PathId, ReadinessTarget]:
        """Apps with a readiness check that the current step of a deployment scales or restarts."""
        targets: dict[PathId, ReadinessTarget] = {}
        for d in self.deployments.values():
            for action in d.plan.steps[d.step].actions:
                stored = self.apps.get(action.app_id)
                gated = action.kind in (ActionKind.SCALE_APPLICATION, ActionKind.RESTART_APPLICATION)
                if gated and stored is not None and stored.app.readiness_checks:
                    targets[action.app_id] = ReadinessTarget(
                        deployment_id=d.plan.id, app=stored.app, config_version=stored.config_version
                    )
        return targets

    async def _probe_health(self, probe: HealthProbe) -> None:
        verdict = await self.prober.health(probe)
        async with self._lock:
            await self._record_health(probe, verdict)
        self._checks_changed.set()

    async def _record_health(self, probe: HealthProbe, verdict: HealthVerdict | None) -> None:
        now = self.clock()
        instance = self.instances.get(probe.instance_id)
        outcome = self.health.record(probe, verdict, instance, now)
        if outcome is None or instance is None:
            return
        updated = self._publish_health(instance, probe.check, outcome)
        if outcome.kill:
            updated = self._sentence_unhealthy(updated, outcome, now)
        if updated == instance:
            return
        self.instances[updated.instance_id] = updated
        await self.store.put_instance(updated)
        if outcome.kill:
            await self._send([Kill(task_id=updated.task_id, agent_id=updated.agent.agent_id)])
        await self._react()

    def _with_mesos_health(
        self, before: Instance, updated: Instance, status: TaskStatus, now: float
    ) -> Instance:
        """Record `healthy` of a status update as the verdict of the task's Mesos-side check (upstream
        ignores it for a task without one); a terminal instance's health is dropped with it."""
        if updated.is_terminal:
            self.health.forget(updated.instance_id)
            self.readiness.forget(updated.instance_id)
            return updated
        updated = updated.with_health(before.healthy)
        app = self._checked_app(updated)
        check = next((c for c in app.health_checks if c.protocol in MESOS_PROTOCOLS), None) if app else None
        if status.healthy is None or check is None:
            return updated
        outcome = self.health.record_mesos(updated, check, healthy=status.healthy, now=now)
        return self._publish_health(updated, check, outcome)

    def _publish_health(self, instance: Instance, check: HealthCheck, outcome: HealthOutcome) -> Instance:
        """The events of one recorded result; returns the instance with its new overall health."""
        app_id = str(instance.app_id)
        if outcome.failed:
            self.events.publish(
                "failed_health_check_event",
                appId=app_id,
                taskId=instance.instance_id,
                healthCheck=encode_health_check(check),
            )
        healthy = self.health.healthy(instance.instance_id)
        if outcome.alive_changed:
            alive = outcome.health.alive
            log.info("task %s %s check: alive %s", instance.task_id, check.protocol.value, alive)
            self.events.publish(
                "health_status_changed_event",
                appId=app_id,
                instanceId=instance.instance_id,
                version=instance.version,
                alive=alive,
            )
            self.events.publish(
                "instance_health_changed_event",
                instanceId=instance.instance_id,
                runSpecId=app_id,
                runSpecVersion=instance.version,
                healthy=healthy,
            )
        return instance.with_health(healthy)

    def _sentence_unhealthy(self, instance: Instance, outcome: HealthOutcome, now: float) -> Instance:
        """Too many failures in a row: kill it (the caller sends the kill), count a launch failure."""
        reason = outcome.health.last_failure_cause or "unknown"
        log.info("task %s failed its health check too often (%s): killing it", instance.task_id, reason)
        self.events.publish(
            "unhealthy_instance_kill_event",
            appId=str(instance.app_id),
            taskId=instance.task_id,
            instanceId=instance.instance_id,
            version=instance.version,
            reason=reason,
            host=instance.agent.hostname,
            slaveId=instance.agent.agent_id,
        )
        stored = self.apps.get(instance.app_id)
        if stored is not None:
            self.delays = self.delays.add_failure(stored.app, stored.config_version, now)
        return instance.with_kill_requested(now, decommission=False)

    async def _probe_readiness(self, probe: ReadinessProbe) -> None:
        answer = await self.prober.readiness(probe)
        async with self._lock:
            await self._record_readiness(probe, answer)
        self._checks_changed.set()

    async def _record_readiness(self, probe: ReadinessProbe, answer: HttpResponse | ProbeFailure) -> None:
        instance = self.instances.get(probe.instance_id)
        alive = instance is not None and instance.task_id == probe.task_id
        result = self.readiness.record(probe, answer, alive=alive, now=self.clock())
        if result is None:
            return
        log.info("task %s readiness check %s: ready %s", probe.task_id, result.name, result.ready)
        if result.ready:
            await self._react()  # the deployment may move on

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
        groups: GroupTable | None = None,
    ) -> DeploymentResult:
        """Make `target` the apps, and `groups` (default: the current ones and the groups of changed apps)
        the groups, through a deployment; the caller holds the lock."""
        groups = self._checked_groups(target, changed, version, groups)
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
            group_dependencies=groups.dependencies,
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
        if groups.dependencies != self.groups.dependencies:  # the version alone is implied by the apps'
            await self.store.put_groups(groups)
        self.groups = groups
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

    # ------------------------------------------------------------ groups (the HTTP API calls these)

    def _checked_groups(
        self,
        target: Mapping[PathId, StoredApp],
        changed: set[PathId],
        version: str,
        groups: GroupTable | None,
    ) -> GroupTable:
        """The groups after a change, carrying its version; 422 if upstream's root group validation would
        refuse the tree (an app where a group is, a dependency cycle)."""
        apps = {a: s.app for a, s in target.items()}
        table = self.groups.with_apps(apps, sorted(changed & apps.keys())) if groups is None else groups
        violations = tree_violations(apps, table)
        if violations:
            raise ValidationError(OBJECT_NOT_VALID, violations)
        return replace(table, version=version)

    def group_tree(self) -> Group:
        return build_tree({a: s.app for a, s in self.apps.items()}, self.groups)

    def _group(self, group_id: PathId) -> Group:
        group = self.group_tree().find(group_id)
        if group is None:
            raise group_not_found(group_id)
        return group

    async def create_group(
        self, base: PathId, body: JsonValue, *, force: bool = False
    ) -> tuple[PathId, DeploymentResult]:
        """`POST /v2/groups[/{base}]`: 409 if the group, or an app at its path, exists."""
        async with self._lock:
            update = decode_group_update(body, base)
            if update.id in self.groups:
                raise Conflict(f"Group {update.id} is already created. Use PUT to change this group.")
            if update.id in self.apps:
                raise Conflict(f"An app with the path {update.id} already exists.")
            target = await self._group_target(update)
            return update.id, await self._deploy_groups(target, update.id, force=force)

    async def update_group(
        self, base: PathId, body: JsonValue, *, force: bool = False, dry_run: bool = False
    ) -> DeploymentResult | JsonObject:
        """`PUT /v2/groups[/{base}]`: create or update the subtree, `scaleBy`, or roll back to `version`;
        with `dry_run` only `{"steps": [...]}` of the deployment it would start."""
        async with self._lock:
            update = decode_group_update(body, base)
            target = await self._group_target(update)
            if not dry_run:
                return await self._deploy_groups(target, update.id, force=force)
            version = self._new_version()
            plan = plan_deployment(
                {a: s.app for a, s in self.apps.items()},
                {a: s.app for a, s in self._stored_for(target.transitive_apps(), version).items()},
                deployment_id=self._new_uuid(),
                version=version,
                group_dependencies=table_of(target, version).dependencies,
            )
            return {"steps": [s.to_json() for s in plan.steps]}

    async def delete_group(self, group_id: PathId, *, force: bool = False) -> DeploymentResult:
        """`DELETE /v2/groups[/{id}]`: stop and remove everything in it; the root is emptied, not removed."""
        async with self._lock:
            if group_id not in self.groups:
                raise group_not_found(group_id)
            target = Group(id=ROOT) if group_id.is_root else remove_group(self.group_tree(), group_id)
            return await self._deploy_groups(target, group_id, force=force)

    async def _group_target(self, update: GroupUpdate) -> Group:
        tree = self.group_tree()
        if update.version is not None:
            document = await self.store.group_version(update.id, update.version)
            if document is None:
                raise Unprocessable(f"Group {update.id} not available in version {update.version}")
            return put_group(tree, snapshot_group(document))
        if update.scale_by is not None:
            return scale_group(tree, update.id, update.scale_by)
        return apply_update(tree, update)

    def _stored_for(self, apps: Mapping[PathId, AppDefinition], version: str) -> dict[PathId, StoredApp]:
        """The apps of a group change as stored: unchanged ones as they are, the others with service ports
        (known apps first, so they get theirs back) and version stamps (a scale keeps lastConfigChangeAt)."""
        taken = {p for app in apps.values() for p in service_ports(app) if p}
        out: dict[PathId, StoredApp] = {}
        for app_id in sorted(apps, key=lambda a: (a not in self.apps, a)):
            existing = self.apps.get(app_id)
            if existing is not None and existing.app == apps[app_id]:  # untouched: no port search
                out[app_id] = existing
                continue
            previous = existing.app if existing is not None else None
            app = assign_service_ports(apps[app_id], (), previous, taken=taken)
            taken.update(p for p in service_ports(app) if p)
            if existing is not None and existing.app == app:
                out[app_id] = existing
                continue
            scaled = existing is not None and is_scale_only_change(existing.app, app)
            config_version = existing.config_version if existing is not None and scaled else version
            info = VersionInfo(last_scaling_at=version, last_config_change_at=config_version)
            out[app_id] = StoredApp(app=app, version=version, version_info=info)
        return out

    async def _deploy_groups(self, target: Group, group_id: PathId, *, force: bool) -> DeploymentResult:
        """Deploy the tree `target` after a change to `group_id`; keep its new version for rollbacks."""
        version = self._new_version()
        stored = self._stored_for(target.transitive_apps(), version)
        changed = {a for a in stored.keys() | self.apps.keys() if stored.get(a) is not self.apps.get(a)}
        table = table_of(target, version)
        removed = [g for g in self.groups.dependencies if g not in table]
        result = await self._deploy(stored, changed=changed, version=version, force=force, groups=table)
        for gone in removed:
            await self.store.delete_group_versions(gone)
        group = target.find(group_id)
        if group is not None:
            await self.store.put_group_version(group_id, version, snapshot_json(group))
        log.info("group %s changed (version %s, deployment %s)", group_id, version, result.deployment_id)
        self.events.publish("group_change_success", groupId=str(group_id), version=version)
        return result

    def group_json(self, group_id: PathId, embed: frozenset[str]) -> JsonObject:
        """GroupInfo; `embed` holds group embeds (`group.apps`...) and the apps' (`tasks`, `counts`...)."""
        return encode_group(
            self._group(group_id),
            app_json=lambda app: self._group_app_json(app, embed),
            version=self.groups.version,
            embed=embed,
        )

    def group_apps_json(self, group_id: PathId, embed: frozenset[str]) -> list[JsonValue]:
        """`GET /v2/groups/{id}/apps`: every app in the group, nested ones included."""
        apps = self._group(group_id).transitive_apps()
        return [self._group_app_json(apps[a], embed) for a in sorted(apps)]

    def _group_app_json(self, app: AppDefinition, embed: frozenset[str]) -> JsonObject:
        """The app as groups show it: the definition, plus the counts, deployments, tasks asked for."""
        stored = self.apps[app.id]
        if not embed & {"counts", "deployments", "tasks", "lastTaskFailure", "readiness"}:
            return stored.app.to_json(version=stored.version, version_info=stored.version_info)
        out = self.app_json(stored, embed)
        if "counts" not in embed:
            for key in ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy"):
                del out[key]
        if not embed & {"deployments", "tasks"}:
            del out["deployments"]
        return out

    async def group_versions(self, group_id: PathId) -> list[str]:
        """The versions a rollback can name, newest first: each change made through `/v2/groups`."""
        self._group(group_id)
        return sorted(await self.store.group_versions(group_id), reverse=True)

    async def group_version_json(self, group_id: PathId, version: str) -> JsonObject:
        document = await self.store.group_version(group_id, version)
        if document is None:
            raise group_not_found(group_id)
        return encode_group(snapshot_group(document), app_json=definition_json, version=version)

    # ------------------------------------------------------------ reads (JSON for the API)

    def instances_of(self, app_id: PathId) -> list[Instance]:
        return sorted((i for i in self.instances.values() if i.app_id == app_id), key=_STAGED_ORDER)

    def instances_by_app(self) -> dict[PathId, list[Instance]]:
        """`instances_of` for every app in one pass (for listings: per app it is O(instances) each)."""
        out: dict[PathId, list[Instance]] = {}
        for instance in self.instances.values():
            out.setdefault(instance.app_id, []).append(instance)
        for instances in out.values():
            instances.sort(key=_STAGED_ORDER)
        return out

    def task_json(
        self, instance: Instance, ports: tuple[int, ...] | None = None, health: Sequence[Health] | None = None
    ) -> JsonObject:
        """`ports`: the app's service ports, and `health` its check results, if the caller has them.
        The JSON may be shared (`TaskJsonCache`): callers must not change it."""
        if ports is None:
            stored = self.apps.get(instance.app_id)
            ports = service_ports(stored.app) if stored is not None else ()
        if health is None:
            health = self.health.results(instance.instance_id)
        if not health:
            return self._task_jsons.task_json(instance, ports, keep=2 * len(self.instances) + 1024)
        results = tuple(h.to_json() for h in health)
        return task_json(instance, service_ports=ports, health_check_results=results)

    def app_json(
        self, stored: StoredApp, embed: frozenset[str], instances: Sequence[Instance] | None = None
    ) -> JsonObject:
        """AppInfo (marathon.md b.4): counts and deployments always; tasks, lastTaskFailure on request.
        `instances`: the app's (`instances_by_app`), if the caller has them."""
        out = stored.app.to_json(version=stored.version, version_info=stored.version_info)
        if instances is None:
            instances = self.instances_of(stored.app.id)
        live = [i for i in instances if not i.is_terminal]
        out["tasksStaged"] = sum(1 for i in live if i.state is None or i.state.value == "TASK_STAGING")
        out["tasksRunning"] = sum(1 for i in live if i.is_running)
        results = [self.health.results(i.instance_id) for i in live]
        health = [instance_healthy(r) for r in results]
        out["tasksHealthy"] = sum(1 for h in health if h is True)
        out["tasksUnhealthy"] = sum(1 for h in health if h is False)
        out["deployments"] = [
            {"id": d.plan.id} for d in self.deployments.values() if stored.app.id in d.plan.affected_apps
        ]
        if "tasks" in embed:
            ports = service_ports(stored.app)
            out["tasks"] = [self.task_json(i, ports, r) for i, r in zip(live, results, strict=True)]
        if "lastTaskFailure" in embed and stored.app.id in self.failures:
            out["lastTaskFailure"] = self.failures[stored.app.id]
        if "readiness" in embed:
            out["readinessCheckResults"] = self.readiness.app_results(stored.app.id, self.deployments)
        return out

    def deployments_json(self) -> list[JsonValue]:
        return [
            d.plan.to_json(current_step=d.step + 1, readiness=self.readiness.results(d.plan.id))
            for d in self.deployments.values()
        ]

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

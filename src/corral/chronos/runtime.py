"""The Chronos daemon's shell: owns the state, feeds `scheduler.py` events and time, persists, then acts.

One asyncio.Lock serializes every turn (driver events, timers, API writes). A turn is: compute the next
state and plan purely, write the difference to the store (runs first), and only then send the plan's calls,
so an ACCEPT never leaves for a run the store does not hold as LAUNCHED, and an acknowledgement never leaves
for an update not yet recorded. Acknowledgements leave after the lock is released (their order does not
matter); every other call leaves in order, under the lock. The timer wakes when the last decision asked (due
times, retries, expiries, revive leads), at most a second apart; held offers wait in `_held` for the due time
they were kept for.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette

from corral.aio import within
from corral.chronos.dag import graph_problems
from corral.chronos.http_api import make_app, sandbox_url
from corral.chronos.model import Job
from corral.chronos.runs import Run
from corral.chronos.schedule import utc
from corral.chronos.scheduler import (
    ChronosState,
    SchedulerConfig,
    decide,
    delete_job,
    kill_tasks,
    on_status,
    put_job,
    reconcile_tasks,
    run_now,
)
from corral.chronos.store import ChronosStore
from corral.chronos.ui.routes import JobFeed, ui_routes
from corral.coord.ports import CoordError, Store
from corral.core.ids import FrameworkId, OfferId
from corral.frameworks.driver import Disconnected, DriverError, SchedulerDriver
from corral.frameworks.plan import FrameworkPlan, StatusAck
from corral.net.tls import PLAIN, TlsConfig
from corral.protocol.mesos import FrameworkInfo, Offer
from corral.protocol.scheduler import Call, Error, Offers, Reconcile, Rescind, Subscribed, Update
from corral.security.credentials import Credential

log = logging.getLogger(__name__)
FAILOVER_TIMEOUT = 7 * 24 * 3600.0  # Chronos's --failover_timeout: one week
MAX_SLEEP = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ChronosConfig:
    master: str  # host:port of the (leading) master
    http_address: str = "127.0.0.1"
    http_port: int = 4400
    hostname: str | None = None
    framework_name: str = "chronos"
    work_dir: Path = Path(".corral/chronos")
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    principal: str | None = None  # `--mesos_authentication_principal`
    tls: TlsConfig = PLAIN  # served, and spoken to the master

    @property
    def advertised(self) -> str:
        return f"{self.hostname or self.http_address}:{self.http_port}"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "root"


class ChronosRuntime:
    def __init__(self, config: ChronosConfig, store: Store, *, credential: Credential | None = None) -> None:
        self.config = config
        self._credential = credential  # what the driver presents to the master
        self.store = ChronosStore(store)
        self.feed = JobFeed()  # the web UI's live view of the jobs
        self.app: Starlette = make_app(self, ui_routes(self, self.feed))
        self._state = ChronosState()
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._held: dict[OfferId, Offer] = {}
        self._suppressed = False
        self._driver: SchedulerDriver | None = None
        self._framework_id: str | None = None
        self._loaded = asyncio.Event()
        self._next_wake: datetime | None = None  # the last decision's; a decision follows every change
        self._replies: set[asyncio.Task[None]] = set()  # acknowledgements in flight

    # ---- ChronosBackend

    @property
    def state(self) -> ChronosState:
        return self._state

    @property
    def leader(self) -> str:
        return self.config.advertised

    def now(self) -> datetime:
        return utc(time.time())

    def sandbox_url(self, run: Run) -> str | None:
        master = self._driver.master if self._driver is not None else self.config.master
        return sandbox_url(master, self._framework_id, run, self.config.tls.scheme)

    async def save_job(self, job: Job) -> None:
        async with self._lock:
            await self._commit(put_job(self._state, job))
        log.info("job %s saved", job.name)
        self._wake.set()

    async def run_job(self, name: str, arguments: str) -> None:
        async with self._lock:
            await self._commit(run_now(self._state, name, self.now(), arguments))
        log.info("job %s: manual run queued", name)
        self._wake.set()

    async def delete_job(self, name: str) -> None:
        async with self._lock:
            state, kills = delete_job(self._state, name, self.now())
            await self._commit(state)
            await self._send(FrameworkPlan(kills=kills))
        log.info("job %s deleted (%d task(s) killed)", name, len(kills))

    async def kill_tasks(self, name: str) -> None:
        async with self._lock:
            state, kills = kill_tasks(self._state, name, self.now())
            await self._commit(state)
            await self._send(FrameworkPlan(kills=kills))
        log.info("job %s: %d task(s) killed", name, len(kills))

    # ---- the loop

    async def run(self) -> None:
        self._state = await self.store.load()
        self.feed.publish(ChronosState(), self._state)
        self._framework_id = await self.store.framework_id()
        self._loaded.set()
        runs = sum(len(r.all()) for r in self._state.runs.values())
        log.info("chronos loaded %d job(s), %d run(s)", len(self._state.jobs), runs)
        for problem in graph_problems(self._state.graph()):
            log.warning("chronos store: %s", problem)  # written by hand or by an older version
        info = FrameworkInfo(
            user=_user(),
            name=self.config.framework_name,
            id=FrameworkId(self._framework_id) if self._framework_id else None,
            failover_timeout=FAILOVER_TIMEOUT,
            checkpoint=True,
            hostname=self.config.hostname or self.config.http_address,
            principal=self.config.principal,
            webui_url=self.config.tls.url(self.config.advertised),
        )
        self._driver = SchedulerDriver(
            self.config.master, info, credential=self._credential, tls=self.config.tls
        )
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._events(self._driver), name="chronos-events")
                group.create_task(self._timer(), name="chronos-timer")
        finally:
            for task in self._replies:
                task.cancel()
            await self._driver.aclose()

    async def _timer(self) -> None:
        while True:
            wake = self._next_wake
            delay = (
                MAX_SLEEP if wake is None else min(max((wake - self.now()).total_seconds(), 0.0), MAX_SLEEP)
            )
            with contextlib.suppress(TimeoutError):
                await within(self._wake.wait(), delay)
            self._wake.clear()
            await self._turn()

    async def _events(self, driver: SchedulerDriver) -> None:
        async for event in driver.events():
            match event:
                case Subscribed():
                    await self._subscribed(driver, str(event.framework_id))
                case Offers():
                    async with self._lock:
                        self._held.update((o.id, o) for o in event.offers)
                    await self._turn()
                case Rescind():
                    async with self._lock:
                        self._held.pop(event.offer_id, None)
                case Update():
                    await self._update(event)
                case Disconnected():
                    async with self._lock:
                        self._held.clear()
                        self._suppressed = False
                    log.warning("chronos lost the master: %s", event.reason)
                case Error():
                    log.error("the master refused chronos: %s", event.message)
                case _:
                    pass

    async def _subscribed(self, driver: SchedulerDriver, framework_id: str) -> None:
        async with self._lock:
            self._suppressed = False
            if framework_id != self._framework_id:
                self._framework_id = framework_id
                await self.store.save_framework_id(framework_id)
            active = reconcile_tasks(self._state)
            if active:
                await self._call_plan_safely(
                    driver, Reconcile(tasks=tuple((r.task_id, r.agent_id) for r in active))
                )
        log.info("chronos subscribed as framework %s; reconciling %d task(s)", framework_id, len(active))
        self._wake.set()

    async def _update(self, event: Update) -> None:
        status = event.status
        ack = None
        if status.uuid is not None and status.agent_id is not None:
            ack = StatusAck(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid)
        async with self._lock:
            before = self._state.run(status.task_id)
            state, plan = on_status(
                self._state,
                task_id=status.task_id,
                task_state=status.state,
                now=self.now(),
                message=status.message or "",
                ack=ack,
                config=self.config.scheduler,
            )
            await self._commit(state)
        self._reply(plan)
        after = self._state.run(status.task_id)
        if before is not None and after is not None and before.state != after.state:
            log.info("task %s %s -> %s (%s)", status.task_id, before.state, after.state, status.state)
        if before is not None and before.state.is_active and (after is None or after.state.is_terminal):
            self._wake.set()  # a run ended: a retry, a child or a waiting slot may be due now

    async def _turn(self) -> None:
        async with self._lock:
            decision = decide(
                self._state,
                list(self._held.values()),
                self.now(),
                config=self.config.scheduler,
                suppressed=self._suppressed,
            )
            await self._commit(decision.state)
            self._held = {o.id: o for o in decision.held}
            self._next_wake = decision.wake
            await self._send(decision.plan)
            if decision.plan.revive:
                self._suppressed = False
            if decision.plan.suppress:
                self._suppressed = True
        for run in decision.launched:
            log.info("task %s launched on %s (job %s)", run.task_id, run.hostname, run.job)
        for run in decision.skipped:
            log.info("task %s skipped: %s", run.task_id, run.message)

    async def _commit(self, state: ChronosState) -> None:
        """Persist the difference, then adopt the state (the lock is held)."""
        if state is self._state:
            return
        try:
            await self.store.save(self._state, state)
        except CoordError:
            log.exception("chronos could not persist its state; the change is dropped")
            raise
        self.feed.publish(self._state, state)
        self._state = state

    def _reply(self, plan: FrameworkPlan) -> None:
        """Send an update's acknowledgement (or a stray's kill) without holding the lock: the update is
        recorded already and its order among calls does not matter, so a due launch never waits behind it."""
        if plan.is_empty:
            return
        task = asyncio.get_running_loop().create_task(self._send(plan))
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    async def _send(self, plan: FrameworkPlan) -> None:
        driver = self._driver
        if driver is None or plan.is_empty:
            return
        for call in plan.to_calls():
            await self._call_plan_safely(driver, call)

    async def _call_plan_safely(self, driver: SchedulerDriver, call: Call) -> None:
        if not driver.is_subscribed:
            return
        try:
            await driver.call(call)
        except DriverError as e:
            log.warning("chronos %s failed: %s", type(call).__name__, e)

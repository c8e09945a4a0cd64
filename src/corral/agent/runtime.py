"""The agent daemon's shell: the one owner of `AgentCore`, and the only place that performs its effects.

Every message (from the master, an executor's HTTP call, a process exit, the timer) goes through
`deliver`, which runs `core.handle` and performs the effects in order; messages that effects produce
(ProcessStarted after a spawn, say) are queued and handled right after, never re-entrantly.

`run` first recovers (`recovery.py`): it connects to the task supervisor, reads the checkpoints (or, with
`--recover=cleanup`, discards them), and hands both to the core, which adopts or kills what the last run left
(each container adopted is the isolator's again: `AdoptContainer`); once the custom executors found running
have subscribed again (or run out of time), it registers.
An exit is collected (forgotten by the supervisor) only once the updates it caused are checkpointed.
Every `usage_interval` the running tasks' usage goes to the master (`UsageReport`).

`run` registers with the master and re-registers (with everything the agent runs) whenever the link breaks,
with randomized exponential backoff (`registration_backoff_factor`, doubling, capped at a minute, as
upstream's agent does). A stream silent for five of the master's heartbeat intervals counts as broken.
Cancelling `run` leaves every task running: the agent is a restart-safe daemon. It does not serve HTTP;
the CLI serves `app` beside it (`corral.net.serve.serve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import signal
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator
from dataclasses import replace
from typing import assert_never

from starlette.applications import Starlette

from corral.agent.checkpoint import (
    Checkpointer,
    CheckpointWriter,
    discard_checkpoints,
    read_agent_id,
    read_checkpoints,
)
from corral.agent.config import AgentConfig, RecoverMode
from corral.agent.core import AgentCore
from corral.agent.effects import (
    AdoptContainer,
    CancelProbe,
    Checkpoint,
    Checkpointed,
    CheckpointedFramework,
    CollectGarbage,
    DestroyContainer,
    DisconnectExecutor,
    DiskUsage,
    Effect,
    HealthProbe,
    HealthProbed,
    Ignored,
    Inbound,
    Launch,
    LaunchFailed,
    MasterDisconnected,
    ProcessExited,
    ProcessStarted,
    Recover,
    SendToExecutor,
    SendToMaster,
    Signal,
    SupervisorReport,
    Tick,
    Transition,
    UpdateContainer,
    WakeAt,
)
from corral.agent.executor.processes import signal_group
from corral.agent.executor.supervisor_link import Callbacks, Inherited, SupervisorLink, SupervisorLost
from corral.agent.executor_tokens import TOKEN_ENV, executor_token
from corral.agent.fetcher import FetchError, fetch
from corral.agent.health_probes import HealthProbes
from corral.agent.http_api import EventQueue, build_app
from corral.agent.isolation.isolator import Isolator
from corral.agent.isolation.isolators import GPU_NVIDIA
from corral.agent.isolation.statistics import monitor_statistics, usage_report
from corral.agent.resources import detect, probe
from corral.agent.sandbox import delete, disk_usage, find_runs, prepare
from corral.coord.zk_url import str_masked
from corral.core.clock import Clock
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId
from corral.net.agent_link import LinkError, MasterLink
from corral.protocol import executor as ex
from corral.protocol import recordio
from corral.protocol.agent import AgentToMaster, Registered
from corral.protocol.json import JsonValue, dumps
from corral.security.tokens import TokenSigner

log = logging.getLogger(__name__)

MISSED_PINGS = 5
FIRST_SILENCE = 75.0  # before Registered says the interval: upstream's ping timeout (5 x 15 s)
REGISTRATION_BACKOFF_MAX = 60.0
INHERITED = ("PATH", "HOME", "LANG")  # all of the agent's environment a task or executor sees


def _prepare_and_fetch(effect: Launch) -> None:
    prepare(effect.sandbox)
    fetch(effect.uris, effect.sandbox)


class _SystemClock:
    def now(self) -> float:
        return time.time()


class AgentRuntime:
    def __init__(
        self,
        config: AgentConfig,
        link: MasterLink,
        *,
        clock: Clock | None = None,
        executor_tokens: TokenSigner | None = None,
    ) -> None:
        """`executor_tokens` signs the token each custom executor gets (`executor_tokens.py`)."""
        # Sandboxes and MESOS_DIRECTORY must be absolute: processes run with the sandbox as cwd.
        self.config = replace(config, work_dir=config.work_dir.resolve())
        self._link = link
        self._executor_tokens = executor_tokens
        self._clock: Clock = clock or _SystemClock()
        self._rng = random.Random()
        self._checkpoints = CheckpointWriter(Checkpointer(self.config.work_dir))
        self.isolator = Isolator.for_config(self.config)
        # `--switch_user`: only root can run tasks as their users; any other agent runs them as itself.
        self._switch_user = self.config.switch_user and os.geteuid() == 0
        machine = probe(self.config.work_dir, gpus=GPU_NVIDIA in self.config.isolation)
        self._core = AgentCore(
            self.config,
            resources=detect(config.resources, machine),
            gpus=machine.gpus,
            new_container_id=lambda: ContainerId(str(uuid.uuid4())),
            new_uuid=lambda: uuid.uuid4().bytes,
            base_environment={k: os.environ[k] for k in INHERITED if k in os.environ},
            agent_id=read_agent_id(self.config.work_dir),
            start_time=self._clock.now(),
            awaiting_recovery=True,
        )
        self._recovered = asyncio.Event()  # set once the core is no longer recovering
        self._uncollected: list[int] = []  # pids of exits handled, to collect once their updates are on disk
        self._collectable = asyncio.Event()
        self._inbox: deque[Inbound] = deque()
        self._delivering = False
        self._outbox: asyncio.Queue[AgentToMaster] = asyncio.Queue()
        self._streams: dict[tuple[FrameworkId, ExecutorId], EventQueue] = {}
        self._containers: dict[int, ContainerId] = {}  # pid -> container
        callbacks = Callbacks(started=self._started, failed=self._failed, exited=self._exited, oom=self._oom)
        self._supervisor = SupervisorLink(self.config.work_dir, callbacks)
        self._health = HealthProbes()
        self._probes: dict[tuple[FrameworkId, TaskId], asyncio.Task[None]] = {}  # the one running per task
        self._group: asyncio.TaskGroup | None = None
        self._wake: asyncio.TimerHandle | None = None
        self._app: Starlette | None = None

    @property
    def core(self) -> AgentCore:
        return self._core

    @property
    def agent_id(self) -> AgentId | None:
        return self._core.agent_id

    @property
    def app(self) -> Starlette:
        if self._app is None:
            self._app = build_app(self, statistics=self.statistics)
        return self._app

    def now(self) -> float:
        return self._clock.now()

    # ------------------------------------------------------------ the loop

    async def run(self) -> None:
        inherited = await self._supervisor.connect()
        checkpointed = await asyncio.to_thread(self._read_checkpoints)
        try:
            async with asyncio.TaskGroup() as group:
                self._group = group
                group.create_task(self._supervisor.run())
                group.create_task(self._checkpoints.run())
                group.create_task(self._send_to_master())
                group.create_task(self._collect_exits())
                group.create_task(self._watch_disk())
                group.create_task(self.isolator.watch_disks(self._kill_container))
                group.create_task(self._report_usage())
                self._recover(checkpointed, inherited)
                await self._recovered.wait()
                await self._stay_registered()
        finally:
            self._group = None
            self._checkpoints.close()
            with contextlib.suppress(SupervisorLost):  # their updates are on disk now: collect the exits
                for pid in self._uncollected:
                    self._supervisor.collected(pid)
            if self._wake is not None:
                self._wake.cancel()
                self._wake = None
            await self._supervisor.aclose()
            await self._health.aclose()
            for queue in self._streams.values():
                queue.put_nowait(None)
            self._streams.clear()

    def deliver(self, message: Inbound) -> None:
        self._inbox.append(message)
        if self._delivering:
            return  # the loop below, further up the stack, handles it next
        self._delivering = True
        try:
            while self._inbox:
                for effect in self._core.handle(self._inbox.popleft(), self.now()):
                    self._perform(effect)
        finally:
            self._delivering = False
        if not self._recovered.is_set() and not self._core.is_recovering:
            self._recovered.set()

    # ------------------------------------------------------------ recovery and garbage

    def _read_checkpoints(self) -> Checkpointed:
        """What the last run left on disk (in a thread: it reads a file or two per task)."""
        work_dir, agent_id = self.config.work_dir, self._core.agent_id
        frameworks: tuple[CheckpointedFramework, ...] = ()
        if agent_id is not None and self.config.recover is RecoverMode.RECONNECT:
            frameworks = read_checkpoints(work_dir, agent_id)
        elif agent_id is not None:
            discard_checkpoints(work_dir, agent_id)
        return Checkpointed(frameworks=frameworks, run_directories=tuple(find_runs(work_dir)))

    def _recover(self, checkpointed: Checkpointed, inherited: Inherited) -> None:
        report = SupervisorReport(
            running={ContainerId(c): pid for c, pid in inherited.running},
            exited={ContainerId(c): status for c, _, status in inherited.exited},
        )
        self.deliver(Recover(checkpointed=checkpointed, report=report))  # AdoptContainer for those it keeps
        for _, pid, _ in inherited.exited:
            self._collect(pid)

    def _collect(self, pid: int) -> None:
        self._uncollected.append(pid)
        self._collectable.set()

    async def _collect_exits(self) -> None:
        """The supervisor forgets an exit once what the agent made of it is on disk: an agent killed before
        that hears of the exit again from the next supervisor it connects to."""
        while True:
            await self._collectable.wait()
            self._collectable.clear()
            count = len(self._uncollected)
            await self._checkpoints.written()
            pids, self._uncollected = self._uncollected[:count], self._uncollected[count:]
            for pid in pids:
                self._supervisor.collected(pid)

    async def _watch_disk(self) -> None:
        while True:
            usage = await asyncio.to_thread(disk_usage, self.config.work_dir)
            if usage is not None:
                self.deliver(DiskUsage(fraction=usage))
            await asyncio.sleep(self.config.disk_watch_interval)

    def _perform(self, effect: Effect) -> None:
        match effect:
            case SendToMaster():
                self._outbox.put_nowait(effect.message)
            case SendToExecutor():
                queue = self._streams.get((effect.framework_id, effect.executor_id))
                if queue is not None:
                    queue.put_nowait(recordio.encode(dumps(ex.encode_event(effect.event))))
            case DisconnectExecutor():
                queue = self._streams.pop((effect.framework_id, effect.executor_id), None)
                if queue is not None:
                    queue.put_nowait(None)
            case Launch():
                self._launch(effect)
            case UpdateContainer():
                if (change := self.isolator.update(effect.container_id, effect.resources)) is not None:
                    self._supervisor.cgroups(change[0], effect.container_id, change[1].to_json())
            case DestroyContainer():
                if (cgroups := self.isolator.destroy(effect.container_id)) is not None:
                    self._supervisor.cgroups("destroy", effect.container_id, cgroups.to_json())
            case AdoptContainer():
                self._adopt(effect)
            case Signal():
                log.info(
                    "container %s: signal %d to process group %d",
                    effect.container_id,
                    effect.signal,
                    effect.pid,
                )
                signal_group(effect.pid, effect.signal)
            case HealthProbe():
                self._probe(effect)
            case CancelProbe():
                running = self._probes.pop((effect.framework_id, effect.task_id), None)
                if running is not None:
                    running.cancel()
            case Checkpoint():
                self._checkpoints.submit(self._core.agent_id, effect.record)
            case CollectGarbage():
                log.info("garbage collection: deleting %d directories", len(effect.paths))
                if self._group is not None:
                    self._group.create_task(asyncio.to_thread(delete, effect.paths))
            case WakeAt():
                self._wake_at(effect.deadline)
            case Transition():
                why = f" ({effect.reason})" if effect.reason else ""
                log.info(
                    "%s %s: %s -> %s%s", effect.kind, effect.ident, effect.old or "(new)", effect.new, why
                )
            case Ignored():
                log.warning("%s", effect.text)
            case _:
                assert_never(effect)

    def _wake_at(self, deadline: float) -> None:
        if self._wake is not None:
            self._wake.cancel()
        delay = max(0.0, deadline - self.now())
        self._wake = asyncio.get_running_loop().call_later(delay, self._tick)

    def _tick(self) -> None:
        self._wake = None
        self.deliver(Tick())

    # ------------------------------------------------------------ processes

    def _launch(self, effect: Launch) -> None:
        if self._group is None:
            self.deliver(LaunchFailed(container_id=effect.container_id, message="The agent is shutting down"))
            return
        self.isolator.launching(effect.container_id, effect.resources, effect.sandbox, parent=effect.parent)
        if effect.uris:
            self._group.create_task(self._fetch_and_spawn(effect))
        else:
            self._spawn(effect)

    async def _fetch_and_spawn(self, effect: Launch) -> None:
        """Fetch off the loop: downloads are slow. The sandbox exists by then; the supervisor keeps it."""
        try:
            await asyncio.to_thread(_prepare_and_fetch, effect)
        except (FetchError, OSError) as e:
            self.isolator.exited(effect.container_id)
            self.deliver(LaunchFailed(container_id=effect.container_id, message=str(e)))
            return
        self._spawn(effect)

    def _spawn(self, effect: Launch) -> None:
        """The supervisor makes the sandbox, isolates and starts the process; `_started` or `_failed`
        follows."""
        spec = self.isolator.spawning(effect.container_id)
        user = effect.user if self._switch_user else None
        environment = dict(effect.environment)
        if self._executor_tokens is not None:
            executor = self._core.state.containers.get(effect.container_id)
            if token := executor_token(self._executor_tokens, executor, self.now()):
                environment[TOKEN_ENV] = token
        self._supervisor.spawn(
            effect.container_id,
            effect.argv,
            environment,
            effect.sandbox,
            spec.to_json(),
            user=user,
        )

    def _adopt(self, effect: AdoptContainer) -> None:
        """A container the last run started: its exit is the core's to handle again, its cgroups ours."""
        if effect.pid is not None:
            self._containers[effect.pid] = effect.container_id
        self.isolator.adopted(
            effect.container_id, effect.resources, effect.sandbox, pid=effect.pid, parent=effect.parent
        )

    def _started(self, container_id: str, pid: int) -> None:
        self._containers[pid] = ContainerId(container_id)
        self.isolator.started(ContainerId(container_id), pid)
        self.deliver(ProcessStarted(container_id=ContainerId(container_id), pid=pid))

    def _failed(self, container_id: str, message: str) -> None:
        self.isolator.exited(ContainerId(container_id))
        self.deliver(LaunchFailed(container_id=ContainerId(container_id), message=message))

    def _oom(self, container_id: str, report: dict[str, int | None]) -> None:
        self.isolator.oom_killed(ContainerId(container_id), report)

    def _exited(self, container_id: str, pid: int, wait_status: int) -> None:
        container = ContainerId(container_id)
        limitation = self.isolator.exited(container)
        if self._containers.pop(pid, None) is not None:
            exited = ProcessExited(container_id=container, wait_status=wait_status, limitation=limitation)
            self.deliver(exited)
        self._collect(pid)

    def _kill_container(self, container_id: ContainerId, pid: int) -> None:
        """disk/du found the container over its quota (the exit reports the limitation)."""
        signal_group(pid, signal.SIGKILL)

    async def statistics(self) -> list[JsonValue]:
        """`/monitor/statistics`: each live executor's usage and limits."""
        usage = await self.isolator.usage()
        return monitor_statistics(self._core.state, usage, self.isolator.limits(), self.now())

    async def _report_usage(self) -> None:
        """Every `usage_interval`, the running tasks' usage to the master, while it listens. An empty report
        goes once after a non-empty one: reports are complete, so it clears what the master shows."""
        reported = False
        while True:
            await asyncio.sleep(self.config.usage_interval)
            if not self._core.state.connected or not (reported or self.isolator.has_processes()):
                continue
            usage = await self.isolator.usage(brief=True)
            report = usage_report(self._core.state, usage, self.isolator.limits(), self.now())
            if report.tasks or reported:
                self._outbox.put_nowait(report)
            reported = bool(report.tasks)

    # ------------------------------------------------------------ health checks

    def _probe(self, effect: HealthProbe) -> None:
        """Probes run in the agent's task group, so shutting the agent down cancels them."""
        if self._group is not None:
            key = (effect.framework_id, effect.task_id)
            self._probes[key] = self._group.create_task(self._run_probe(effect))

    async def _run_probe(self, effect: HealthProbe) -> None:
        healthy, message = await self._health.run(effect)
        key = (effect.framework_id, effect.task_id)
        if self._probes.get(key) is asyncio.current_task():
            del self._probes[key]
        probed = HealthProbed(
            framework_id=effect.framework_id,
            task_id=effect.task_id,
            attempt=effect.attempt,
            healthy=healthy,
            message=message,
        )
        self.deliver(probed)

    # ------------------------------------------------------------ executor streams (for http_api)

    def attach_executor(self, framework_id: FrameworkId, executor_id: ExecutorId) -> EventQueue:
        """A new SUBSCRIBE stream for the executor; its previous one, if any, ends."""
        previous = self._streams.get((framework_id, executor_id))
        if previous is not None:
            previous.put_nowait(None)
        queue: EventQueue = asyncio.Queue()
        self._streams[(framework_id, executor_id)] = queue
        return queue

    def detach_executor(self, framework_id: FrameworkId, executor_id: ExecutorId, queue: EventQueue) -> None:
        if self._streams.get((framework_id, executor_id)) is queue:
            del self._streams[(framework_id, executor_id)]

    # ------------------------------------------------------------ the master

    async def _stay_registered(self) -> None:
        failures = 0
        while True:
            reason, registered = await self._session()
            self.deliver(MasterDisconnected(reason=reason))
            failures = 0 if registered else min(failures + 1, 16)
            ceiling = min(REGISTRATION_BACKOFF_MAX, self.config.registration_backoff_factor * 2**failures)
            delay = self._rng.uniform(0, ceiling)
            master = str_masked(self.config.master)
            log.info("master %s: %s; registering again in %.1f s", master, reason, delay)
            await self._link.pause(delay)

    async def _session(self) -> tuple[str, bool]:
        """One registration: deliver the master's messages until the stream ends. Returns why it ended, and
        whether the master registered the agent."""
        messages = self._link.stream(self._core.registration())
        iterator = aiter(messages)
        silence, registered = FIRST_SILENCE, False
        try:
            while True:
                async with asyncio.timeout(silence):
                    message = await anext(iterator)
                if isinstance(message, Registered):
                    registered = True
                    silence = message.heartbeat_interval_seconds * MISSED_PINGS
                self.deliver(message)
        except StopAsyncIteration:
            return "the master ended the stream", registered
        except LinkError as e:
            return str(e), registered
        except TimeoutError:
            return f"nothing from the master for {silence:g} s", registered
        finally:
            if isinstance(messages, AsyncGenerator):
                await messages.aclose()

    async def _send_to_master(self) -> None:
        while True:
            batch = [await self._outbox.get()]
            while not self._outbox.empty():
                batch.append(self._outbox.get_nowait())
            await self._checkpoints.written()  # an update goes out only once it is checkpointed
            agent_id = self._core.agent_id
            if agent_id is None or not self._core.state.connected:
                continue  # status updates are resent on reconnection; the rest is lost, as upstream
            for message in batch:
                try:
                    await self._link.send(agent_id, message)
                except LinkError as e:
                    log.warning("could not send %s to the master: %s", type(message).__name__, e)

"""SimCluster: a master, agents and frameworks wired by an in-memory network, on a fake clock.

The cores are the real `MasterCore` and `AgentCore`; this module is their shell, built like
`master/runtime.py` and `agent/runtime.py` but with a FIFO of messages in place of sockets and a
`FakeProcesses` table in place of fork and kill (raft's test `network`, with `isolate` and `heal`).

Rules:
1. Everything that crosses a wire crosses it encoded (scheduler calls and events, agent <-> master
   messages, executor calls) and is decoded by the same codecs the HTTP edges use; scheduler and
   executor calls get the edges' checks too (400 unknown framework, 403 not subscribed, ...).
2. An action (a scheduler call, a process exit, a cut or healed link) delivers its messages, and every
   message they cause, before it returns. Nothing the clock drives happens then, not even a timer due
   now: allocation, retries, timeouts and escalations run only inside `run_for` (`run_for(0)` finishes
   the current instant), as the runtimes run them on a later turn of their loops.
3. `run_for` jumps from deadline to deadline (the latest `WakeAt` of each core); at each instant it
   delivers messages until none is left, then ticks every core whose deadline has come, and repeats.
4. A message in flight on a link that is cut (isolate, master restart) is lost, as a TCP connection's
   unsent data is. Processes are local to their agent and survive every cut.

Ids are deterministic: masters `M1`, `M2`, ... (one per restart), framework and agent ids minted by them,
container ids `<agent>-c<n>`, status update uuids 1, 2, ... as 16 bytes, pids from 1000. The allocator
shuffles agents with `random.Random(seed)`.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import assert_never

from corral.agent import effects as ae
from corral.agent.config import AgentConfig
from corral.agent.core import AgentCore
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, IdSource, TaskId
from corral.core.resources import Resources, parse_resources
from corral.core.task_state import TaskState
from corral.master import messages as mm
from corral.master.allocator.drf import DrfAllocator
from corral.master.config import MasterConfig
from corral.master.core import MasterCore
from corral.master.state import StreamId, TaskRecord
from corral.protocol import executor as ex
from corral.protocol.agent import (
    ExecutorExited,
    ExecutorToFramework,
    Pong,
    Register,
    StatusUpdate,
)
from corral.protocol.json import JsonObject, dumps, loads
from corral.protocol.mesos import MasterInfo
from corral.protocol.scheduler import Error
from corral.testing.clock import FakeClock
from corral.testing.fake_executor import FakeExecutor, FakeProcess, FakeProcesses, exit_status, signal_status
from corral.testing.sim_framework import SimFramework
from corral.testing.sim_network import (
    Delivery,
    SimAgent,
    ToAgent,
    ToFramework,
    ToMaster,
    wire_event,
    wire_to_agent,
    wire_to_master,
)

__all__ = ["FakeExecutor", "FakeProcess", "SimAgent", "SimCluster", "SimFramework"]

MAX_STEPS_PER_INSTANT = 100_000  # a livelock (messages or ticks at one instant forever) fails loudly


class SimCluster:
    def __init__(
        self,
        agents: int = 1,
        resources: str = "cpus:2;mem:2048",
        *,
        master_config: MasterConfig | None = None,
        agent_config: AgentConfig | None = None,
        seed: int = 0,
    ) -> None:
        self.clock = FakeClock()
        self.start = self.clock.t
        self.master_config = master_config or MasterConfig()
        self.agent_config = agent_config or AgentConfig()
        self.processes = FakeProcesses()
        self.log: list[str] = []  # one line per Notice, Transition and Ignored, with the time
        self.agents: list[SimAgent] = []
        self.frameworks: list[SimFramework] = []
        self.executors: list[FakeExecutor] = []
        self._rng = random.Random(seed)
        self._queue: deque[Delivery] = deque()
        self._draining = False
        self._uuids = itertools.count(1)
        self._streams = itertools.count(1)
        self._connections = itertools.count(1)
        self._incarnation = 0
        self._master_wake: float | None = None
        self._stream_owner: dict[StreamId, SimFramework] = {}
        self._agent_of_connection: dict[int, SimAgent] = {}
        self._connection_of_agent: dict[AgentId, int] = {}
        self.master = self._new_master()
        for _ in range(agents):
            self.add_agent(resources)

    # ------------------------------------------------------------ time

    def now(self) -> float:
        return self.clock.now()

    def elapsed(self) -> float:
        """Seconds since the cluster started."""
        return self.clock.t - self.start

    def _note(self, who: str, text: str) -> None:
        self.log.append(f"{self.elapsed():9.3f} {who}: {text}")

    def run_for(self, seconds: float) -> None:
        """Advance the clock by `seconds`, firing every deadline on the way, in order (rule 3)."""
        if seconds < 0:
            raise ValueError("time does not go backwards")
        end = self.clock.t + seconds
        while True:
            self._finish_instant()
            deadline = self._next_deadline()
            if deadline is None or deadline > end:
                break
            self.clock.t = max(self.clock.t, deadline)
        self.clock.t = end
        self._finish_instant()

    def _next_deadline(self) -> float | None:
        deadlines = [a.wake for a in self.agents if a.wake is not None]
        if self._master_wake is not None:
            deadlines.append(self._master_wake)
        return min(deadlines, default=None)

    def _finish_instant(self) -> None:
        for _ in range(MAX_STEPS_PER_INSTANT):
            self._drain()
            if not self._tick_due():
                return
        raise RuntimeError(f"no quiet moment at t={self.clock.t}: the cores keep waking each other")

    def _tick_due(self) -> bool:
        now, ticked = self.clock.t, False
        if self._master_wake is not None and self._master_wake <= now:
            self._master_wake = None
            self._perform_master(self.master.handle(mm.Tick(), now))
            ticked = True
        for agent in self.agents:
            if agent.wake is not None and agent.wake <= now:
                agent.wake = None
                self._perform_agent(agent, agent.core.handle(ae.Tick(), now))
                ticked = True
        return ticked

    # ------------------------------------------------------------ delivery

    def deliver(self) -> None:
        """Deliver every message in flight, and what they cause, without moving the clock (actions already
        do this before they return: rule 2)."""
        self._drain()

    def _send(self, delivery: Delivery) -> None:
        self._queue.append(delivery)

    def _drain(self) -> None:
        """Deliver queued messages until none is left (re-entrant calls just queue: rule 2)."""
        if self._draining:
            return
        self._draining = True
        try:
            steps = 0
            while self._queue:
                steps += 1
                if steps > MAX_STEPS_PER_INSTANT:
                    raise RuntimeError(f"messages keep flowing at t={self.clock.t}")
                self._deliver(self._queue.popleft())
        finally:
            self._draining = False

    def _deliver(self, delivery: Delivery) -> None:
        now = self.clock.t
        match delivery:
            case ToMaster():
                sender = delivery.sender
                if delivery.incarnation != self._incarnation:
                    return
                if sender is not None and (sender.link != delivery.link or not sender.reachable):
                    return
                self._perform_master(self.master.handle(delivery.message, now))
            case ToAgent():
                agent = delivery.agent
                if delivery.link is not None and (delivery.link != agent.link or not agent.reachable):
                    return
                self._perform_agent(agent, agent.core.handle(delivery.message, now))
            case ToFramework():
                framework = self._stream_owner.get(delivery.stream_id)
                if framework is None:
                    return
                is_current = framework.stream_id == delivery.stream_id
                if delivery.event is None:
                    del self._stream_owner[delivery.stream_id]
                    if is_current:
                        framework.stream_ended()
                    # The runtime hears its own response end, as `close_stream` (a no-op for the core).
                    self._to_master(mm.StreamClosed(stream_id=delivery.stream_id))
                elif is_current:
                    framework.receive(delivery.event, now)
            case _:
                assert_never(delivery)

    def _to_master(self, message: mm.Inbound, sender: SimAgent | None = None) -> None:
        link = sender.link if sender is not None else 0
        self._send(ToMaster(self._incarnation, message, sender, link))

    # ------------------------------------------------------------ the master

    def _new_master(self) -> MasterCore:
        self._incarnation += 1
        self._master_wake = None
        master_id = f"M{self._incarnation}"
        info = MasterInfo(id=master_id, ip="10.0.0.254", port=5050, hostname="master")
        return MasterCore(
            self.master_config,
            info,
            ids=IdSource(master_id),
            allocator=DrfAllocator(self._rng),
            now=self.clock.t,
        )

    def _perform_master(self, effects: list[mm.Effect]) -> None:
        for effect in effects:
            match effect:
                case mm.SendEvent():
                    event = wire_event(effect.event, multi_role=effect.multi_role)
                    self._send(ToFramework(effect.stream_id, event))
                case mm.CloseStream():
                    if effect.error is not None:
                        self._send(ToFramework(effect.stream_id, Error(message=effect.error)))
                    self._send(ToFramework(effect.stream_id, None))
                case mm.BindAgent():
                    agent = self._agent_of_connection.get(effect.connection)
                    if agent is not None:
                        self._connection_of_agent[effect.agent_id] = effect.connection
                case mm.SendToAgent():
                    connection = self._connection_of_agent.get(effect.agent_id)
                    agent = self._agent_of_connection.get(connection) if connection is not None else None
                    if agent is not None and agent.connection == connection and agent.reachable:
                        self._send(ToAgent(agent, agent.link, wire_to_agent(effect.message)))
                case mm.WakeAt():
                    self._master_wake = effect.deadline
                case mm.Notice():
                    self._note("master", effect.text)
                case _:
                    assert_never(effect)

    def restart_master(self) -> None:
        """A new master with empty state (upstream's failover to a new leader): every agent's link and
        every scheduler stream breaks; agents re-register at once with all they run. Frameworks must
        `resubscribe()`, as schedulers do when they find the new leader."""
        self.master = self._new_master()
        self._stream_owner.clear()
        self._connection_of_agent.clear()
        for framework in self.frameworks:
            if framework.stream_id is not None:
                framework.stream_ended()
        for agent in self.agents:
            self._cut(agent, "the master failed over")
            if agent.reachable:
                self._register(agent)
        self._drain()

    # ------------------------------------------------------------ agents

    def add_agent(self, resources: str = "cpus:2;mem:2048", *, name: str | None = None) -> SimAgent:
        """Start an agent with `resources` (`--resources` syntax) and register it with the master."""
        number = len(self.agents) + 1
        name = name or f"agent{number}"
        config = replace(
            self.agent_config,
            ip=f"10.0.0.{number}",
            hostname=name,
            work_dir=Path("/sim") / name,
            resources=parse_resources(resources),
        )
        containers = (ContainerId(f"{name}-c{n}") for n in itertools.count(1))
        core = AgentCore(
            config,
            resources=parse_resources(resources),
            new_container_id=lambda: next(containers),
            new_uuid=self._new_uuid,
            base_environment={"PATH": "/usr/bin:/bin", "HOME": "/root"},
            start_time=self.clock.t,
        )
        agent = SimAgent(name, core)
        self.agents.append(agent)
        self._register(agent)
        self._drain()
        return agent

    def add_agents(self, count: int, resources: str = "cpus:2;mem:2048") -> list[SimAgent]:
        return [self.add_agent(resources) for _ in range(count)]

    def agent(self, which: SimAgent | AgentId | str) -> SimAgent:
        """An agent by handle, agent id or hostname."""
        if isinstance(which, SimAgent):
            return which
        for agent in self.agents:
            if which in (agent.core.agent_id, agent.name):
                return agent
        raise LookupError(f"no agent {which!r}")

    def _new_uuid(self) -> bytes:
        return next(self._uuids).to_bytes(16, "big")

    def _register(self, agent: SimAgent) -> None:
        connection = next(self._connections)
        agent.connection = connection
        self._agent_of_connection[connection] = agent
        register = wire_to_master(agent.core.registration())
        assert isinstance(register, Register)
        self._to_master(mm.AgentRegister(connection=connection, register=register), agent)

    def _cut(self, agent: SimAgent, reason: str) -> None:
        agent.link += 1
        agent.connection = None
        self._send(ToAgent(agent, None, ae.MasterDisconnected(reason=reason)))

    def isolate(self, which: SimAgent | AgentId | str, *, silent: bool = False) -> None:
        """Cut the agent's link: nothing crosses until `heal`, and its processes run on. The master hears
        AgentDisconnected and the agent MasterDisconnected, as both ends of a closed connection do; with
        `silent` neither hears anything (a cable pulled, a host frozen): only missed heartbeats can tell."""
        agent = self.agent(which)
        connection, agent_id = agent.connection, agent.core.agent_id
        agent.reachable = False
        agent.silenced = silent
        if silent:
            agent.link += 1  # what was in flight is lost; neither end is told
            return
        self._cut(agent, "network partition")
        if connection is not None and agent_id is not None:
            self._to_master(mm.AgentDisconnected(agent_id=agent_id, connection=connection))
        self._drain()

    def heal(self, which: SimAgent | AgentId | str) -> None:
        """Restore the link; the agent re-registers with everything it runs (after a silent cut, once its
        runtime has given up on the old stream, as it does after five missed heartbeats)."""
        agent = self.agent(which)
        if agent.reachable:
            return
        if agent.silenced:
            self._cut(agent, "nothing from the master for 75 s")
            agent.silenced = False
        agent.reachable = True
        self._register(agent)
        self._drain()

    def _perform_agent(self, agent: SimAgent, effects: list[ae.Effect]) -> None:
        for effect in effects:
            match effect:
                case ae.SendToMaster():
                    agent_id = agent.core.agent_id
                    if agent.reachable and agent.core.state.connected and agent_id is not None:
                        message = wire_to_master(effect.message)
                        assert isinstance(message, StatusUpdate | ExecutorExited | ExecutorToFramework | Pong)
                        self._to_master(mm.AgentMessage(agent_id=agent_id, message=message), agent)
                case ae.SendToExecutor():
                    executor = self._executor_of(agent, effect.framework_id, effect.executor_id)
                    if executor is not None and executor.subscribed:
                        executor.receive(effect.event)
                case ae.DisconnectExecutor():
                    executor = self._executor_of(agent, effect.framework_id, effect.executor_id)
                    if executor is not None:
                        executor.subscribed = False
                case ae.Launch():
                    self._launch(agent, effect)
                case ae.Signal():
                    ended = self.processes.signal(effect.pid, effect.signal)
                    if ended is not None:
                        self._exited(ended)
                case ae.Checkpoint():
                    agent.checkpoints.append(effect.record)
                case ae.WakeAt():
                    agent.wake = effect.deadline
                case ae.Transition():
                    why = f" ({effect.reason})" if effect.reason else ""
                    line = f"{effect.kind} {effect.ident}: {effect.old or '(new)'} -> {effect.new}{why}"
                    self._note(agent.name, line)
                case ae.Ignored():
                    self._note(agent.name, f"ignored: {effect.text}")
                case ae.HealthProbe() | ae.CancelProbe():
                    pass  # health checks are not simulated: a probe never answers
                case ae.CollectGarbage():
                    pass  # simulated agents have no sandboxes on disk
                case ae.UpdateContainer() | ae.DestroyContainer() | ae.AdoptContainer():
                    pass  # nor cgroups
                case _:
                    assert_never(effect)

    # ------------------------------------------------------------ processes and executors

    def _launch(self, agent: SimAgent, launch: ae.Launch) -> None:
        state = agent.core.state
        executor = state.containers.get(launch.container_id)
        group_task = state.task_containers.get(launch.container_id)  # a task of a DEFAULT executor
        if executor is not None:
            name, framework_id, is_command = executor.id, executor.framework_id, executor.is_command
        elif group_task is not None:  # runs like a command task; found by its task id
            name, framework_id, is_command = ExecutorId(group_task.id), group_task.framework_id, True
        else:
            name, framework_id, is_command = ExecutorId(""), FrameworkId(""), True
        failure = "the container is unknown to its agent" if not name else self.processes.launch_failure(name)
        if failure is not None:
            self._send(
                ToAgent(agent, None, ae.LaunchFailed(container_id=launch.container_id, message=failure))
            )
            return
        process = self.processes.spawn(
            agent.name, launch, framework_id=framework_id, executor_id=name, is_command=is_command
        )
        if not is_command:
            self.executors.append(FakeExecutor(process, _ExecutorEdge(self, agent), self._uuids))
        self._send(ToAgent(agent, None, ae.ProcessStarted(container_id=launch.container_id, pid=process.pid)))

    def _exited(self, process: FakeProcess) -> None:
        assert process.wait_status is not None
        agent = self.agent(process.agent)
        exited = ae.ProcessExited(container_id=process.container_id, wait_status=process.wait_status)
        self._send(ToAgent(agent, None, exited))

    def _executor_of(
        self, agent: SimAgent, framework_id: FrameworkId, executor_id: ExecutorId
    ) -> FakeExecutor | None:
        for executor in reversed(self.executors):
            process = executor.process
            if (process.agent, process.framework_id, process.executor_id) == (
                agent.name,
                framework_id,
                executor_id,
            ):
                return executor
        return None

    def executor(self, executor_id: str) -> FakeExecutor:
        """The latest custom executor launched with `executor_id`."""
        for executor in reversed(self.executors):
            if executor.executor_id == executor_id:
                return executor
        raise LookupError(f"no executor {executor_id!r} was launched")

    def process(self, name: str) -> FakeProcess:
        """The latest process of task or executor `name`."""
        return self.processes.find(name)

    def fail_launch(self, name: str, message: str = "Failed to fetch all URIs") -> None:
        """The next launch of task (or executor) `name` fails with `message` (LaunchFailed)."""
        self.processes.fail_launch(name, message)

    def ignore_sigterm(self, name: str) -> None:
        """Task (or executor) `name` ignores SIGTERM, now or when it starts: only SIGKILL ends it."""
        self.processes.ignore_sigterm(name)

    def exit(self, name: str, code: int = 0) -> None:
        """The process of task (or executor) `name` exits with `code`."""
        self._end(self.processes.find(name), exit_status(code))

    def kill_signal(self, name: str, signal: int) -> None:
        """The process of task (or executor) `name` dies of `signal` (the OOM killer's SIGKILL, say)."""
        self._end(self.processes.find(name), signal_status(signal))

    def exit_all(self, code: int = 0) -> None:
        """Every running process exits with `code`."""
        for process in self.processes.running():
            self._end(process, exit_status(code))

    def _end(self, process: FakeProcess, wait_status: int) -> None:
        if not self.processes.end(process, wait_status):
            raise RuntimeError(f"process {process.pid} of {process.executor_id} has already ended")
        self._exited(process)
        self._drain()

    # ------------------------------------------------------------ frameworks

    def subscribe_framework(
        self,
        name: str = "fw",
        *,
        failover_timeout: float = 0.0,
        capabilities: Iterable[str] = (),
        checkpoint: bool = False,
        auto_ack: bool = True,
    ) -> SimFramework:
        """A scheduler that SUBSCRIBEs now (`failover_timeout` 0, as upstream's default, means removal as soon
        as it disconnects). With `auto_ack` it acknowledges every update that has a uuid when it arrives."""
        framework = SimFramework(
            _FrameworkEdge(self),
            name=name,
            failover_timeout=failover_timeout,
            capabilities=capabilities,
            checkpoint=checkpoint,
            auto_ack=auto_ack,
        )
        self.frameworks.append(framework)
        framework.resubscribe()
        return framework

    # ------------------------------------------------------------ what the cluster knows

    def task_states(self, framework: SimFramework) -> dict[TaskId, TaskState]:
        """The latest state of each task, as `framework` has been told."""
        return framework.task_states()

    def master_tasks(self, framework: SimFramework | None = None) -> list[TaskRecord]:
        """The master's live and unreachable tasks (completed ones aside), of one framework or of all."""
        out: list[TaskRecord] = []
        for record in self.master.state.frameworks.values():
            if framework is None or record.id == framework.id:
                out += [*record.tasks.values(), *record.unreachable_tasks.values()]
        return out

    def tasks(self, state: TaskState | None = None, framework: SimFramework | None = None) -> list[TaskId]:
        """Ids of the tasks the master knows (in `state`, if given), sorted."""
        return sorted(t.id for t in self.master_tasks(framework) if state is None or t.state == state)

    def free(self, which: SimAgent | AgentId | str) -> Resources:
        """What the master considers free on an agent (neither used nor offered)."""
        return self.master.state.agents[self.agent(which).id].free


class _FrameworkEdge:
    """The master's scheduler endpoint as a SimFramework reaches it (see `sim_framework.SchedulerEdge`)."""

    def __init__(self, sim: SimCluster) -> None:
        self._sim = sim

    def now(self) -> float:
        return self._sim.clock.t

    def open_stream(self, framework: SimFramework, message: mm.FrameworkSubscribe) -> None:
        self._sim._stream_owner[message.stream_id] = framework
        self._sim._to_master(message)
        self._sim._drain()

    def new_stream_id(self) -> StreamId:
        return StreamId(f"stream-{next(self._sim._streams)}")

    def close_stream(self, stream_id: StreamId) -> None:
        self._sim._stream_owner.pop(stream_id, None)
        self._sim._to_master(mm.StreamClosed(stream_id=stream_id))
        self._sim._drain()

    def master(self) -> MasterCore:
        return self._sim.master

    def submit(self, message: mm.FrameworkCall) -> None:
        self._sim._to_master(message)
        self._sim._drain()


class _ExecutorEdge:
    """The agent's `POST /api/v1/executor` (`agent/http_api.ExecutorApi`) for one fake executor."""

    def __init__(self, sim: SimCluster, agent: SimAgent) -> None:
        self._sim = sim
        self._agent = agent

    def now(self) -> float:
        return self._sim.clock.t

    def executor_call(self, executor: FakeExecutor, call: JsonObject) -> int:
        decoded = ex.decode_call(loads(dumps(call)))
        if isinstance(decoded, ex.Heartbeat):
            return 202
        if not executor.process.is_running:
            raise RuntimeError(f"executor {executor.executor_id} has exited: it makes no more calls")
        problem = self._agent.core.executor_call_problem(decoded)
        if problem is not None:
            return problem[0]
        if isinstance(decoded, ex.Subscribe):
            executor.subscribed = True
        self._sim._send(ToAgent(self._agent, None, decoded))
        self._sim._drain()
        return 200 if isinstance(decoded, ex.Subscribe) else 202

    def executor_exit(self, executor: FakeExecutor, wait_status: int) -> None:
        executor.subscribed = False
        self._sim._end(executor.process, wait_status)

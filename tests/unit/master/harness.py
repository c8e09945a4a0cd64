"""Drive a `MasterCore` on a FakeClock the way the runtime would, and read back what it did."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from corral.core.ids import AgentId, ExecutorId, FrameworkId, IdSource, OfferId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.allocator.drf import DrfAllocator
from corral.master.config import MasterConfig
from corral.master.core import MasterCore
from corral.master.messages import (
    AgentDisconnected,
    AgentMessage,
    AgentRegister,
    BindAgent,
    Effect,
    FrameworkCall,
    FrameworkSubscribe,
    Inbound,
    SendEvent,
    SendToAgent,
    StreamClosed,
    Tick,
)
from corral.master.state import MasterState, StreamId
from corral.protocol.agent import AgentTask, MasterToAgent, Ping, Register, StatusUpdate
from corral.protocol.mesos import (
    AgentInfo,
    CommandInfo,
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    Offer,
    Source,
    TaskInfo,
    TaskStatus,
)
from corral.protocol.scheduler import (
    Accept,
    Call,
    Event,
    Launch,
    Offers,
    Subscribe,
    Subscribed,
    Update,
)
from corral.testing.clock import FakeClock

MASTER_ID = "M"


def command_task(task_id: str, agent_id: AgentId, *, cpus: float = 1, mem: float = 128) -> TaskInfo:
    return TaskInfo(
        name=task_id,
        task_id=TaskId(task_id),
        agent_id=agent_id,
        resources=Resources.of(cpus=cpus, mem=mem),
        command=CommandInfo(value="sleep 1000"),
    )


def executor_task(
    task_id: str, agent_id: AgentId, executor_id: str, *, cpus: float = 1, mem: float = 128
) -> TaskInfo:
    executor = ExecutorInfo(
        executor_id=ExecutorId(executor_id),
        command=CommandInfo(value="./executor"),
        resources=Resources.of(cpus=0.1, mem=32),
    )
    return TaskInfo(
        name=task_id,
        task_id=TaskId(task_id),
        agent_id=agent_id,
        resources=Resources.of(cpus=cpus, mem=mem),
        executor=executor,
    )


@dataclass
class Harness:
    config: MasterConfig = field(default_factory=MasterConfig)
    clock: FakeClock = field(default_factory=FakeClock)
    effects: list[Effect] = field(default_factory=list)

    def __post_init__(self) -> None:
        info = MasterInfo(id=MASTER_ID, ip="127.0.0.1", port=5050, hostname="master")
        self.core = MasterCore(
            self.config, info, ids=IdSource(MASTER_ID), allocator=DrfAllocator(), now=self.clock.now()
        )
        self._connections = itertools.count(1)
        self._streams = itertools.count(1)
        self.stream_of: dict[FrameworkId, StreamId] = {}
        self.connection_of: dict[AgentId, int] = {}

    @property
    def state(self) -> MasterState:
        return self.core.state

    def send(self, msg: Inbound) -> list[Effect]:
        out = self.core.handle(msg, self.clock.now())
        self.effects += out
        return out

    def tick(self, seconds: float = 0.0) -> list[Effect]:
        self.clock.advance(seconds)
        return self.send(Tick())

    # ------------------------------------------------------------ frameworks

    def subscribe(
        self,
        name: str = "fw",
        *,
        framework_id: FrameworkId | None = None,
        failover_timeout: float = 100.0,
        capabilities: frozenset[str] = frozenset(),
        roles: tuple[str, ...] = ("*",),
    ) -> FrameworkId:
        stream = StreamId(f"stream-{next(self._streams)}")
        info = FrameworkInfo(
            user="alice",
            name=name,
            id=framework_id,
            failover_timeout=failover_timeout,
            capabilities=capabilities,
            roles=roles,
        )
        self.send(
            FrameworkSubscribe(
                stream_id=stream, framework_id=framework_id, call=Subscribe(framework_info=info)
            )
        )
        subscribed = [e for e in self.events(stream) if isinstance(e, Subscribed)]
        assert subscribed, f"no SUBSCRIBED on {stream}: {self.effects[-3:]}"
        self.stream_of[subscribed[0].framework_id] = stream
        return subscribed[0].framework_id

    def call(self, framework_id: FrameworkId, call: Call) -> list[Effect]:
        return self.send(FrameworkCall(framework_id=framework_id, call=call))

    def disconnect_framework(self, framework_id: FrameworkId) -> list[Effect]:
        return self.send(StreamClosed(stream_id=self.stream_of[framework_id]))

    def events(self, stream: StreamId, effects: list[Effect] | None = None) -> list[Event]:
        source = self.effects if effects is None else effects
        return [e.event for e in source if isinstance(e, SendEvent) and e.stream_id == stream]

    def events_of(self, framework_id: FrameworkId, effects: list[Effect] | None = None) -> list[Event]:
        return self.events(self.stream_of[framework_id], effects)

    def offers_to(self, framework_id: FrameworkId, effects: list[Effect] | None = None) -> list[Offer]:
        return [o for e in self.events_of(framework_id, effects) if isinstance(e, Offers) for o in e.offers]

    def updates_to(self, framework_id: FrameworkId, effects: list[Effect] | None = None) -> list[TaskStatus]:
        return [e.status for e in self.events_of(framework_id, effects) if isinstance(e, Update)]

    # ------------------------------------------------------------ agents

    def add_agent(
        self,
        hostname: str = "agent1",
        *,
        cpus: float = 4,
        mem: float = 4096,
        disk: float = 0,
        agent_id: AgentId | None = None,
        tasks: tuple[AgentTask, ...] = (),
        frameworks: tuple[FrameworkInfo, ...] = (),
    ) -> AgentId:
        connection = next(self._connections)
        info = AgentInfo(
            hostname=hostname, id=agent_id, resources=Resources.of(cpus=cpus, mem=mem, disk=disk)
        )
        register = Register(agent_info=info, ip="10.0.0.1", tasks=tasks, frameworks=frameworks)
        effects = self.send(AgentRegister(connection=connection, register=register))
        [bound] = [e for e in effects if isinstance(e, BindAgent)]
        self.connection_of[bound.agent_id] = connection
        return bound.agent_id

    def disconnect_agent(self, agent_id: AgentId) -> list[Effect]:
        return self.send(AgentDisconnected(agent_id=agent_id, connection=self.connection_of[agent_id]))

    def to_agent(self, agent_id: AgentId, effects: list[Effect] | None = None) -> list[MasterToAgent]:
        """What was sent to the agent, keep-alive pings aside."""
        source = self.effects if effects is None else effects
        return [
            e.message
            for e in source
            if isinstance(e, SendToAgent) and e.agent_id == agent_id and not isinstance(e.message, Ping)
        ]

    def status_update(
        self,
        agent_id: AgentId,
        framework_id: FrameworkId,
        task_id: str,
        state: TaskState,
        *,
        uuid: bytes | None = b"0123456789abcdef",
    ) -> list[Effect]:
        status = TaskStatus(
            task_id=TaskId(task_id),
            state=state,
            source=Source.SOURCE_EXECUTOR,
            uuid=uuid,
            timestamp=self.clock.now(),
        )
        update = StatusUpdate(framework_id=framework_id, status=status)
        return self.send(AgentMessage(agent_id=agent_id, message=update))

    # ------------------------------------------------------------ the common path

    def launch(
        self, framework_id: FrameworkId, offer: Offer, *tasks: TaskInfo, refuse: float = 5.0
    ) -> list[Effect]:
        accept = Accept(offer_ids=(offer.id,), operations=(Launch(tasks=tasks),), refuse_seconds=refuse)
        return self.call(framework_id, accept)

    def offer_ids(self, framework_id: FrameworkId) -> list[OfferId]:
        return [o.id for o in self.offers_to(framework_id)]

"""The master's shell: the one owner of `MasterCore`, performing the effects it returns.

Every inbound message goes through `submit`, synchronously, from whichever coroutine observed it (an HTTP
handler, an agent link, the timer loop): asyncio runs one callback at a time, so the core has a single
writer without a queue in front of it. Effects are non-blocking: events are encoded once and put on the
stream's queue, which the streaming response drains; agent messages go on the agent connection's queue.
`run` delivers `Tick`s at the deadline the core last asked for. A `WakeAt(now)` (resources freed) only
wakes `run`, which yields once before ticking, so a burst of such events in one loop turn costs one
allocation.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import time
import uuid
from collections.abc import AsyncGenerator

from corral.core.clock import Clock
from corral.core.ids import AgentId, FrameworkId, IdSource
from corral.master.allocator import make_allocator
from corral.master.config import MasterConfig
from corral.master.core import MasterCore
from corral.master.http_api import build_app
from corral.master.messages import (
    AgentDisconnected,
    AgentMessage,
    AgentRegister,
    BindAgent,
    CloseStream,
    Effect,
    FrameworkSubscribe,
    Inbound,
    Notice,
    SendEvent,
    SendToAgent,
    StreamClosed,
    Tick,
    WakeAt,
)
from corral.master.state import StreamId
from corral.master.state_json import state_json
from corral.net.agent_link import LinkError
from corral.protocol import recordio
from corral.protocol.agent import AgentToMaster, MasterToAgent, Register
from corral.protocol.json import dumps
from corral.protocol.mesos import MasterInfo
from corral.protocol.scheduler import Error, Offers, Rescind, Subscribe, encode_event

log = logging.getLogger(__name__)


class WallClock:
    def now(self) -> float:
        return time.time()


class MasterRuntime:
    """Implements `corral.net.agent_link.MasterEndpoint`; `app` is the master's ASGI application."""

    def __init__(
        self,
        config: MasterConfig,
        *,
        clock: Clock | None = None,
        master_id: str | None = None,
        leading: bool = True,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or WallClock()
        master_id = master_id or str(uuid.uuid4())
        self.master_info = MasterInfo(
            id=master_id, ip=config.ip, port=config.port, hostname=config.advertised_hostname
        )
        self.core = MasterCore(
            config,
            self.master_info,
            ids=IdSource(master_id),
            allocator=make_allocator(config.allocator, random.Random()),
            now=self.clock.now(),
        )
        self._streams: dict[StreamId, asyncio.Queue[bytes | None]] = {}
        self._connections = itertools.count(1)
        self._agent_queues: dict[int, asyncio.Queue[MasterToAgent | None]] = {}
        self._agent_of_connection: dict[int, AgentId] = {}
        self._connection_of_agent: dict[AgentId, int] = {}
        self._deadline: float | None = None
        self._wakeup = asyncio.Event()
        self._state_cache: tuple[int, bytes] | None = None
        # Without ZooKeeper a master leads from the start; with it, `elect` is called once its candidacy wins,
        # and until then `leader` is whichever master the election names (None: no leader known).
        self.leading = leading
        self.leader: MasterInfo | None = self.master_info if leading else None
        self._elected = asyncio.Event()
        # Each set after every message: whoever follows the state (the registry writer, the UI's event
        # streams) adds its own event and clears it when it has looked.
        self.state_watchers: set[asyncio.Event] = set()
        if leading:
            self._elected.set()
        self.app = build_app(self)

    def elect(self) -> None:
        """This master won the election: from now on it serves frameworks and agents."""
        self.leading = True
        self.leader = self.master_info
        self._elected.set()

    # ------------------------------------------------------------ the single entry to the core

    def submit(self, msg: Inbound) -> None:
        for effect in self.core.handle(msg, self.clock.now()):
            self._perform(effect)
        for watcher in self.state_watchers:
            watcher.set()

    def _perform(self, effect: Effect) -> None:
        match effect:
            case SendEvent():
                queue = self._streams.get(effect.stream_id)
                if queue is not None:
                    if isinstance(effect.event, Offers | Rescind):
                        log.debug("framework %s: %s", effect.framework_id, effect.event)
                    record = dumps(encode_event(effect.event, multi_role=effect.multi_role))
                    queue.put_nowait(recordio.encode(record))
            case CloseStream():
                queue = self._streams.pop(effect.stream_id, None)
                if queue is not None:
                    if effect.error is not None:
                        queue.put_nowait(recordio.encode(dumps(encode_event(Error(message=effect.error)))))
                    queue.put_nowait(None)
            case BindAgent():
                self._bind_agent(effect.connection, effect.agent_id)
            case SendToAgent():
                connection = self._connection_of_agent.get(effect.agent_id)
                if connection is not None:
                    log.debug("agent %s <- %s", effect.agent_id, type(effect.message).__name__)
                    self._agent_queues[connection].put_nowait(effect.message)
            case WakeAt():
                if effect.deadline != self._deadline:  # every message repeats the deadline: wake on news only
                    self._deadline = effect.deadline
                    self._wakeup.set()
            case Notice():
                log.info("%s", effect.text)

    async def run(self) -> None:
        """Deliver ticks (allocation, heartbeats, timeouts) until cancelled."""
        loop = asyncio.get_running_loop()
        await self._elected.wait()
        self.submit(Tick())
        while True:
            deadline = self._deadline
            self._wakeup.clear()
            delay = None if deadline is None else deadline - self.clock.now()
            if delay is None:
                await self._wakeup.wait()
            elif delay <= 0:
                await asyncio.sleep(0)  # let this loop turn's other handlers run first: their work coalesces
            else:
                timer = loop.call_later(delay, self._wakeup.set)
                try:
                    await self._wakeup.wait()
                finally:
                    timer.cancel()
            if self._deadline is not None and self._deadline <= self.clock.now():
                self.submit(Tick())

    # ------------------------------------------------------------ scheduler streams

    def open_stream(
        self, framework_id: FrameworkId | None, call: Subscribe
    ) -> tuple[StreamId, asyncio.Queue[bytes | None]]:
        """Start a SUBSCRIBE stream: its queue receives RecordIO records, then None when it ends."""
        stream_id = StreamId(str(uuid.uuid4()))
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._streams[stream_id] = queue
        self.submit(FrameworkSubscribe(stream_id=stream_id, framework_id=framework_id, call=call))
        return stream_id, queue

    def close_stream(self, stream_id: StreamId) -> None:
        """The scheduler's connection is gone (or the master ended the stream)."""
        self._streams.pop(stream_id, None)
        self.submit(StreamClosed(stream_id=stream_id))

    # ------------------------------------------------------------ agents (MasterEndpoint)

    def open_agent(self, register: Register) -> tuple[int, asyncio.Queue[MasterToAgent | None]]:
        connection = next(self._connections)
        queue: asyncio.Queue[MasterToAgent | None] = asyncio.Queue()
        self._agent_queues[connection] = queue
        self.submit(AgentRegister(connection=connection, register=register))
        return connection, queue

    def close_agent(self, connection: int) -> None:
        self._agent_queues.pop(connection, None)
        agent_id = self._agent_of_connection.pop(connection, None)
        if agent_id is not None and self._connection_of_agent.get(agent_id) == connection:
            del self._connection_of_agent[agent_id]
            self.submit(AgentDisconnected(agent_id=agent_id, connection=connection))

    def _bind_agent(self, connection: int, agent_id: AgentId) -> None:
        older = self._connection_of_agent.get(agent_id)
        if older is not None and older != connection and (queue := self._agent_queues.get(older)) is not None:
            queue.put_nowait(None)
        self._connection_of_agent[agent_id] = connection
        self._agent_of_connection[connection] = agent_id

    async def agent_stream(self, register: Register) -> AsyncGenerator[MasterToAgent, None]:
        connection, queue = self.open_agent(register)
        try:
            while (message := await queue.get()) is not None:
                yield message
        finally:
            self.close_agent(connection)

    async def agent_call(self, agent_id: AgentId, message: AgentToMaster) -> None:
        if isinstance(message, Register):
            raise LinkError("REGISTER opens a stream: use agent_stream")
        if agent_id not in self._connection_of_agent:
            raise LinkError(f"agent {agent_id} is not registered")
        self.submit(AgentMessage(agent_id=agent_id, message=message))

    # ------------------------------------------------------------ operator views

    def state_document(self) -> bytes:
        """`/master/state`, encoded once per state version: polling UIs must not stall allocation."""
        version = self.core.state.version
        if self._state_cache is None or self._state_cache[0] != version:
            self._state_cache = (version, dumps(state_json(self.core.state, self.config)))
        return self._state_cache[1]

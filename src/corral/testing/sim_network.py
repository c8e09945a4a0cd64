"""SimCluster's in-memory network: the envelopes in its FIFO, the wire every message crosses, and the hosts
of the agents (core, link generation, wake-up time).

A message carries the generation of the link it was sent on; a cut bumps the generation, so what was in
flight on the old link is dropped when it arrives (see `SimCluster._deliver`). Messages from an agent's own
processes travel on no link (`link=None`) and are never lost.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.agent import effects as ae
from corral.agent.core import AgentCore
from corral.core.ids import AgentId, TaskId
from corral.master import messages as mm
from corral.master.state import StreamId
from corral.protocol.agent import (
    AgentToMaster,
    MasterToAgent,
    decode_agent_message,
    decode_master_message,
    encode_agent_message,
    encode_master_message,
)
from corral.protocol.json import dumps, loads
from corral.protocol.scheduler import Event, encode_event
from corral.protocol.scheduler_client import decode_event

# ---------------------------------------------------------------- the network


@dataclass(frozen=True, slots=True)
class ToMaster:
    incarnation: int  # lost if the master restarted since it was sent
    message: mm.Inbound
    sender: SimAgent | None = None
    link: int = 0  # the sender's link generation: lost if the link was cut since


@dataclass(frozen=True, slots=True)
class ToAgent:
    agent: SimAgent
    link: int | None  # None: from the agent's own host (a process), never lost
    message: ae.Inbound


@dataclass(frozen=True, slots=True)
class ToFramework:
    stream_id: StreamId
    event: Event | None  # None: the master ended the stream


Delivery = ToMaster | ToAgent | ToFramework


class SimAgent:
    def __init__(self, name: str, core: AgentCore) -> None:
        self.name = name
        self.core = core
        self.link = 0  # bumped on every cut, so what was in flight on the old link is dropped
        self.connection: int | None = None  # the master's number for the current registration
        self.reachable = True
        self.silenced = False  # cut without either end noticing (isolate(silent=True))
        self.wake: float | None = None
        self.checkpoints: list[ae.Record] = []

    @property
    def id(self) -> AgentId:
        agent_id = self.core.agent_id
        assert agent_id is not None, f"{self.name} has not registered"
        return agent_id

    def live_tasks(self) -> list[TaskId]:
        """Tasks this agent runs that are not terminal, as the agent knows them."""
        return sorted(
            t.id for e in self.core.state.executors() for t in e.all_tasks() if not t.state.is_terminal
        )

    def __repr__(self) -> str:
        return f"SimAgent({self.name}, {self.core.agent_id})"


# ---------------------------------------------------------------- the wire


def wire_event(event: Event, *, multi_role: bool) -> Event:
    return decode_event(loads(dumps(encode_event(event, multi_role=multi_role))))


def wire_to_master(message: AgentToMaster) -> AgentToMaster:
    return decode_agent_message(loads(dumps(encode_agent_message(message))))


def wire_to_agent(message: MasterToAgent) -> MasterToAgent:
    return decode_master_message(loads(dumps(encode_master_message(message))))

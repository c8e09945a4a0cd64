"""What goes into `MasterCore.handle` and what comes out.

Inbound messages are what the edges observed (a scheduler call, an agent's message, a closed stream, the
clock); effects are what the runtime must do (write an event to a stream, close it, send to an agent,
wake the core later). Streams are named by the id the HTTP edge generated (`Mesos-Stream-Id`), agent
connections by a number the runtime assigns, so the core can tell a stale connection from the current one.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.core.ids import AgentId, FrameworkId
from corral.master.roles import QuotaConfig
from corral.master.state import StreamId
from corral.protocol.agent import (
    ExecutorExited,
    ExecutorToFramework,
    MasterToAgent,
    Pong,
    Register,
    StatusUpdate,
    UsageReport,
)
from corral.protocol.scheduler import Call, Event, Subscribe

# ---------------------------------------------------------------- inbound


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkSubscribe:
    """SUBSCRIBE on a new stream; `framework_id` is set when the scheduler re-subscribes."""

    stream_id: StreamId
    framework_id: FrameworkId | None
    call: Subscribe


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkCall:
    """Any other scheduler call, already checked by the edge against the framework's stream id."""

    framework_id: FrameworkId
    call: Call


@dataclass(frozen=True, slots=True, kw_only=True)
class TeardownFramework:
    """An operator's TEARDOWN (`POST /master/teardown`, v1 TEARDOWN), already authorized by the edge."""

    framework_id: FrameworkId


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamClosed:
    stream_id: StreamId


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRegister:
    connection: int
    register: Register


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessage:
    agent_id: AgentId
    message: StatusUpdate | ExecutorExited | ExecutorToFramework | Pong | UsageReport


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentDisconnected:
    agent_id: AgentId
    connection: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """Time passed: fire due timers (heartbeats, timeouts) and allocate if due."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RecoverRegistry:
    """A newly elected master's registry: the agents admitted before (id, hostname) and the unreachable ones
    (id, since). Admitted agents are expected to re-register within `agent_reregister_timeout`."""

    agents: tuple[tuple[AgentId, str], ...]
    unreachable: tuple[tuple[AgentId, float], ...]
    weights: tuple[tuple[str, float], ...] = ()
    quotas: tuple[QuotaConfig, ...] = ()


Inbound = (
    FrameworkSubscribe
    | FrameworkCall
    | TeardownFramework
    | StreamClosed
    | AgentRegister
    | AgentMessage
    | AgentDisconnected
    | RecoverRegistry
    | Tick
)

# ---------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True, kw_only=True)
class SendEvent:
    stream_id: StreamId
    framework_id: FrameworkId | None
    event: Event
    # MULTI_ROLE frameworks see `allocation_info` in offers; others must not (MESOS-8237).
    multi_role: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CloseStream:
    """End a scheduler stream, after an ERROR event carrying `error` if set."""

    stream_id: StreamId
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BindAgent:
    """Connection `connection` now speaks for `agent_id`; any older connection of that agent is closed."""

    connection: int
    agent_id: AgentId


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToAgent:
    agent_id: AgentId
    message: MasterToAgent


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeAt:
    """Deliver a `Tick` at `deadline` (replaces any earlier request: it is always the earliest deadline)."""

    deadline: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """A state change worth one INFO log line, with the ids involved."""

    text: str


Effect = SendEvent | CloseStream | BindAgent | SendToAgent | WakeAt | Notice

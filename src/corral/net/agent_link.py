"""The seam between an agent and its master, independent of transport.

`MasterEndpoint` is what a master runtime offers; `MasterLink` is what an agent runtime uses. Over HTTP the
agent's link POSTs to `/api/v1/agent` (see `corral.protocol.agent`); inside `corral dev` `LocalMasterLink`
calls the master's endpoint directly, passing the same dataclasses without encoding them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Protocol

from corral.core.errors import CorralError
from corral.core.ids import AgentId
from corral.protocol.agent import AgentToMaster, MasterToAgent, Register


class LinkError(CorralError):
    """The master cannot be reached, refused the message, or the stream broke. The agent retries."""


class MasterEndpoint(Protocol):
    def agent_stream(self, register: Register) -> AsyncIterator[MasterToAgent]:
        """Register an agent and stream the master's messages to it, `Registered` first.

        The stream ends (or the iterator is closed by the caller) when the connection is gone; the master then
        treats the agent as disconnected.
        """
        ...

    async def agent_call(self, agent_id: AgentId, message: AgentToMaster) -> None:
        """Deliver one message from a registered agent. Raises LinkError if the agent is not registered."""
        ...


class MasterLink(Protocol):
    def stream(self, register: Register) -> AsyncIterator[MasterToAgent]:
        """Connect and register; yields the master's messages. Raises LinkError when the connection fails."""
        ...

    async def send(self, agent_id: AgentId, message: AgentToMaster) -> None:
        """Send one message to the master. Raises LinkError on failure (the caller keeps it and resends)."""
        ...

    async def pause(self, delay: float) -> None:
        """The backoff before registering again: `delay` seconds, or less once another master leads."""
        ...


class LocalMasterLink:
    """An in-process link to a master in the same event loop (`corral dev`, SimCluster-style tests)."""

    def __init__(self, master: MasterEndpoint) -> None:
        self._master = master

    def stream(self, register: Register) -> AsyncIterator[MasterToAgent]:
        return self._master.agent_stream(register)

    async def send(self, agent_id: AgentId, message: AgentToMaster) -> None:
        await self._master.agent_call(agent_id, message)

    async def pause(self, delay: float) -> None:
        await asyncio.sleep(delay)

"""The agent's side of Corral's master<->agent protocol over HTTP (`corral.protocol.agent`).

`stream` POSTs REGISTER to `http(s)://<leader>/api/v1/agent` and yields the master's messages from the
RecordIO response; `send` POSTs one message with the `Corral-Agent-Id` header and expects 202. Every
failure (connection, status, malformed record) is a LinkError: the runtime reconnects and re-registers.
The stream has no read timeout here: the runtime watches for the master's Pings itself. The leader comes
from a `LeaderTracker`: a stream ends as soon as another master is elected, and a registration attempt
waits (up to `timeout`) for a leader to be known.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from corral.aio import within
from corral.core.errors import DecodeError
from corral.core.ids import AgentId
from corral.net.agent_link import LinkError
from corral.net.leader import CATCH_UP_RETRY, LeaderChanged, LeaderTracker, until_changed
from corral.net.tls import PLAIN, TlsConfig
from corral.protocol import recordio
from corral.protocol.agent import (
    AGENT_ID_HEADER,
    AgentToMaster,
    MasterToAgent,
    Register,
    decode_master_message,
    encode_agent_message,
)
from corral.protocol.json import dumps, loads
from corral.security.credentials import Credential

PATH = "/api/v1/agent"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class HttpMasterLink:
    def __init__(
        self,
        leader: LeaderTracker,
        *,
        timeout: float = 10.0,
        tls: TlsConfig = PLAIN,
        credential: Credential | None = None,
    ) -> None:
        """`credential` (`--credential`) goes as HTTP Basic on every request."""
        self.leader = leader
        self._timeout = timeout
        self._tls = tls
        self._credential = credential
        auth = httpx.BasicAuth(credential.principal, credential.secret) if credential is not None else None
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout), verify=tls.verify, auth=auth)
        self._registered_with: str | None = None  # the master of the latest registration attempt
        self._catching_up = False  # that master is the elected leader but did not know it yet

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, register: Register) -> AsyncIterator[MasterToAgent]:
        master = await self.leader.wait(self._timeout)
        if master is None:
            raise LinkError(f"no leading master in {self.leader.describe}")
        self._registered_with = master
        self._catching_up = False
        body = dumps(encode_agent_message(register))
        timeout = httpx.Timeout(self._client.timeout.connect, read=None)
        try:
            async with self._client.stream(
                "POST", self._tls.url(master, PATH), content=body, headers=HEADERS, timeout=timeout
            ) as response:
                if response.status_code == 401:
                    raise LinkError(self._unauthenticated(master))
                if response.status_code != 200:
                    self._catching_up = self.leader.catching_up(master, response.status_code)
                    text = (await response.aread()).decode(errors="replace")[:200]
                    raise LinkError(f"REGISTER to {master} answered {response.status_code}: {text}")
                decoder = recordio.Decoder()
                async for chunk in until_changed(response.aiter_raw(), self.leader, master):
                    for record in decoder.feed(chunk):
                        yield decode_master_message(loads(record))
        except LeaderChanged as e:
            raise LinkError(str(e)) from None
        except httpx.HTTPError as e:
            raise LinkError(f"stream from {master} failed: {type(e).__name__}: {e}") from e
        except DecodeError as e:
            raise LinkError(f"stream from {master} is malformed: {e}") from e

    def _unauthenticated(self, master: str) -> str:
        if self._credential is None:
            return f"the master {master} requires agents to authenticate (401): give this agent --credential"
        return (
            f"the master {master} refused the credential of principal '{self._credential.principal}' (401): "
            "is it in the master's --credentials?"
        )

    async def pause(self, delay: float) -> None:
        if self._catching_up:
            delay = min(delay, CATCH_UP_RETRY)
        with contextlib.suppress(TimeoutError):  # as a Mesos agent, register at once with a new leader
            await within(self.leader.changed_from(self._registered_with), delay)

    async def send(self, agent_id: AgentId, message: AgentToMaster) -> None:
        master = self.leader.current
        if master is None:
            raise LinkError(f"{type(message).__name__}: no leading master in {self.leader.describe}")
        headers = {**HEADERS, AGENT_ID_HEADER: agent_id}
        try:
            response = await self._client.post(
                self._tls.url(master, PATH), content=dumps(encode_agent_message(message)), headers=headers
            )
        except httpx.HTTPError as e:
            raise LinkError(f"{type(message).__name__} to {master} failed: {type(e).__name__}: {e}") from e
        if response.status_code != 202:
            answer = f"{response.status_code}: {response.text[:200]}"
            raise LinkError(f"{type(message).__name__} to {master} answered {answer}")

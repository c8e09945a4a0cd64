"""The agent's side of Corral's master<->agent protocol over HTTP (`corral.protocol.agent`).

`stream` POSTs REGISTER to `http://<master>/api/v1/agent` and yields the master's messages from the
RecordIO response; `send` POSTs one message with the `Corral-Agent-Id` header and expects 202. Every
failure (connection, status, malformed record) is a LinkError: the runtime reconnects and re-registers.
The stream has no read timeout here: the runtime watches for the master's Pings itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from corral.core.errors import DecodeError
from corral.core.ids import AgentId
from corral.net.agent_link import LinkError
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

PATH = "/api/v1/agent"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


class HttpMasterLink:
    def __init__(self, master: str, *, timeout: float = 10.0) -> None:
        self.master = master
        self._url = f"http://{master}{PATH}"
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, register: Register) -> AsyncIterator[MasterToAgent]:
        body = dumps(encode_agent_message(register))
        timeout = httpx.Timeout(self._client.timeout.connect, read=None)
        try:
            async with self._client.stream(
                "POST", self._url, content=body, headers=HEADERS, timeout=timeout
            ) as response:
                if response.status_code != 200:
                    text = (await response.aread()).decode(errors="replace")[:200]
                    raise LinkError(f"REGISTER to {self.master} answered {response.status_code}: {text}")
                decoder = recordio.Decoder()
                async for chunk in response.aiter_raw():
                    for record in decoder.feed(chunk):
                        yield decode_master_message(loads(record))
        except httpx.HTTPError as e:
            raise LinkError(f"stream from {self.master} failed: {type(e).__name__}: {e}") from e
        except DecodeError as e:
            raise LinkError(f"stream from {self.master} is malformed: {e}") from e

    async def send(self, agent_id: AgentId, message: AgentToMaster) -> None:
        headers = {**HEADERS, AGENT_ID_HEADER: agent_id}
        try:
            response = await self._client.post(
                self._url, content=dumps(encode_agent_message(message)), headers=headers
            )
        except httpx.HTTPError as e:
            raise LinkError(
                f"{type(message).__name__} to {self.master} failed: {type(e).__name__}: {e}"
            ) from e
        if response.status_code != 202:
            answer = f"{response.status_code}: {response.text[:200]}"
            raise LinkError(f"{type(message).__name__} to {self.master} answered {answer}")

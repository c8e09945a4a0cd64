"""A v1 scheduler over raw HTTP for the security tests: SUBSCRIBE, read the event stream, post calls with
or without the stream id. Raw httpx, so every malformed request is exactly the bytes the test wrote."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

import httpx

from corral.protocol import recordio
from corral.protocol.json import JsonObject, JsonValue, b64encode, dumps, ident, loads
from corral.protocol.mesos import TaskStatus
from corral.protocol.scheduler import Event, Subscribed, Update
from corral.protocol.scheduler_client import decode_event

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
DEADLINE = 15.0
E = TypeVar("E")


def subscribe_body(name: str) -> JsonObject:
    return {
        "type": "SUBSCRIBE",
        "subscribe": {"framework_info": {"user": "nobody", "name": name, "failover_timeout": 0}},
    }


@dataclass
class Scheduler:
    client: httpx.AsyncClient
    response: httpx.Response
    stream_id: str
    framework_id: str = ""  # known once SUBSCRIBED arrives

    def __post_init__(self) -> None:
        self._chunks = self.response.aiter_raw()
        self._decoder = recordio.Decoder()
        self._pending: deque[Event] = deque()

    async def next_of(self, kind: type[E]) -> E:
        """The next event of type `kind`, skipping others, within DEADLINE."""
        async with asyncio.timeout(DEADLINE):
            while True:
                while not self._pending:
                    chunk = await anext(self._chunks)
                    self._pending.extend(decode_event(loads(r)) for r in self._decoder.feed(chunk))
                event = self._pending.popleft()
                if isinstance(event, kind):
                    return event

    async def update(self) -> TaskStatus:
        """The next status update, acknowledged (the agent sends the next one only then)."""
        status = (await self.next_of(Update)).status
        if status.uuid is not None and status.agent_id is not None:
            ack: JsonObject = {
                "agent_id": ident(status.agent_id),
                "task_id": ident(status.task_id),
                "uuid": b64encode(status.uuid),
            }
            response = await self.post(self.call("ACKNOWLEDGE", acknowledge=ack))
            assert response.status_code == 202, response.text
        return status

    async def post(self, body: JsonValue | bytes, *, stream_id: str | None = "") -> httpx.Response:
        """A call; `stream_id` "" sends this subscription's id, None sends no Mesos-Stream-Id header."""
        headers = dict(JSON)
        if stream_id is not None:
            headers["Mesos-Stream-Id"] = stream_id or self.stream_id
        content = body if isinstance(body, bytes) else dumps(body)
        return await self.client.post("/api/v1/scheduler", content=content, headers=headers)

    def call(self, kind: str, **fields: JsonValue) -> JsonObject:
        return {"type": kind, "framework_id": {"value": self.framework_id}, **fields}


@contextlib.asynccontextmanager
async def subscribed(
    master_url: str, name: str, *, failover_timeout: float = 0, teardown: bool = True
) -> AsyncIterator[Scheduler]:
    """A subscribed framework, whose stream closes on the way out; torn down (its tasks killed) too, unless
    `teardown` is False."""
    body = subscribe_body(name)
    body["subscribe"]["framework_info"]["failover_timeout"] = failover_timeout  # type: ignore[index,call-overload]
    async with (
        httpx.AsyncClient(base_url=master_url, timeout=DEADLINE, trust_env=False) as client,
        client.stream("POST", "/api/v1/scheduler", content=dumps(body), headers=JSON) as r,
    ):
        assert r.status_code == 200, await r.aread()
        scheduler = Scheduler(client, r, r.headers["mesos-stream-id"])
        scheduler.framework_id = (await scheduler.next_of(Subscribed)).framework_id
        try:
            yield scheduler
        finally:
            if teardown:
                await scheduler.post(scheduler.call("TEARDOWN"))

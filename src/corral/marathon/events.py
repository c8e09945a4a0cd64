"""Marathon's event bus and its `/v2/events` Server-Sent Events framing (marathon.md a.7).

Jetty's framing: `event: T\\r\\n` + `data: {json}\\r\\n` + `\\r\\n`, a bare `\\r\\n` heartbeat every 10 s.
Only event types the PyPI client knows are published (clients.md 3.6: an unknown type ends its stream).
A subscriber whose buffer overflows is dropped (upstream closes slow consumers' connections).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable

from corral.aio import within
from corral.protocol.json import JsonObject, dumps

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 10.0
MAX_OUTSTANDING = 1000


def sse_frame(event: JsonObject) -> bytes:
    return b"event: " + str(event["eventType"]).encode() + b"\r\ndata: " + dumps(event) + b"\r\n\r\n"


class Subscription:
    def __init__(self, bus: EventBus, types: frozenset[str]) -> None:
        self._bus = bus
        self.types = types
        self.queue: asyncio.Queue[JsonObject | None] = asyncio.Queue(MAX_OUTSTANDING)

    def offer(self, event: JsonObject) -> None:
        if self.types and event["eventType"] not in self.types:
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            log.warning("event stream subscriber too slow: closing it")
            self._bus.unsubscribe(self)
            self.queue = asyncio.Queue(1)
            self.queue.put_nowait(None)

    async def frames(self, heartbeat: float = HEARTBEAT_SECONDS) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    event = await within(self.queue.get(), heartbeat)
                except TimeoutError:
                    yield b"\r\n"
                    continue
                if event is None:
                    return
                yield sse_frame(event)
        finally:
            self._bus.unsubscribe(self)


class EventBus:
    def __init__(self, timestamp: Callable[[], str]) -> None:
        self._timestamp = timestamp
        self._subscribers: list[Subscription] = []

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def publish(self, event_type: str, **fields: object) -> None:
        event: JsonObject = {"eventType": event_type, "timestamp": self._timestamp()}
        event.update(fields)  # type: ignore[arg-type]
        for subscriber in list(self._subscribers):
            subscriber.offer(event)

    def subscribe(self, types: Iterable[str] = ()) -> Subscription:
        subscription = Subscription(self, frozenset(types))
        self._subscribers.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)

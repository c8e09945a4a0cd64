"""The Chronos web UI's routes: the page and its files (`corral.ui.static`), `/scheduler/events` (a
Corral-only Server-Sent Events stream of job rows) and `/scheduler/schedule/preview` (the next due times of
a schedule being edited). Both are also under `/v1/scheduler`.

The stream opens with `event: snapshot` `{"jobs": [every job's row]}` (`overview.job_row`), then sends
`event: jobs` `{"jobs": [rows], "removed": [names]}` for the jobs a change touched. A follower keeps a set
of changed names, not a queue of events: however fast the state changes and however slow the browser, it
holds at most one name per job, and the rows it sends are read from the state when they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from corral.chronos.http_api import ChronosBackend, error, json_response
from corral.chronos.overview import changed_jobs, job_rows, preview
from corral.chronos.schedule import ScheduleError
from corral.chronos.scheduler import ChronosState
from corral.chronos.wallclock import format_utc
from corral.protocol.json import JsonObject, JsonValue, dumps
from corral.ui.static import ui_routes as static_routes

UI_DIR = Path(__file__).resolve().parent
HEARTBEAT_SECONDS = 15.0
BATCH_SECONDS = 0.1  # changes arriving this close together go out in one frame
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class Follower:
    """One stream's pending changes: the names of the jobs changed since it last sent."""

    def __init__(self) -> None:
        self._pending: set[str] = set()
        self._changed = asyncio.Event()

    def add(self, names: set[str]) -> None:
        self._pending |= names
        self._changed.set()

    async def wait_changes(self) -> set[str]:
        """The names of the jobs changed since the last call, once there are some."""
        await self._changed.wait()
        self._changed.clear()
        names, self._pending = self._pending, set()
        return names


class JobFeed:
    """The runtime publishes every state it adopts; each open stream learns which jobs changed."""

    def __init__(self) -> None:
        self._followers: set[Follower] = set()

    @property
    def follower_count(self) -> int:
        return len(self._followers)

    def publish(self, before: ChronosState, after: ChronosState) -> None:
        if self._followers and (names := changed_jobs(before, after)):
            for follower in self._followers:
                follower.add(names)

    @contextlib.contextmanager
    def follow(self) -> Iterator[Follower]:
        follower = Follower()
        self._followers.add(follower)
        try:
            yield follower
        finally:
            self._followers.discard(follower)


def sse_frame(event: str, data: JsonObject) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + dumps(data) + b"\n\n"


async def job_events(backend: ChronosBackend, feed: JobFeed) -> AsyncGenerator[bytes, None]:
    with feed.follow() as follower:
        yield sse_frame("snapshot", {"jobs": job_rows(backend.state, None, backend.now())})
        while True:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    names = await follower.wait_changes()
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            state = backend.state
            removed = list[JsonValue](sorted(names - state.jobs.keys()))
            yield sse_frame("jobs", {"jobs": job_rows(state, names, backend.now()), "removed": removed})
            await asyncio.sleep(BATCH_SECONDS)


def ui_routes(backend: ChronosBackend, feed: JobFeed) -> list[BaseRoute]:
    async def events(request: Request) -> Response:
        return StreamingResponse(
            job_events(backend, feed), media_type="text/event-stream; charset=utf-8", headers=SSE_HEADERS
        )

    async def schedule_preview(request: Request) -> Response:
        schedule = request.query_params.get("schedule", "").strip()
        if not schedule:
            return error(400, "schedule: is required")
        try:
            times = preview(schedule, request.query_params.get("scheduleTimeZone", ""), backend.now())
        except ScheduleError as e:
            return error(400, f"schedule: {e}")
        return json_response({"times": [format_utc(t) for t in times]})

    routes: list[BaseRoute] = []
    for prefix in ("/scheduler", "/v1/scheduler"):
        routes += [
            Route(f"{prefix}/events", events, methods=["GET"]),
            Route(f"{prefix}/schedule/preview", schedule_preview, methods=["GET"]),
        ]
    return routes + static_routes(UI_DIR)

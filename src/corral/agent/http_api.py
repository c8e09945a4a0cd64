"""The agent's HTTP API (port 5051): the v1 executor API and the operator endpoints.

- `POST /api/v1/executor` (also under `/slave(1)`), with upstream's rules (`mesos.md` b.1): exactly
  `Content-Type: application/json` (400 if absent, 415 otherwise); 405 for other methods; 400 for
  malformed or invalid calls, "Framework cannot be found", "Executor cannot be found"; 403 "Executor is
  not subscribed"; SUBSCRIBE -> 200, a chunked RecordIO stream of events (no Mesos-Stream-Id);
  UPDATE, MESSAGE, HEARTBEAT -> 202 with `Content-Length: 0`. Bad input never gets a 5xx.
- `GET /state` (`/state.json`, `/slave(1)/state`), `/health`, `/version`, `/metrics/snapshot`, `/files/*`.
- `GET /monitor/statistics` (`.json`, under `/slave(1)` too): each executor's resource usage (`isolation/`).

Calls go to the runtime (`AgentService.deliver`), which owns the core; queries read the core directly,
which is safe because everything runs on one event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from corral.agent.core import AgentCore
from corral.agent.effects import Inbound
from corral.agent.files import SandboxFiles
from corral.agent.reports import metrics, state_document, version_document
from corral.agent.sandbox import LATEST, virtual_latest
from corral.core.errors import DecodeError
from corral.core.ids import ExecutorId, FrameworkId
from corral.protocol import executor as ex
from corral.protocol import recordio
from corral.protocol.json import JsonValue, dumps, loads

JSON = "application/json"
# Upstream's DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL; pymesos ignores heartbeats, but they reveal dead streams.
EXECUTOR_HEARTBEAT_INTERVAL = 30 * 60.0
_HEARTBEAT = recordio.encode(dumps(ex.encode_event(ex.Heartbeat())))

EventQueue = asyncio.Queue[bytes | None]  # RecordIO records; None ends the stream


class AgentService(Protocol):
    """What the HTTP API needs from the runtime."""

    @property
    def core(self) -> AgentCore: ...

    def now(self) -> float: ...

    def deliver(self, message: Inbound) -> None: ...

    def attach_executor(self, framework_id: FrameworkId, executor_id: ExecutorId) -> EventQueue: ...

    def detach_executor(
        self, framework_id: FrameworkId, executor_id: ExecutorId, queue: EventQueue
    ) -> None: ...


def _json(value: JsonValue) -> Response:
    return Response(dumps(value), media_type=JSON)


def _accepts_json(accept: str | None) -> bool:
    if accept is None:
        return True
    kinds = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(kinds & {JSON, "*/*", "application/*"})


def sandbox_roots(core: AgentCore) -> dict[str, Path]:
    """The paths `/files/*` serves, each mapped to a run directory; newer runs win `latest`."""
    roots: dict[str, Path] = {}
    frameworks = [*core.state.completed_frameworks, *core.state.frameworks.values()]
    for framework in frameworks:
        for executor in [*framework.completed_executors, *framework.executors.values()]:
            directory = executor.directory
            roots[str(directory)] = directory
            roots[str(directory.parent / LATEST)] = directory
            roots[virtual_latest(framework.id, executor.id)] = directory
    return roots


class ExecutorApi:
    def __init__(self, service: AgentService) -> None:
        self.service = service

    async def handle(self, request: Request) -> Response:
        content_type = request.headers.get("content-type")
        if content_type is None:
            return PlainTextResponse("Expecting 'Content-Type' to be present", status_code=400)
        if content_type != JSON:
            return PlainTextResponse(f"Expecting 'Content-Type' of {JSON}", status_code=415)
        try:
            call = ex.decode_call(loads(await request.body()))
        except (DecodeError, ValueError, OverflowError, RecursionError) as e:
            return PlainTextResponse(f"Failed to validate executor::Call: {e}", status_code=400)
        if isinstance(call, ex.Heartbeat):
            return Response(status_code=202)
        problem = self.service.core.executor_call_problem(call)
        if problem is not None:
            status, message = problem
            return PlainTextResponse(message, status_code=status)
        if isinstance(call, ex.Subscribe):
            if not _accepts_json(request.headers.get("accept")):
                return PlainTextResponse(f"Expecting 'Accept' to allow {JSON}", status_code=406)
            queue = self.service.attach_executor(call.framework_id, call.executor_id)
            self.service.deliver(call)
            events = self._events(call.framework_id, call.executor_id, queue)
            return StreamingResponse(events, status_code=200, media_type=JSON)
        self.service.deliver(call)
        return Response(status_code=202)

    async def _events(
        self, framework_id: FrameworkId, executor_id: ExecutorId, queue: EventQueue
    ) -> AsyncIterator[bytes]:
        try:
            while True:
                try:
                    record = await asyncio.wait_for(queue.get(), EXECUTOR_HEARTBEAT_INTERVAL)
                except TimeoutError:
                    record = _HEARTBEAT
                if record is None:
                    return
                yield record
        finally:
            self.service.detach_executor(framework_id, executor_id, queue)


def build_app(
    service: AgentService, statistics: Callable[[], Awaitable[list[JsonValue]]] | None = None
) -> Starlette:
    """`statistics` answers `/monitor/statistics` (an empty list without it)."""
    api = ExecutorApi(service)
    files = SandboxFiles(lambda: sandbox_roots(service.core))

    async def state(request: Request) -> Response:
        return _json(state_document(service.core))

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def version(request: Request) -> Response:
        return _json(version_document())

    async def monitor(request: Request) -> Response:
        return _json(await statistics() if statistics is not None else [])

    async def snapshot(request: Request) -> Response:
        values = metrics(service.core, service.now())
        return _json({name: value for name, value in values.items()})

    routes: list[BaseRoute] = [
        Route("/version", version, methods=["GET"]),
        Route("/metrics/snapshot", snapshot, methods=["GET"]),
        *files.routes(),
    ]
    for prefix in ("", "/slave(1)"):
        routes += [
            Route(f"{prefix}/api/v1/executor", api.handle, methods=["POST"]),
            Route(f"{prefix}/state", state, methods=["GET"]),
            Route(f"{prefix}/state.json", state, methods=["GET"]),
            Route(f"{prefix}/health", health, methods=["GET"]),
            Route(f"{prefix}/monitor/statistics", monitor, methods=["GET"]),
            Route(f"{prefix}/monitor/statistics.json", monitor, methods=["GET"]),
        ]
    return Starlette(routes=routes)

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

With `--acls`, requests are authorized as the principal the authentication layer put in the scope
(`principal_of`): `/files/{browse,read,download}` by access_sandboxes (the object: the UNIX user of the
executor whose sandbox the path names; a path in no sandbox is ANY), `/files/debug`, `/metrics/snapshot`
and `/monitor/statistics` by get_endpoints; 403 when refused. `/state` shows only what view_* and view_flags
allow (`reports.state_document`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.agent.core import AgentCore
from corral.agent.effects import Inbound
from corral.agent.executor_tokens import claims_problem
from corral.agent.files import SandboxFiles
from corral.agent.reports import metrics, state_document, version_document
from corral.agent.sandbox import LATEST, virtual_latest
from corral.aio import within
from corral.core.errors import DecodeError
from corral.core.ids import ExecutorId, FrameworkId
from corral.protocol import executor as ex
from corral.protocol import recordio
from corral.protocol.json import JsonValue, dumps, loads
from corral.security.acls import Action, Authorizer, endpoint_path, executor_user
from corral.security.identity import claims_of, principal_of

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


def _sandboxes(core: AgentCore) -> Iterator[tuple[str, Path, str]]:
    """(served path, run directory, the UNIX user of its executor), older runs first."""
    frameworks = [*core.state.completed_frameworks, *core.state.frameworks.values()]
    for framework in frameworks:
        for executor in [*framework.completed_executors, *framework.executors.values()]:
            directory = executor.directory
            user = executor_user(framework.info, executor.info)
            for served in (
                str(directory),
                str(directory.parent / LATEST),
                virtual_latest(framework.id, executor.id),
            ):
                yield served, directory, user


def sandbox_roots(core: AgentCore) -> dict[str, Path]:
    """The paths `/files/*` serves, each mapped to a run directory; newer runs win `latest`."""
    return {served: directory for served, directory, _ in _sandboxes(core)}


def sandbox_user(core: AgentCore, path: str) -> str | None:
    """access_sandboxes's object for `path`: the user of the sandbox `/files/*` would serve it from (the
    longest served prefix, as `SandboxFiles.resolve` picks it); None outside every sandbox."""
    owners = {served: user for served, _, user in _sandboxes(core)}
    text = str(PurePosixPath("/" + path.strip("/")))
    for served in sorted(owners, key=len, reverse=True):
        if text == served or text.startswith(served.rstrip("/") + "/"):
            return owners[served]
    return None


class _FilesAccess:
    """`/files/*` under `--acls`: access_sandboxes for browse, read and download, get_endpoints for debug.
    Starlette middleware, as the routes come from `SandboxFiles`."""

    def __init__(self, app: ASGIApp, service: AgentService, authorizer: Authorizer) -> None:
        self.app = app
        self.service = service
        self.authorizer = authorizer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/files/"):
            principal = principal_of(scope)
            endpoint = endpoint_path(scope["path"])
            if endpoint is not None:
                problem = self.authorizer.refusal(Action.GET_ENDPOINTS, principal, endpoint)
            else:
                path = Request(scope).query_params.get("path")
                owner = sandbox_user(self.service.core, path) if path is not None else None
                problem = self.authorizer.refusal(Action.ACCESS_SANDBOXES, principal, owner)
            if problem is not None:
                await PlainTextResponse(problem, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


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
        if principal_of(request.scope) is not None:  # authenticated: it must be this executor's token
            fid, eid = call.framework_id, call.executor_id
            _, executor = self.service.core.ledger.lookup(fid, eid)
            container = executor.container_id if executor is not None else None
            if wrong := claims_problem(claims_of(request.scope), fid, eid, container):
                return PlainTextResponse(wrong, status_code=403)
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
                    record = await within(queue.get(), EXECUTOR_HEARTBEAT_INTERVAL)
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
    authorizer = Authorizer(service.core.config.acls)

    def forbidden(request: Request) -> Response | None:
        """403 unless get_endpoints allows the request's principal this endpoint."""
        endpoint = endpoint_path(request.url.path)
        problem = authorizer.refusal(Action.GET_ENDPOINTS, principal_of(request.scope), endpoint)
        return None if problem is None else PlainTextResponse(problem, status_code=403)

    async def state(request: Request) -> Response:
        principal = principal_of(request.scope)
        return _json(
            state_document(service.core, lambda action, obj: authorizer.allowed(action, principal, obj))
        )

    async def health(request: Request) -> Response:
        return Response(status_code=200)

    async def version(request: Request) -> Response:
        return _json(version_document())

    async def monitor(request: Request) -> Response:
        if denied := forbidden(request):
            return denied
        return _json(await statistics() if statistics is not None else [])

    async def snapshot(request: Request) -> Response:
        if denied := forbidden(request):
            return denied
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
    guards = (
        [Middleware(_FilesAccess, service=service, authorizer=authorizer)] if authorizer.is_enabled else []
    )
    return Starlette(routes=routes, middleware=guards)

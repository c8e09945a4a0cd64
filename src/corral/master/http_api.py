"""The master's HTTP edge: the v1 scheduler API, Corral's agent API, and the operator endpoints.

`POST /api/v1/scheduler` follows mesos.md a.1/a.3 to the status code, because pymesos dies on anything
unexpected: 405 (with `Allow: POST`), 415, 400 (undecodable or invalid calls, stream-id problems, unknown
framework), 403 (framework not subscribed), 406, 501 (`UNKNOWN`), 200 + a chunked RecordIO stream for
SUBSCRIBE, 200 for UPDATE_FRAMEWORK and `202` with `Content-Length: 0` for every other call. Whatever the
body, decoding failures are 400, never 5xx.

With `--acls` (`corral.security.acls`), requests are authorized as the principal the authentication layer
put in the scope (`principal_of`; None: unauthenticated): a framework that names no principal takes the
authenticated one. SUBSCRIBE is authorized by the core (an ERROR event), UPDATE_FRAMEWORK here (403);
`/master/state`, `/master/frameworks` and `/master/tasks` show only what view_* allows, `/flags` needs
view_flags, `/metrics/snapshot` get_endpoints and `/files/*` access_sandboxes (403 otherwise).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from corral.aio import within
from corral.core.errors import DecodeError
from corral.core.ids import AgentId
from corral.master import state_json
from corral.master.agent_files import SandboxFiles
from corral.master.authorization import sandbox_user, visible_state
from corral.master.framework_principal import mismatch as principal_mismatch
from corral.master.framework_principal import subscribe_problem
from corral.master.frameworks import authorization_problem
from corral.master.messages import FrameworkCall
from corral.master.operator_api import operator_routes
from corral.master.state import MasterState
from corral.net.agent_link import LinkError
from corral.protocol import recordio
from corral.protocol.agent import AGENT_ID_HEADER, Register, decode_agent_message, encode_master_message
from corral.protocol.json import JsonValue, dumps, loads
from corral.protocol.mesos import FrameworkInfo
from corral.protocol.scheduler import Subscribe, UnknownCall, UpdateFramework, decode_call
from corral.security.acls import Action
from corral.security.identity import principal_of
from corral.ui import static

if TYPE_CHECKING:
    from corral.master.runtime import MasterRuntime

JSON = "application/json"
# Malformed input can make the decoders raise more than DecodeError (e.g. int(inf) in a numeric field).
_DECODE_ERRORS = (DecodeError, ValueError, TypeError, OverflowError, RecursionError)
# The API endpoints answer 405 themselves, with upstream's `Allow: POST`.
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
_JSONP_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]*$")
_SCHEDULER_PATHS = ("/api/v1/scheduler", "/master/api/v1/scheduler")
# What Starlette sends for `Response(status_code=200 or 202)`.
_EMPTY_BODY_HEADERS = [(b"content-length", b"0")]
# What a master that is not the leader still answers itself (mesos.md c.1); the rest goes to the leader.
_ANY_MASTER_PATHS = frozenset(
    f"{prefix}/{name}"
    for prefix in ("", "/master")
    for name in ("flags", "health", "redirect", "version", "metrics/snapshot")
)
UI_DIR = Path(__file__).resolve().parent / "ui"
# `/master/events` (Corral's own): the UI's change feed. At most one notification per interval, so a busy
# cluster's open pages refetch `/master/state` no more than twice a second; a comment line keeps idle
# connections (and proxies) from timing out, and finds browsers that went away.
EVENTS_INTERVAL = 0.5
EVENTS_KEEPALIVE = 15.0


class _Stream(StreamingResponse):
    """A streaming response that always runs `on_close` when it ends, however it ends (even unstarted)."""

    def __init__(
        self, records: AsyncIterator[bytes], on_close: Callable[[], None], headers: dict[str, str]
    ) -> None:
        super().__init__(records, media_type=JSON, headers=headers)
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._on_close()


async def _records(queue: asyncio.Queue[bytes | None]) -> AsyncIterator[bytes]:
    """RecordIO records until the None that ends the stream; whatever is queued goes out as one chunk."""
    while (record := await queue.get()) is not None:
        batch = [record]
        ended = False
        while not queue.empty():
            more = queue.get_nowait()
            if more is None:
                ended = True
                break
            batch.append(more)
        yield b"".join(batch)
        if ended:
            return


async def _state_versions(runtime: MasterRuntime) -> AsyncGenerator[bytes, None]:
    """SSE: `event: state` with the state's version now and whenever it changed since the last one sent."""
    wake = asyncio.Event()
    runtime.state_watchers.add(wake)
    try:
        sent = None
        while True:
            version = runtime.core.state.version
            if version == sent:
                wake.clear()
                try:
                    await within(wake.wait(), EVENTS_KEEPALIVE)
                except TimeoutError:
                    yield b": keepalive\n\n"
                continue
            sent = version
            yield b"event: state\ndata: " + dumps({"version": version}) + b"\n\n"
            await asyncio.sleep(EVENTS_INTERVAL)  # what changes meanwhile goes out as one notification
    finally:
        runtime.state_watchers.discard(wake)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body, as Starlette's `Request.body()` reads it; None if the client disconnected."""
    message = await receive()
    if message["type"] != "http.request":
        return None
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status)


def _accepts_json(accept: str | None) -> bool:
    if accept is None:
        return True
    kinds = {part.split(";")[0].strip() for part in accept.split(",")}
    return bool(kinds & {JSON, "application/*", "*/*"})


def _as_authenticated(info: FrameworkInfo, scope: Scope) -> FrameworkInfo:
    """The framework's principal is the authenticated one when it names none (a different one is refused
    by the authentication layer), so run_tasks and teardown_frameworks see who really subscribed."""
    principal = principal_of(scope)
    return info if principal is None or info.principal is not None else replace(info, principal=principal)


def _decode_body(body: bytes) -> JsonValue | Response:
    try:
        return loads(body)
    except _DECODE_ERRORS as e:
        return _text(400, f"Failed to parse body into JSON: {e}")


class MasterApi:
    def __init__(self, runtime: MasterRuntime) -> None:
        self.runtime = runtime
        self.files = SandboxFiles(runtime.core.state, runtime.config.tls)

    # ------------------------------------------------------------ v1 scheduler API

    async def scheduler(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A raw ASGI endpoint: the hot path (a 202 for ACKNOWLEDGE, ACCEPT, ...) skips Starlette's routing,
        middleware, Request and Response objects; every other answer is the Response `_scheduler` returns."""
        response = await self._scheduler(scope, receive)
        if response is None:  # the client went away before sending the whole body
            return
        if isinstance(response, int):
            await send({"type": "http.response.start", "status": response, "headers": _EMPTY_BODY_HEADERS})
            await send({"type": "http.response.body", "body": b""})
            return
        await response(scope, receive, send)

    async def _scheduler(self, scope: Scope, receive: Receive) -> Response | int | None:
        """The answer to a scheduler call: a Response, or the status of an empty one (200, 202)."""
        if scope["method"] != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        content_type = accept = sent_stream_id = None
        for name, value in scope["headers"]:  # names are lower case; the first of each counts
            if name == b"content-type":
                if content_type is None:
                    content_type = value.decode("latin-1")
            elif name == b"mesos-stream-id":
                if sent_stream_id is None:
                    sent_stream_id = value.decode("latin-1")
            elif name == b"accept" and accept is None:
                accept = value.decode("latin-1")
        if content_type is None:
            return _text(400, "Expecting 'Content-Type' to be present")
        if content_type != JSON:
            return _text(
                415, f"Expecting 'Content-Type' of {JSON} (Corral does not speak application/x-protobuf)"
            )
        body = await _read_body(receive)
        if body is None:
            return None
        obj = _decode_body(body)
        if isinstance(obj, Response):
            return obj
        try:
            framework_id, call = decode_call(obj)
        except UnknownCall as e:
            is_unknown = isinstance(obj, dict) and obj.get("type") == "UNKNOWN"
            return _text(501 if is_unknown else 400, f"Failed to validate scheduler::Call: {e}")
        except _DECODE_ERRORS as e:
            return _text(400, f"Failed to convert JSON into Call protobuf: {e}")
        runtime = self.runtime
        if isinstance(call, Subscribe | UpdateFramework):
            call = replace(call, framework_info=_as_authenticated(call.framework_info, scope))
        if isinstance(call, Subscribe):
            if sent_stream_id is not None:
                return _text(400, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
            if not _accepts_json(accept):
                return _text(406, f"Expecting 'Accept' to allow {JSON}")
            known = runtime.core.framework(framework_id) if framework_id is not None else None
            registered = known.info if known is not None else None
            if problem := subscribe_problem(call.framework_info, principal_of(scope), registered):
                return _text(400, problem)
            stream_id, queue = runtime.open_stream(framework_id, call)
            return _Stream(
                _records(queue), lambda: runtime.close_stream(stream_id), {"Mesos-Stream-Id": stream_id}
            )
        assert framework_id is not None, "decode_call requires framework_id on every call but SUBSCRIBE"
        framework = runtime.core.framework(framework_id)
        if framework is None:
            return _text(400, "Framework cannot be found")
        if not framework.connected:
            return _text(403, "Framework is not subscribed")
        if sent_stream_id is None:
            return _text(400, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
        if sent_stream_id != framework.stream_id:
            return _text(
                400,
                f"The stream ID '{sent_stream_id}' included in this request didn't match the stream ID"
                f" currently associated with framework ID {framework_id}",
            )
        if problem := principal_mismatch(principal_of(scope), framework.info.principal):
            return _text(400, problem)
        if isinstance(call, UpdateFramework):
            if problem := runtime.core.update_problem(framework_id, call):
                return _text(400, problem)
            if problem := authorization_problem(runtime.core.state.authorizer, call.framework_info):
                return _text(403, problem)
            runtime.submit(FrameworkCall(framework_id=framework_id, call=call))
            return 200
        runtime.submit(FrameworkCall(framework_id=framework_id, call=call))
        return 202

    # ------------------------------------------------------------ Corral's agent API

    async def agent(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "POST"})
        # Every message of the agent API speaks for an agent: only principals allowed to register agents send
        # them (upstream checks REGISTER and REREGISTER; the calls that follow are no less an agent's).
        if denied := self._forbidden(request, Action.REGISTER_AGENTS, None):
            return denied
        if request.headers.get("content-type") != JSON:
            return _text(415, f"Expecting 'Content-Type' of {JSON}")
        obj = _decode_body(await request.body())
        if isinstance(obj, Response):
            return obj
        try:
            message = decode_agent_message(obj)
        except _DECODE_ERRORS as e:
            return _text(400, f"Failed to decode agent message: {e}")
        runtime = self.runtime
        if isinstance(message, Register):
            connection, queue = runtime.open_agent(message)

            async def records() -> AsyncIterator[bytes]:
                while (item := await queue.get()) is not None:
                    yield recordio.encode(dumps(encode_master_message(item)))

            return _Stream(records(), lambda: runtime.close_agent(connection), {})
        agent_id = request.headers.get(AGENT_ID_HEADER)
        if agent_id is None:
            return _text(400, f"Expecting the '{AGENT_ID_HEADER}' header")
        try:
            await runtime.agent_call(AgentId(agent_id), message)
        except LinkError as e:
            return _text(403, str(e))
        return Response(status_code=202)

    # ------------------------------------------------------------ operator endpoints

    def _forbidden(self, request: Request, action: Action, obj: str | None) -> Response | None:
        """403 unless `--acls` allow the request's principal `action` on `obj`."""
        problem = self.runtime.core.state.authorizer.refusal(action, principal_of(request.scope), obj)
        return None if problem is None else _text(403, problem)

    def _visible(self, request: Request) -> MasterState:
        return visible_state(self.runtime.core.state, principal_of(request.scope))

    def _json(self, request: Request, body: bytes) -> Response:
        callback = request.query_params.get("jsonp")
        if callback and _JSONP_CALLBACK.match(callback):
            return Response(callback.encode() + b"(" + body + b");", media_type="application/javascript")
        return Response(body, media_type=JSON)

    async def version(self, request: Request) -> Response:
        return self._json(request, dumps(state_json.version_json()))

    async def state(self, request: Request) -> Response:
        runtime = self.runtime
        if not runtime.core.state.authorizer.is_enabled:
            return self._json(request, runtime.state_document())
        document = state_json.state_json(self._visible(request), runtime.config)
        if self._forbidden(request, Action.VIEW_FLAGS, None) is not None:
            del document["flags"]  # upstream leaves them out rather than refusing the whole state
        return self._json(request, dumps(document))

    async def flags(self, request: Request) -> Response:
        if denied := self._forbidden(request, Action.VIEW_FLAGS, None):
            return denied
        return self._json(request, dumps({"flags": state_json.flags_json(self.runtime.config)}))

    async def frameworks(self, request: Request) -> Response:
        state = self._visible(request)
        wanted = request.query_params.get("framework_id")
        live = [f for f in state.frameworks.values() if wanted is None or f.id == wanted]
        done = [f for f in state.completed_frameworks if wanted is None or f.id == wanted]
        document = {
            "frameworks": state_json.frameworks_json(state, live),
            "completed_frameworks": state_json.frameworks_json(state, done),
            "unregistered_frameworks": [],
        }
        return self._json(request, dumps(document))

    async def slaves(self, request: Request) -> Response:
        wanted = request.query_params.get("slave_id")
        agents = self.runtime.core.state.agents.values()
        document = {
            "slaves": [state_json.agent_json(a) for a in agents if wanted is None or a.id == wanted],
            "recovered_slaves": [],
        }
        return self._json(request, dumps(document))

    async def tasks(self, request: Request) -> Response:
        params = request.query_params
        try:
            limit = int(params.get("limit", "100"))
            offset = int(params.get("offset", "0"))
        except ValueError:
            return _text(400, "'limit' and 'offset' must be integers")
        if limit < 0 or offset < 0:
            return _text(400, "'limit' and 'offset' must not be negative")
        order = params.get("order", "desc")
        if order not in ("asc", "desc"):
            return _text(400, "'order' must be 'asc' or 'desc'")
        document = state_json.tasks_json(
            self._visible(request),
            limit=limit,
            offset=offset,
            descending=order == "desc",
            framework_id=params.get("framework_id"),
            task_id=params.get("task_id"),
        )
        return self._json(request, dumps(document))

    async def metrics(self, request: Request) -> Response:
        if denied := self._forbidden(request, Action.GET_ENDPOINTS, "/metrics/snapshot"):
            return denied
        snapshot = state_json.metrics_json(self.runtime.core.state, self.runtime.clock.now())
        return self._json(request, dumps(snapshot))

    async def health(self, request: Request) -> Response:
        return Response(status_code=200)

    async def events(self, request: Request) -> Response:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _state_versions(self.runtime), media_type="text/event-stream", headers=headers
        )

    async def redirect(self, request: Request) -> Response:
        return _to_leader(self.runtime)  # the leader's base URL, `//host:port`

    async def browse(self, request: Request) -> Response:
        return await self._sandbox(request, "browse")

    async def read(self, request: Request) -> Response:
        return await self._sandbox(request, "read")

    async def download(self, request: Request) -> Response:
        return await self._sandbox(request, "download")

    async def _sandbox(self, request: Request, operation: str) -> Response:
        path = request.query_params.get("path")
        if path is not None:
            owner = sandbox_user(self.runtime.core.state, path)
            if denied := self._forbidden(request, Action.ACCESS_SANDBOXES, owner):
                return denied
        return await self.files.proxy(request, operation)


class _Endpoint:
    """Makes a Route call `app` as ASGI (Starlette wraps plain functions and methods in a Request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


def build_app(runtime: MasterRuntime) -> ASGIApp:
    """The master's ASGI app: the scheduler API in front (every framework call, so it must be cheap), then
    Starlette's router for the rest (and for whatever the front does not take, e.g. a trailing slash)."""
    api = MasterApi(runtime)
    get = ["GET"]
    scheduler = _Endpoint(api.scheduler)
    routes = [
        *(Route(path, scheduler, methods=_ANY_METHOD) for path in _SCHEDULER_PATHS),
        Route("/api/v1/agent", api.agent, methods=_ANY_METHOD),
        Route("/version", api.version, methods=get),
        *(
            Route(p, api.state, methods=get)
            for p in ("/master/state", "/state", "/state.json", "/master/state.json")
        ),
        *(Route(p, api.flags, methods=get) for p in ("/master/flags", "/flags")),
        *(Route(p, api.frameworks, methods=get) for p in ("/master/frameworks", "/frameworks")),
        *(Route(p, api.slaves, methods=get) for p in ("/master/slaves", "/slaves")),
        *(Route(p, api.tasks, methods=get) for p in ("/master/tasks", "/tasks")),
        *(Route(p, api.health, methods=get) for p in ("/master/health", "/health")),
        *(Route(p, api.redirect, methods=get) for p in ("/master/redirect", "/redirect")),
        Route("/metrics/snapshot", api.metrics, methods=get),
        Route("/files/browse", api.browse, methods=get),
        Route("/files/read", api.read, methods=get),
        Route("/files/download", api.download, methods=get),
        Route("/master/events", api.events, methods=get),
        *operator_routes(runtime),
        *static.ui_routes(UI_DIR),  # `/` (leader only: followers send browsers on) and `/ui/...` (any master)
    ]
    router = Starlette(routes=routes)
    methods = frozenset(_ANY_METHOD)
    scheduler_api = api.scheduler

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if not runtime.leading and scope["type"] == "http" and _leader_only(scope["path"]):
            await _to_leader(runtime, scope)(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] in _SCHEDULER_PATHS and scope["method"] in methods:
            await scheduler_api(scope, receive, send)
        else:
            await router(scope, receive, send)

    return app


def _leader_only(path: str) -> bool:
    return path not in _ANY_MASTER_PATHS and not path.startswith(("/files/", static.PREFIX + "/"))


def _to_leader(runtime: MasterRuntime, scope: Scope | None = None) -> Response:
    """307 to the leader (protocol-relative, as upstream): the same path and query as `scope`'s, or its base
    URL without a scope; 503 while no leader is known."""
    leader = runtime.leader
    if leader is None:
        return _text(503, "No leader elected")
    location = f"//{leader.hostname}:{leader.port}"
    if scope is not None:
        query = scope.get("query_string", b"").decode("latin-1")
        location += scope["path"] + (f"?{query}" if query else "")
    return RedirectResponse(location, status_code=307)

"""Marathon's v2 REST API (marathon.md a, f): the HTTP edge of `MarathonRuntime`.

Status codes and bodies follow upstream 1.6-1.9 as the PyPI `marathon` client and marathon-lb read them:
POST /v2/apps -> 201 + AppInfo; mutations -> `{"version","deploymentId"}` + `Marathon-Deployment-Id`;
422 with `details` for invalid apps, 400 for malformed JSON, 404 `{"message":"App '/x' does not exist"}`,
409 for an existing app or an app locked by a deployment (unless `?force=true`). Every error body is a
JSON object. Query booleans are parsed case-insensitively (`force=True`), empty path segments are
dropped (`/v2/apps//x` is `/x`), and the client's `Content-Type: application/json` on bodiless requests
is ignored. The API never touches state: it calls the runtime's methods.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from corral.coord.zk_url import str_masked
from corral.core.errors import DecodeError
from corral.marathon.errors import ValidationError
from corral.marathon.groups import DEFAULT_EMBEDS as DEFAULT_GROUP_EMBEDS
from corral.marathon.model import AppDefinition
from corral.marathon.openapi import openapi_document
from corral.marathon.paths import PathId
from corral.marathon.runtime import (
    MARATHON_VERSION,
    DeploymentResult,
    MarathonApiError,
    MarathonRuntime,
    NotFound,
    app_not_found,
)
from corral.marathon.service_ports import LOCAL_PORT_MAX, LOCAL_PORT_MIN, NoServicePortLeft
from corral.marathon.store import StoredApp
from corral.protocol.json import JsonObject, JsonValue, dumps, loads
from corral.ui.static import ui_routes

log = logging.getLogger(__name__)
UI_DIR = Path(__file__).resolve().parent / "ui"

JSON = "application/json"
NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate", "Pragma": "no-cache", "Expires": "0"}
DEFAULT_APP_EMBEDS = frozenset({"tasks", "counts", "deployments", "lastTaskFailure"})
_EMBED_PREFIXES = ("group.apps.", "apps.", "app.")

Handler = Callable[[Request], Awaitable[Response]]


class BadRequest(MarathonApiError):
    status = 400


def json_response(body: JsonValue, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(body), status_code=status, media_type=JSON, headers={**NO_CACHE, **(headers or {})})


def deployment_response(result: DeploymentResult, status: int = 200) -> Response:
    return json_response(result.to_json(), status, {"Marathon-Deployment-Id": result.deployment_id})


def flag(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    return default if value is None or value == "" else value.strip().lower() == "true"


def embeds(request: Request) -> frozenset[str]:
    out: set[str] = set()
    for raw in request.query_params.getlist("embed"):
        value = next((raw.removeprefix(p) for p in _EMBED_PREFIXES if raw.startswith(p)), raw)
        if value == "failures":
            out |= {"tasks", "lastTaskFailure", "deployments"}
        out.add(value)
    return frozenset(out)


async def read_json(request: Request) -> JsonValue:
    data = await request.body()
    try:
        return loads(data)
    except DecodeError as e:
        raise BadRequest("Invalid JSON", details=str(e)) from None


def _guard(handler: Handler) -> Handler:
    """Map the runtime's and the model's errors to their statuses and JSON bodies."""

    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except ValidationError as e:
            return json_response(e.body(), 422)
        except MarathonApiError as e:
            return json_response(e.body(), e.status)
        except NoServicePortLeft as e:
            return json_response({"message": str(e)}, 422)

    return guarded


class MarathonApi:
    def __init__(self, runtime: MarathonRuntime) -> None:
        self.runtime = runtime
        self._openapi = openapi_document(MARATHON_VERSION)
        routes = [
            Route("/ping", self.ping, methods=["GET", "HEAD"]),
            Route("/v2/info", _guard(self.info), methods=["GET"]),
            Route("/v2/leader", _guard(self.leader), methods=["GET"]),
            Route("/metrics", _guard(self.metrics), methods=["GET"]),
            Route("/v2/apps", _guard(self.app_collection), methods=["GET", "POST", "PUT", "PATCH"]),
            Route(
                "/v2/apps/{rest:path}",
                _guard(self.one_app),
                methods=["GET", "PUT", "PATCH", "DELETE", "POST"],
            ),
            Route("/v2/tasks", _guard(self.tasks), methods=["GET"]),
            Route("/v2/tasks/delete", _guard(self.delete_tasks), methods=["POST"]),
            Route("/v2/deployments", _guard(self.deployments), methods=["GET"]),
            Route("/v2/deployments/{id}", _guard(self.delete_deployment), methods=["DELETE"]),
            Route("/v2/queue", _guard(self.queue), methods=["GET"]),
            Route("/v2/queue/{rest:path}", _guard(self.reset_delay), methods=["DELETE"]),
            Route("/v2/groups", _guard(self.groups), methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/v2/groups/{rest:path}", _guard(self.groups), methods=["GET", "POST", "PUT", "DELETE"]),
            Route("/v2/events", self.event_stream, methods=["GET"]),
            Route("/openapi.json", self.openapi, methods=["GET"]),
            *ui_routes(UI_DIR, index_paths=("/", "/ui/")),  # the web UI; `/ui/` is upstream's address
        ]
        self.app = Starlette(routes=routes)
        self.app.add_exception_handler(404, self._not_found)
        self.app.add_exception_handler(405, self._not_allowed)

    async def _not_found(self, request: Request, exc: Exception) -> Response:
        return json_response({"message": "URI not found"}, 404)

    async def _not_allowed(self, request: Request, exc: Exception) -> Response:
        return json_response({"message": "HTTP 405 Method Not Allowed"}, 405)

    # ------------------------------------------------------------ misc

    async def ping(self, request: Request) -> Response:
        accept = request.headers.get("accept", "*/*")
        if "application/json" in accept:
            return json_response("pong")
        return PlainTextResponse("pong", headers=NO_CACHE)

    async def info(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        c = self.runtime.config
        leader = f"{c.hostname}:{c.http_port}"
        body: JsonObject = {
            "name": "marathon",
            "version": MARATHON_VERSION,
            "buildref": "corral",
            "elected": True,
            "leader": leader,
            "frameworkId": self.runtime.framework_id,
            "marathon_config": {
                "access_control_allow_origin": None,
                "checkpoint": True,
                "decline_offer_duration": int(self.runtime.scheduler_config.decline_offer_duration * 1000),
                "default_network_name": None,
                "env_vars_prefix": None,
                "executor": "//cmd",
                "failover_timeout": int(c.failover_timeout),
                "features": [],
                "framework_name": c.framework_name,
                "ha": c.zk is not None,
                "hostname": c.hostname,
                "launch_token": 100,
                "launch_token_refresh_interval": 30000,
                "leader_proxy_connection_timeout_ms": 5000,
                "leader_proxy_read_timeout_ms": 10000,
                "local_port_max": LOCAL_PORT_MAX,
                "local_port_min": LOCAL_PORT_MIN,
                "master": str_masked(c.master),  # a zk:// URL may carry a password
                "max_instances_per_offer": self.runtime.scheduler_config.max_instances_per_offer,
                "mesos_bridge_name": "mesos-bridge",
                "mesos_heartbeat_failure_threshold": 5,
                "mesos_heartbeat_interval": 15000,
                "mesos_leader_ui_url": c.tls.url(self.runtime.master or c.master, "/"),
                "mesos_role": None,
                "mesos_user": c.user,
                "min_revive_offers_interval": 5000,
                "offer_matching_timeout": 3000,
                "on_elected_prepare_timeout": 180000,
                "reconciliation_initial_delay": 15000,
                "reconciliation_interval": round(c.reconciliation_interval * 1000),
                "scale_apps_initial_delay": 15000,
                "scale_apps_interval": 300000,
                "store_cache": True,
                "task_launch_confirm_timeout": 300000,
                "task_launch_timeout": 300000,
                "task_lost_expunge_initial_delay": 300000,
                "task_lost_expunge_interval": 30000,
                "task_reservation_timeout": 20000,
                "webui_url": None,
                "maintenance_mode": False,
            },
            "zookeeper_config": {
                "zk": c.zk,
                "zk_compression": True,
                "zk_compression_threshold": 65536,
                "zk_connection_timeout": 10000,
                "zk_max_node_size": 1024000,
                "zk_max_versions": 50,
                "zk_session_timeout": 10000,
                "zk_timeout": 10000,
            },
            "http_config": {"http_port": c.http_port, "https_port": 8443},
        }
        return json_response(body)

    async def openapi(self, request: Request) -> Response:
        return json_response(self._openapi)

    async def leader(self, request: Request) -> Response:
        c = self.runtime.config
        return json_response({"leader": f"{c.hostname}:{c.http_port}"})

    async def metrics(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        r = self.runtime
        gauges: JsonObject = {
            "marathon.apps.active.gauge": {"value": len(r.apps)},
            "marathon.instances.running.gauge": {
                "value": sum(1 for i in r.instances.values() if i.is_running)
            },
            "marathon.instances.launch-queue.gauge": {"value": sum(q.count for q in r.queue)},
            "marathon.deployments.active.gauge": {"value": len(r.deployments)},
            "marathon.http.event-streams.active.gauge": {"value": r.events.subscriber_count},
        }
        body: JsonObject = {
            "version": "4.0.0",
            "counters": {},
            "gauges": gauges,
            "histograms": {},
            "meters": {},
            "timers": {},
        }
        return json_response(body)

    # ------------------------------------------------------------ apps

    async def app_collection(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        force = flag(request, "force")
        if request.method == "GET":
            return self._list_apps(request)
        if request.method == "POST":
            body = await read_json(request)
            app = AppDefinition.from_json(body)
            stored, deployment_id = await self.runtime.create_app(app, force=force)
            out = stored.app.to_json(version=stored.version)
            out.update(tasksStaged=0, tasksRunning=0, tasksHealthy=0, tasksUnhealthy=0)
            out["deployments"] = [{"id": deployment_id}]
            out["tasks"] = []
            headers = {"Location": f"/v2/apps{stored.app.id}", "Marathon-Deployment-Id": deployment_id}
            return json_response(out, 201, headers)
        body = await read_json(request)  # PUT / PATCH of several apps
        if not isinstance(body, list):
            raise BadRequest("Please specify data in JSON format", details="expected an array of apps")
        result: DeploymentResult | None = None
        for item in body:
            raw_id = item.get("id") if isinstance(item, dict) else None
            if not isinstance(raw_id, str):
                raise BadRequest("Please specify data in JSON format", details="every app needs an id")
            result = await self.runtime.update_app(
                PathId.parse(raw_id).canonical(),
                item,
                partial=request.method == "PATCH" or flag(request, "partialUpdate", True),
                force=force,
                create=request.method == "PUT",
            )
        if result is None:
            raise BadRequest("Please specify data in JSON format", details="no apps given")
        return deployment_response(result)

    def _list_apps(self, request: Request) -> Response:
        embed = embeds(request)
        cmd = (request.query_params.get("cmd") or "").lower()
        ident = (request.query_params.get("id") or "").lower()
        label = request.query_params.get("label")
        out: list[JsonValue] = []
        by_app = self.runtime.instances_by_app()
        for app_id in sorted(self.runtime.apps):
            stored = self.runtime.apps[app_id]
            if cmd and cmd not in (stored.app.cmd or "").lower():
                continue
            if ident and ident not in str(app_id).lower():
                continue
            if label and not _labels_match(label, stored.app.labels):
                continue
            out.append(self.runtime.app_json(stored, embed, by_app.get(app_id, [])))
        return json_response({"apps": out})

    async def one_app(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        segments = [s for s in request.path_params["rest"].split("/") if s]
        method = request.method
        if len(segments) >= 2 and segments[-1] == "restart" and method == "POST":
            return await self._restart(request, PathId(tuple(segments[:-1])))
        if segments and segments[-1] == "tasks":
            return await self._app_tasks(request, PathId(tuple(segments[:-1])), None)
        if len(segments) >= 2 and segments[-2] == "tasks" and method == "DELETE":
            # Only DELETE names one task: `GET /v2/apps/tasks/web` is the app `/tasks/web`.
            return await self._app_tasks(request, PathId(tuple(segments[:-2])), segments[-1])
        if segments and segments[-1] == "versions" and method == "GET":
            app_id = PathId(tuple(segments[:-1]))
            self._stored(app_id)
            versions = await self.runtime.store.app_versions(app_id)
            return json_response({"versions": list[JsonValue](sorted(versions, reverse=True))})
        if len(segments) >= 2 and segments[-2] == "versions" and method == "GET":
            app_id = PathId(tuple(segments[:-2]))
            self._stored(app_id)
            definition = await self.runtime.store.app_version(app_id, segments[-1])
            if definition is None:
                raise app_not_found(app_id)
            return json_response(definition.to_json(version=segments[-1]))
        app_id = PathId(tuple(segments))
        force = flag(request, "force")
        match method:
            case "GET":
                embed = embeds(request) or DEFAULT_APP_EMBEDS
                return json_response({"app": self.runtime.app_json(self._stored(app_id), embed)})
            case "PUT" | "PATCH":
                body = await read_json(request)
                partial = method == "PATCH" or flag(request, "partialUpdate", True)
                result = await self.runtime.update_app(
                    app_id, body, partial=partial, force=force, create=method == "PUT"
                )
                if result.created:
                    return deployment_response(result, 201)
                return deployment_response(result)
            case "DELETE":
                result = await self.runtime.delete_app(app_id, force=flag(request, "force", True))
                return deployment_response(result)
            case _:
                return json_response({"message": "HTTP 405 Method Not Allowed"}, 405)

    def _stored(self, app_id: PathId) -> StoredApp:
        stored = self.runtime.apps.get(app_id)
        if stored is None:
            raise app_not_found(app_id)
        return stored

    async def _restart(self, request: Request, app_id: PathId) -> Response:
        result = await self.runtime.restart_app(app_id, force=flag(request, "force"))
        return deployment_response(result)

    async def _app_tasks(self, request: Request, app_id: PathId, task_id: str | None) -> Response:
        self._stored(app_id)
        instances = [i for i in self.runtime.instances_of(app_id) if not i.is_terminal]
        if request.method == "GET" and task_id is None:
            return json_response({"tasks": [self.runtime.task_json(i) for i in instances]})
        if request.method != "DELETE":
            return json_response({"message": "HTTP 405 Method Not Allowed"}, 405)
        scale, wipe = flag(request, "scale"), flag(request, "wipe")
        if scale and wipe:
            raise BadRequest("You cannot use scale and wipe at the same time.")
        if task_id is not None:
            chosen = [i for i in instances if i.task_id == task_id]
            if not chosen:
                raise NotFound(f"Task '{task_id}' does not exist")
        else:
            host = request.query_params.get("host")
            chosen = [i for i in instances if host in (None, "*") or i.agent.hostname == host]
        result = await self.runtime.kill_tasks(
            [i.task_id for i in chosen], scale=scale, force=flag(request, "force")
        )
        if isinstance(result, DeploymentResult):
            return deployment_response(result)
        if task_id is not None:
            return json_response({"task": self.runtime.task_json(result[0])} if result else {})
        return json_response({"tasks": [self.runtime.task_json(i) for i in result]})

    # ------------------------------------------------------------ tasks, deployments, queue, groups

    async def tasks(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        wanted = {
            s.lower()
            for s in request.query_params.getlist("status") + request.query_params.getlist("status[]")
        }
        out: list[JsonValue] = []
        by_app = self.runtime.instances_by_app()
        for app_id in sorted(self.runtime.apps):
            for instance in by_app.get(app_id, ()):
                if instance.is_terminal:
                    continue
                state = instance.state.value if instance.state is not None else "TASK_STAGING"
                if wanted and state.removeprefix("TASK_").lower() not in wanted:
                    continue
                out.append(self.runtime.task_json(instance))
        return json_response({"tasks": out})

    async def delete_tasks(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        body = await read_json(request)
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest("Please specify data in JSON format", details='expected {"ids": [...]}')
        scale, wipe = flag(request, "scale"), flag(request, "wipe")
        if scale and wipe:
            raise BadRequest("You cannot use scale and wipe at the same time.")
        result = await self.runtime.kill_tasks(
            [str(i) for i in ids], scale=scale, force=flag(request, "force")
        )
        if isinstance(result, DeploymentResult):
            return deployment_response(result)
        return json_response({"tasks": [self.runtime.task_json(i) for i in result]})

    async def deployments(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        return json_response(self.runtime.deployments_json())

    async def delete_deployment(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        result = await self.runtime.cancel_deployment(request.path_params["id"], force=flag(request, "force"))
        if result is None:
            return Response(status_code=202, headers=NO_CACHE)
        return deployment_response(result)

    async def queue(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        last = "lastUnusedOffers" in request.query_params.getlist("embed")
        return json_response({"queue": self.runtime.queue_json(embed_last_unused_offers=last)})

    async def reset_delay(self, request: Request) -> Response:
        await self.runtime.wait_ready()
        segments = [s for s in request.path_params["rest"].split("/") if s]
        if not segments or segments[-1] != "delay":
            return json_response({"message": "URI not found"}, 404)
        await self.runtime.reset_delay(PathId(tuple(segments[:-1])))
        return Response(status_code=204, headers=NO_CACHE)

    async def groups(self, request: Request) -> Response:
        """`/v2/groups[/{id}]` (marathon.md a.2): changes answer `{version, deploymentId}`, POST with 201."""
        await self.runtime.wait_ready()
        segments = [s for s in request.path_params.get("rest", "").split("/") if s]
        if request.method == "GET":
            return await self._read_group(request, segments)
        force = flag(request, "force")
        if request.method == "DELETE":
            return deployment_response(await self.runtime.delete_group(PathId(tuple(segments)), force=force))
        if request.method == "PUT" and len(segments) >= 2 and segments[-2] == "versions":
            # The PyPI client's `rollback_group` route (not upstream's): the same as a `{"version"}` body.
            body: JsonValue = {"version": segments[-1]}
            segments = segments[:-2]
        else:
            body = await read_json(request)
        group_id = PathId(tuple(segments))
        if request.method == "POST":
            created, result = await self.runtime.create_group(group_id, body, force=force)
            headers = {"Location": f"/v2/groups{created}", "Marathon-Deployment-Id": result.deployment_id}
            return json_response(result.to_json(), 201, headers)
        outcome = await self.runtime.update_group(
            group_id, body, force=force, dry_run=flag(request, "dryRun")
        )
        if isinstance(outcome, DeploymentResult):
            return deployment_response(outcome)
        return json_response(outcome)

    async def _read_group(self, request: Request, segments: list[str]) -> Response:
        """A group (embeds default to its groups, apps and pods), its versions, one version, or its apps."""
        embed = embeds(request) if request.query_params.getlist("embed") else DEFAULT_GROUP_EMBEDS
        if segments and segments[-1] == "versions":
            versions = await self.runtime.group_versions(PathId(tuple(segments[:-1])))
            return json_response(list[JsonValue](versions))
        if len(segments) >= 2 and segments[-2] == "versions":
            group_id = PathId(tuple(segments[:-2]))
            return json_response(await self.runtime.group_version_json(group_id, segments[-1]))
        if segments and segments[-1] == "apps":
            return json_response(self.runtime.group_apps_json(PathId(tuple(segments[:-1])), embed))
        return json_response(self.runtime.group_json(PathId(tuple(segments)), embed))

    # ------------------------------------------------------------ events

    async def event_stream(self, request: Request) -> Response:
        if "text/event-stream" not in request.headers.getlist("accept"):
            return json_response({"message": "HTTP 405 Method Not Allowed"}, 405)
        await self.runtime.wait_ready()
        types = request.query_params.getlist("event_type")
        subscription = self.runtime.events.subscribe(types)
        remote = request.client.host if request.client else ""
        self.runtime.events.publish("event_stream_attached", remoteAddress=remote)
        return StreamingResponse(
            subscription.frames(),
            media_type="text/event-stream;charset=UTF-8",
            headers={**NO_CACHE, "Connection": "close"},
        )


def _labels_match(selector: str, labels: object) -> bool:
    """`key`, `key==v`, `key!=v`, comma-separated (AND); the `in`/`notin` forms are not supported yet."""
    assert isinstance(labels, dict)
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "==" in term:
            key, value = term.split("==", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term not in labels:
            return False
    return True

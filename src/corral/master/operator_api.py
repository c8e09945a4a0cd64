"""The operator endpoints for roles, weights and quota, and the v1 operator API (`POST /api/v1`).

v0 (mesos.md c.3): `GET /roles` (`{"roles":[{name, weight, quota, resources, allocated, offered, reserved,
frameworks}]}`, plus Corral's `share`), `GET|PUT /weights` (an array of `{"weight", "role"}`), `GET /quota`
(QuotaStatus), `POST /quota` (`{"role", "guarantee":[Resource], "force"}`: pre-1.9 semantics, the guarantee
is also the limit) and `DELETE /quota/<role>`; each under `/master/` too, and `?jsonp=` on GETs.

v1 (mesos.md c.7): GET_HEALTH, GET_VERSION, GET_FLAGS, GET_MASTER, GET_STATE, GET_AGENTS, GET_FRAMEWORKS,
GET_TASKS, GET_EXECUTORS, GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS, GET_QUOTA, UPDATE_QUOTA, and the
deprecated SET_QUOTA/REMOVE_QUOTA, at `/api/v1` and (as libprocess routes by prefix, and pymesos's
operator driver uses it) `/api/v1/operator`. Queries answer 200 with `{"type": T, "get_x": {...}}`;
updates answer 200 with an empty body, 400 with the reason when refused.

Updates change the core through its `update_weights`/`update_quota` and then deliver a `Tick`, so that
what they imply (offers past a new limit rescinded, a new allocation) happens through the runtime's one
path for effects. TEARDOWN (`POST /teardown` with the form body `frameworkId=<id>`, and v1 TEARDOWN) removes
a framework through the core's `TeardownFramework`: 200, or 400 for an unknown framework.

With `--acls`, each call is authorized as the request's principal (`principal_of`): TEARDOWN by
teardown_frameworks (the object is the framework's principal), weight and quota updates by update_weights
and update_quotas for every role they name, GET_FLAGS by view_flags (403 when refused); GET_STATE,
GET_FRAMEWORKS, GET_TASKS and GET_EXECUTORS show only what view_* allows, quota status only the roles
get_quotas allows, and `/roles` and GET_ROLES list in each role only the frameworks view_frameworks allows.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from corral.core.errors import DecodeError
from corral.core.ids import FrameworkId
from corral.master import roles as role_docs
from corral.master import state_json
from corral.master.authorization import visible_state
from corral.master.messages import TeardownFramework, Tick
from corral.master.roles import QuotaConfig
from corral.master.state import AgentRecord, FrameworkRecord, MasterState, TaskRecord
from corral.protocol.json import JsonObject, JsonValue, Reader, dumps, ident, loads
from corral.protocol.mesos import MESOS_VERSION, decode_resources, encode_resources
from corral.security.acls import Action
from corral.security.identity import principal_of

if TYPE_CHECKING:
    from corral.master.runtime import MasterRuntime

JSON = "application/json"
_JSONP_CALLBACK = re.compile(r"^[A-Za-z_$][\w$.]*$")
_DECODE_ERRORS = (DecodeError, ValueError, TypeError, OverflowError, RecursionError)


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(message, status_code=status)


def _nanos(seconds: float | None) -> JsonObject:
    return {"nanoseconds": round((seconds or 0.0) * 1e9)}


# ---------------------------------------------------------------- v1 documents


def _v1_framework(state: MasterState, framework: FrameworkRecord) -> JsonObject:
    out: JsonObject = {
        "framework_info": framework.info.to_json(),
        "active": framework.connected,
        "connected": framework.connected,
        "recovered": framework.recovered,
        "registered_time": _nanos(framework.registered_time),
        "offers": [
            state.offers[o].to_json(multi_role=framework.info.is_multi_role)
            for o in sorted(framework.offer_ids)
        ],
        "inverse_offers": [],
        "allocated_resources": encode_resources(framework.used),
        "offered_resources": encode_resources(framework.offered),
    }
    if framework.reregistered_time is not None:
        out["reregistered_time"] = _nanos(framework.reregistered_time)
    if framework.unregistered_time is not None:
        out["unregistered_time"] = _nanos(framework.unregistered_time)
    return out


def _v1_agent(agent: AgentRecord) -> JsonObject:
    return {
        "agent_info": agent.info.to_json(),
        "active": agent.connected,
        "deactivated": False,
        "version": MESOS_VERSION,
        "pid": f"slave(1)@{agent.ip}:{agent.info.port}",
        "registered_time": _nanos(agent.registered_time),
        **({"reregistered_time": _nanos(agent.reregistered_time)} if agent.reregistered_time else {}),
        "total_resources": encode_resources(agent.total, reserved=agent.reservations),
        "allocated_resources": encode_resources(agent.used, reserved=agent.used_reserved),
        "offered_resources": encode_resources(agent.offered, reserved=agent.offered_reserved),
        "capabilities": [{"type": c} for c in ("MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT")],
    }


def _v1_task(task: TaskRecord) -> JsonObject:
    out: JsonObject = {
        "name": task.info.name,
        "task_id": ident(task.id),
        "framework_id": ident(task.framework_id),
        "agent_id": ident(task.agent_id),
        "state": task.state.value,
        "resources": encode_resources(task.resources, reserved=task.reservations),
        "statuses": [s.to_json() for s in task.statuses],
        "role": task.role,
    }
    if task.executor_id is not None:
        out["executor_id"] = ident(task.executor_id)
    if task.status_update_state is not None:
        out["status_update_state"] = task.status_update_state.value
    for key in ("labels", "discovery", "container", "health_check", "kill_policy"):
        if (value := task.info.raw.get(key)) is not None:
            out[key] = value
    return out


def v1_frameworks(state: MasterState) -> JsonObject:
    return {
        "frameworks": [_v1_framework(state, f) for f in state.frameworks.values()],
        "completed_frameworks": [_v1_framework(state, f) for f in state.completed_frameworks],
    }


def v1_agents(state: MasterState) -> JsonObject:
    return {"agents": [_v1_agent(a) for a in state.agents.values()], "recovered_agents": []}


def v1_tasks(state: MasterState) -> JsonObject:
    tasks: list[JsonValue] = []
    unreachable: list[JsonValue] = []
    completed: list[JsonValue] = []
    for framework in [*state.frameworks.values(), *state.completed_frameworks]:
        tasks += [_v1_task(t) for t in framework.tasks.values()]
        unreachable += [_v1_task(t) for t in framework.unreachable_tasks.values()]
        completed += [_v1_task(t) for t in framework.completed_tasks]
    return {"tasks": tasks, "unreachable_tasks": unreachable, "completed_tasks": completed}


def v1_executors(state: MasterState) -> JsonObject:
    executors: list[JsonValue] = [
        {"executor_info": executor.to_json(), "agent_id": ident(agent_id)}
        for framework in state.frameworks.values()
        for (agent_id, _), executor in framework.executors.items()
    ]
    return {"executors": executors}


def _v1_state(state: MasterState) -> JsonObject:
    return {
        "get_tasks": v1_tasks(state),
        "get_executors": v1_executors(state),
        "get_frameworks": v1_frameworks(state),
        "get_agents": v1_agents(state),
    }


# The queries whose answers view_frameworks, view_tasks and view_executors filter.
_FILTERED_QUERIES = frozenset({"GET_STATE", "GET_FRAMEWORKS", "GET_TASKS", "GET_EXECUTORS"})


def _role_of(item: JsonValue) -> str | None:
    return role if isinstance(item, dict) and isinstance(role := item.get("role"), str) else None


# ---------------------------------------------------------------- decoding operator input


def _weights(items: list[JsonValue], path: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for i, item in enumerate(items):
        r = Reader(item, f"{path}[{i}]")
        out[r.text("role")] = r.number("weight")
    return out


def _quantities(r: Reader, key: str) -> dict[str, float]:
    child = r.opt_child(key)
    if child is None:
        return {}
    return {name: Reader(value, f"{child.path}.{name}").number("value") for name, value in child.obj.items()}


def quota_configs(r: Reader) -> list[QuotaConfig]:
    """UPDATE_QUOTA's `quota_configs`."""
    return [
        QuotaConfig(
            role=c.text("role"), guarantees=_quantities(c, "guarantees"), limits=_quantities(c, "limits")
        )
        for c in r.objs("quota_configs")
    ]


def quota_request(r: Reader) -> QuotaConfig:
    """The deprecated QuotaRequest (`POST /quota`, SET_QUOTA): before 1.9 a guarantee was also a limit."""
    guarantee = decode_resources(r, "guarantee")
    if guarantee.ranges or guarantee.sets:
        raise DecodeError(f"{r.path}.guarantee", "quota applies to scalar resources only")
    return QuotaConfig(
        role=r.text("role"), guarantees=dict(guarantee.scalars), limits=dict(guarantee.scalars)
    )


# ---------------------------------------------------------------- the endpoints


class OperatorApi:
    def __init__(self, runtime: MasterRuntime) -> None:
        self.runtime = runtime

    @property
    def state(self) -> MasterState:
        return self.runtime.core.state

    def _json(self, request: Request, document: JsonValue) -> Response:
        body = dumps(document)
        callback = request.query_params.get("jsonp")
        if callback and _JSONP_CALLBACK.match(callback):
            return Response(callback.encode() + b"(" + body + b");", media_type="application/javascript")
        return Response(body, media_type=JSON)

    def _refused(self, principal: str | None, action: Action, objects: list[str | None]) -> Response | None:
        """403 if the ACLs refuse `principal` `action` on any of `objects`."""
        for obj in objects:
            if (problem := self.state.authorizer.refusal(action, principal, obj)) is not None:
                return _text(403, problem)
        return None

    def _quota_status(self, principal: str | None) -> JsonObject:
        """QuotaStatus, of the roles get_quotas lets `principal` see."""
        status = role_docs.quota_status_json(self.state.roles)
        authorizer = self.state.authorizer
        return {
            key: [q for q in items if authorizer.allowed(Action.GET_QUOTAS, principal, _role_of(q))]
            for key, items in status.items()
            if isinstance(items, list)
        }

    def _teardown(self, principal: str | None, framework_id: FrameworkId) -> Response:
        framework = self.state.frameworks.get(framework_id)
        if framework is None:
            return _text(400, "No framework found with specified ID")
        if refused := self._refused(principal, Action.TEARDOWN_FRAMEWORKS, [framework.info.principal]):
            return refused
        self.runtime.submit(TeardownFramework(framework_id=framework_id))
        return Response(status_code=200)

    def _applied(self, problem: str | None) -> Response:
        if problem is not None:
            return _text(400, problem)
        self.runtime.submit(Tick())  # rescind what a new limit forbids, and allocate, now
        return Response(status_code=200)

    async def _body(self, request: Request) -> JsonValue | Response:
        try:
            return loads(await request.body())
        except _DECODE_ERRORS as e:
            return _text(400, f"Failed to parse body into JSON: {e}")

    # ------------------------------------------------------------ v0

    def _frameworks_by_role(self, principal: str | None) -> dict[str, list[str]]:
        """The `frameworks` of each role: only those view_frameworks lets `principal` see."""
        return state_json.frameworks_by_role(visible_state(self.state, principal))

    async def roles(self, request: Request) -> Response:
        frameworks = self._frameworks_by_role(principal_of(request.scope))
        return self._json(request, role_docs.roles_json(self.state.roles, frameworks))

    async def weights(self, request: Request) -> Response:
        if request.method in ("GET", "HEAD"):
            return self._json(request, role_docs.weights_json(self.state.roles))
        obj = await self._body(request)
        if isinstance(obj, Response):
            return obj
        if not isinstance(obj, list):
            return _text(400, 'Expecting a JSON array of {"role", "weight"} objects')
        try:
            weights = _weights(obj, "")
        except _DECODE_ERRORS as e:
            return _text(400, f"Failed to decode weights: {e}")
        if refused := self._refused(principal_of(request.scope), Action.UPDATE_WEIGHTS, [*weights]):
            return refused
        return self._applied(self.runtime.core.update_weights(weights))

    async def quota(self, request: Request) -> Response:
        role = request.path_params.get("role")
        principal = principal_of(request.scope)
        if request.method in ("GET", "HEAD"):
            return self._json(request, self._quota_status(principal))
        if request.method == "DELETE":
            if not role:
                return _text(400, "Expecting the role in the path: DELETE /quota/<role>")
            if refused := self._refused(principal, Action.UPDATE_QUOTAS, [role]):
                return refused
            if role not in self.state.roles.quotas:
                return _text(400, f"Role '{role}' has no quota set")
            return self._applied(self.runtime.core.update_quota([QuotaConfig(role=role)], force=True))
        obj = await self._body(request)
        if isinstance(obj, Response):
            return obj
        try:
            config = quota_request(Reader(obj))
            force = Reader(obj).flag("force", False)
        except _DECODE_ERRORS as e:
            return _text(400, f"Failed to decode the quota request: {e}")
        if refused := self._refused(principal, Action.UPDATE_QUOTAS, [config.role]):
            return refused
        return self._applied(self.runtime.core.update_quota([config], force=force))

    async def teardown(self, request: Request) -> Response:
        """`POST /teardown`, form body `frameworkId=<id>` (mesos.md c.3)."""
        form = urllib.parse.parse_qs((await request.body()).decode("utf-8", errors="replace"))
        framework_id = next(iter(form.get("frameworkId", [])), "")
        if not framework_id:
            return _text(400, "Missing 'frameworkId' in the form body")
        return self._teardown(principal_of(request.scope), FrameworkId(framework_id))

    # ------------------------------------------------------------ v1

    async def v1(self, request: Request) -> Response:
        if request.headers.get("content-type") != JSON:
            return _text(415, f"Expecting 'Content-Type' of {JSON}")
        accept = request.headers.get("accept")
        if accept is not None and not {a.split(";")[0].strip() for a in accept.split(",")} & {
            JSON,
            "application/*",
            "*/*",
        }:
            return _text(406, f"Expecting 'Accept' to allow {JSON}")
        obj = await self._body(request)
        if isinstance(obj, Response):
            return obj
        try:
            r = Reader(obj)
            kind = r.text("type")
            return self._v1_call(kind, r, principal_of(request.scope))
        except _DECODE_ERRORS as e:
            return _text(400, f"Failed to validate master::Call: {e}")

    def _v1_call(self, kind: str, r: Reader, principal: str | None) -> Response:
        if kind == "GET_FLAGS" and (refused := self._refused(principal, Action.VIEW_FLAGS, [None])):
            return refused
        visible = visible_state(self.state, principal) if kind in _FILTERED_QUERIES else self.state
        queries: dict[str, Callable[[], JsonObject]] = {
            "GET_HEALTH": lambda: {"healthy": True},
            "GET_VERSION": lambda: {"version_info": state_json.version_json()},
            "GET_FLAGS": self._flags,
            "GET_MASTER": self._master,
            "GET_STATE": lambda: _v1_state(visible),
            "GET_AGENTS": lambda: v1_agents(self.state),
            "GET_FRAMEWORKS": lambda: v1_frameworks(visible),
            "GET_TASKS": lambda: v1_tasks(visible),
            "GET_EXECUTORS": lambda: v1_executors(visible),
            "GET_ROLES": lambda: role_docs.v1_roles_json(
                self.state.roles, self._frameworks_by_role(principal)
            ),
            "GET_WEIGHTS": lambda: {"weight_infos": role_docs.weights_json(self.state.roles)},
            "GET_QUOTA": lambda: {"status": self._quota_status(principal)},
        }
        if (query := queries.get(kind)) is not None:
            document: JsonObject = {"type": kind, kind.lower(): query()}
            return Response(dumps(document), media_type=JSON)
        core = self.runtime.core
        match kind:
            case "UPDATE_WEIGHTS":
                weights = _weights(
                    r.child("update_weights").array("weight_infos"), "update_weights.weight_infos"
                )
                if refused := self._refused(principal, Action.UPDATE_WEIGHTS, [*weights]):
                    return refused
                return self._applied(core.update_weights(weights))
            case "UPDATE_QUOTA":
                body = r.child("update_quota")
                configs = quota_configs(body)
                if refused := self._refused(principal, Action.UPDATE_QUOTAS, [c.role for c in configs]):
                    return refused
                return self._applied(core.update_quota(configs, force=body.flag("force", False)))
            case "SET_QUOTA":
                request = r.child("set_quota").child("quota_request")
                force = request.flag("force", False)
                config = quota_request(request)
                if refused := self._refused(principal, Action.UPDATE_QUOTAS, [config.role]):
                    return refused
                return self._applied(core.update_quota([config], force=force))
            case "REMOVE_QUOTA":
                role = r.child("remove_quota").text("role")
                if refused := self._refused(principal, Action.UPDATE_QUOTAS, [role]):
                    return refused
                if role not in self.state.roles.quotas:
                    return _text(400, f"Role '{role}' has no quota set")
                return self._applied(core.update_quota([QuotaConfig(role=role)], force=True))
            case "TEARDOWN":
                return self._teardown(principal, FrameworkId(r.child("teardown").value("framework_id")))
            case _:
                return _text(501, f"Corral's operator API does not implement {kind}")

    def _flags(self) -> JsonObject:
        flags = state_json.flags_json(self.runtime.config)
        return {"flags": [{"name": k, "value": v} for k, v in sorted(flags.items())]}

    def _master(self) -> JsonObject:
        state = self.state
        return {
            "master_info": state.master_info.to_json(),
            "start_time": state.start_time,
            "elected_time": state.start_time,
        }


def operator_routes(runtime: MasterRuntime) -> list[Route]:
    """The routes to add to the master's app (`routes = [..., *operator_routes(runtime)]`)."""
    api = OperatorApi(runtime)
    get = ["GET"]
    routes: list[Route] = []
    for prefix in ("/master", ""):
        routes += [
            Route(f"{prefix}/roles", api.roles, methods=get),
            Route(f"{prefix}/roles.json", api.roles, methods=get),
            Route(f"{prefix}/weights", api.weights, methods=["GET", "PUT"]),
            Route(f"{prefix}/quota", api.quota, methods=["GET", "POST"]),
            Route(f"{prefix}/quota/{{role:path}}", api.quota, methods=["DELETE"]),
            Route(f"{prefix}/api/v1", api.v1, methods=["POST"]),
            Route(f"{prefix}/api/v1/operator", api.v1, methods=["POST"]),
            Route(f"{prefix}/teardown", api.teardown, methods=["POST"]),
        ]
    return routes

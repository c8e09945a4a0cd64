"""Chronos's REST API, under both `/v1/scheduler/*` (3.x) and `/scheduler/*` (2.x), plus `/ping`, `/metrics`
and `/leader` at the root (chronos.md a; clients.md 4).

Rules kept for the clients: writes answer 204 with an empty body; every response has a Content-Type (a body
without one crashes chronos-python); errors are `{"status", "message"}` JSON with a short message saying what
is wrong, never a stack trace: 400 for an invalid job (name, schedule, unknown parent, cycle) and, as
upstream, for an unknown job; 404 and 405 only for a path or method that does not exist. The name rule is
the prefix's (3.x on `/v1/scheduler`, 2.x on `/scheduler`), applied when a job is created. Upstream's traps
are not copied: `?any=` alone does not return every job, and a job whose parents are unknown is refused
instead of silently vanishing (#815).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from corral.chronos.dag import parent_problems
from corral.chronos.model import Job
from corral.chronos.runs import Run, RunState, history_item, sandbox_path
from corral.chronos.scheduler import ChronosState, iter_stats, job_state_text, orphaned_children
from corral.chronos.stats import stats_listing
from corral.chronos.validation import NameRule, job_problems
from corral.core.errors import DecodeError
from corral.protocol.json import JsonObject, JsonValue, dumps, loads

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
CORS = {"Access-Control-Allow-Origin": "*"}
SEARCH_LIMIT = 10


class ChronosBackend(Protocol):
    """What the API needs from the runtime (a fake in unit tests)."""

    @property
    def state(self) -> ChronosState: ...

    @property
    def leader(self) -> str: ...

    def now(self) -> datetime: ...

    def sandbox_url(self, run: Run) -> str | None: ...

    async def save_job(self, job: Job) -> None: ...

    async def run_job(self, name: str, arguments: str) -> None: ...

    async def delete_job(self, name: str) -> None: ...

    async def kill_tasks(self, name: str) -> None: ...


def json_response(value: JsonValue, status: int = 200) -> Response:
    return Response(dumps(value), status_code=status, media_type=JSON, headers=CORS)


def no_content() -> Response:
    return Response(b"", status_code=204, media_type=JSON, headers=CORS)


def error(status: int, message: str) -> Response:
    reasons = {400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 500: "Internal Server Error"}
    reason = reasons.get(status, "Error")
    return json_response({"status": reason, "message": message}, status)


def not_found(name: str) -> Response:
    """400, not 404, for an unknown job, as Chronos answers (chronos.md a, key fact 1)."""
    return error(400, f"job {name!r} not found")


class ChronosApi:
    def __init__(self, backend: ChronosBackend) -> None:
        self.backend = backend

    def _job(self, request: Request) -> tuple[str, Job | None]:
        name = str(request.path_params["name"])
        return name, self.backend.state.jobs.get(name)

    # ---- writes

    async def post_job(self, request: Request, *, dependent: bool, rule: NameRule) -> Response:
        try:
            body = loads(await request.body())
            job = Job.from_json(body, now=self.backend.now())
        except DecodeError as e:
            return error(400, f"invalid job: {e}")
        except ValueError as e:
            return error(400, f"invalid JSON: {e}")
        if dependent and not job.parents:
            return error(
                400, "parents: a dependent job needs at least one parent (POST it to /iso8601 instead)"
            )
        state = self.backend.state
        creating = job.name not in state.jobs
        problems = list(job_problems(job, rule=rule if creating else None))
        if job.parents:
            problems += parent_problems(state.graph(), job.name, job.parents)
        if problems:
            return error(400, "; ".join(str(p) for p in problems))
        await self.backend.save_job(job)
        return no_content()

    async def run_job(self, request: Request) -> Response:
        name, job = self._job(request)
        if job is None:
            return not_found(name)
        await self.backend.run_job(name, request.query_params.get("arguments", ""))
        return no_content()

    async def delete_job(self, request: Request) -> Response:
        name, job = self._job(request)
        if job is None:
            return not_found(name)
        orphans = orphaned_children(self.backend.state, name)
        if orphans:
            listed = ", ".join(repr(c) for c in orphans)
            return error(
                400,
                f"job {name!r} is the only parent of {listed}: delete or re-parent them first",
            )
        await self.backend.delete_job(name)
        return no_content()

    async def kill_tasks(self, request: Request) -> Response:
        name, job = self._job(request)
        if job is None:
            return not_found(name)
        await self.backend.kill_tasks(name)
        return no_content()

    # ---- reads

    async def jobs(self, request: Request) -> Response:
        state = self.backend.state
        return json_response([state.jobs[n].to_json() for n in sorted(state.jobs)])

    async def get_job(self, request: Request) -> Response:
        name, job = self._job(request)
        return not_found(name) if job is None else json_response(job.to_json())

    async def search(self, request: Request) -> Response:
        q = request.query_params
        name, command, any_ = (q.get(k, "").lower() for k in ("name", "command", "any"))
        try:
            limit = int(q.get("limit", SEARCH_LIMIT))
            offset = int(q.get("offset", 0))
        except ValueError:
            return error(400, "limit and offset must be integers")
        state = self.backend.state
        found: list[JsonValue] = []
        for job_name in sorted(state.jobs):
            job = state.jobs[job_name]
            fields = (job.name, job.command, job.owner, job.description)
            if name and name not in job.name.lower():
                continue
            if command and command not in job.command.lower():
                continue
            if any_ and not any(any_ in f.lower() for f in fields):
                continue
            found.append(job.to_json())
        return json_response(found[max(offset, 0) : max(offset, 0) + max(limit, 0)])

    async def summary(self, request: Request) -> Response:
        state = self.backend.state
        rows: list[JsonValue] = []
        for name in sorted(state.jobs):
            job = state.jobs[name]
            rows.append(
                {
                    "name": name,
                    "status": job.last_outcome.value,
                    "state": job_state_text(state, name),
                    "schedule": "" if job.schedule is None else job.schedule.text,
                    "parents": list[JsonValue](job.parents),
                    "disabled": job.disabled,
                }
            )
        return json_response({"jobs": rows})

    async def graph_dot(self, request: Request) -> Response:
        state = self.backend.state
        names = sorted(state.jobs)
        ids = {n: i + 1 for i, n in enumerate(names)}
        lines = ["digraph G {"]
        lines += [f'  {ids[n]} [ label="{_dot_escape(n)}" ];' for n in names]
        lines += [f"  {ids[p]} -> {ids[n]};" for n in names for p in state.jobs[n].parents if p in ids]
        lines.append("}")
        return Response("\n".join(lines) + "\n", media_type=TEXT, headers=CORS)

    async def graph_csv(self, request: Request) -> Response:
        state = self.backend.state
        names = sorted(state.jobs)
        lines = [f"node,{n},{state.jobs[n].last_outcome.value},{job_state_text(state, n)}" for n in names]
        lines += [f"link,{p},{n}" for n in names for p in state.jobs[n].parents]
        body = "".join(line + "\n" for line in lines)
        return Response(body, media_type=TEXT, headers=CORS)

    async def job_stat(self, request: Request) -> Response:
        name, job = self._job(request)
        if job is None:
            return not_found(name)
        state = self.backend.state
        runs = [r for r in state.runs_of(name) if r.state is not RunState.QUEUED]
        runs.sort(key=lambda r: (r.launched_at or r.queued_at, r.attempt), reverse=True)
        history: list[JsonValue] = [history_item(r, self.backend.sandbox_url(r)) for r in runs]
        stats = state.stats_of(name)
        return json_response(
            {
                "histogram": stats.histogram(),
                "taskStatHistory": history,
                "successCount": job.success_count,
                "errorCount": job.error_count,
                "skippedCount": stats.skipped,
            }
        )

    async def stats(self, request: Request) -> Response:
        key = str(request.path_params["percentile"])
        return json_response(stats_listing(iter_stats(self.backend.state), key))

    async def leader(self, request: Request) -> Response:
        return json_response({"leader": self.backend.leader})

    async def ping(self, request: Request) -> Response:
        return Response("pong\n", media_type=TEXT, headers=CORS)

    async def metrics(self, request: Request) -> Response:
        state = self.backend.state
        counters: JsonObject = {}
        histograms: JsonObject = {}
        for name, stats in iter_stats(state):
            job = state.jobs[name]
            counters[f"jobs.run.success.{name}"] = {"count": job.success_count}
            counters[f"jobs.run.failure.{name}"] = {"count": job.error_count}
            histograms[f"jobs.run.time.{name}"] = stats.histogram()
        queued = sum(1 for r in state.live_runs() if r.state is RunState.QUEUED)
        gauges: JsonObject = {"chronos.TaskManager.queueSize": {"value": queued}}
        return json_response(
            {
                "version": "3.0.0",
                "gauges": gauges,
                "counters": counters,
                "histograms": histograms,
                "meters": {},
                "timers": {},
            }
        )


def _dot_escape(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


def sandbox_url(master: str, framework_id: str | None, run: Run, scheme: str = "http") -> str | None:
    """A link to the run's sandbox through the master's `/files/browse`."""
    if framework_id is None or run.agent_id is None:
        return None
    return f"{scheme}://{master}/files/browse?path={quote(sandbox_path(framework_id, run), safe='')}"


def _routes(api: ChronosApi, prefix: str, rule: NameRule) -> list[BaseRoute]:
    async def iso8601(request: Request) -> Response:
        return await api.post_job(request, dependent=False, rule=rule)

    async def dependency(request: Request) -> Response:
        return await api.post_job(request, dependent=True, rule=rule)

    writes = ["POST", "PUT"] if prefix == "/scheduler" else ["POST"]
    return [
        Route(f"{prefix}/iso8601", iso8601, methods=writes),
        Route(f"{prefix}/dependency", dependency, methods=writes),
        Route(f"{prefix}/jobs", api.jobs, methods=["GET"]),
        Route(f"{prefix}/jobs/search", api.search, methods=["GET"]),
        Route(f"{prefix}/jobs/summary", api.summary, methods=["GET"]),
        Route(f"{prefix}/graph/dot", api.graph_dot, methods=["GET"]),
        Route(f"{prefix}/graph/csv", api.graph_csv, methods=["GET"]),
        Route(f"{prefix}/job/stat/{{name}}", api.job_stat, methods=["GET"]),
        Route(f"{prefix}/job/{{name}}", api.get_job, methods=["GET"]),
        Route(f"{prefix}/job/{{name}}", api.run_job, methods=["PUT"]),
        Route(f"{prefix}/job/{{name}}", api.delete_job, methods=["DELETE"]),
        Route(f"{prefix}/task/kill/{{name}}", api.kill_tasks, methods=["DELETE"]),
        Route(f"{prefix}/stats/{{percentile}}", api.stats, methods=["GET"]),
        Route(f"{prefix}/leader", api.leader, methods=["GET"]),
    ]


def make_app(backend: ChronosBackend, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The REST API, plus `extra_routes` (the web UI's)."""
    api = ChronosApi(backend)
    routes = _routes(api, "/v1/scheduler", NameRule.V3) + _routes(api, "/scheduler", NameRule.LEGACY)
    routes += extra_routes
    routes += [
        Route("/leader", api.leader, methods=["GET"]),
        Route("/ping", api.ping, methods=["GET"]),
        Route("/metrics", api.metrics, methods=["GET"]),
    ]
    app = Starlette(routes=routes)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = int(getattr(exc, "status_code", 500))
        return error(status, f"{request.method} {request.url.path}: {getattr(exc, 'detail', exc)}")

    async def server_error(request: Request, exc: Exception) -> Response:
        return error(500, f"{request.method} {request.url.path} failed: {type(exc).__name__}: {exc}")

    app.add_exception_handler(404, http_error)
    app.add_exception_handler(405, http_error)
    app.add_exception_handler(Exception, server_error)  # still JSON with a Content-Type (clients.md 4.5)
    return app

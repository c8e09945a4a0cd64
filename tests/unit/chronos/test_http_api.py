"""Chronos's REST API against a fake runtime (chronos.md a "Endpoint reference"; clients.md 4.4 and 4.5):
204 for writes, JSON errors with a Content-Type and a message saying what is wrong, both prefixes, the name
rule of each prefix, search's default limit, graph formats, stats with 0.0 before any run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from corral.chronos.http_api import make_app, sandbox_url
from corral.chronos.model import Job
from corral.chronos.runs import Run, RunState
from corral.chronos.scheduler import ChronosState, delete_job, kill_tasks, put_job, run_now, runs_by_job
from corral.core.ids import AgentId

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class FakeBackend:
    def __init__(self) -> None:
        self.state = ChronosState()
        self.leader = "chronos.example:4400"
        self.kills: list[str] = []

    def now(self) -> datetime:
        return NOW

    def sandbox_url(self, run: Run) -> str | None:
        return f"http://master/{run.task_id}"

    async def save_job(self, job: Job) -> None:
        self.state = put_job(self.state, job)

    async def run_job(self, name: str, arguments: str) -> None:
        self.state = run_now(self.state, name, NOW, arguments)

    async def delete_job(self, name: str) -> None:
        self.state, kills = delete_job(self.state, name, NOW)
        self.kills += [k.task_id for k in kills]

    async def kill_tasks(self, name: str) -> None:
        self.state, kills = kill_tasks(self.state, name, NOW)
        self.kills += [k.task_id for k in kills]


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def client(backend: FakeBackend) -> TestClient:
    return TestClient(make_app(backend))


def job(name: str, **fields: object) -> dict[str, object]:
    base: dict[str, object] = {"name": name, "command": "true", "owner": "", "disabled": False}
    if "parents" not in fields:
        base["schedule"] = "R/2026-01-01T00:00:00Z/PT1H"
    return {**base, **fields}


PREFIXES = ["/v1/scheduler", "/scheduler"]


@pytest.mark.parametrize("prefix", PREFIXES)
def test_post_then_get_jobs(client: TestClient, prefix: str) -> None:
    r = client.post(f"{prefix}/iso8601", json=job("a"))
    assert r.status_code == 204 and r.content == b"" and r.headers["content-type"] == "application/json"
    assert client.post(f"{prefix}/dependency", json=job("b", parents=["a"])).status_code == 204
    jobs = client.get(f"{prefix}/jobs").json()
    assert [j["name"] for j in jobs] == ["a", "b"] and jobs[1]["parents"] == ["a"]
    assert client.get(f"{prefix}/job/a").json()["schedule"] == "R/2026-01-01T00:00:00Z/PT1H"


def test_legacy_prefix_accepts_put_for_updates(client: TestClient) -> None:
    assert client.put("/scheduler/iso8601", json=job("a")).status_code == 204
    assert client.put("/v1/scheduler/iso8601", json=job("a")).status_code == 405


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        (job("bad name!"), "/v1/scheduler/iso8601", "invalid job name"),
        (job("x", schedule="every day"), "/v1/scheduler/iso8601", "schedule"),
        (job("x", parents=["ghost"]), "/v1/scheduler/dependency", "unknown parent 'ghost'"),
        (job("x", parents=[]), "/v1/scheduler/dependency", "at least one parent"),
        (job("x", retries=-1), "/v1/scheduler/iso8601", "retries"),
        (job("dotted.name"), "/scheduler/iso8601", "invalid job name"),  # 2.x names have no dots
    ],
)
def test_invalid_jobs_get_400_with_a_message(
    client: TestClient, body: object, path: str, message: str
) -> None:
    r = client.post(path, json=body)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json()["status"] == "Bad Request" and message in r.json()["message"]


def test_a_dependency_cycle_is_refused(client: TestClient) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    client.post("/v1/scheduler/dependency", json=job("b", parents=["a"]))
    client.post("/v1/scheduler/dependency", json=job("c", parents=["b"]))
    r = client.post("/v1/scheduler/dependency", json=job("b", parents=["c"]))
    assert r.status_code == 400 and "dependency cycle" in r.json()["message"]


def test_invalid_json_is_a_400(client: TestClient) -> None:
    r = client.post("/v1/scheduler/iso8601", content=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/scheduler/job/ghost"),
        ("PUT", "/v1/scheduler/job/ghost"),
        ("DELETE", "/v1/scheduler/job/ghost"),
        ("DELETE", "/v1/scheduler/task/kill/ghost"),
        ("GET", "/v1/scheduler/job/stat/ghost"),
    ],
)
def test_unknown_jobs_get_400_as_upstream(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path)
    assert r.status_code == 400 and r.json() == {"status": "Bad Request", "message": "job 'ghost' not found"}
    assert r.headers["content-type"] == "application/json"


def test_run_now_queues_a_run_and_delete_removes_the_job(client: TestClient, backend: FakeBackend) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    assert client.put("/v1/scheduler/job/a").status_code == 204
    [run] = backend.state.live_runs()
    assert run.manual and run.state is RunState.QUEUED
    assert client.get("/v1/scheduler/jobs/summary").json()["jobs"][0]["state"] == "queued"
    assert client.delete("/v1/scheduler/job/a").status_code == 204
    assert client.get("/v1/scheduler/jobs").json() == []


def test_deleting_the_only_parent_is_refused(client: TestClient) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    client.post("/v1/scheduler/dependency", json=job("b", parents=["a"]))
    r = client.delete("/v1/scheduler/job/a")
    assert r.status_code == 400 and "only parent of 'b'" in r.json()["message"]


def test_task_kill_kills_active_runs(client: TestClient, backend: FakeBackend) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    running = Run(job="a", due=NOW, queued_at=NOW, state=RunState.RUNNING, agent_id=AgentId("s1"))
    backend.state = backend.state.__class__(
        jobs=backend.state.jobs, runs=runs_by_job([running]), stats=backend.state.stats
    )
    assert client.delete("/v1/scheduler/task/kill/a").status_code == 204
    assert backend.kills == [running.task_id]


def test_search_matches_substrings_with_a_default_limit_of_ten(client: TestClient) -> None:
    for i in range(12):
        client.post("/v1/scheduler/iso8601", json=job(f"etl-{i:02d}", command=f"run {i}"))
    client.post("/v1/scheduler/iso8601", json=job("report"))
    assert len(client.get("/v1/scheduler/jobs/search", params={"name": "ETL"}).json()) == 10
    found = client.get("/v1/scheduler/jobs/search", params={"name": "etl", "command": "run 11"}).json()
    assert [j["name"] for j in found] == ["etl-11"]
    assert client.get("/v1/scheduler/jobs/search", params={"any": "zzz"}).json() == []


def test_graphs_summary_and_leader(client: TestClient) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    client.post("/v1/scheduler/dependency", json=job("b", parents=["a"]))
    csv = client.get("/v1/scheduler/graph/csv")
    assert csv.headers["content-type"].startswith("text/plain")
    assert csv.text == "node,a,fresh,idle\nnode,b,fresh,idle\nlink,a,b\n"
    dot = client.get("/scheduler/graph/dot").text
    assert 'label="a"' in dot and "1 -> 2;" in dot
    summary = client.get("/v1/scheduler/jobs/summary").json()
    assert summary["jobs"][1] == {
        "name": "b",
        "status": "fresh",
        "state": "idle",
        "schedule": "",
        "parents": ["a"],
        "disabled": False,
    }
    for path in ("/v1/scheduler/leader", "/scheduler/leader", "/leader"):
        assert client.get(path).json() == {"leader": "chronos.example:4400"}


def test_stats_and_job_stat_before_any_run(client: TestClient) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    assert client.get("/v1/scheduler/stats/99thPercentile").json() == [{"jobNameLabel": "a", "time": 0.0}]
    assert client.get("/v1/scheduler/stats/bogus").json() == []
    stat = client.get("/v1/scheduler/job/stat/a").json()
    assert stat["histogram"]["count"] == 0 and stat["taskStatHistory"] == []


def test_job_stat_lists_run_history(client: TestClient, backend: FakeBackend) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    done = Run(
        job="a",
        due=NOW,
        queued_at=NOW,
        state=RunState.FAILED,
        launched_at=NOW,
        ended_at=NOW,
        agent_id=AgentId("s1"),
        message="Command exited with status 2",
    )
    backend.state = backend.state.__class__(jobs=backend.state.jobs, runs=runs_by_job([done]))
    [item] = client.get("/v1/scheduler/job/stat/a").json()["taskStatHistory"]
    assert item["taskId"] == "ct:1767225600000:0:a:" and item["slaveId"] == "s1"
    assert item["exitStatus"] == 2 and item["sandbox"] == "http://master/ct:1767225600000:0:a:"
    assert item["startTime"] == "01/01/26 00:00:00"


def test_the_history_carries_iso_instants_and_a_sandbox_link(
    client: TestClient, backend: FakeBackend
) -> None:
    client.post("/v1/scheduler/iso8601", json=job("a"))
    done = Run(
        job="a",
        due=NOW,
        queued_at=NOW,
        state=RunState.SUCCEEDED,
        launched_at=NOW,
        started_at=datetime(2026, 1, 1, 0, 0, 0, 250_000, tzinfo=UTC),
        ended_at=datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC),
        agent_id=AgentId("s1"),
        hostname="host-1",
    )
    backend.state = ChronosState(jobs=backend.state.jobs, runs=runs_by_job([done]))
    [item] = client.get("/v1/scheduler/job/stat/a").json()["taskStatHistory"]
    assert (
        item["launchedAt"] == "2026-01-01T00:00:00.000Z" and item["startedAt"] == "2026-01-01T00:00:00.250Z"
    )
    assert item["endedAt"] == "2026-01-01T00:00:03.000Z" and item["duration"] == "2s"
    assert item["exitStatus"] == 0 and item["hostname"] == "host-1"
    path = "/frameworks/fw-1/executors/ct:1767225600000:0:a:/runs/latest"
    assert sandbox_url("m:5050", "fw-1", done) == f"http://m:5050/files/browse?path={quote(path, safe='')}"
    assert sandbox_url("m:5050", None, done) is None  # not subscribed yet: no framework id


def test_an_unexpected_failure_is_a_json_500(backend: FakeBackend) -> None:
    async def broken(job: Job) -> None:
        raise RuntimeError("the store is gone")

    backend.save_job = broken  # type: ignore[method-assign]
    r = TestClient(make_app(backend), raise_server_exceptions=False).post(
        "/v1/scheduler/iso8601", json=job("a")
    )
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    assert r.json() == {
        "status": "Internal Server Error",
        "message": "POST /v1/scheduler/iso8601 failed: RuntimeError: the store is gone",
    }


def test_ping_metrics_and_unknown_paths(client: TestClient) -> None:
    assert client.get("/ping").text == "pong\n"
    metrics = client.get("/metrics").json()
    assert metrics["version"] == "3.0.0" and "gauges" in metrics
    r = client.get("/v1/scheduler/nothing")
    assert r.status_code == 404 and r.headers["content-type"] == "application/json"

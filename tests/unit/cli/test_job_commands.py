"""`corral job` against a fake Chronos (an httpx MockTransport handed in as the click context object)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from corral.cli.job_commands import job, last_result, next_due
from corral.protocol.json import JsonObject


class FakeChronos:
    """Enough of Chronos's 2.x API for the CLI; records every request."""

    def __init__(self) -> None:
        self.jobs: dict[str, JsonObject] = {}
        self.requests: list[httpx.Request] = []
        self.history: list[JsonObject] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if method == "POST" and path in ("/scheduler/iso8601", "/scheduler/dependency"):
            body = json.loads(request.content)
            if body.get("name") == "bad":
                return httpx.Response(400, json={"status": "Bad Request", "message": "name: invalid\nname"})
            self.jobs[body["name"]] = body
            return httpx.Response(204)
        if path == "/scheduler/jobs":
            return httpx.Response(200, json=list(self.jobs.values()))
        if path == "/scheduler/graph/dot":
            return httpx.Response(200, text='digraph G {\n  1 [ label="a" ];\n}\n')
        if path.startswith("/scheduler/job/stat/"):
            name = path.removeprefix("/scheduler/job/stat/")
            if name not in self.jobs:
                return self.missing(name)
            return httpx.Response(200, json={"taskStatHistory": self.history, "successCount": 1})
        if path.startswith("/scheduler/job/"):
            name = path.removeprefix("/scheduler/job/")
            if name not in self.jobs:
                return self.missing(name)
            if method == "DELETE":
                del self.jobs[name]
                return httpx.Response(204)
            if method == "PUT":
                return httpx.Response(204)
            return httpx.Response(200, json=self.jobs[name])
        return httpx.Response(404, text="nothing here")

    @staticmethod
    def missing(name: str) -> httpx.Response:
        return httpx.Response(404, json={"status": "Not Found", "message": f"job {name!r} not found"})


@pytest.fixture
def fake() -> FakeChronos:
    return FakeChronos()


def run(fake: FakeChronos, *args: str, stdin: str | None = None) -> Result:
    transport = httpx.MockTransport(fake.handle)
    return CliRunner().invoke(job, list(args), obj=transport, input=stdin, env={"COLUMNS": "200"})


SCHEDULED: JsonObject = {
    "name": "tick",
    "command": "echo hi",
    "schedule": "R/2020-01-01T00:00:00Z/PT2S",
    "successCount": 3,
    "errorCount": 1,
    "lastSuccess": "2026-01-01T00:00:05.000Z",
    "lastError": "2026-01-01T00:00:01.000Z",
}
DEPENDENT: JsonObject = {"name": "child", "command": "true", "parents": ["tick"]}


def test_add_posts_to_the_endpoint_of_the_job_kind(fake: FakeChronos, tmp_path: Path) -> None:
    path = tmp_path / "tick.json"
    path.write_text(json.dumps(SCHEDULED))
    result = run(fake, "add", str(path))
    assert result.exit_code == 0, result.output
    assert "'tick' saved" in result.output
    result = run(fake, "add", "-", stdin=json.dumps(DEPENDENT))
    assert result.exit_code == 0, result.output
    posted = [(r.method, r.url.path) for r in fake.requests]
    assert posted == [("POST", "/scheduler/iso8601"), ("POST", "/scheduler/dependency")]
    assert set(fake.jobs) == {"tick", "child"}


def test_add_refuses_a_file_without_schedule_or_parents(fake: FakeChronos) -> None:
    result = run(fake, "add", "-", stdin='{"name": "x", "command": "true"}')
    assert result.exit_code == 1
    assert "needs a 'schedule' or 'parents'" in result.output
    result = run(fake, "add", "-", stdin="not json")
    assert result.exit_code == 1 and "not JSON" in result.output
    assert not fake.requests


def test_chronos_400_is_one_readable_line(fake: FakeChronos) -> None:
    result = run(fake, "add", "-", stdin='{"name": "bad", "schedule": "R/2020-01-01T00:00:00Z/PT1S"}')
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [line] = result.output.strip().splitlines()
    assert "400 Bad Request: name: invalid name" in line
    assert "{" not in line


def test_list_table_and_json(fake: FakeChronos) -> None:
    fake.jobs = {"tick": SCHEDULED, "child": DEPENDENT}
    result = run(fake, "list")
    assert result.exit_code == 0, result.output
    assert "NEXT DUE" in result.output
    assert "after tick" in result.output and "success" in result.output
    result = run(fake, "list", "-o", "json")
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["tick"]["lastResult"] == "success"
    assert (rows["tick"]["successCount"], rows["tick"]["errorCount"]) == (3, 1)
    due = datetime.fromisoformat(rows["tick"]["nextDue"])
    assert timedelta(0) < due - datetime.now(UTC) <= timedelta(seconds=3)
    assert rows["child"]["parents"] == ["tick"] and rows["child"]["nextDue"] == "-"
    assert rows["child"]["lastResult"] == "-"


def test_list_without_jobs(fake: FakeChronos) -> None:
    result = run(fake, "list")
    assert result.exit_code == 0 and result.output.strip() == "no jobs"


def test_show_lists_recent_runs(fake: FakeChronos) -> None:
    fake.jobs = {"tick": SCHEDULED}
    fake.history = [
        {"taskId": "ct:1:0:tick", "status": "finished", "attempt": 1, "exitStatus": 0, "duration": "1s"},
    ]
    result = run(fake, "show", "tick")
    assert result.exit_code == 0, result.output
    assert "echo hi" in result.output and "ct:1:0:tick" in result.output and "finished" in result.output
    doc = json.loads(run(fake, "show", "tick", "-o", "json").output)
    assert doc["job"]["name"] == "tick"
    assert doc["stat"]["taskStatHistory"][0]["taskId"] == "ct:1:0:tick"
    fake.history = []
    assert "no runs yet" in run(fake, "show", "tick").output


def test_show_unknown_job_is_a_404_line(fake: FakeChronos) -> None:
    result = run(fake, "show", "ghost")
    assert result.exit_code == 1
    assert "404 Not Found: job 'ghost' not found" in result.output
    assert "Traceback" not in result.output


def test_run_remove_and_graph(fake: FakeChronos) -> None:
    fake.jobs = {"tick": SCHEDULED}
    result = run(fake, "run", "tick", "--arguments", "-v")
    assert result.exit_code == 0, result.output
    put = fake.requests[-1]
    assert (put.method, put.url.path, put.url.params["arguments"]) == ("PUT", "/scheduler/job/tick", "-v")
    assert run(fake, "remove", "tick").exit_code == 0
    assert fake.requests[-1].method == "DELETE" and not fake.jobs
    assert run(fake, "remove", "tick").exit_code == 1
    assert run(fake, "graph").output == 'digraph G {\n  1 [ label="a" ];\n}\n'


def test_unreachable_chronos_is_one_line() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    result = CliRunner().invoke(job, ["list", "--chronos", "h:1"], obj=httpx.MockTransport(refuse))
    assert result.exit_code == 1
    assert result.output.strip() == "Error: cannot reach the chronos at h:1: connection refused"


def test_chronos_address_from_the_environment(fake: FakeChronos) -> None:
    transport = httpx.MockTransport(fake.handle)
    result = CliRunner().invoke(job, ["list"], obj=transport, env={"CORRAL_CHRONOS": "chronos1"})
    assert result.exit_code == 0, result.output
    assert str(fake.requests[-1].url) == "http://chronos1:4400/scheduler/jobs"


def test_next_due_and_last_result() -> None:
    now = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert next_due({"schedule": "R/2026-01-01T00:00:00Z/PT2S"}, now) == "2026-01-01T00:00:02Z"
    assert next_due({"schedule": "0 * * * *"}, now) == "2026-01-01T01:00:00Z"
    assert next_due({"schedule": "nonsense"}, now) == "?"
    assert next_due({"schedule": "R/2026-01-01T00:00:00Z/PT2S", "disabled": True}, now) == "disabled"
    assert next_due({"parents": ["a"]}, now) == "-"
    assert last_result({"lastError": "2026-01-01T00:00:00.000Z"}) == "failure"
    assert last_result({"lastSuccess": "2026-01-01T00:00:00.000Z"}) == "success"

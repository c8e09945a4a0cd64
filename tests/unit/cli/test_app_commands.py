"""`corral app` against a fake Marathon (httpx.MockTransport): requests, tables, JSON, and one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from corral.cli import app_commands
from corral.cli.main import cli, main


@dataclass
class FakeMarathon:
    apps: dict[str, dict[str, Any]] = field(default_factory=dict)
    queue: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    deployment_polls: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body: Any = json.loads(request.content) if request.content else None
        self.requests.append((request.method, path, body))
        if path == "/v2/deployments":
            self.deployment_polls += 1
            current = list(self.deployments)
            if self.deployments:  # a deployment is seen running once, then it is gone
                self.deployments.clear()
            return httpx.Response(200, json=current)
        if path == "/v2/queue":
            return httpx.Response(200, json={"queue": self.queue})
        if path == "/v2/apps" and request.method == "GET":
            return httpx.Response(200, json={"apps": list(self.apps.values())})
        if path == "/v2/apps" and request.method == "POST":
            if not body.get("cmd"):
                details = [{"path": "/cmd", "errors": ["must not be empty", "is required"]}]
                return httpx.Response(422, json={"message": "Object is not valid", "details": details})
            app_id = "/" + body["id"].strip("/")
            self.apps[app_id] = {**body, "id": app_id, "tasksRunning": 0, "tasksStaged": 0}
            return httpx.Response(201, json={**self.apps[app_id], "deployments": [{"id": "dep-1"}]})
        app_id = "/" + path.removeprefix("/v2/apps/").removesuffix("/restart")
        app = self.apps.get(app_id)
        if app is None:
            return httpx.Response(404, json={"message": f"App '{app_id}' does not exist"})
        result = {"version": "2024-01-01T00:00:00.000Z", "deploymentId": "dep-2"}
        if request.method == "GET":
            return httpx.Response(200, json={"app": app})
        if request.method == "PUT":
            app.update(body)
            return httpx.Response(200, json=result)
        if request.method == "DELETE":
            del self.apps[app_id]
        return httpx.Response(200, json=result)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeMarathon]:
    marathon = FakeMarathon()
    monkeypatch.setattr(app_commands, "TRANSPORT", httpx.MockTransport(marathon.handle))
    monkeypatch.setattr(app_commands, "POLL_INTERVAL", 0.0)
    monkeypatch.delenv("CORRAL_MARATHON", raising=False)
    yield marathon


def run(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["app", *args], input=stdin, catch_exceptions=False)


HELLO = {"id": "hello2", "cmd": "echo hello; sleep 10", "mem": 16, "cpus": 0.1, "instances": 1}


def test_add_from_a_file_then_list(fake: FakeMarathon, tmp_path: Path) -> None:
    path = tmp_path / "hello2.json"
    path.write_text(json.dumps(HELLO))
    result = run("add", str(path))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "created /hello2 (deployment dep-1)"
    assert fake.requests[0] == ("POST", "/v2/apps", HELLO)

    table = run("list")
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "INSTANCES", "RUNNING"]
    assert lines[1].split()[:3] == ["/hello2", "1", "0"]

    listed = run("list", "-o", "json")
    assert [a["id"] for a in json.loads(listed.output)] == ["/hello2"]


def test_add_from_stdin_with_wait(fake: FakeMarathon) -> None:
    fake.deployments.append({"id": "dep-1", "currentStep": 1, "totalSteps": 1, "currentActions": []})
    result = run("add", "-", "--wait", stdin=json.dumps(HELLO))
    assert result.exit_code == 0, result.output
    assert "deployment dep-1 done" in result.output
    assert fake.deployment_polls == 2


def test_wait_gives_up_at_its_deadline(fake: FakeMarathon) -> None:
    fake.apps["/hello2"] = dict(HELLO, id="/hello2")

    def stuck(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/deployments":
            step = {"actions": [{"action": "ScaleApplication", "app": "/hello2"}]}
            return httpx.Response(
                200,
                json=[
                    {
                        "id": "dep-2",
                        "currentStep": 1,
                        "totalSteps": 1,
                        "steps": [step],
                        "currentActions": step["actions"],
                    }
                ],
            )
        return fake.handle(request)

    app_commands.TRANSPORT = httpx.MockTransport(stuck)
    result = run("scale", "hello2", "3", "--wait", "--timeout", "0")
    assert result.exit_code == 1
    assert "deployment dep-2 still running after 0s" in result.output
    assert "ScaleApplication /hello2" in result.output


def test_scale_restart_remove_requests(fake: FakeMarathon) -> None:
    fake.apps["/hello2"] = dict(HELLO, id="/hello2")
    assert run("scale", "/hello2/", "2").output.strip() == "scaling /hello2 to 2 (deployment dep-2)"
    assert fake.requests[-1] == ("PUT", "/v2/apps/hello2", {"instances": 2})
    assert run("restart", "hello2").exit_code == 0
    assert fake.requests[-1][:2] == ("POST", "/v2/apps/hello2/restart")
    answer = run("remove", "hello2", "-o", "json")
    assert json.loads(answer.output)["deploymentId"] == "dep-2"
    assert fake.requests[-1][:2] == ("DELETE", "/v2/apps/hello2")


def test_show_lists_tasks(fake: FakeMarathon) -> None:
    task = {"id": "hello2.abc", "state": "TASK_RUNNING", "host": "127.0.0.1", "ports": [31001]}
    fake.apps["/hello2"] = dict(HELLO, id="/hello2", tasksRunning=1, tasks=[task])
    result = run("show", "hello2")
    assert result.exit_code == 0, result.output
    assert "instances  1/1 running" in result.output
    assert any(
        line.split()[:3] == ["hello2.abc", "TASK_RUNNING", "127.0.0.1"] for line in result.output.splitlines()
    )
    assert json.loads(run("show", "hello2", "-o", "json").output)["tasks"] == [task]


def test_why_not_waiting_and_waiting(fake: FakeMarathon) -> None:
    fake.apps["/hello2"] = dict(HELLO, id="/hello2")
    assert run("why", "hello2").output.strip() == "/hello2 is not waiting"
    assert json.loads(run("why", "hello2", "-o", "json").output) == {"app": "/hello2", "waiting": False}

    reject = [
        {"reason": "InsufficientCpus", "declined": 2, "processed": 3},
        {"reason": "InsufficientMemory", "declined": 0, "processed": 1},
    ]
    fake.queue.append(
        {
            "app": {"id": "/hello2"},
            "count": 1,
            "delay": {"timeLeftSeconds": 0, "overdue": True},
            "since": "2024-01-01T00:00:00.000Z",
            "processedOffersSummary": {
                "processedOffersCount": 3,
                "unusedOffersCount": 2,
                "rejectSummaryLastOffers": reject,
                "rejectSummaryLaunchAttempt": reject,
            },
            "lastUnusedOffers": [{"offer": {"hostname": "agent-1"}, "reason": ["InsufficientCpus"]}],
        }
    )
    out = run("why", "hello2").output
    assert "/hello2 is waiting to launch 1 instance(s)" in out
    assert "offers: 3 processed, 2 unused" in out
    assert "InsufficientCpus (2/3)" in out and "InsufficientMemory" not in out.split("agent-1")[0]
    assert "agent-1: InsufficientCpus" in out
    assert ("GET", "/v2/queue", None) in fake.requests


def test_why_unknown_app_is_a_404(fake: FakeMarathon) -> None:
    result = run("why", "nope")
    assert result.exit_code == 1
    assert (
        "GET /v2/apps/nope on the marathon at 127.0.0.1:8080 answered 404 Not Found: "
        "App '/nope' does not exist" in result.output
    )


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as info:
        main(["app", *argv])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_invalid_app_is_one_readable_line(
    fake: FakeMarathon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"id": "bad"}))
    line = one_line_error(capsys, "add", str(path))
    assert line == (
        "corral: error: POST /v2/apps on the marathon at 127.0.0.1:8080 answered 422 Unprocessable Entity: "
        "Object is not valid: /cmd: must not be empty, is required"
    )


def test_a_file_that_is_not_json(
    fake: FakeMarathon, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    assert one_line_error(capsys, "add", str(path)).startswith(f"corral: error: {path} is not JSON")


def test_unreachable_marathon_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    monkeypatch.setattr(app_commands, "TRANSPORT", httpx.MockTransport(refuse))
    monkeypatch.setenv("CORRAL_MARATHON", "10.9.9.9:8081")
    line = one_line_error(capsys, "list")
    assert line == "corral: error: cannot reach the marathon at 10.9.9.9:8081: connection refused"


def test_marathon_address_defaults() -> None:
    assert app_commands._connect("m1").base_url == "http://m1:8080"
    assert app_commands._connect("127.0.0.1:9090").base_url == "http://127.0.0.1:9090"

"""The Chronos web UI's server side: the page and its files at `/` and `/ui/`, the schedule preview with a 400
naming the field, and `/scheduler/events`: a snapshot of every row, then the rows each change touched, with
changes coalesced per follower however many arrive before it sends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from corral.chronos.http_api import make_app
from corral.chronos.model import Job
from corral.chronos.runs import Run
from corral.chronos.scheduler import ChronosState, delete_job, put_job, run_now
from corral.chronos.ui.routes import JobFeed, job_events, ui_routes
from corral.protocol.json import loads_object

NOW = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)


def job(name: str) -> Job:
    return Job.from_json(
        {"name": name, "command": "true", "schedule": "R/2026-01-01T00:00:00Z/PT1H"}, now=NOW
    )


class FakeBackend:
    """Holds the state; every change goes through `adopt`, which publishes it as the runtime's commit does."""

    def __init__(self, feed: JobFeed) -> None:
        self.feed = feed
        self.state = ChronosState()
        self.leader = "chronos.example:4400"

    def adopt(self, state: ChronosState) -> None:
        self.feed.publish(self.state, state)
        self.state = state

    def now(self) -> datetime:
        return NOW

    def sandbox_url(self, run: Run) -> str | None:
        return None

    async def save_job(self, job: Job) -> None:
        self.adopt(put_job(self.state, job))

    async def run_job(self, name: str, arguments: str) -> None:
        self.adopt(run_now(self.state, name, NOW, arguments))

    async def delete_job(self, name: str) -> None:
        self.adopt(delete_job(self.state, name, NOW)[0])

    async def kill_tasks(self, name: str) -> None:
        raise NotImplementedError


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend(JobFeed())


@pytest.fixture
def client(backend: FakeBackend) -> TestClient:
    return TestClient(make_app(backend, ui_routes(backend, backend.feed)))


def test_the_page_and_its_files_are_served_at_the_root_and_under_ui(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/chronos.js">' in page.text
    for name in ("chronos.js", "chronos.css", "graph.js", "core.js", "forms.js", "base.css"):
        assert client.get(f"/ui/{name}").status_code == 200, name
    assert client.get("/ui/routes.py").status_code == 404


@pytest.mark.parametrize("prefix", ["/scheduler", "/v1/scheduler"])
def test_the_preview_lists_the_next_five_due_times(client: TestClient, prefix: str) -> None:
    r = client.get(f"{prefix}/schedule/preview", params={"schedule": "R/2026-01-01T00:00:00Z/PT1H"})
    assert r.status_code == 200
    assert r.json()["times"] == [f"2026-01-01T0{h}:00:00.000Z" for h in range(1, 6)]


def test_a_missing_or_bad_schedule_is_a_400_naming_the_field(client: TestClient) -> None:
    missing = client.get("/scheduler/schedule/preview")
    assert missing.status_code == 400 and missing.json()["message"] == "schedule: is required"
    bad = client.get("/scheduler/schedule/preview", params={"schedule": "0 3 * *", "scheduleTimeZone": ""})
    assert bad.status_code == 400 and bad.json()["message"].startswith("schedule: cannot parse")
    zone = client.get(
        "/scheduler/schedule/preview", params={"schedule": "@daily", "scheduleTimeZone": "Mars/Base"}
    )
    assert zone.status_code == 400 and "Mars/Base" in zone.json()["message"]


async def next_frame(frames: AsyncGenerator[bytes, None]) -> tuple[str, dict[str, Any]]:
    raw = await asyncio.wait_for(anext(frames), timeout=5)
    event, data = raw.decode().strip().split("\n")
    return event.removeprefix("event: "), dict(loads_object(data.removeprefix("data: ").encode()))


async def test_the_stream_sends_a_snapshot_then_the_rows_each_change_touched(backend: FakeBackend) -> None:
    await backend.save_job(job("a"))
    frames = job_events(backend, backend.feed)
    event, data = await next_frame(frames)
    assert event == "snapshot" and [r["name"] for r in data["jobs"]] == ["a"]
    assert backend.feed.follower_count == 1

    await backend.save_job(job("b"))
    await backend.run_job("a", "")  # two changes before the follower sends: one frame with both rows
    event, data = await next_frame(frames)
    assert event == "jobs" and data["removed"] == []
    assert {r["name"]: r["state"] for r in data["jobs"]} == {"a": "queued", "b": "idle"}

    await backend.delete_job("b")
    event, data = await next_frame(frames)
    assert (event, data) == ("jobs", {"jobs": [], "removed": ["b"]})
    await frames.aclose()  # the browser went away
    assert backend.feed.follower_count == 0


async def test_a_change_that_touches_no_job_sends_nothing(backend: FakeBackend) -> None:
    await backend.save_job(job("a"))
    with backend.feed.follow() as follower:
        backend.adopt(backend.state)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(follower.wait_changes(), timeout=0.01)
        await backend.run_job("a", "")
        assert await asyncio.wait_for(follower.wait_changes(), timeout=1) == {"a"}

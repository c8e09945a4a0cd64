"""The master's web UI routes: the page at `/` (leader only), its assets (any master), and `/master/events`,
the change feed that tells open pages when to refetch `/master/state`."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from corral.master import http_api
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.protocol.mesos import FrameworkInfo, MasterInfo
from corral.protocol.scheduler import Subscribe
from corral.testing.clock import FakeClock

LEADER = MasterInfo(id="L", ip="127.0.0.12", port=5050, hostname="master2")


def runtime(*, leading: bool = True) -> MasterRuntime:
    return MasterRuntime(MasterConfig(), clock=FakeClock(), master_id="M", leading=leading)


def subscribe(master: MasterRuntime, name: str) -> None:
    master.open_stream(None, Subscribe(framework_info=FrameworkInfo(user="u", name=name)))


def test_the_leader_serves_the_page_and_its_scripts() -> None:
    client = TestClient(runtime().app)
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/ui/master.js">' in page.text
    for asset in ("master", "cluster", "pages", "allocation", "sandbox", "core"):
        assert client.get(f"/ui/{asset}.js").status_code == 200, asset


def test_a_follower_sends_the_browser_to_the_leader_but_serves_assets_itself() -> None:
    follower = runtime(leading=False)
    follower.leader = LEADER
    client = TestClient(follower.app, follow_redirects=False)
    page = client.get("/")
    assert page.status_code == 307
    assert page.headers["location"] == "//master2:5050/"
    assert client.get("/ui/core.js").status_code == 200
    assert client.get("/master/events").headers["location"] == "//master2:5050/master/events"


@pytest.fixture
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_api, "EVENTS_INTERVAL", 0.0)


async def test_events_announce_the_version_now_and_after_each_change(no_waiting: None) -> None:
    master = runtime()
    events = http_api._state_versions(master)
    first = await anext(events)
    assert first == f'event: state\ndata: {{"version":{master.core.state.version}}}\n\n'.encode()
    subscribe(master, "a")
    assert (
        await anext(events) == f'event: state\ndata: {{"version":{master.core.state.version}}}\n\n'.encode()
    )
    await events.aclose()
    assert master.state_watchers == set()


async def test_changes_made_between_two_notifications_go_out_as_one(no_waiting: None) -> None:
    master = runtime()
    events = http_api._state_versions(master)
    await anext(events)
    before = master.core.state.version
    for name in ("a", "b", "c"):
        subscribe(master, name)
    assert master.core.state.version >= before + 3
    assert (
        await anext(events) == f'event: state\ndata: {{"version":{master.core.state.version}}}\n\n'.encode()
    )
    await events.aclose()


async def test_an_idle_stream_sends_keepalive_comments(
    no_waiting: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_api, "EVENTS_KEEPALIVE", 0.0)
    master = runtime()
    events = http_api._state_versions(master)
    await anext(events)
    assert await anext(events) == b": keepalive\n\n"
    await events.aclose()


def test_the_flags_name_the_zookeeper_ensemble_for_the_leader_page() -> None:
    alone = TestClient(runtime().app).get("/master/flags").json()["flags"]
    assert "zk" not in alone and "quorum" not in alone
    config = MasterConfig(zk="zk://u:***@h1:2181,h2:2181/mesos", quorum=2)
    elected = MasterRuntime(config, clock=FakeClock(), master_id="M")
    flags = TestClient(elected.app).get("/master/state").json()["flags"]
    assert (flags["zk"], flags["quorum"]) == ("zk://u:***@h1:2181,h2:2181/mesos", "2")

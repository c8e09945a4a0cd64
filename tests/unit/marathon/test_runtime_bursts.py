"""The runtime's driver loop: status updates that arrive together are persisted, acknowledged and reacted to
together, the react coming a moment later; listings group the instances by app in one pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from corral.coord.local import SqliteStore
from corral.core.ids import FrameworkId
from corral.core.task_state import TaskState
from corral.frameworks.driver import Disconnected
from corral.marathon.paths import PathId
from corral.marathon.runtime import Driver, MarathonConfig, MarathonRuntime
from corral.marathon.store import MarathonStore
from corral.protocol.mesos import FrameworkInfo, MasterInfo, Offer, TaskStatus
from corral.protocol.scheduler import Acknowledge, Call, Event, Offers, Subscribed, Update
from corral.testing.clock import FakeClock

from .scheduling_fixtures import Uuids, make_app, make_offer

WEB = PathId.parse("/web")
WAIT_SECONDS = 10.0


async def eventually(check: Callable[[], bool], what: str) -> None:
    """Poll `check` until it holds; fail after WAIT_SECONDS."""
    deadline = asyncio.get_running_loop().time() + WAIT_SECONDS
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@dataclass
class StreamDriver:
    """A driver whose events are whatever the test queues."""

    events_in: asyncio.Queue[Event | Disconnected] = field(default_factory=asyncio.Queue)
    calls: list[Call] = field(default_factory=list)
    is_subscribed: bool = True

    async def events(self) -> AsyncIterator[Event | Disconnected]:
        while True:
            yield await self.events_in.get()

    async def call(self, call: Call) -> None:
        self.calls.append(call)

    async def aclose(self) -> None:
        pass


async def test_updates_arriving_together_share_one_react(tmp_path: Path) -> None:
    driver = StreamDriver()

    def make_driver(info: FrameworkInfo) -> Driver:
        return driver

    sqlite = SqliteStore(tmp_path / "m.db")
    runtime = MarathonRuntime(
        MarathonConfig(), MarathonStore(sqlite), make_driver, clock=FakeClock().now, new_uuid=Uuids()
    )
    reacts = 0
    react = runtime._react

    async def counted(offers: Sequence[Offer] = ()) -> None:
        nonlocal reacts
        reacts += 1
        await react(offers)

    runtime._react = counted  # type: ignore[method-assign]
    task = asyncio.create_task(runtime.run())
    try:
        master = MasterInfo(id="m", ip="127.0.0.1", port=5050, hostname="m")
        driver.events_in.put_nowait(Subscribed(framework_id=FrameworkId("fw"), master_info=master))
        await runtime.wait_ready()
        await runtime.create_app(make_app("/web", instances=3, cpus=0.1))
        driver.events_in.put_nowait(Offers(offers=(make_offer("a1"),)))
        await eventually(lambda: len(runtime.instances) == 3, "three launches")
        reacts = 0
        for instance in runtime.instances_of(WEB):  # queued at once: one burst
            status = TaskStatus(
                task_id=instance.task_id,
                state=TaskState.TASK_RUNNING,
                agent_id=instance.agent.agent_id,
                uuid=b"u",
            )
            driver.events_in.put_nowait(Update(status=status))
        await eventually(lambda: not runtime.deployments, "the deployment to finish")
        assert reacts == 1
        assert sum(isinstance(c, Acknowledge) for c in driver.calls) == 3
        stored = await MarathonStore(sqlite).load()
        assert all(i.is_running for i in stored.instances.values()) and len(stored.instances) == 3
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sqlite.close()


async def test_listings_group_instances_by_app_in_the_api_s_order(tmp_path: Path) -> None:
    driver = StreamDriver()
    sqlite = SqliteStore(tmp_path / "m.db")
    runtime = MarathonRuntime(MarathonConfig(), MarathonStore(sqlite), lambda info: driver, new_uuid=Uuids())
    await runtime.start()
    master = MasterInfo(id="m", ip="127.0.0.1", port=5050, hostname="m")
    await runtime.deliver(Subscribed(framework_id=FrameworkId("fw"), master_info=master))
    for name in ("/a", "/b"):
        await runtime.create_app(make_app(name, instances=2, cpus=0.1))
    await runtime.deliver(Offers(offers=(make_offer("a1"),)))
    by_app = runtime.instances_by_app()
    assert by_app == {app: runtime.instances_of(app) for app in (PathId.parse("/a"), PathId.parse("/b"))}
    await sqlite.close()

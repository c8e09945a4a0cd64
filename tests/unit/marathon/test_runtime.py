"""Marathon's runtime with a fake driver and a fake clock: offers -> launch -> updates -> deployments done;
self-healing with backoff; unknown tasks killed; reconciliation at SUBSCRIBED; state survives a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from corral.coord.local import SqliteStore
from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.frameworks.driver import Disconnected
from corral.marathon.instance import Instance
from corral.marathon.paths import PathId
from corral.marathon.runtime import AppLocked, Driver, MarathonConfig, MarathonRuntime
from corral.marathon.store import MarathonStore
from corral.protocol.mesos import FrameworkInfo, MasterInfo, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Event,
    Kill,
    Launch,
    Offers,
    Reconcile,
    Subscribed,
    Suppress,
    Update,
)
from corral.testing.clock import FakeClock

from .scheduling_fixtures import Uuids, make_app, make_offer

PATH_WEB = PathId.parse("/web")


@dataclass
class FakeDriver:
    info: FrameworkInfo
    calls: list[Call] = field(default_factory=list)
    is_subscribed: bool = True

    async def events(self) -> AsyncIterator[Event | Disconnected]:
        return
        yield

    async def call(self, call: Call) -> None:
        self.calls.append(call)

    async def aclose(self) -> None:
        pass

    def take(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls


@dataclass
class Harness:
    runtime: MarathonRuntime
    clock: FakeClock
    sqlite: SqliteStore
    drivers: list[FakeDriver]

    @property
    def driver(self) -> FakeDriver:
        return self.drivers[-1]

    async def subscribe(self, framework_id: str = "fw-1") -> None:
        master = MasterInfo(id="m", ip="127.0.0.1", port=5050, hostname="127.0.0.1")
        await self.runtime.deliver(Subscribed(framework_id=FrameworkId(framework_id), master_info=master))

    async def offer(self, agent: str = "a1", **kw: float) -> list[Call]:
        self.driver.take()
        await self.runtime.deliver(Offers(offers=(make_offer(agent, **kw),)))  # type: ignore[arg-type]
        return self.driver.take()

    async def update(self, instance: Instance, state: TaskState, uuid: bytes | None = b"u") -> None:
        status = TaskStatus(
            task_id=instance.task_id, state=state, agent_id=instance.agent.agent_id, uuid=uuid
        )
        await self.runtime.deliver(Update(status=status))

    def instances(self, app: PathId = PATH_WEB) -> list[Instance]:
        return self.runtime.instances_of(app)


async def make_harness(path: Path, clock: FakeClock | None = None) -> Harness:
    clock = clock or FakeClock()
    sqlite = SqliteStore(path / "marathon.db")
    drivers: list[FakeDriver] = []

    def make_driver(info: FrameworkInfo) -> Driver:
        drivers.append(FakeDriver(info))
        return drivers[-1]

    runtime = MarathonRuntime(
        MarathonConfig(), MarathonStore(sqlite), make_driver, clock=clock.now, new_uuid=Uuids()
    )
    await runtime.start()
    return Harness(runtime, clock, sqlite, drivers)


@pytest.fixture
async def h(tmp_path: Path) -> AsyncIterator[Harness]:
    harness = await make_harness(tmp_path)
    await harness.subscribe()
    yield harness
    await harness.sqlite.close()


def launched_tasks(calls: list[Call]) -> list[TaskId]:
    return [
        t.task_id
        for c in calls
        if isinstance(c, Accept)
        for op in c.operations
        if isinstance(op, Launch)
        for t in op.tasks
    ]


async def test_subscribed_reconciles_implicitly_and_suppresses_when_idle(tmp_path: Path) -> None:
    harness = await make_harness(tmp_path)
    await harness.subscribe()
    calls = harness.driver.take()
    assert Reconcile(tasks=()) in calls
    assert any(isinstance(c, Suppress) for c in calls)
    assert harness.runtime.framework_id == "fw-1"
    await harness.sqlite.close()


async def test_an_app_is_launched_and_its_deployment_finishes_when_running(h: Harness) -> None:
    stored, deployment_id = await h.runtime.create_app(make_app("/web", instances=2))
    assert stored.app.port_definitions[0].port == 10000  # service port assigned from 10000
    assert list(h.runtime.deployments) == [deployment_id]
    calls = await h.offer("a1")
    assert len(launched_tasks(calls)) == 2
    assert len(h.instances()) == 2  # persisted before the accept went out
    for instance in h.instances():
        await h.update(instance, TaskState.TASK_RUNNING)
    assert any(isinstance(c, Acknowledge) for c in h.driver.calls)
    assert h.runtime.deployments == {}
    app = h.runtime.app_json(h.runtime.apps[PATH_WEB], frozenset({"tasks"}))
    assert app["tasksRunning"] == 2 and len(app["tasks"]) == 2  # type: ignore[arg-type]


async def test_a_failed_task_is_replaced_after_its_backoff(h: Harness) -> None:
    await h.runtime.create_app(make_app("/web", instances=1, backoffSeconds=5))
    await h.offer()
    [instance] = h.instances()
    await h.update(instance, TaskState.TASK_RUNNING)
    await h.update(instance, TaskState.TASK_FAILED)
    assert h.instances() == []
    assert h.runtime.failures[PATH_WEB]["state"] == "TASK_FAILED"
    assert launched_tasks(await h.offer()) == []  # delayed: 5 s
    h.clock.advance(5)
    [replacement] = launched_tasks(await h.offer())
    assert replacement != instance.task_id


async def test_unknown_tasks_are_killed(h: Harness) -> None:
    h.driver.take()
    status = TaskStatus(task_id=TaskId("other.1234"), state=TaskState.TASK_RUNNING, agent_id=AgentId("a1"))
    await h.runtime.deliver(Update(status=status))
    assert Kill(task_id=TaskId("other.1234"), agent_id=AgentId("a1")) in h.driver.calls


async def test_a_change_to_a_locked_app_is_409_unless_forced(h: Harness) -> None:
    _, first = await h.runtime.create_app(make_app("/web", instances=1))
    with pytest.raises(AppLocked) as locked:
        await h.runtime.update_app(PATH_WEB, {"instances": 2})
    assert locked.value.body()["deployments"] == [{"id": first}]
    result = await h.runtime.update_app(PATH_WEB, {"instances": 2}, force=True)
    assert list(h.runtime.deployments) == [result.deployment_id]


async def test_delete_kills_the_tasks_and_the_deployment_waits_for_them(h: Harness) -> None:
    await h.runtime.create_app(make_app("/web", instances=1))
    await h.offer()
    [instance] = h.instances()
    await h.update(instance, TaskState.TASK_RUNNING)
    h.driver.take()
    result = await h.runtime.delete_app(PATH_WEB)
    assert any(isinstance(c, Kill) and c.task_id == instance.task_id for c in h.driver.calls)
    assert result.deployment_id in h.runtime.deployments
    await h.update(instance, TaskState.TASK_KILLED)
    assert h.runtime.deployments == {} and h.runtime.apps == {}


async def test_state_and_framework_id_survive_a_restart(tmp_path: Path) -> None:
    first = await make_harness(tmp_path / "a")
    await first.subscribe("fw-9")
    await first.runtime.create_app(make_app("/web", instances=1))
    await first.offer()
    [instance] = first.instances()
    await first.sqlite.close()

    second = await make_harness(tmp_path / "a", first.clock)
    assert second.driver.info.id == "fw-9"  # re-subscribes as the same framework
    assert [i.task_id for i in second.instances()] == [instance.task_id]
    assert list(second.runtime.apps) == [PATH_WEB] and len(second.runtime.deployments) == 1
    await second.subscribe("fw-9")
    assert Reconcile(tasks=((instance.task_id, instance.agent.agent_id),)) in second.driver.calls
    await second.sqlite.close()

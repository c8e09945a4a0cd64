"""An unmodified pymesos 0.3.15 scheduler drives the master (mesos.md h, clients.md 2.5): it registers, gets
offers, launches a command task, hears TASK_RUNNING (and acknowledges it implicitly, which needs uuid and
agent_id), kills the task, and tears itself down on `stop()`."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.net.agent_link import LocalMasterLink
from corral.net.serve import make_socket, serve
from corral.protocol.agent import AcknowledgeUpdate, KillTask, Register, Registered, RunTask, StatusUpdate
from corral.protocol.json import JsonObject
from corral.protocol.mesos import AgentInfo, Source, TaskStatus

pytest.importorskip("pymesos")
from pymesos import MesosSchedulerDriver, Scheduler

pytestmark = pytest.mark.integration

DEADLINE = 15.0


class RecordingScheduler(Scheduler):  # type: ignore[misc]  # pymesos has no type hints
    """Launches one command task on the first offer, then kills it once it runs."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.states: list[str] = []
        self.framework_id: str | None = None
        self.launched = False

    def registered(self, driver: object, framework_id: JsonObject, master_info: JsonObject) -> None:
        self.framework_id = str(framework_id["value"])

    def resourceOffers(self, driver: MesosSchedulerDriver, offers: list[JsonObject]) -> None:
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer["id"], {"refuse_seconds": 60})
                continue
            self.launched = True
            task = {
                "name": "t1",
                "task_id": {"value": "t1"},
                "agent_id": offer["agent_id"],
                "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}],
                "command": {"value": "sleep 10"},
            }
            driver.launchTasks(offer["id"], [task], {"refuse_seconds": 5})

    def statusUpdate(self, driver: MesosSchedulerDriver, status: JsonObject) -> None:
        with self.lock:
            self.states.append(str(status["state"]))
        if status["state"] == "TASK_RUNNING":
            driver.killTask({"value": "t1"})


async def wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not predicate():  # noqa: ASYNC110 -- pymesos runs in its own threads: nothing to await
            await asyncio.sleep(0.02)


async def run_agent(link: LocalMasterLink, acks: list[AcknowledgeUpdate]) -> None:
    """A fake agent: runs tasks instantly, reports STARTING/RUNNING, and KILLED when told to kill."""
    agent_id: AgentId | None = None
    info = AgentInfo(hostname="127.0.0.1", resources=Resources.of(cpus=2, mem=1024))

    async def report(framework_id: FrameworkId, task_id: TaskId, state: TaskState) -> None:
        assert agent_id is not None
        status = TaskStatus(
            task_id=task_id,
            state=state,
            source=Source.SOURCE_EXECUTOR,
            uuid=uuid.uuid4().bytes,
            timestamp=time.time(),
        )
        await link.send(agent_id, StatusUpdate(framework_id=framework_id, status=status))

    async for message in link.stream(Register(agent_info=info, ip="127.0.0.1")):
        match message:
            case Registered():
                agent_id = message.agent_id
            case RunTask():
                assert message.framework_info.id is not None
                for state in (TaskState.TASK_STARTING, TaskState.TASK_RUNNING):
                    await report(message.framework_info.id, message.task.task_id, state)
            case KillTask():
                await report(message.framework_id, message.task_id, TaskState.TASK_KILLED)
            case AcknowledgeUpdate():
                acks.append(message)


async def test_a_pymesos_scheduler_launches_kills_and_tears_down() -> None:
    sock = make_socket("127.0.0.1", 0)
    runtime = MasterRuntime(MasterConfig(ip="127.0.0.1", port=sock.getsockname()[1], allocation_interval=0.1))
    acks: list[AcknowledgeUpdate] = []
    background = [
        asyncio.create_task(serve(runtime.app, sock)),
        asyncio.create_task(runtime.run()),
        asyncio.create_task(run_agent(LocalMasterLink(runtime), acks)),
    ]
    scheduler = RecordingScheduler()
    driver = MesosSchedulerDriver(
        scheduler, {"user": "nobody", "name": "pymesos-test"}, runtime.master_info.pid.removeprefix("master@")
    )
    thread = threading.Thread(target=driver.run, daemon=True)
    try:
        thread.start()
        await wait_for(lambda: "TASK_KILLED" in scheduler.states)
        assert scheduler.states[:3] == ["TASK_STARTING", "TASK_RUNNING", "TASK_KILLED"]
        await wait_for(lambda: len(acks) >= 3)  # implicit acknowledgements reached the agent
        framework_id = FrameworkId(scheduler.framework_id or "")
        assert runtime.core.state.frameworks[framework_id].info.failover_timeout == 100.0  # pymesos' default
        driver.stop()  # failover=False: TEARDOWN
        await wait_for(lambda: any(f.id == framework_id for f in runtime.core.state.completed_frameworks))
    finally:
        driver.stop()
        await asyncio.to_thread(thread.join, DEADLINE)
        for task in background:
            task.cancel()
        for task in background:
            with contextlib.suppress(asyncio.CancelledError):
                await task

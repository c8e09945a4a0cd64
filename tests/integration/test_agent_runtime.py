"""The agent with real processes, its real HTTP API and a fake master behind `LocalMasterLink`."""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import FileResponse
from starlette.routing import Route
from support.agent_teardown import stop_agent

from corral.agent.config import AgentConfig
from corral.agent.runtime import AgentRuntime
from corral.core.ids import AgentId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import parse_resources
from corral.net.agent_link import LocalMasterLink
from corral.net.serve import make_socket, serve
from corral.protocol.agent import (
    AcknowledgeUpdate,
    AgentToMaster,
    ExecutorExited,
    ExecutorToFramework,
    FrameworkToExecutor,
    KillTask,
    MasterToAgent,
    Register,
    Registered,
    RunTask,
    RunTaskGroup,
    ShutdownExecutor,
    StatusUpdate,
)
from corral.protocol.json import JsonObject, Reader
from corral.protocol.mesos import ExecutorInfo, FrameworkInfo, MasterInfo, TaskInfo, TaskStatus

pytestmark = pytest.mark.integration

AGENT = AgentId("M-S0")
FRAMEWORK = FrameworkId("M-0000")
EXECUTOR_SCRIPT = Path(__file__).with_name("agent_pymesos_executor.py")
T = TypeVar("T")


class FakeMaster:
    """A MasterEndpoint: Registered, then whatever the test puts in `outbox`; records what the agent sends."""

    def __init__(self) -> None:
        self.outbox: asyncio.Queue[MasterToAgent] = asyncio.Queue()
        self.received: list[AgentToMaster] = []
        self.registrations: list[Register] = []

    async def agent_stream(self, register: Register) -> AsyncIterator[MasterToAgent]:
        self.registrations.append(register)
        yield Registered(
            agent_id=AGENT, master_info=MasterInfo(id="M", ip="127.0.0.1", port=5050, hostname="m")
        )
        while True:
            yield await self.outbox.get()

    async def agent_call(self, agent_id: AgentId, message: AgentToMaster) -> None:
        assert agent_id == AGENT
        self.received.append(message)

    def updates(self, task_id: str) -> list[TaskStatus]:
        return [
            m.status for m in self.received if isinstance(m, StatusUpdate) and m.status.task_id == task_id
        ]

    def acknowledge(self, status: TaskStatus) -> None:
        assert status.uuid is not None
        self.outbox.put_nowait(
            AcknowledgeUpdate(framework_id=FRAMEWORK, task_id=status.task_id, uuid=status.uuid)
        )


@dataclass
class Agent:
    runtime: AgentRuntime
    master: FakeMaster
    http: httpx.AsyncClient
    seen: set[bytes] = field(default_factory=set)

    async def next_update(self, task_id: str) -> TaskStatus:
        """The first update of `task_id` the test has not taken yet."""

        def fresh() -> TaskStatus | None:
            return next((s for s in self.master.updates(task_id) if s.uuid not in self.seen), None)

        status = await wait_for(fresh)
        assert status.uuid is not None
        self.seen.add(status.uuid)
        return status

    def sandbox(self, executor_id: str) -> Path:
        work_dir = self.runtime.config.work_dir
        return (
            work_dir
            / "slaves"
            / AGENT
            / "frameworks"
            / FRAMEWORK
            / "executors"
            / executor_id
            / "runs"
            / "latest"
        )

    async def read(self, path: str) -> str:
        response = await self.http.get("/files/read", params={"path": path, "offset": 0})
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert isinstance(data, str)
        return data


async def wait_for(
    probe: Callable[[], T | None] | Callable[[], Awaitable[T | None]], within: float = 15.0
) -> T:
    """Poll `probe` until it returns something other than None or False, or fail at the deadline."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if isinstance(value, Awaitable):
            value = await value
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {probe}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def agent(tmp_path: Path) -> AsyncIterator[Agent]:
    sock = make_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = AgentConfig(
        ip="127.0.0.1",
        port=port,
        work_dir=tmp_path / "agent",
        resources=parse_resources("cpus:2;mem:1024;disk:1024;ports:[31000-31100]"),
        status_update_retry_min=0.2,
        executor_shutdown_grace_period=1.0,
    )
    master = FakeMaster()
    runtime = AgentRuntime(config, LocalMasterLink(master))
    tasks = [asyncio.create_task(runtime.run()), asyncio.create_task(serve(runtime.app, sock, name="agent"))]
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10.0) as http:
        try:
            await wait_for(lambda: runtime.agent_id == AGENT)
            yield Agent(runtime, master, http)
        finally:
            await stop_agent(runtime, tasks)


def framework(*capabilities: str) -> FrameworkInfo:
    raw: JsonObject = {
        "user": "root",
        "name": "test",
        "id": {"value": FRAMEWORK},
        "capabilities": [{"type": c} for c in capabilities],
    }
    return FrameworkInfo.from_json(Reader(raw))


def task(task_id: str, **fields: object) -> TaskInfo:
    raw: JsonObject = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": AGENT},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}}],
    }
    raw.update(fields)  # type: ignore[arg-type]
    return TaskInfo.from_json(Reader(raw))


async def test_echo_reports_starting_running_finished_and_its_output_is_readable(agent: Agent) -> None:
    agent.master.outbox.put_nowait(
        RunTask(framework_info=framework(), task=task("echo", command={"value": "echo hi"}))
    )

    states = []
    for _ in range(3):
        status = await agent.next_update("echo")
        assert status.uuid is not None and len(status.uuid) == 16
        assert (status.agent_id, status.executor_id, status.source) == (AGENT, "echo", "SOURCE_EXECUTOR")
        states.append((status.state.value, status.message))
        agent.master.acknowledge(status)
    assert states == [
        ("TASK_STARTING", None),
        ("TASK_RUNNING", None),
        ("TASK_FINISHED", "Command exited with status 0"),
    ]
    assert (agent.sandbox("echo") / "stdout").read_text() == "hi\n"
    assert await agent.read(f"/frameworks/{FRAMEWORK}/executors/echo/runs/latest/stdout") == "hi\n"
    assert await agent.read(str(agent.sandbox("echo") / "stdout")) == "hi\n"
    escape = await agent.http.get("/files/read", params={"path": str(agent.sandbox("echo")) + "/../../../x"})
    assert escape.status_code == 400  # `..` is refused outright, as upstream's FilesTest.ResolveTest expects


async def test_an_unacknowledged_update_is_resent_until_acknowledged(agent: Agent) -> None:
    agent.master.outbox.put_nowait(
        RunTask(framework_info=framework(), task=task("t", command={"value": "true"}))
    )
    starting = await agent.next_update("t")

    await wait_for(lambda: len(agent.master.updates("t")) >= 3)  # resent after 0.2 s, then after 0.4 s
    assert {s.uuid for s in agent.master.updates("t")} == {starting.uuid}
    agent.master.acknowledge(starting)
    running = await agent.next_update("t")
    assert running.state == "TASK_RUNNING"


async def test_kill_escalates_to_sigkill_when_the_task_ignores_sigterm(agent: Agent) -> None:
    command = {"value": "trap '' TERM; echo ready; exec sleep 60"}
    agent.master.outbox.put_nowait(
        RunTask(framework_info=framework("TASK_KILLING_STATE"), task=task("stubborn", command=command))
    )
    for _ in range(2):
        agent.master.acknowledge(await agent.next_update("stubborn"))  # STARTING, RUNNING
    await wait_for(lambda: (agent.sandbox("stubborn") / "stdout").read_text() == "ready\n")

    state = (await agent.http.get("/state")).json()
    [executor] = state["frameworks"][0]["executors"]
    assert [(t["id"], t["state"]) for t in executor["tasks"]] == [("stubborn", "TASK_RUNNING")]
    assert executor["directory"] == str(agent.sandbox("stubborn").resolve())
    listing = (await agent.http.get("/files/browse", params={"path": executor["directory"]})).json()
    assert {Path(entry["path"]).name for entry in listing} >= {"stdout", "stderr"}

    started = time.monotonic()
    agent.master.outbox.put_nowait(
        KillTask(framework_id=FRAMEWORK, task_id=TaskId("stubborn"), grace_period=0.5)
    )
    killing = await agent.next_update("stubborn")
    assert killing.state == "TASK_KILLING"
    agent.master.acknowledge(killing)
    killed = await agent.next_update("stubborn")
    assert (killed.state, killed.message) == ("TASK_KILLED", "Command terminated with signal SIGKILL")
    assert time.monotonic() - started >= 0.5


async def test_a_pymesos_executor_runs_a_task_talks_to_its_framework_and_shuts_down(agent: Agent) -> None:
    executor: JsonObject = {
        "executor_id": {"value": "pymesos"},
        "command": {"value": f"{sys.executable} {EXECUTOR_SCRIPT}"},
        "resources": [{"name": "mem", "type": "SCALAR", "scalar": {"value": 32}}],
    }
    agent.master.outbox.put_nowait(
        RunTask(framework_info=framework(), task=task("job", executor=executor, data="cGF5bG9hZA=="))
    )
    stdout = f"/frameworks/{FRAMEWORK}/executors/pymesos/runs/latest/stdout"

    running = await agent.next_update("job")
    assert (running.state, running.source, running.agent_id, running.executor_id) == (
        "TASK_RUNNING",
        "SOURCE_EXECUTOR",
        AGENT,
        ExecutorId("pymesos"),
    )
    assert isinstance(running.extra["container_status"], dict)
    assert "launched payload" in await agent.read(stdout)
    message = ExecutorToFramework(
        framework_id=FRAMEWORK, executor_id=ExecutorId("pymesos"), data=b"hello from the executor"
    )
    await wait_for(lambda: message in agent.master.received)

    agent.master.acknowledge(running)
    finished = await agent.next_update("job")
    assert (finished.state, finished.message) == ("TASK_FINISHED", "done")
    agent.master.acknowledge(finished)
    await wait_for(lambda: _count("acknowledged job", agent.sandbox("pymesos") / "stdout") == 2)

    agent.master.outbox.put_nowait(
        FrameworkToExecutor(framework_id=FRAMEWORK, executor_id=ExecutorId("pymesos"), data=b"hello executor")
    )
    await wait_for(lambda: _count("message hello executor", agent.sandbox("pymesos") / "stdout") == 1)

    agent.master.outbox.put_nowait(
        ShutdownExecutor(framework_id=FRAMEWORK, executor_id=ExecutorId("pymesos"))
    )
    exited = await wait_for(
        lambda: next((m for m in agent.master.received if isinstance(m, ExecutorExited)), None)
    )
    assert exited.executor_id == "pymesos"
    assert "shutdown" in await agent.read(stdout)


async def test_a_task_group_runs_on_the_default_executor_each_task_in_its_own_sandbox(agent: Agent) -> None:
    executor = ExecutorInfo.from_json(
        Reader(
            {
                "type": "DEFAULT",
                "executor_id": {"value": "pod"},
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                    {"name": "disk", "type": "SCALAR", "scalar": {"value": 32}},
                ],
            }
        )
    )
    group = tuple(
        task(name, command={"value": f'echo {name}; echo "$MESOS_SANDBOX" >&2'}) for name in ("a", "b")
    )
    agent.master.outbox.put_nowait(RunTaskGroup(framework_info=framework(), executor=executor, tasks=group))

    for name in ("a", "b"):
        states = []
        for _ in range(3):
            status = await agent.next_update(name)
            assert (status.executor_id, status.source) == ("pod", "SOURCE_EXECUTOR")
            states.append(status.state.value)
            agent.master.acknowledge(status)
        assert states == ["TASK_STARTING", "TASK_RUNNING", "TASK_FINISHED"]
    exited = await wait_for(
        lambda: next((m for m in agent.master.received if isinstance(m, ExecutorExited)), None)
    )
    assert (exited.executor_id, exited.status) == ("pod", 0)

    run = agent.sandbox("pod").resolve()
    for name in ("a", "b"):
        assert (run / "tasks" / name / "stdout").read_text() == f"{name}\n"
        assert (run / "tasks" / name / "stderr").read_text() == f"{run / 'tasks' / name}\n"  # MESOS_SANDBOX
        virtual = f"/frameworks/{FRAMEWORK}/executors/pod/runs/latest/tasks/{name}/stdout"
        assert await agent.read(virtual) == f"{name}\n"
        assert await agent.read(str(run / "tasks" / name / "stdout")) == f"{name}\n"
    state = (await agent.http.get("/state")).json()
    [done] = state["completed_frameworks"][0]["completed_executors"]
    assert (done["id"], done["type"], done["directory"]) == ("pod", "DEFAULT", str(run))
    assert sorted((t["id"], t["state"]) for t in done["completed_tasks"]) == [
        ("a", "TASK_FINISHED"),
        ("b", "TASK_FINISHED"),
    ]


async def test_uris_are_fetched_over_http_and_unpacked_before_the_command_runs(
    agent: Agent, tmp_path: Path
) -> None:
    archive = tmp_path / "app.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("app/hello.txt")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"hello\n"))
    downloads = Starlette(routes=[Route("/app.tar.gz", lambda request: FileResponse(archive))])
    sock = make_socket("127.0.0.1", 0)
    server = asyncio.create_task(serve(downloads, sock, name="downloads"))
    try:
        uris = [
            {"value": f"http://127.0.0.1:{sock.getsockname()[1]}/app.tar.gz"},
            {"value": "http://127.0.0.1:1/gone"},
        ]
        good = {"value": "cat app/hello.txt", "uris": uris[:1]}
        bad = {"value": "true", "uris": uris[1:]}
        agent.master.outbox.put_nowait(RunTask(framework_info=framework(), task=task("fetch", command=good)))
        agent.master.outbox.put_nowait(RunTask(framework_info=framework(), task=task("nofetch", command=bad)))
        for _ in range(3):
            agent.master.acknowledge(await agent.next_update("fetch"))
        assert (agent.sandbox("fetch") / "stdout").read_text() == "hello\n"

        agent.master.acknowledge(await agent.next_update("nofetch"))  # TASK_STARTING
        failed = await agent.next_update("nofetch")
        assert (failed.state, failed.reason) == ("TASK_FAILED", "REASON_CONTAINER_LAUNCH_FAILED")
        assert failed.message is not None and failed.message.startswith(
            "Failed to fetch 'http://127.0.0.1:1/gone'"
        )
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def _count(line: str, path: Path) -> int:
    return path.read_text().splitlines().count(line) if path.exists() else 0

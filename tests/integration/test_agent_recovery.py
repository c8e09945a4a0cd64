"""Agent recovery with real processes (`mesos.md` f.4, b.5): `corral master` and `corral agent` run as daemons
of their own, a checkpointing v1 framework launches tasks, and the agent is killed with SIGKILL and started
again on the same work dir.

With `--recover=reconnect` (the default) the same processes keep running and the framework sees no TASK_LOST;
a task that ended while the agent was down is reported with its real exit status; an update the framework had
not acknowledged is sent again, and the one queued behind it follows; a pymesos executor (MESOS_CHECKPOINT=1)
subscribes again. With `--recover=cleanup` the old tasks are killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.cgroups import MB, cgroup_dirs, cgroups_or_skip, wait_removed

from corral.core.ids import AgentId, OfferId, TaskId
from corral.core.task_state import TaskState
from corral.frameworks.driver import SchedulerDriver
from corral.protocol.json import JsonObject, Reader, loads, loads_object
from corral.protocol.mesos import FrameworkInfo, TaskInfo, TaskStatus
from corral.protocol.scheduler import Accept, Acknowledge, Decline, Kill, Launch, Offers, Update
from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import free_ports, json_list, wait_for

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
LOST = {TaskState.TASK_LOST, TaskState.TASK_DROPPED, TaskState.TASK_GONE, TaskState.TASK_UNREACHABLE}
EXECUTOR = """
import sys
from pymesos import Executor, MesosExecutorDriver


class Sleeper(Executor):
    def launchTask(self, driver, task):
        driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_RUNNING"})

    def reregistered(self, driver, agent_info):
        print("reregistered", flush=True)


MesosExecutorDriver(Sleeper(), use_addict=True).run()
"""


def task_info(task_id: str, agent_id: AgentId, *, command: str = "", executor: str = "") -> TaskInfo:
    raw: JsonObject = {
        "name": task_id,
        "task_id": {"value": task_id},
        "agent_id": {"value": agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
    }
    if command:
        raw["command"] = {"value": command}
    else:
        raw["executor"] = {"executor_id": {"value": f"{task_id}-executor"}, "command": {"value": executor}}
    return TaskInfo.from_json(Reader(raw))


@dataclass
class Framework:
    """A checkpointing v1 framework on its own thread and event loop: it launches what it is given on the
    first offer, and acknowledges every update except those of the tasks in `withheld`."""

    master: str
    launches: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (task id, kind -> value)
    withheld: set[str] = field(default_factory=set)
    updates: list[TaskStatus] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        info = FrameworkInfo.from_json(
            Reader(
                {"user": getpass.getuser(), "name": "recovery", "checkpoint": True, "failover_timeout": 3600}
            )
        )
        self._driver = SchedulerDriver(self.master, info, backoff_max=1.0)
        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(self._run())
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            self._loop.run_until_complete(self._task)
        self._loop.run_until_complete(self._driver.aclose())
        self._loop.close()

    async def _run(self) -> None:
        launched = False
        async for event in self._driver.events():
            if isinstance(event, Offers):
                for offer in event.offers:
                    if launched:
                        await self._driver.call(Decline(offer_ids=(offer.id,), refuse_seconds=3600.0))
                        continue
                    launched = True
                    await self._launch(offer.id, offer.agent_id)
            elif isinstance(event, Update):
                with self.changed:
                    self.updates.append(event.status)
                    self.changed.notify_all()
                if event.status.task_id not in self.withheld:
                    await self._acknowledge(event.status)

    async def _launch(self, offer_id: OfferId, agent_id: AgentId) -> None:
        tasks = tuple(
            task_info(task_id, agent_id, command=spec.get("command", ""), executor=spec.get("executor", ""))
            for task_id, spec in self.launches
        )
        await self._driver.call(
            Accept(offer_ids=(offer_id,), operations=(Launch(tasks=tasks),), refuse_seconds=1)
        )

    async def _acknowledge(self, status: TaskStatus) -> None:
        if status.uuid is not None and status.agent_id is not None:
            call = Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid)
            await self._driver.call(call)

    def release(self, task_id: str) -> None:
        """Acknowledge the task's updates from now on, starting with the latest one received."""
        self.withheld.discard(task_id)
        [latest] = self.received(task_id)[-1:]
        asyncio.run_coroutine_threadsafe(self._acknowledge(latest), self._loop).result(10)

    def received(self, task_id: str) -> list[TaskStatus]:
        with self.changed:
            return [s for s in self.updates if s.task_id == task_id]

    def wait(self, task_id: str, state: TaskState, *, count: int = 1, timeout: float = 20.0) -> TaskStatus:
        """The `count`th update of `task_id` in `state`."""
        with self.changed:
            found = self.changed.wait_for(
                lambda: len([s for s in self.received(task_id) if s.state is state]) >= count, timeout
            )
            seen = [(s.task_id, s.state.value) for s in self.updates]
            assert found, f"no {state} #{count} for {task_id} within {timeout}s; updates: {seen}"
            return [s for s in self.received(task_id) if s.state is state][count - 1]

    def kill(self, task_id: str) -> None:
        [latest] = self.received(task_id)[-1:]
        call = Kill(task_id=TaskId(task_id), agent_id=latest.agent_id)
        asyncio.run_coroutine_threadsafe(self._driver.call(call), self._loop).result(10)

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(10)


@dataclass
class Cluster:
    root: Path
    master: Daemon
    agent_port: int
    agent: Daemon | None = None
    starts: int = 0

    @property
    def work_dir(self) -> Path:
        return self.root / "agent"

    def start_agent(self, *extra: str) -> Daemon:
        args = ["--ip", HOST, "--port", str(self.agent_port), "--master", self.master.address]
        args += ["--work_dir", str(self.work_dir), "--resources", "cpus:8;mem:8192;disk:10000"]
        args += ["--executor_reregistration_timeout", "15secs", *extra]
        self.starts += 1  # a log per run
        address = f"{HOST}:{self.agent_port}"
        self.agent = start_daemon(f"agent-{self.starts}", "agent", args, address=address, log_dir=self.root)
        self.agent.wait_answering("/health")
        return self.agent

    def statistics(self) -> dict[str, Any]:
        """`/monitor/statistics` of the agent: each executor's usage and limits, by executor id."""
        assert self.agent is not None
        entries: Any = loads(self.agent.get("/monitor/statistics").content)
        return {e["executor_id"]: e["statistics"] for e in entries}

    def agent_state(self) -> JsonObject:
        assert self.agent is not None
        response = self.agent.get("/state")
        response.raise_for_status()
        return loads_object(response.content)

    def agent_task(self, task_id: str) -> JsonObject | None:
        """The task as the agent's /state shows it, once the agent is registered."""
        try:
            state = self.agent_state()
        except Exception:
            return None
        for framework in json_list(state["frameworks"]):
            assert isinstance(framework, dict)
            for executor in json_list(framework["executors"]):
                assert isinstance(executor, dict)
                for task in json_list(executor["tasks"]):
                    if isinstance(task, dict) and task["id"] == task_id and state["id"]:
                        return task
        return None


def is_alive(pid: int) -> bool:
    """Alive and not a zombie (the supervisor reaps its children at once)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def pid_of(status: TaskStatus) -> int:
    container = status.extra["container_status"]
    assert isinstance(container, dict)
    pid = container["executor_pid"]
    assert isinstance(pid, int)
    return pid


def state_pid(task: JsonObject) -> object:
    """The pid in the latest status of a task in the agent's /state."""
    [*_, latest] = json_list(task["statuses"])
    assert isinstance(latest, dict)
    container = latest.get("container_status")
    assert isinstance(container, dict)
    return container.get("executor_pid")


def supervisors(work_dir: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if b"corral.agent.executor.supervisor" in cmdline and str(work_dir).encode() in cmdline:
                found.append(int(entry.name))
    return found


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    master_port, agent_port = free_ports(2)
    master = start_daemon(
        "master",
        "master",
        ["--ip", HOST, "--port", str(master_port), "--work_dir", str(tmp_path / "master")],
        address=f"{HOST}:{master_port}",
        log_dir=tmp_path,
    )
    cluster = Cluster(tmp_path, master, agent_port)
    try:
        master.wait_answering("/health")
        yield cluster
    except BaseException:
        for daemon in (master, cluster.agent):
            if daemon is not None:
                print(f"--- {daemon.name} ---\n{daemon.log_tail(80)}")
        raise
    finally:
        if cluster.agent is not None:
            cluster.agent.stop()
        master.stop()
        for pid in supervisors(cluster.work_dir):  # and the tasks a failed test left behind, with it
            for child in Path(f"/proc/{pid}/task").glob("*/children"):
                for task_pid in child.read_text().split():
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(int(task_pid), signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_restarted_agent_keeps_its_tasks_and_cleanup_kills_them(cluster: Cluster, tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    script = tmp_path / "executor.py"
    script.write_text(EXECUTOR)
    cluster.start_agent()
    framework = Framework(cluster.master.address)
    framework.launches = [
        ("sleeper", {"command": "sleep 3600"}),
        ("ender", {"command": f"while [ ! -e {gate} ]; do sleep 0.05; done; exit 3"}),
        ("pending", {"command": "sleep 3600"}),
        ("custom", {"executor": f"{sys.executable} {script}"}),
    ]
    framework.withheld.add("pending")  # its TASK_STARTING stays unacknowledged, TASK_RUNNING queued behind it
    try:
        pids = {t: pid_of(framework.wait(t, TaskState.TASK_RUNNING)) for t in ("sleeper", "ender", "custom")}
        framework.wait("pending", TaskState.TASK_STARTING)
        wait_for(
            lambda: (task := cluster.agent_task("pending")) is not None and task["state"] == "TASK_RUNNING",
            timeout=10,
            what="the pending task to run (its TASK_RUNNING checkpointed, not sent)",
        )
        startings = len(framework.received("pending"))  # TASK_STARTING only: nothing else got past it

        assert cluster.agent is not None
        cluster.agent.kill()  # kill -9: no chance to clean up
        gate.touch()  # the ender exits while no agent is there to see it
        wait_for(lambda: not is_alive(pids["ender"]), timeout=10, what="the ender to exit")
        cluster.start_agent()

        failed = framework.wait("ender", TaskState.TASK_FAILED)
        assert failed.message == "Command exited with status 3"
        again = framework.wait("pending", TaskState.TASK_STARTING, count=startings + 1)
        assert again.uuid == framework.received("pending")[0].uuid
        framework.release("pending")
        framework.wait("pending", TaskState.TASK_RUNNING)  # queued before the crash, delivered after
        for task_id in ("sleeper", "custom"):  # the same processes, alive, and the agent knows their pids
            assert is_alive(pids[task_id])
            task = cluster.agent_task(task_id)
            assert task is not None and task["state"] == "TASK_RUNNING"
            assert state_pid(task) == pids[task_id]
        pids["pending"] = pid_of(framework.received("pending")[-1])
        assert is_alive(pids["pending"])
        custom_run = next(
            cluster.work_dir.glob("slaves/*/frameworks/*/executors/custom-executor/runs/latest")
        )
        wait_for(
            lambda: "reregistered" in (custom_run / "stdout").read_text(),
            timeout=20,
            what="the pymesos executor to subscribe again",
        )
        assert [(s.task_id, s.state) for s in framework.updates if s.state in LOST] == []

        cluster.agent.kill()
        cluster.start_agent("--recover", "cleanup")
        survivors = [pids[t] for t in ("sleeper", "pending", "custom")]
        wait_for(lambda: not any(map(is_alive, survivors)), timeout=15, what="cleanup to kill the old tasks")
    finally:
        framework.stop()


def test_a_restarted_agent_watches_the_containers_it_adopted(cluster: Cluster, tmp_path: Path) -> None:
    """Their usage and limits, the OOM kill that ends one, and the cleanup of their cgroups."""
    cgroups = cgroups_or_skip()
    gate = tmp_path / "gate"
    cluster.start_agent("--isolation", "cgroups/cpu,cgroups/mem,cgroups/pids")
    framework = Framework(cluster.master.address)
    hog = f"while [ ! -e {gate} ]; do sleep 0.05; done; python3 -c \"b = b'x' * (200 << 20)\""
    framework.launches = [("steady", {"command": "sleep 3600"}), ("hog", {"command": hog})]
    try:
        steady = framework.wait("steady", TaskState.TASK_RUNNING)
        framework.wait("hog", TaskState.TASK_RUNNING)
        container: Any = steady.extra["container_status"]
        assert cluster.agent is not None
        cluster.agent.kill()
        cluster.start_agent("--isolation", "cgroups/cpu,cgroups/mem,cgroups/pids")

        def adopted() -> dict[str, Any] | None:
            """Both tasks, with usage read from their cgroups (right after the restart an entry may show its
            limits before its first reading)."""
            found = cluster.statistics()
            measured = {task for task, stats in found.items() if "processes" in stats}
            return found if {"steady", "hog"} <= measured else None

        stats = wait_for(adopted, timeout=10, what="the adopted tasks in /monitor/statistics")
        for task_id in ("steady", "hog"):  # 0.1 cpus and 32 MB each, and the command executor's 0.1 and 32
            assert (stats[task_id]["cpus_limit"], stats[task_id]["mem_limit_bytes"]) == (0.2, 64 * MB)
            assert stats[task_id]["processes"] >= 1  # read from its cgroups
        gate.touch()
        failed = framework.wait("hog", TaskState.TASK_FAILED)
        assert failed.reason == "REASON_CONTAINER_LIMITATION_MEMORY"
        assert (failed.message or "").startswith("Memory limit exceeded: Requested: 64MB")

        framework.kill("steady")
        framework.wait("steady", TaskState.TASK_KILLED)
        wait_removed(cgroup_dirs(cgroups, container["container_id"]["value"]).values())
        assert "steady" not in cluster.statistics()
    finally:
        framework.stop()

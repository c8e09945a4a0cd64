"""What a running task costs the agent: its memory, and its task supervisor's, per running `sleep` task.

`corral master` and `corral agent` run as processes of their own; a v1 framework (`SchedulerDriver`, in this
process) launches N `sleep 3600` command tasks and acknowledges every update. Once all N are TASK_RUNNING,
the resident set sizes (VmRSS) of the agent and of its task supervisor are compared with theirs before the
launch; the tasks' own processes are not counted. Then the agent is killed (SIGKILL) and started again on
the same work dir: the time until it has re-registered with all N tasks adopted, and its memory then, show
what recovery costs. The framework's TEARDOWN ends the tasks.

Prints readable lines, then one JSON line:
`{"tasks":500,"agent_kib_per_task":..,"supervisor_kib_per_task":..,"kib_per_task":..,"recovery_s":..}`;
the target is <= 2 MB (2048 KiB) per task.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from corral.core.ids import AgentId
from corral.core.task_state import TaskState
from corral.frameworks.driver import SchedulerDriver
from corral.protocol.json import JsonObject, Reader, loads_object
from corral.protocol.mesos import FrameworkInfo, TaskInfo
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Decline,
    Launch,
    Offers,
    Teardown,
    Update,
)
from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import ProcessError, free_ports, json_list, wait_for

HOST = "127.0.0.1"
PER_LAUNCH = 100
TARGET_KIB = 2048


@dataclass(frozen=True)
class Cost:
    tasks: int
    launch_s: float
    agent_rss_kib: tuple[int, int]  # before the launch, with every task running
    supervisor_rss_kib: tuple[int, int]
    recovery_s: float
    recovered_agent_rss_kib: int

    @property
    def agent_kib_per_task(self) -> float:
        return (self.agent_rss_kib[1] - self.agent_rss_kib[0]) / self.tasks

    @property
    def supervisor_kib_per_task(self) -> float:
        return (self.supervisor_rss_kib[1] - self.supervisor_rss_kib[0]) / self.tasks

    @property
    def kib_per_task(self) -> float:
        return self.agent_kib_per_task + self.supervisor_kib_per_task

    def to_json(self) -> dict[str, object]:
        per_task = {
            "agent_kib_per_task": round(self.agent_kib_per_task, 1),
            "supervisor_kib_per_task": round(self.supervisor_kib_per_task, 1),
            "kib_per_task": round(self.kib_per_task, 1),
        }
        return {**asdict(self), **per_task}


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"process {pid} has no VmRSS")


def supervisor_pid(work_dir: Path) -> int:
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"corral.agent.executor.supervisor" in cmdline and str(work_dir).encode() in cmdline:
            return int(entry.name)
    raise RuntimeError(f"no task supervisor for {work_dir}")


def task_info(index: int, agent_id: AgentId) -> TaskInfo:
    raw: JsonObject = {
        "name": f"sleep-{index}",
        "task_id": {"value": f"sleep-{index}"},
        "agent_id": {"value": agent_id},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.01}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 1}},
        ],
        "command": {"value": "sleep 3600"},
    }
    return TaskInfo.from_json(Reader(raw))


class Framework:
    """Launches `tasks` sleeps on the first offer; `running` is set once all of them are TASK_RUNNING."""

    def __init__(self, master: str, tasks: int) -> None:
        info: JsonObject = {"user": getpass.getuser(), "name": "agent-cost", "checkpoint": True}
        self.driver = SchedulerDriver(master, FrameworkInfo.from_json(Reader(info)))
        self.tasks = tasks
        self.running: set[str] = set()
        self.failed: dict[str, str] = {}
        self.all_running = asyncio.Event()

    async def run(self) -> None:
        launched = False
        async for event in self.driver.events():
            if isinstance(event, Offers):
                for offer in event.offers:
                    if launched:
                        await self.driver.call(Decline(offer_ids=(offer.id,), refuse_seconds=3600.0))
                        continue
                    launched = True
                    infos = [task_info(i, offer.agent_id) for i in range(self.tasks)]
                    operations = tuple(
                        Launch(tasks=tuple(infos[i : i + PER_LAUNCH]))
                        for i in range(0, self.tasks, PER_LAUNCH)
                    )
                    await self.driver.call(
                        Accept(offer_ids=(offer.id,), operations=operations, refuse_seconds=1)
                    )
            elif isinstance(event, Update):
                status = event.status
                if status.uuid is not None and status.agent_id is not None:
                    ack = Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid)
                    await self.driver.call(ack)
                if status.state is TaskState.TASK_RUNNING:
                    self.running.add(status.task_id)
                elif status.state.is_terminal:
                    self.failed[status.task_id] = status.state.value
                if len(self.running) == self.tasks:
                    self.all_running.set()


def running_on_agent(agent: Daemon) -> int | None:
    """How many tasks the agent's /state shows TASK_RUNNING, once it is registered."""
    try:
        state = loads_object(agent.get("/state").content)
    except Exception:
        return None
    if not state.get("master_hostname"):
        return None
    return sum(
        1
        for framework in json_list(state["frameworks"])
        if isinstance(framework, dict)
        for executor in json_list(framework["executors"])
        if isinstance(executor, dict)
        for task in json_list(executor["tasks"])
        if isinstance(task, dict) and task["state"] == "TASK_RUNNING"
    )


async def measure(root: Path, tasks: int, step_timeout: float) -> Cost:
    master_port, agent_port = free_ports(2)
    master = start_daemon(
        "master",
        "master",
        [
            "--ip",
            HOST,
            "--port",
            str(master_port),
            "--work_dir",
            str(root / "master"),
            "--log_level",
            "warning",
        ],
        address=f"{HOST}:{master_port}",
        log_dir=root,
    )
    work_dir = root / "agent"
    agent_args = [
        "--ip",
        HOST,
        "--port",
        str(agent_port),
        "--master",
        master.address,
        "--work_dir",
        str(work_dir),
    ]
    agent_args += ["--resources", "cpus:1000;mem:1000000;disk:1000000", "--log_level", "warning"]
    agents: list[Daemon] = []

    def start_agent() -> Daemon:
        agent = start_daemon(
            f"agent-{len(agents)}", "agent", agent_args, address=f"{HOST}:{agent_port}", log_dir=root
        )
        agents.append(agent)
        return agent

    framework = Framework(master.address, tasks)
    runner: asyncio.Task[None] | None = None
    try:
        master.wait_answering("/health")
        agent = start_agent()
        await asyncio.to_thread(wait_for, lambda: running_on_agent(agent) == 0, timeout=30, what="the agent")
        supervisor = supervisor_pid(work_dir)
        before = rss_kib(agent.proc.pid), rss_kib(supervisor)

        runner = asyncio.create_task(framework.run())
        started = time.perf_counter()
        async with asyncio.timeout(step_timeout):
            await framework.all_running.wait()
        launch_s = time.perf_counter() - started
        if framework.failed:
            raise RuntimeError(f"tasks ended: {dict(list(framework.failed.items())[:5])}")
        await asyncio.sleep(1.0)  # let the last acknowledgements land before sampling
        after = rss_kib(agent.proc.pid), rss_kib(supervisor)

        agent.kill()
        started = time.perf_counter()
        agent = start_agent()
        await asyncio.to_thread(
            wait_for,
            lambda: running_on_agent(agent) == tasks,
            timeout=step_timeout,
            what="recovery",
            interval=0.02,
        )
        recovery_s = time.perf_counter() - started
        recovered = rss_kib(agent.proc.pid)

        await framework.driver.call(Teardown())
        await asyncio.to_thread(
            wait_for, lambda: running_on_agent(agent) == 0, timeout=step_timeout, what="teardown"
        )
    finally:
        if runner is not None:
            runner.cancel()
        await framework.driver.aclose()
        for daemon in (*agents, master):
            daemon.stop()
    return Cost(
        tasks=tasks,
        launch_s=round(launch_s, 2),
        agent_rss_kib=(before[0], after[0]),
        supervisor_rss_kib=(before[1], after[1]),
        recovery_s=round(recovery_s, 2),
        recovered_agent_rss_kib=recovered,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=500, help="number of sleep tasks (default 500)")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="give up on a step after this many seconds"
    )
    args = parser.parse_args()
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")
    with tempfile.TemporaryDirectory(prefix="corral-agent-cost-") as tmp:
        try:
            result = asyncio.run(measure(Path(tmp), args.tasks, args.timeout))
        except (ProcessError, RuntimeError, TimeoutError, OSError) as e:
            print(f"bench: {e}", file=sys.stderr)
            return 1
    print(
        f"agent:      {result.agent_kib_per_task:.1f} KiB per running task (RSS {result.agent_rss_kib} KiB)"
    )
    print(
        f"supervisor: {result.supervisor_kib_per_task:.1f} KiB per running task "
        f"(RSS {result.supervisor_rss_kib} KiB)"
    )
    print(f"total:      {result.kib_per_task:.1f} KiB per task (target <= {TARGET_KIB} KiB)")
    print(f"launch:     {result.tasks} tasks running in {result.launch_s:.2f}s")
    print(
        f"recovery:   kill -9 and restart: re-registered with all {result.tasks} tasks adopted in "
        f"{result.recovery_s:.2f}s (agent RSS then {result.recovered_agent_rss_kib} KiB)"
    )
    print(json.dumps(result.to_json()))
    return 0 if result.kib_per_task <= TARGET_KIB else 1


if __name__ == "__main__":
    sys.exit(main())

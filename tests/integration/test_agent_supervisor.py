"""The task supervisor: a real process that makes sandboxes, spawns tasks, reaps them, and keeps their exit
statuses for whichever agent connects next (DESIGN.md, "Hard parts": tasks must outlive the agent)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from corral.agent.executor.supervisor_link import Callbacks, SupervisorLink


@dataclass
class Recorder:
    started: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    exited: dict[str, int] = field(default_factory=dict)
    exited_pids: list[int] = field(default_factory=list)

    def on_exit(self, container_id: str, pid: int, status: int) -> None:
        self.exited[container_id] = status
        self.exited_pids.append(pid)

    def callbacks(self) -> Callbacks:
        return Callbacks(
            started=self.started.__setitem__, failed=self.failed.__setitem__, exited=self.on_exit
        )


async def eventually(condition: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not (condition() if callable(condition) else condition):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@dataclass
class Connected:
    link: SupervisorLink
    seen: Recorder
    reader: asyncio.Task[None]

    async def close(self) -> None:
        """Collect every exit seen, so the supervisor, with no agent and nothing left, exits."""
        for pid in self.seen.exited_pids:
            self.link.collected(pid)
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.reader
        await self.link.aclose()


async def connect(
    work_dir: Path,
) -> tuple[Connected, tuple[tuple[str, int], ...], tuple[tuple[str, int, int], ...]]:
    seen = Recorder()
    link = SupervisorLink(work_dir, seen.callbacks())
    inherited = await link.connect()
    return Connected(link, seen, asyncio.create_task(link.run())), inherited.running, inherited.exited


@pytest.fixture
def work_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "agent"
    # Stop whatever a test left running, so the supervisor exits with it.
    for pidfile in tmp_path.rglob("pid"):
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.killpg(int(pidfile.read_text()), signal.SIGKILL)


async def test_a_task_runs_in_its_sandbox_and_its_exit_status_is_reported(work_dir: Path) -> None:
    agent, running, exited = await connect(work_dir)
    assert running == () and exited == ()
    sandbox = work_dir / "slaves" / "a" / "frameworks" / "f" / "executors" / "t" / "runs" / "c1"
    agent.link.spawn(
        "c1", ["/bin/sh", "-c", "pwd; echo oops >&2; exit 3"], {"PATH": "/usr/bin:/bin"}, sandbox
    )
    await eventually(lambda: "c1" in agent.seen.exited)
    assert os.waitstatus_to_exitcode(agent.seen.exited["c1"]) == 3
    assert (sandbox / "stdout").read_text() == f"{sandbox}\n"
    assert (sandbox / "stderr").read_text() == "oops\n"
    assert os.readlink(sandbox.parent / "latest") == "c1"
    await agent.close()


async def test_an_unknown_program_fails_the_task_with_the_shells_status(work_dir: Path) -> None:
    agent, _, _ = await connect(work_dir)
    sandbox = work_dir / "s" / "runs" / "c2"
    agent.link.spawn("c2", ["/no/such/program"], {"PATH": "/usr/bin:/bin"}, sandbox)
    await eventually(lambda: "c2" in agent.seen.exited)
    assert os.waitstatus_to_exitcode(agent.seen.exited["c2"]) == 127
    assert "/no/such/program" in (sandbox / "stderr").read_text()
    await agent.close()


async def test_a_task_outlives_the_agent_and_its_exit_waits_for_the_next_agent(work_dir: Path) -> None:
    first, _, _ = await connect(work_dir)
    sandbox = work_dir / "s" / "runs" / "c3"
    gate = work_dir / "gate"
    script = f"echo $$ > pid; while [ ! -e {gate} ]; do sleep 0.02; done; exit 7"
    first.link.spawn("c3", ["/bin/sh", "-c", script], {"PATH": "/usr/bin:/bin"}, sandbox)
    await eventually(lambda: "c3" in first.seen.started)
    pid = first.seen.started["c3"]
    await first.close()  # the agent goes away; the task keeps running

    os.kill(pid, 0)  # still alive
    gate.touch()  # let it finish while no agent is connected
    await eventually(lambda: not Path(f"/proc/{pid}").exists())  # the supervisor reaped it

    second, running, exited = await connect(work_dir)
    assert running == ()
    [(cid, exited_pid, status)] = exited
    assert (cid, exited_pid, os.waitstatus_to_exitcode(status)) == ("c3", pid, 7)
    second.link.collected(pid)
    await second.close()


async def test_tasks_get_default_signal_handling(work_dir: Path) -> None:
    agent, _, _ = await connect(work_dir)
    sandbox = work_dir / "s" / "runs" / "c4"
    agent.link.spawn(
        "c4",
        ["/bin/sh", "-c", "grep -E '^Sig(Ign|Blk)' /proc/self/status"],
        {"PATH": "/usr/bin:/bin"},
        sandbox,
    )
    await eventually(lambda: "c4" in agent.seen.exited)
    masks = dict(line.split(":\t") for line in (sandbox / "stdout").read_text().splitlines())
    assert int(masks["SigBlk"], 16) == 0
    assert (
        int(masks["SigIgn"], 16) & (1 << (signal.SIGPIPE - 1)) == 0
    )  # Python ignores SIGPIPE; tasks must not
    await agent.close()

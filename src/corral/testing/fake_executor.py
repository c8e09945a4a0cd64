"""Fake processes and fake custom executors for SimCluster: no fork, no exec, no real signals.

`FakeProcesses` is the process table of the whole simulated cluster. A `Launch` effect becomes a
`FakeProcess` with a fake pid; it runs until the test ends it (`SimCluster.exit`) or a `Signal` effect
reaches it. Rule 1: a signal ends a running process with that signal, except SIGTERM to a process told to
ignore it (`ignore_sigterm`), which only records it, so a test can watch the agent escalate to SIGKILL.
Rule 2: a process ends once; later signals are recorded and change nothing.

`FakeExecutor` is a custom executor's process seen from the test: it makes the v1 executor calls a real
executor would (as the JSON it would POST, decoded and checked by the agent's edge), and records the events
the agent streams back to it. It does nothing on its own: the test subscribes it, reports its tasks'
states and ends its process.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from signal import SIGTERM
from typing import Protocol

from corral.agent.effects import Launch
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.protocol import executor as ex
from corral.protocol.json import JsonObject, b64encode, ident
from corral.protocol.mesos import TaskInfo

FIRST_PID = 1000


def exit_status(code: int) -> int:
    """The raw wait status of a process that exited with `code` (what `os.waitpid` returns)."""
    return (code & 0xFF) << 8


def signal_status(signal: int) -> int:
    """The raw wait status of a process terminated by `signal`."""
    return signal & 0x7F


@dataclass(slots=True, eq=False)
class FakeProcess:
    pid: int
    agent: str  # the hostname of the agent that launched it
    launch: Launch
    framework_id: FrameworkId
    executor_id: ExecutorId  # the task id, for a command task
    is_command: bool
    ignores_sigterm: bool = False
    signals: list[int] = field(default_factory=list)
    wait_status: int | None = None

    @property
    def container_id(self) -> ContainerId:
        return self.launch.container_id

    @property
    def is_running(self) -> bool:
        return self.wait_status is None


class FakeProcesses:
    def __init__(self, first_pid: int = FIRST_PID) -> None:
        self._pids = itertools.count(first_pid)
        self.by_pid: dict[int, FakeProcess] = {}
        self._ignoring_sigterm: set[str] = set()
        self._failing: dict[str, str] = {}

    def ignore_sigterm(self, name: str) -> None:
        """The process of task (or executor) `name`, running or yet to start, ignores SIGTERM."""
        self._ignoring_sigterm.add(name)
        for process in self.by_pid.values():
            if process.executor_id == name:
                process.ignores_sigterm = True

    def fail_launch(self, name: str, message: str) -> None:
        """The next launch of task (or executor) `name` fails (its fetch, its sandbox or its spawn)."""
        self._failing[name] = message

    def launch_failure(self, name: str) -> str | None:
        """Why this launch of `name` fails, if a test said it would (once)."""
        return self._failing.pop(name, None)

    def spawn(
        self,
        agent: str,
        launch: Launch,
        *,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        is_command: bool,
    ) -> FakeProcess:
        process = FakeProcess(
            pid=next(self._pids),
            agent=agent,
            launch=launch,
            framework_id=framework_id,
            executor_id=executor_id,
            is_command=is_command,
            ignores_sigterm=executor_id in self._ignoring_sigterm,
        )
        self.by_pid[process.pid] = process
        return process

    def signal(self, pid: int, signal: int) -> FakeProcess | None:
        """Deliver `signal` to `pid`'s process group; the process if it ended because of it."""
        process = self.by_pid.get(pid)
        if process is None:
            return None
        process.signals.append(signal)
        if not process.is_running or (signal == SIGTERM and process.ignores_sigterm):
            return None
        process.wait_status = signal_status(signal)
        return process

    def end(self, process: FakeProcess, wait_status: int) -> bool:
        """End `process` with `wait_status`; False if it had already ended."""
        if not process.is_running:
            return False
        process.wait_status = wait_status
        return True

    def find(self, name: str) -> FakeProcess:
        """The latest process of task or executor `name` (a command task's executor id is its task id)."""
        matches = [p for p in self.by_pid.values() if p.executor_id == name]
        if not matches:
            raise LookupError(f"no process was launched for {name!r}")
        running = [p for p in matches if p.is_running]
        return (running or matches)[-1]

    def running(self) -> list[FakeProcess]:
        return [p for p in self.by_pid.values() if p.is_running]


class ExecutorEdge(Protocol):
    """What a fake executor reaches: the agent's `POST /api/v1/executor`, and its own process's end."""

    def executor_call(self, executor: FakeExecutor, call: JsonObject) -> int:
        """POST `call`; returns the HTTP status the agent's edge answers (200 or 202 when accepted)."""
        ...

    def executor_exit(self, executor: FakeExecutor, wait_status: int) -> None: ...

    def now(self) -> float: ...


class FakeExecutor:
    def __init__(self, process: FakeProcess, edge: ExecutorEdge, uuids: itertools.count[int]) -> None:
        """`uuids` numbers its updates' uuids; share it with the agents' so that no two uuids collide."""
        self.process = process
        self._edge = edge
        self._uuids = uuids
        self.subscribed = False  # its SUBSCRIBE stream is open
        self.events: list[ex.Event] = []

    @property
    def executor_id(self) -> ExecutorId:
        return self.process.executor_id

    @property
    def framework_id(self) -> FrameworkId:
        return self.process.framework_id

    # ------------------------------------------------------------ what it hears

    def receive(self, event: ex.Event) -> None:
        self.events.append(event)

    def launched(self) -> list[TaskInfo]:
        """Every task the agent handed it, in order (LAUNCH and LAUNCH_GROUP)."""
        out: list[TaskInfo] = []
        for event in self.events:
            if isinstance(event, ex.Launch):
                out.append(event.task)
            elif isinstance(event, ex.LaunchGroup):
                out.extend(event.tasks)
        return out

    def messages(self) -> list[bytes]:
        return [e.data for e in self.events if isinstance(e, ex.FrameworkMessage)]

    def kills(self) -> list[TaskId]:
        return [e.task_id for e in self.events if isinstance(e, ex.Kill)]

    def acknowledged(self) -> list[TaskId]:
        return [e.task_id for e in self.events if isinstance(e, ex.Acknowledged)]

    def was_shut_down(self) -> bool:
        return any(isinstance(e, ex.Shutdown) for e in self.events)

    # ------------------------------------------------------------ what it says (the v1 executor API)

    def _call(self, kind: str, body: JsonObject | None = None) -> int:
        call: JsonObject = {
            "type": kind,
            "framework_id": ident(self.framework_id),
            "executor_id": ident(self.executor_id),
        }
        if body is not None:
            call[kind.lower()] = body
        return self._edge.executor_call(self, call)

    def subscribe(self) -> int:
        return self._call("SUBSCRIBE", {"unacknowledged_tasks": [], "unacknowledged_updates": []})

    def update(
        self,
        task_id: str,
        state: TaskState,
        *,
        message: str | None = None,
        data: bytes | None = None,
    ) -> int:
        status: JsonObject = {
            "task_id": ident(task_id),
            "state": state.value,
            "source": "SOURCE_EXECUTOR",
            "uuid": b64encode(next(self._uuids).to_bytes(16, "big")),
            "timestamp": self._edge.now(),
        }
        if message is not None:
            status["message"] = message
        if data is not None:
            status["data"] = b64encode(data)
        return self._call("UPDATE", {"status": status})

    def message(self, data: bytes) -> int:
        return self._call("MESSAGE", {"data": b64encode(data)})

    def exit(self, code: int = 0) -> None:
        """The executor process exits (after, say, its SHUTDOWN)."""
        self._edge.executor_exit(self, exit_status(code))

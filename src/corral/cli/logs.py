"""`corral task logs`: find a task's sandbox and print its stdout or stderr through `/files/read`.

The sandbox is found as upstream tools find it (mesos.md c.5): the task's agent from the master's
`/master/state`, then the agent's `/state` -> executor `directory`. Files are read from the agent in 64 KiB
pages; if the agent cannot be reached directly the master's `/files` proxy is tried with the same path.
With `follow`, growth is polled until the task is terminal and the file is drained.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from corral.cli.views import TaskRow, find_sandbox, read_master_state
from corral.core.errors import DecodeError
from corral.net.client import Client, ClientError, Params
from corral.protocol.json import Reader

PAGE = 64 * 1024
POLL_INTERVAL = 0.5


@dataclass(slots=True)
class LogReader:
    master: Client
    task_id: str
    filename: str = "stdout"
    poll_interval: float = POLL_INTERVAL
    sleep: Callable[[float], None] = time.sleep
    connect: Callable[[str], Client] = lambda address: Client(address, name="agent")
    _agent_address: str = field(default="", init=False)

    def task(self) -> TaskRow:
        try:
            view = read_master_state(self.master.get_json("/master/state"))
        except DecodeError as e:
            raise ClientError(f"unexpected /master/state from the master: {e}") from None
        task = view.find_task(self.task_id)
        if task is None:
            raise ClientError(f"no task {self.task_id!r} on the master at {self.master.address}")
        agent = view.find_agent(task.agent_id)
        if agent is None:
            raise ClientError(f"task {self.task_id} is not on any agent the master knows yet ({task.state})")
        self._agent_address = agent.address
        return task

    def sandbox(self, task: TaskRow) -> str | None:
        with self.connect(self._agent_address) as agent:
            state = agent.get_json("/state")
        try:
            return find_sandbox(
                state, framework_id=task.framework_id, task_id=task.id, executor_id=task.executor_id
            )
        except DecodeError as e:
            raise ClientError(f"unexpected /state from the agent at {self._agent_address}: {e}") from None

    def _read(self, agent: Client, path: str, offset: int) -> str | None:
        """One page at `offset`; None if the file does not exist (yet)."""
        params: Params = {"path": path, "offset": offset, "length": PAGE}
        try:
            try:
                page = agent.get_json("/files/read", params)
            except ClientError as e:
                if e.status is not None:
                    raise
                page = self.master.get_json("/files/read", params)  # the agent is unreachable: try the proxy
        except ClientError as e:
            if e.status == 404:
                return None
            raise
        try:
            return Reader(page, "/files/read").opt_text("data") or ""
        except DecodeError as e:
            raise ClientError(f"unexpected /files/read answer: {e}") from None

    def drain(self, agent: Client, path: str, offset: int, out: TextIO) -> tuple[int, bool]:
        """Print everything from `offset`; returns the new offset and whether the file exists."""
        while True:
            data = self._read(agent, path, offset)
            if data is None:
                return offset, False
            if not data:
                return offset, True
            out.write(data)
            out.flush()
            offset += len(data.encode("utf-8", "surrogateescape"))

    def run(self, out: TextIO, *, follow: bool) -> None:
        task = self.task()
        directory = self.sandbox(task)
        while directory is None:
            if not follow or task.is_terminal:
                raise ClientError(f"task {task.id} has no sandbox on agent {task.agent} ({task.state})")
            self.sleep(self.poll_interval)
            task = self.task()
            directory = self.sandbox(task)
        path = f"{directory.rstrip('/')}/{self.filename}"
        offset = 0
        with self.connect(self._agent_address) as agent:
            while True:
                # Read the state before draining, so output written before the task ended is never missed.
                done = task.is_terminal
                offset, exists = self.drain(agent, path, offset, out)
                if not follow:
                    if not exists:
                        raise ClientError(f"task {task.id} has no {self.filename} yet ({task.state})")
                    return
                if done:
                    return
                self.sleep(self.poll_interval)
                task = self.task()

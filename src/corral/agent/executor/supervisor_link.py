"""The agent's side of its task supervisor (see `supervisor.py` for why it is a process of its own).

`SupervisorLink.connect` finds the supervisor serving the agent's work dir, starting one if there is none,
and returns what it reported on connection: tasks still running and exits nobody collected (a restarted
agent's inheritance). Requests are one-line writes; replies arrive through the callbacks. If the
supervisor goes away, `run` raises `SupervisorLost`, since the agent can no longer see its tasks end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from corral.agent.executor.supervisor import socket_name
from corral.core.errors import CorralError
from corral.protocol.json import JsonObject

log = logging.getLogger(__name__)

START_TIMEOUT = 10.0
CgroupOp = Literal["create", "resize", "destroy"]


class SupervisorLost(CorralError):
    """The connection to the supervisor broke or could not be made."""


@dataclass(frozen=True, slots=True)
class Inherited:
    """What a supervisor holds for an agent that connects: running tasks and uncollected exits."""

    running: tuple[tuple[str, int], ...]  # (container id, pid)
    exited: tuple[tuple[str, int, int], ...]  # (container id, pid, raw wait status)


@dataclass(frozen=True, slots=True)
class Callbacks:
    started: Callable[[str, int], None]  # container id, pid
    failed: Callable[[str, str], None]  # container id, message
    exited: Callable[[str, int, int], None]  # container id, pid, raw wait status
    # container id, the limit and the peak usage: the OOM killer struck in it (just before its `exited`)
    oom: Callable[[str, dict[str, int | None]], None] | None = None


class SupervisorLink:
    def __init__(self, work_dir: Path, callbacks: Callbacks) -> None:
        self._work_dir = work_dir
        self._name = socket_name(work_dir)
        self._log = work_dir / "supervisor.log"
        self._callbacks = callbacks
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> Inherited:
        """Connect to the work dir's supervisor, starting it first if none is running."""
        try:
            self._reader, self._writer = await asyncio.open_unix_connection(self._name)
        except OSError:
            self._start()
            self._reader, self._writer = await self._wait_until_listening()
        hello = orjson.loads(await self._reader.readuntil(b"\n"))
        running = tuple((str(t["id"]), int(t["pid"])) for t in hello["running"])
        exited = tuple((str(t["id"]), int(t["pid"]), int(t["status"])) for t in hello["exited"])
        return Inherited(running=running, exited=exited)

    def _start(self) -> None:
        self._log.parent.mkdir(parents=True, exist_ok=True)
        with open(self._log, "ab") as log_file:
            # Its own session: the supervisor and its tasks outlive the agent.
            subprocess.Popen(
                [sys.executable, "-m", "corral.agent.executor.supervisor", str(self._work_dir)],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=log_file,
                start_new_session=True,
            )

    async def _wait_until_listening(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                return await asyncio.open_unix_connection(self._name)
            except OSError as e:
                if time.monotonic() > deadline:
                    raise SupervisorLost(f"the task supervisor did not start (see {self._log}): {e}") from e
                await asyncio.sleep(0.02)

    def spawn(
        self,
        container_id: str,
        argv: Sequence[str],
        environment: Mapping[str, str],
        sandbox: Path,
        isolation: JsonObject | None = None,
        *,
        user: str | None = None,
    ) -> None:
        self._write({"op": "spawn", "id": container_id, "argv": list(argv), "env": dict(environment),
                     "sandbox": str(sandbox), "isolation": isolation or {}, "user": user})  # fmt: skip

    def collected(self, pid: int) -> None:
        self._write({"op": "collected", "pid": pid})

    def cgroups(self, op: CgroupOp, container_id: str, spec: JsonObject) -> None:
        """Make, resize or remove a container's cgroups (`CgroupSpec`) outside a spawn."""
        self._write({"op": op, "id": container_id, "cgroups": spec})

    def _write(self, request: dict[str, object]) -> None:
        if self._writer is None:
            raise SupervisorLost("not connected to the task supervisor")
        self._writer.write(orjson.dumps(request) + b"\n")

    async def run(self) -> None:
        """Deliver the supervisor's replies until the connection breaks (SupervisorLost) or cancellation."""
        if self._reader is None:
            raise SupervisorLost("not connected to the task supervisor")
        try:
            while line := await self._reader.readline():
                self._dispatch(orjson.loads(line))
        except (OSError, orjson.JSONDecodeError) as e:
            raise SupervisorLost(f"the task supervisor connection broke: {e}") from e
        raise SupervisorLost("the task supervisor closed the connection")

    def _dispatch(self, reply: dict[str, object]) -> None:
        match reply.get("op"):
            case "started":
                self._callbacks.started(str(reply["id"]), int(str(reply["pid"])))
            case "failed":
                self._callbacks.failed(str(reply["id"]), str(reply["error"]))
            case "exited":
                if isinstance(oom := reply.get("oom"), dict) and self._callbacks.oom is not None:
                    report = {str(k): v if isinstance(v, int) else None for k, v in oom.items()}
                    self._callbacks.oom(str(reply["id"]), report)
                self._callbacks.exited(str(reply["id"]), int(str(reply["pid"])), int(str(reply["status"])))
            case other:
                log.warning("unexpected reply from the task supervisor: %r", other)

    async def aclose(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

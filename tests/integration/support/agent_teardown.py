"""Stopping an agent that runs in the test's own event loop, and what it leaves behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Sequence

from corral.agent.runtime import AgentRuntime


async def stop_agent(agent: AgentRuntime, tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel `tasks` (the agent's and its peers'), then kill and reap its executors: an agent that stops
    leaves its tasks running, as upstream's does; a test must not."""
    pids = [e.pid for e in agent.core.state.executors() if e.pid is not None]
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            await asyncio.to_thread(os.waitpid, pid, 0)

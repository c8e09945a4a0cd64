"""The runtime shell: effects land on the right queues; pending allocations coalesce per loop turn."""

from __future__ import annotations

import asyncio
import contextlib

from corral.core.resources import Resources
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.protocol.agent import Register, Registered
from corral.protocol.json import loads
from corral.protocol.mesos import AgentInfo, FrameworkInfo
from corral.protocol.scheduler import Subscribe, Subscribed
from corral.protocol.scheduler_client import decode_event
from corral.testing.clock import FakeClock


async def test_a_burst_of_subscriptions_in_one_loop_turn_costs_one_allocation() -> None:
    runtime = MasterRuntime(MasterConfig(), clock=FakeClock(), master_id="M")
    ticker = asyncio.create_task(runtime.run())
    try:
        await asyncio.sleep(0)  # the first tick
        runs = runtime.core.state.metrics["allocation_runs"]
        queues = [
            runtime.open_stream(None, Subscribe(framework_info=FrameworkInfo(user="u", name=f"fw{i}")))[1]
            for i in range(3)
        ]
        for _ in range(5):  # the fake clock stands still: only the pending allocation can run
            await asyncio.sleep(0)
        assert runtime.core.state.metrics["allocation_runs"] == runs + 1
        first = queues[0].get_nowait()
        assert first is not None
        assert isinstance(decode_event(loads(first.split(b"\n", 1)[1])), Subscribed)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


async def test_an_agent_stream_starts_with_registered_and_ends_as_a_disconnection() -> None:
    runtime = MasterRuntime(MasterConfig(), clock=FakeClock(), master_id="M")
    register = Register(
        agent_info=AgentInfo(hostname="h", resources=Resources.of(cpus=1, mem=64)), ip="127.0.0.1"
    )
    stream = runtime.agent_stream(register)
    registered = await anext(stream)
    assert isinstance(registered, Registered)
    assert runtime.core.state.agents[registered.agent_id].connected
    await stream.aclose()
    assert not runtime.core.state.agents[registered.agent_id].connected

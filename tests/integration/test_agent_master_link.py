"""HttpMasterLink against a small master speaking Corral's agent protocol over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from corral.agent.master_link import HttpMasterLink
from corral.core.ids import AgentId, ExecutorId, FrameworkId, TaskId
from corral.net.agent_link import LinkError
from corral.net.leader import LeaderTracker, open_tracker
from corral.net.serve import make_socket, serve
from corral.protocol import recordio
from corral.protocol.agent import (
    AGENT_ID_HEADER,
    AgentToMaster,
    ExecutorToFramework,
    KillTask,
    Ping,
    Register,
    Registered,
    decode_agent_message,
    encode_master_message,
)
from corral.protocol.json import dumps, loads
from corral.protocol.mesos import AgentInfo, MasterInfo

pytestmark = pytest.mark.integration

MASTER_INFO = MasterInfo(id="M", ip="127.0.0.1", port=5050, hostname="m")
KILL = KillTask(framework_id=FrameworkId("F"), task_id=TaskId("t"), grace_period=2.0)


class HttpMaster:
    def __init__(self, *, hold_open: bool = False) -> None:
        self.hold_open = hold_open  # after its messages, keep the stream open and silent (a stopped master)
        self.registrations: list[Register] = []
        self.calls: list[tuple[str | None, AgentToMaster]] = []
        self.app = Starlette(routes=[Route("/api/v1/agent", self.agent, methods=["POST"])])

    async def agent(self, request: Request) -> Response:
        assert request.headers["content-type"] == "application/json"
        message = decode_agent_message(loads(await request.body()))
        if isinstance(message, Register):
            self.registrations.append(message)

            async def records() -> AsyncIterator[bytes]:
                for reply in (Registered(agent_id=AgentId("M-S9"), master_info=MASTER_INFO), Ping(), KILL):
                    yield recordio.encode(dumps(encode_master_message(reply)))
                if self.hold_open:
                    await asyncio.Event().wait()

            return StreamingResponse(records(), media_type="application/json")
        if request.headers.get(AGENT_ID_HEADER) != "M-S9":
            return PlainTextResponse("Agent is not registered", status_code=403)
        self.calls.append((request.headers.get(AGENT_ID_HEADER), message))
        return Response(status_code=202)


@contextlib.asynccontextmanager
async def serving(master: HttpMaster) -> AsyncIterator[str]:
    sock = make_socket("127.0.0.1", 0)
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    task = asyncio.create_task(serve(master.app, sock, name="fake master"))
    try:
        yield address
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_register_streams_the_masters_messages_and_calls_are_posted_with_the_agent_id() -> None:
    master = HttpMaster()
    async with serving(master) as address, open_tracker(address) as leader:
        link = HttpMasterLink(leader)
        try:
            register = Register(agent_info=AgentInfo(hostname="h", port=5051), ip="127.0.0.1")
            received = [m async for m in link.stream(register)]
            assert received == [Registered(agent_id=AgentId("M-S9"), master_info=MASTER_INFO), Ping(), KILL]
            assert master.registrations == [register]

            message = ExecutorToFramework(
                framework_id=FrameworkId("F"), executor_id=ExecutorId("e"), data=b"hi"
            )
            await link.send(AgentId("M-S9"), message)
            assert master.calls == [("M-S9", message)]
            with pytest.raises(LinkError, match="answered 403"):
                await link.send(AgentId("M-S1"), message)
        finally:
            await link.aclose()


async def test_an_unreachable_master_is_a_link_error() -> None:
    sock = make_socket("127.0.0.1", 0)
    address = f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()  # nothing listens there now
    async with open_tracker(address) as leader:
        link = HttpMasterLink(leader)
        await _expect_link_errors(link)


async def _expect_link_errors(link: HttpMasterLink) -> None:
    try:
        with pytest.raises(LinkError, match="ConnectError"):
            async for _ in link.stream(Register(agent_info=AgentInfo(hostname="h"), ip="127.0.0.1")):
                pass
        with pytest.raises(LinkError):
            message = ExecutorToFramework(
                framework_id=FrameworkId("F"), executor_id=ExecutorId("e"), data=b""
            )
            await link.send(AgentId("M-S9"), message)
    finally:
        await link.aclose()


class SwitchableDetector:
    """A MasterDetector whose leader the test names."""

    def __init__(self) -> None:
        self.leaders: asyncio.Queue[MasterInfo | None] = asyncio.Queue()

    async def watch(self) -> AsyncGenerator[MasterInfo | None, None]:
        while True:
            yield await self.leaders.get()


async def test_a_stream_ends_when_another_master_is_elected_even_if_the_old_one_stays_silent() -> None:
    master = HttpMaster(hold_open=True)
    detector = SwitchableDetector()
    async with serving(master) as address, LeaderTracker(detector) as leader:
        host, port = address.split(":")
        await detector.leaders.put(MasterInfo(id="a", ip=host, port=int(port), hostname=host))
        link = HttpMasterLink(leader)
        try:
            register = Register(agent_info=AgentInfo(hostname="h", port=5051), ip="127.0.0.1")
            received = []
            with pytest.raises(LinkError, match="no longer the leading master"):
                async for message in link.stream(register):
                    received.append(message)
                    if isinstance(message, Ping):
                        await detector.leaders.put(MasterInfo(id="b", ip=host, port=1, hostname=host))
            assert received[:2] == [Registered(agent_id=AgentId("M-S9"), master_info=MASTER_INFO), Ping()]
        finally:
            await link.aclose()


async def test_without_a_leader_registration_is_a_link_error() -> None:
    async with LeaderTracker(SwitchableDetector(), describe="zk://nowhere/mesos") as leader:
        link = HttpMasterLink(leader, timeout=0.05)
        try:
            with pytest.raises(LinkError, match="no leading master in zk://nowhere/mesos"):
                async for _ in link.stream(Register(agent_info=AgentInfo(hostname="h"), ip="127.0.0.1")):
                    pass
        finally:
            await link.aclose()


@pytest.mark.parametrize("elected", [True, False])
async def test_a_follower_answer_from_the_elected_master_is_retried_at_once_not_after_the_backoff(
    elected: bool,
) -> None:
    """ZooKeeper tells the agent of an election before the winner's own watch fires: its 307 then means
    "not yet", and the agent asks again promptly. From a master no election named, a 307 earns the backoff."""
    follower = Starlette(
        routes=[Route("/api/v1/agent", lambda _: Response(status_code=307), methods=["POST"])]
    )
    sock = make_socket("127.0.0.1", 0)
    host, port = sock.getsockname()[:2]
    task = asyncio.create_task(serve(follower, sock, name="follower"))
    detector = SwitchableDetector()
    try:
        async with LeaderTracker(detector, elected=elected) as leader:
            await detector.leaders.put(MasterInfo(id="a", ip=host, port=port, hostname=host))
            link = HttpMasterLink(leader)
            try:
                with pytest.raises(LinkError, match="answered 307"):
                    async for _ in link.stream(Register(agent_info=AgentInfo(hostname="h"), ip="127.0.0.1")):
                        pass
                if elected:
                    await asyncio.wait_for(link.pause(3600), timeout=30)
                else:
                    with pytest.raises(TimeoutError):
                        await asyncio.wait_for(link.pause(3600), timeout=0.3)
            finally:
                await link.aclose()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

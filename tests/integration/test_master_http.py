"""The master over real HTTP on 127.0.0.1: the v1 scheduler API as pymesos sees it (mesos.md a.1-a.3, a.7, h),
Corral's agent API, and the operator endpoints (c.1-c.5). A fake agent talks through `LocalMasterLink` or
HTTP; the scheduler is raw httpx streaming, so every byte the server sends is the one checked."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support.serving import serving

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.net.agent_link import LocalMasterLink
from corral.net.serve import make_socket
from corral.protocol import recordio
from corral.protocol.agent import (
    AcknowledgeUpdate,
    MasterToAgent,
    Register,
    Registered,
    RunTask,
    StatusUpdate,
    decode_master_message,
    encode_agent_message,
)
from corral.protocol.json import JsonObject, JsonValue, dumps, loads
from corral.protocol.mesos import AgentInfo, CommandInfo, Source, TaskInfo, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Error,
    Event,
    Heartbeat,
    Launch,
    Offers,
    Subscribed,
    Update,
)
from corral.protocol.scheduler_client import decode_event, encode_call

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json"}
UUID = b"0123456789abcdef"
DEADLINE = 5.0
SUBSCRIBE: JsonObject = {
    "type": "SUBSCRIBE",
    "subscribe": {"framework_info": {"user": "alice", "name": "fw", "failover_timeout": 100}},
}
T = TypeVar("T")


async def wait_for(predicate: Callable[[], bool]) -> None:
    """Poll state the master keeps in plain fields (there is no event to wait on), within DEADLINE."""
    async with asyncio.timeout(DEADLINE):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


@dataclass
class Master:
    runtime: MasterRuntime
    url: str
    client: httpx.AsyncClient


@pytest.fixture
async def master() -> AsyncIterator[Master]:
    sock = make_socket("127.0.0.1", 0)
    config = MasterConfig(ip="127.0.0.1", port=sock.getsockname()[1], allocation_interval=0.05)
    runtime = MasterRuntime(config, master_id="M")
    url = f"http://127.0.0.1:{config.port}"
    ticker = asyncio.create_task(runtime.run())
    try:
        async with (
            serving(runtime.app, sock, deadline=10),
            httpx.AsyncClient(base_url=url, timeout=10) as client,
        ):
            yield Master(runtime=runtime, url=url, client=client)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


class RecordStream(Generic[T]):
    """The client's side of a RecordIO stream: records decoded as they arrive, chunking notwithstanding."""

    def __init__(self, response: httpx.Response, decode: Callable[[JsonValue], T]) -> None:
        self._chunks = response.aiter_raw()
        self._decoder = recordio.Decoder()
        self._decode = decode
        self._pending: deque[T] = deque()

    async def next(self) -> T:
        async with asyncio.timeout(DEADLINE):
            while not self._pending:
                chunk = await anext(self._chunks)
                self._pending.extend(self._decode(loads(r)) for r in self._decoder.feed(chunk))
        return self._pending.popleft()

    async def next_of(self, kind: type[E]) -> E:
        while not isinstance(record := await self.next(), kind):
            pass
        return record


E = TypeVar("E")


@contextlib.asynccontextmanager
async def subscribed(
    master: Master, body: JsonObject = SUBSCRIBE
) -> AsyncIterator[tuple[RecordStream[Event], FrameworkId, str]]:
    headers = {**JSON, "Accept": "application/json", "Connection": "close"}
    async with (
        httpx.AsyncClient(base_url=master.url, timeout=10) as client,
        client.stream("POST", "/api/v1/scheduler", content=dumps(body), headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert response.headers["transfer-encoding"] == "chunked"
        stream = RecordStream(response, decode_event)  # it insists on upstream's nested event bodies
        first = await stream.next()
        assert isinstance(first, Subscribed)
        yield stream, first.framework_id, response.headers["mesos-stream-id"]


@dataclass
class FakeAgent:
    inbox: asyncio.Queue[MasterToAgent]
    agent_id: AgentId
    link: LocalMasterLink

    async def receive(self, kind: type[E]) -> E:
        async with asyncio.timeout(DEADLINE):
            while not isinstance(message := await self.inbox.get(), kind):
                pass
        return message


@contextlib.asynccontextmanager
async def fake_agent(master: Master, *, port: int = 5051) -> AsyncIterator[FakeAgent]:
    link = LocalMasterLink(master.runtime)
    inbox: asyncio.Queue[MasterToAgent] = asyncio.Queue()
    info = AgentInfo(hostname="127.0.0.1", port=port, resources=Resources.of(cpus=2, mem=1024))

    async def run() -> None:
        async for message in link.stream(Register(agent_info=info, ip="127.0.0.1")):
            inbox.put_nowait(message)

    task = asyncio.create_task(run())
    async with asyncio.timeout(DEADLINE):
        registered = await inbox.get()
    assert isinstance(registered, Registered)
    try:
        yield FakeAgent(inbox=inbox, agent_id=registered.agent_id, link=link)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def call(master: Master, body: JsonObject, stream_id: str | None) -> httpx.Response:
    headers = dict(JSON)
    if stream_id is not None:
        headers["Mesos-Stream-Id"] = stream_id
    return await master.client.post("/api/v1/scheduler", content=dumps(body), headers=headers)


# ---------------------------------------------------------------- the whole pymesos exchange


async def test_subscribe_offer_accept_update_acknowledge(master: Master) -> None:
    async with fake_agent(master) as agent, subscribed(master) as (stream, framework_id, stream_id):
        assert isinstance(await stream.next(), Heartbeat)  # at once, not after 15 s
        [offer] = (await stream.next_of(Offers)).offers
        assert offer.agent_id == agent.agent_id and offer.resources == Resources.of(cpus=2, mem=1024)
        task = TaskInfo(
            name="t1",
            task_id=TaskId("t1"),
            agent_id=agent.agent_id,
            resources=Resources.of(cpus=1),
            command=CommandInfo(value="sleep 100"),
        )
        accept = Accept(offer_ids=(offer.id,), operations=(Launch(tasks=(task,)),), refuse_seconds=5)
        response = await call(master, encode_call(framework_id, accept), stream_id)
        assert response.status_code == 202 and response.headers["content-length"] == "0"
        run = await agent.receive(RunTask)
        assert run.task.task_id == "t1" and run.framework_info.id == framework_id

        status = TaskStatus(
            task_id=TaskId("t1"), state=TaskState.TASK_RUNNING, source=Source.SOURCE_EXECUTOR, uuid=UUID
        )
        await agent.link.send(agent.agent_id, StatusUpdate(framework_id=framework_id, status=status))
        update = (await stream.next_of(Update)).status
        assert update.state == TaskState.TASK_RUNNING
        assert update.uuid == UUID and update.agent_id == agent.agent_id  # pymesos acks with both

        ack = Acknowledge(agent_id=agent.agent_id, task_id=update.task_id, uuid=UUID)
        assert (await call(master, encode_call(framework_id, ack), stream_id)).status_code == 202
        assert await agent.receive(AcknowledgeUpdate) == AcknowledgeUpdate(
            framework_id=framework_id, task_id=TaskId("t1"), uuid=UUID
        )

        state = (await master.client.get("/master/state")).json()
        [framework] = state["frameworks"]
        assert [(t["state"], t["slave_id"]) for t in framework["tasks"]] == [("TASK_RUNNING", agent.agent_id)]
        assert state["slaves"][0]["used_resources"]["cpus"] == 1.0
        metrics = (await master.client.get("/metrics/snapshot")).json()
        assert metrics["master/tasks_running"] == 1.0 and metrics["master/cpus_used"] == 1.0


async def test_a_closed_stream_disconnects_the_framework_and_calls_get_403(master: Master) -> None:
    async with subscribed(master) as (_, framework_id, stream_id):
        pass
    framework = master.runtime.core.framework(framework_id)
    assert framework is not None
    await wait_for(lambda: not framework.connected)
    response = await call(master, {"type": "REVIVE", "framework_id": {"value": framework_id}}, stream_id)
    assert (response.status_code, response.text) == (403, "Framework is not subscribed")


async def test_teardown_ends_the_stream(master: Master) -> None:
    async with subscribed(master) as (stream, framework_id, stream_id):
        response = await call(
            master, {"type": "TEARDOWN", "framework_id": {"value": framework_id}}, stream_id
        )
        assert response.status_code == 202
        with pytest.raises(StopAsyncIteration):  # the stream ends: pymesos reads that as a disconnect
            await stream.next_of(Error)


# ---------------------------------------------------------------- status codes (mesos.md a.3)


async def test_scheduler_endpoint_error_codes(master: Master) -> None:
    response = await master.client.get("/api/v1/scheduler")
    assert (response.status_code, response.headers["allow"]) == (405, "POST")
    response = await master.client.post(
        "/api/v1/scheduler", content=b"{}", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415
    response = await master.client.post("/api/v1/scheduler", content=b"{}")
    assert response.status_code == 400  # no Content-Type
    response = await master.client.post("/api/v1/scheduler", content=b"{not json", headers=JSON)
    assert response.status_code == 400
    response = await call(master, {"type": "UNKNOWN"}, None)
    assert response.status_code == 501
    response = await call(master, {"type": "REVIVE"}, "x")
    assert response.status_code == 400  # no framework_id
    response = await call(master, {"type": "REVIVE", "framework_id": {"value": "nobody"}}, "x")
    assert (response.status_code, response.text) == (400, "Framework cannot be found")
    response = await call(master, SUBSCRIBE, "a-stream-id")
    assert response.status_code == 400
    async with subscribed(master) as (_, framework_id, stream_id):
        revive: JsonObject = {"type": "REVIVE", "framework_id": {"value": framework_id}}
        response = await call(master, revive, None)
        assert response.status_code == 400 and "should include the 'Mesos-Stream-Id'" in response.text
        response = await call(master, revive, "not-" + stream_id)
        assert response.status_code == 400 and "didn't match" in response.text
        response = await call(master, revive, stream_id)
        assert (response.status_code, response.content) == (202, b"")
        stale: JsonObject = {
            "type": "DECLINE",
            "framework_id": {"value": framework_id},
            "decline": {"offer_ids": [{"value": "x"}]},
        }
        # A stale offer is never an HTTP error: pymesos would die of it.
        assert (await call(master, stale, stream_id)).status_code == 202


async def test_master_api_alias_and_removed_framework_error(master: Master) -> None:
    async with subscribed(master) as (_, framework_id, stream_id):
        await call(master, {"type": "TEARDOWN", "framework_id": {"value": framework_id}}, stream_id)
    body: JsonObject = {
        "type": "SUBSCRIBE",
        "framework_id": {"value": framework_id},
        "subscribe": {"framework_info": {"user": "a", "name": "n", "id": {"value": framework_id}}},
    }
    async with (
        httpx.AsyncClient(base_url=master.url) as client,
        client.stream("POST", "/master/api/v1/scheduler", content=dumps(body), headers=JSON) as response,
    ):
        assert response.status_code == 200
        assert await RecordStream(response, decode_event).next() == Error(
            message="Framework has been removed"
        )


# ---------------------------------------------------------------- fuzz: never a 5xx, never down


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
CALL_TYPES = ["SUBSCRIBE", "TEARDOWN", "ACCEPT", "DECLINE", "REVIVE", "SUPPRESS", "KILL", "SHUTDOWN"]
CALL_TYPES += ["ACKNOWLEDGE", "RECONCILE", "MESSAGE", "REQUEST", "UPDATE_FRAMEWORK", "UNKNOWN", "bogus"]
call_types = st.sampled_from(CALL_TYPES)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"type": call_types},
        optional={
            "framework_id": st.one_of(json_values, st.fixed_dictionaries({"value": st.text(max_size=8)})),
            "subscribe": json_values,
            "accept": json_values,
            "decline": json_values,
            "kill": json_values,
            "acknowledge": json_values,
            "reconcile": json_values,
            "message": json_values,
            "update_framework": json_values,
        },
    ),
)


async def test_the_scheduler_endpoint_never_answers_5xx_and_keeps_answering(master: Master) -> None:
    async with subscribed(master) as (_, framework_id, stream_id):
        known = {"value": framework_id}

        @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            body=st.one_of(bodies.map(dumps), st.binary(max_size=64)),
            use_known_framework=st.booleans(),
            send_stream_id=st.booleans(),
        )
        def fuzz(body: bytes, use_known_framework: bool, send_stream_id: bool) -> None:
            if use_known_framework and body.startswith(b"{"):
                with contextlib.suppress(DecodeError):
                    obj = loads(body)
                    if isinstance(obj, dict):
                        body = dumps({**obj, "framework_id": known})
            headers = {**JSON, **({"Mesos-Stream-Id": stream_id} if send_stream_id else {})}
            # A well-formed SUBSCRIBE streams forever: read the status line, then hang up.
            with client.stream("POST", "/api/v1/scheduler", content=body, headers=headers) as response:
                # 501 is upstream's answer to `"type":"UNKNOWN"`; nothing else may be a 5xx.
                assert response.status_code < 500 or response.status_code == 501, (body, response.status_code)

        with httpx.Client(base_url=master.url, timeout=10) as client:
            await asyncio.to_thread(fuzz)
    assert (await master.client.get("/health")).status_code == 200
    assert (await call(master, {"type": "UNKNOWN"}, None)).status_code == 501


# ---------------------------------------------------------------- Corral's agent API over HTTP


async def test_an_agent_registers_over_http_and_posts_messages(master: Master) -> None:
    register = encode_agent_message(
        Register(agent_info=AgentInfo(hostname="h", resources=Resources.of(cpus=1, mem=256)), ip="127.0.0.1")
    )
    async with (
        httpx.AsyncClient(base_url=master.url, timeout=10) as client,
        client.stream("POST", "/api/v1/agent", content=dumps(register), headers=JSON) as response,
    ):
        assert response.status_code == 200
        registered = await RecordStream(response, decode_master_message).next()
        assert isinstance(registered, Registered)
        agent_id = registered.agent_id
        status = TaskStatus(task_id=TaskId("t"), state=TaskState.TASK_RUNNING, uuid=UUID)
        message = dumps(encode_agent_message(StatusUpdate(framework_id=FrameworkId("nobody"), status=status)))
        posted = await client.post(
            "/api/v1/agent", content=message, headers={**JSON, "Corral-Agent-Id": agent_id}
        )
        assert posted.status_code == 202
        stranger = await client.post(
            "/api/v1/agent", content=message, headers={**JSON, "Corral-Agent-Id": "x"}
        )
        assert stranger.status_code == 403
        await wait_for(lambda: master.runtime.core.state.metrics["invalid_status_updates"] == 1)
    agent = master.runtime.core.state.agents[agent_id]
    await wait_for(lambda: not agent.connected)


# ---------------------------------------------------------------- operator endpoints (mesos.md c.1-c.5)


async def test_operator_endpoints(master: Master) -> None:
    version = (await master.client.get("/version")).json()
    assert tuple(int(n) for n in version["version"].split(".")) == (1, 11, 0)  # pymesos parses it so
    async with fake_agent(master), subscribed(master):
        for path in ("/master/state", "/state", "/state.json", "/master/state.json"):
            state = (await master.client.get(path)).json()
            assert state["leader_info"]["port"] == master.runtime.config.port
            assert state["activated_slaves"] == 1.0 and len(state["frameworks"]) == 1
            assert state["slaves"][0]["resources"] == {"cpus": 2.0, "gpus": 0.0, "mem": 1024.0, "disk": 0.0}
        jsonp = await master.client.get("/master/frameworks?jsonp=cb")
        assert jsonp.text.startswith("cb({") and jsonp.text.endswith("});")
        assert len((await master.client.get("/slaves")).json()["slaves"]) == 1
        assert (await master.client.get("/master/tasks?limit=10&order=asc")).json() == {"tasks": []}
        assert (await master.client.get("/master/tasks?limit=x")).status_code == 400
    for path in ("/health", "/master/health"):
        response = await master.client.get(path)
        assert (response.status_code, response.content) == (200, b"")
    redirect = await master.client.get("/master/redirect")
    assert (redirect.status_code, redirect.headers["location"]) == (
        307,
        f"//127.0.0.1:{master.runtime.config.port}",
    )
    metrics = (await master.client.get("/metrics/snapshot")).json()
    assert metrics["master/elected"] == 1.0 and "master/outstanding_offers" in metrics


async def test_files_are_proxied_to_the_agent_owning_the_path(master: Master) -> None:
    seen: list[str] = []

    async def browse(request: Request) -> Response:
        seen.append(request.query_params["path"])
        return JSONResponse([{"path": request.query_params["path"] + "/stdout", "size": 3}])

    agent_app = Starlette(routes=[Route("/files/browse", browse)])
    sock = make_socket("127.0.0.1", 0)
    async with serving(agent_app, sock, deadline=10), fake_agent(master, port=sock.getsockname()[1]) as agent:
        sandbox = f"/work/slaves/{agent.agent_id}/frameworks/F/executors/E/runs/latest"
        response = await master.client.get("/files/browse", params={"path": sandbox})
        assert response.status_code == 200 and response.json()[0]["path"] == sandbox + "/stdout"
        assert seen == [sandbox]
    missing = await master.client.get("/files/browse", params={"path": "/nowhere"})
    assert missing.status_code == 404 and "error" in missing.json()
    assert (await master.client.get("/files/read")).status_code == 400

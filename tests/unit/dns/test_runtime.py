"""runtime.py's follower, on a mock HTTP transport: rebuild on change only, keep the last table on failure,
follow the leader the master names."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import httpx
import pytest

from corral.dns.runtime import DnsConfig, DnsRuntime
from corral.dns.server import DnsSockets
from corral.protocol.json import JsonObject, JsonValue, dumps
from corral.security.credentials import Credential


def state(leader: str, task_names: list[str]) -> JsonObject:
    tasks: list[JsonValue] = [
        {"id": f"{n}.1", "name": n, "slave_id": "S0", "state": "TASK_RUNNING", "statuses": []}
        for n in task_names
    ]
    return {
        "leader": f"master@{leader}",
        "slaves": [{"id": "S0", "hostname": "a", "port": 5051, "pid": "slave(1)@10.0.0.10:5051"}],
        "frameworks": [{"name": "marathon", "hostname": "10.0.0.5", "tasks": tasks}],
    }


class FakeMasters:
    """Answers `/master/state` per host:port from `documents`; a missing host refuses the connection."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        where = f"{request.url.host}:{request.url.port}"
        self.asked.append(where)
        if where not in self.documents:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200, content=self.documents[where])


@pytest.fixture
def sockets() -> Iterator[DnsSockets]:
    # Unbound sockets: the follower only asks them for the listening address (none here).
    pair = DnsSockets(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.socket())
    yield pair
    pair.close()


async def test_a_changed_document_rebuilds_the_table_and_an_unchanged_one_does_not(
    sockets: DnsSockets,
) -> None:
    masters = FakeMasters()
    masters.documents["10.0.0.5:5050"] = dumps(state("10.0.0.5:5050", ["web"]))
    runtime = DnsRuntime(DnsConfig(master="10.0.0.5:5050"), sockets)
    async with httpx.AsyncClient(transport=httpx.MockTransport(masters)) as http:
        await runtime.refresh(http)
        first = runtime.table
        assert first is not None and first.a["web.marathon.mesos"] == ("10.0.0.10",)
        await runtime.refresh(http)
        assert runtime.table is first  # same bytes: not parsed again, same serial
        masters.documents["10.0.0.5:5050"] = dumps(state("10.0.0.5:5050", ["api"]))
        await runtime.refresh(http)
    assert runtime.table is not None and runtime.table.serial == first.serial + 1
    assert "api.marathon.mesos" in runtime.table.a
    assert "web.marathon.mesos" not in runtime.table.a


async def test_a_failed_or_malformed_read_keeps_the_last_table(sockets: DnsSockets) -> None:
    masters = FakeMasters()
    masters.documents["10.0.0.5:5050"] = dumps(state("10.0.0.5:5050", ["web"]))
    runtime = DnsRuntime(DnsConfig(master="10.0.0.5:5050"), sockets)
    async with httpx.AsyncClient(transport=httpx.MockTransport(masters)) as http:
        await runtime.refresh(http)
        table = runtime.table
        masters.documents["10.0.0.5:5050"] = b'{"frameworks": [{"tasks": [{"id": 1}]}]}'
        await runtime.refresh(http)
        assert runtime.table is table
        del masters.documents["10.0.0.5:5050"]
        await runtime.refresh(http)
        assert runtime.table is table


async def test_the_leader_named_by_the_master_is_followed(sockets: DnsSockets) -> None:
    masters = FakeMasters()
    masters.documents["10.0.0.5:5050"] = dumps(state("10.0.0.6:5050", ["web"]))  # not the leader
    masters.documents["10.0.0.6:5050"] = dumps(state("10.0.0.6:5050", ["api"]))
    runtime = DnsRuntime(DnsConfig(master="10.0.0.5:5050"), sockets)
    async with httpx.AsyncClient(transport=httpx.MockTransport(masters)) as http:
        await runtime.refresh(http)
        await runtime.refresh(http)
        assert runtime.table is not None and "api.marathon.mesos" in runtime.table.a
        del masters.documents["10.0.0.6:5050"]  # the leader goes away: back to --master
        await runtime.refresh(http)
        await runtime.refresh(http)
    assert masters.asked == ["10.0.0.5:5050", "10.0.0.6:5050", "10.0.0.6:5050", "10.0.0.5:5050"]


async def test_a_master_that_authenticates_its_state_gets_the_credential(sockets: DnsSockets) -> None:
    masters = FakeMasters()
    masters.documents["10.0.0.5:5050"] = dumps(state("10.0.0.5:5050", ["web"]))
    expected = "Basic " + base64.b64encode(b"dns:s3cret").decode()

    def authenticating(request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != expected:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="mesos"'})
        return masters(request)

    for credential, served in ((None, False), (Credential("dns", "s3cret"), True)):
        config = DnsConfig(master="10.0.0.5:5050", credential=credential)
        runtime = DnsRuntime(config, sockets, transport=httpx.MockTransport(authenticating))
        async with runtime.http_client() as http:
            await runtime.refresh(http)
        assert (runtime.table is not None) is served

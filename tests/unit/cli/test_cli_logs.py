"""`corral task logs`: sandbox lookup through master and agent, 64 KiB pages, and --follow."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import httpx
import pytest

from corral.cli.logs import PAGE, LogReader
from corral.net.client import Client, ClientError
from corral.protocol.json import JsonValue

SANDBOX = "/w/agent-0/sandboxes/t1"


@dataclass
class FakeCluster:
    """A master on :5050 and an agent on :5051, answering from this object's fields."""

    state: str = "TASK_RUNNING"
    files: dict[str, bytes] = field(default_factory=dict)
    reads: list[tuple[str, int, int]] = field(default_factory=list)
    agent_up: bool = True

    def master_state(self) -> JsonValue:
        task: JsonValue = {
            "id": "t1",
            "name": "t1",
            "framework_id": "f1",
            "slave_id": "s1",
            "state": self.state,
        }
        return {
            "id": "m",
            "slaves": [{"id": "s1", "hostname": "127.0.0.1", "pid": "slave(1)@127.0.0.1:5051"}],
            "frameworks": [{"id": "f1", "name": "fw", "tasks": [task], "completed_tasks": []}],
        }

    def agent_state(self) -> JsonValue:
        executor: JsonValue = {"id": "t1", "directory": SANDBOX, "tasks": [{"id": "t1"}]}
        return {"frameworks": [{"id": "f1", "executors": [executor]}]}

    def read(self, request: httpx.Request) -> httpx.Response:
        path = request.url.params["path"]
        offset, length = int(request.url.params["offset"]), int(request.url.params["length"])
        self.reads.append((request.url.host + ":" + str(request.url.port), offset, length))
        if path not in self.files:
            return httpx.Response(404, text="file not found")
        data = self.files[path][offset : offset + length]
        return httpx.Response(200, json={"data": data.decode(), "offset": offset})

    def handle(self, request: httpx.Request) -> httpx.Response:
        port, path = request.url.port, request.url.path
        if port == 5051 and not self.agent_up:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        if (port, path) == (5050, "/master/state"):
            return httpx.Response(200, json=self.master_state())
        if (port, path) == (5051, "/state"):
            return httpx.Response(200, json=self.agent_state())
        if path == "/files/read":
            return self.read(request)
        return httpx.Response(404)


def reader(cluster: FakeCluster, filename: str = "stdout", sleep: object = None) -> LogReader:
    transport = httpx.MockTransport(cluster.handle)
    master = Client("127.0.0.1:5050", transport=transport)
    out = LogReader(master, "t1", filename=filename)
    out.connect = lambda address: Client(address, name="agent", transport=transport)
    if sleep is not None:
        out.sleep = sleep  # type: ignore[assignment]
    return out


def test_prints_stdout_in_pages_from_the_agent() -> None:
    big = b"x" * (PAGE + 10) + b"\nhello\n"
    cluster = FakeCluster(files={f"{SANDBOX}/stdout": big})
    out = io.StringIO()
    reader(cluster).run(out, follow=False)
    assert out.getvalue() == big.decode()
    assert cluster.reads == [
        ("127.0.0.1:5051", 0, PAGE),
        ("127.0.0.1:5051", PAGE, PAGE),
        ("127.0.0.1:5051", len(big), PAGE),
    ]


def test_stderr() -> None:
    cluster = FakeCluster(files={f"{SANDBOX}/stdout": b"out", f"{SANDBOX}/stderr": b"err"})
    out = io.StringIO()
    reader(cluster, "stderr").run(out, follow=False)
    assert out.getvalue() == "err"


def test_falls_back_to_the_masters_files_proxy_when_the_agent_is_unreachable() -> None:
    cluster = FakeCluster(files={f"{SANDBOX}/stdout": b"hi"})
    log = reader(cluster)
    log.task()
    assert log.sandbox(log.task()) == SANDBOX
    cluster.agent_up = False
    out = io.StringIO()
    assert log.drain(
        Client("127.0.0.1:5051", transport=httpx.MockTransport(cluster.handle)), f"{SANDBOX}/stdout", 0, out
    ) == (
        2,
        True,
    )
    assert out.getvalue() == "hi"
    assert {host for host, _, _ in cluster.reads} == {"127.0.0.1:5050"}


def test_unknown_task() -> None:
    cluster = FakeCluster()
    log = reader(cluster)
    log.task_id = "nope"
    with pytest.raises(ClientError, match="no task 'nope'"):
        log.run(io.StringIO(), follow=False)


def test_missing_file_without_follow_is_an_error() -> None:
    with pytest.raises(ClientError, match="task t1 has no stdout yet"):
        reader(FakeCluster()).run(io.StringIO(), follow=False)


def test_follow_prints_growth_until_the_task_ends_and_the_file_is_drained() -> None:
    cluster = FakeCluster()
    path = f"{SANDBOX}/stdout"
    growth = [
        (b"one\n", "TASK_RUNNING"),
        (b"one\ntwo\n", "TASK_RUNNING"),
        (b"one\ntwo\nthree\n", "TASK_FINISHED"),
    ]
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        cluster.files[path], cluster.state = growth[len(naps)]
        naps.append(seconds)

    out = io.StringIO()
    reader(cluster, sleep=sleep).run(out, follow=True)
    assert out.getvalue() == "one\ntwo\nthree\n"
    assert len(naps) == 3

"""Sandbox path traversal on `/files/{read,browse,download}`, on the agent and through the master's proxy
(reliability-security.md 4.2 "sandbox traversal guard", 4.3 #5; upstream `FilesTest.ResolveTest`,
`QueryWithEncodedSequence`, `ReadTest`).

A real task plants what a hostile task would in its own sandbox: a symlink to a secret outside it, a
symlink to a directory outside it, a symlink loop and a FIFO. Every hostile path, percent-encoded as an
attacker would send it, gets a 400, 403 or 404 and not one byte of the secret. The offset and length
rules are upstream's. Last, in process: a task swapping a file or a directory for a symlink between the
agent's check and its open still gets nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from corral.agent.files import SandboxFiles
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject
from corral.protocol.scheduler import Offers
from corral.testing.procs import DevProcess, wait_for

from .cluster import assert_all_serving
from .scheduler import subscribed

pytestmark = pytest.mark.integration

SECRET = b"7f3a-TOP-SECRET-never-served"
OPERATIONS = ("read", "browse", "download")


@dataclass(frozen=True)
class Sandbox:
    real: str  # the run directory
    virtual: str  # /frameworks/<fid>/executors/<eid>/runs/latest
    outside: Path  # a directory outside every sandbox, holding `secret`
    agent: str  # the agent's base URL
    master: str
    pid: int  # of `corral dev`, which runs the agent


def hostile_queries(base: str, outside: Path) -> dict[str, str]:
    """Raw query strings (already encoded as sent) for paths that must not reach the secret."""
    return {
        "dot-dot": f"{base}/../secret",
        "dot-dot to the root": f"{base}/../../../../../../../..{outside}/secret",
        "relative climb": "../../etc/passwd",
        "%2e%2e": f"{base}/%2e%2e/secret",
        "%2e%2e%2f": f"{base}/%2e%2e%2fsecret",
        "double-encoded %252e%252e%252f": f"{base}/%252e%252e%252fsecret",
        "..%5c": f"{base}/..%5csecret",
        "/.//../": f"{base}/.//../secret",
        "two/../two": f"{base}/two/../two/file",
        "absolute outside": f"{outside}/secret",
        "absolute /etc/passwd": "/etc/passwd",
        "NUL": f"{base}/two/file%00",
        "NUL then dot-dot": f"{base}%00/../secret",
        "symlink to a file outside": f"{base}/leak",
        "symlink to a directory outside": f"{base}/escape",
        "through a symlinked directory": f"{base}/escape/secret",
        "symlink loop": f"{base}/loop",
        "through a symlink loop": f"{base}/loop/x",
        "name too long": f"{base}/{'a' * 300}",
        "empty": "",
    }


PLANT = (
    "ln -s {outside}/secret leak && ln -s {outside} escape && ln -s loop loop && mkfifo fifo "
    "&& mkdir two && echo inside > two/file && sleep 120"
)


async def plant(master_url: str, outside: Path) -> str:
    """Run the planting task under a framework that outlives this call; its id."""
    async with subscribed(master_url, "planter", failover_timeout=600, teardown=False) as scheduler:
        offer = (await scheduler.next_of(Offers)).offers[0]
        task: JsonObject = {
            "name": "planter",
            "task_id": {"value": "planter"},
            "agent_id": {"value": offer.agent_id},
            "resources": [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.01}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": 8}},
            ],
            "command": {"value": PLANT.format(outside=outside)},
        }
        operation: JsonObject = {"type": "LAUNCH", "launch": {"task_infos": [task]}}
        accept: JsonObject = {"offer_ids": [{"value": offer.id}], "operations": [operation]}
        assert (await scheduler.post(scheduler.call("ACCEPT", accept=accept))).status_code == 202
        while (await scheduler.update()).state != TaskState.TASK_RUNNING:
            pass
        return scheduler.framework_id


@pytest.fixture(scope="module")
def sandbox(cluster: DevProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    outside = tmp_path_factory.mktemp("outside")
    (outside / "secret").write_bytes(SECRET)
    [agent] = cluster.agent_addresses()
    framework_id = asyncio.run(plant(cluster.url, outside))
    [run] = cluster.work_dir.glob(f"**/frameworks/{framework_id}/executors/planter/runs/*-*")
    wait_for((run / "two" / "file").is_file, timeout=15, what="the task to plant its links")
    (run.parent / "secret").write_bytes(SECRET)  # beside the run directory: one `..` away
    yield Sandbox(
        real=str(run),
        virtual=f"/frameworks/{framework_id}/executors/planter/runs/latest",
        outside=outside,
        agent=f"http://{agent}",
        master=cluster.url,
        pid=cluster.proc.pid,
    )
    teardown = httpx.post(f"{cluster.url}/teardown", data={"frameworkId": framework_id}, trust_env=False)
    assert teardown.status_code == 200, teardown.text
    assert_all_serving(cluster)


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def get(http: httpx.Client, server: str, operation: str, query: str) -> httpx.Response:
    # The query is sent exactly as written: httpx does not re-encode an existing %XX escape.
    return http.get(f"{server}/files/{operation}?path={query}&offset=0")


@pytest.mark.parametrize("server", ["agent", "master"])
@pytest.mark.parametrize("base", ["real", "virtual"])
def test_no_hostile_path_reaches_the_secret(
    sandbox: Sandbox, http: httpx.Client, server: str, base: str
) -> None:
    url = sandbox.agent if server == "agent" else sandbox.master
    root = sandbox.real if base == "real" else sandbox.virtual
    # The setup is sound: what is inside is served.
    assert get(http, url, "read", f"{root}/two/file").json()["data"] == "inside\n"
    assert get(http, url, "download", f"{root}/two/file").content == b"inside\n"
    assert "file" in get(http, url, "browse", f"{root}/two").json()[0]["path"]
    wrong: list[str] = []
    for name, query in hostile_queries(root, sandbox.outside).items():
        for operation in OPERATIONS:
            response = get(http, url, operation, query)
            if response.status_code not in (400, 403, 404) or SECRET in response.content:
                wrong.append(f"{operation} {name}: {response.status_code} {response.text[:80]!r}")
    assert wrong == []


def test_dot_dot_and_nul_are_a_400_naming_the_problem(sandbox: Sandbox, http: httpx.Client) -> None:
    for query, message in (
        (f"{sandbox.virtual}/two/../two/file", "Path must not contain '..'\n"),
        (f"{sandbox.virtual}/%2e%2e/secret", "Path must not contain '..'\n"),
        (f"{sandbox.virtual}/two/file%00", "Path must not contain a NUL byte\n"),
    ):
        response = get(http, sandbox.agent, "read", query)
        assert (response.status_code, response.text) == (400, message)


def test_directories_and_fifos_are_not_read(sandbox: Sandbox, http: httpx.Client) -> None:
    base = sandbox.virtual
    descriptors = open_descriptors(sandbox.pid)
    for operation, query, message in (
        ("read", base, "Cannot read a directory\n"),
        ("download", base, "Cannot download a directory\n"),
        ("read", f"{base}/fifo", "Cannot read a file that is not a regular file\n"),
        ("download", f"{base}/fifo", "Cannot download a file that is not a regular file\n"),
    ):
        for _ in range(20):  # a FIFO would block a reader forever
            response = get(http, sandbox.agent, operation, query)
            assert (response.status_code, response.text) == (400, message), (operation, query)
    assert open_descriptors(sandbox.pid) < descriptors + 20  # each refusal closed what it opened
    [fifo] = get(http, sandbox.agent, "browse", f"{base}/fifo").json()
    assert fifo["mode"].startswith("p")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ("offset=hello", "Failed to parse offset: 'hello' is not an integer\n"),
        ("length=-2", "Negative length provided: -2.\n"),
        ("offset=-2", "Negative offset provided: -2.\n"),
        ("offset=99999999999999999999999", "Failed to parse offset: 99999999999999999999999 is too large\n"),
        ("length=1e3", "Failed to parse length: '1e3' is not an integer\n"),
    ],
)
def test_offset_and_length_are_checked_as_upstream_does(
    sandbox: Sandbox, http: httpx.Client, params: str, message: str
) -> None:
    query = f"{sandbox.virtual}/two/file"
    for server in (sandbox.agent, sandbox.master):
        response = http.get(f"{server}/files/read?path={query}&{params}")
        assert (response.status_code, response.text) == (400, message), server


# ---------------------------------------------------------------- in process: the check-then-open race


@pytest.fixture
def race(tmp_path: Path) -> tuple[SandboxFiles, Path, Path]:
    run, outside = tmp_path / "run", tmp_path / "outside"
    (run / "d").mkdir(parents=True)
    outside.mkdir()
    (run / "d" / "f").write_bytes(b"inside")
    (outside / "f").write_bytes(SECRET)
    return SandboxFiles(lambda: {"/sandbox": run}), run, outside


@pytest.mark.parametrize("swap", ["the file", "its directory"])
@pytest.mark.parametrize("operation", OPERATIONS)
async def test_a_path_swapped_for_a_symlink_after_the_check_gives_nothing(
    race: tuple[SandboxFiles, Path, Path], monkeypatch: pytest.MonkeyPatch, swap: str, operation: str
) -> None:
    files, run, outside = race
    checked = files.locate

    def locate_then_swap(path: str) -> tuple[Path, Path] | None:
        found = checked(path)  # the check passes on the real file...
        if swap == "the file":  # ...then the task replaces it
            os.replace(run / "d" / "f", run / "old")
            (run / "d" / "f").symlink_to(outside / "f")
        else:
            os.replace(run / "d", run / "old")
            (run / "d").symlink_to(outside)
        return found

    monkeypatch.setattr(files, "locate", locate_then_swap)
    transport = httpx.ASGITransport(app=Starlette(routes=files.routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://agent") as client:
        response = await client.get(f"/files/{operation}", params={"path": "/sandbox/d/f", "offset": "0"})
    assert response.status_code == 404 and SECRET not in response.content

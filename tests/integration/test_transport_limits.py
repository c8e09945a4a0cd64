"""Transport limits of `corral.net.serve` over real loopback sockets (reliability-security.md 4.3, items 8, 9
and 11): malformed HTTP, oversized heads and bodies, slow and stalled clients, and the connection cap each
get a 4xx/503 or a closed connection, never a crash, and the server keeps answering.

The first tests serve a small echo app in the test's own event loop, with timeouts of a second or two; the
last ones send the same bytes to a real `corral dev` (master and Marathon) and check that both stay healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.types import Receive, Scope, Send
from support.marathon_dev import marathon_http, stopping
from support.serving import serving

from corral.net.serve import KiB, Limits, MiB, make_socket
from corral.protocol.json import dumps, loads_object
from corral.testing.procs import DevProcess, free_ports, start_dev

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
DEADLINE = 30.0  # seconds any single wait may take before the test fails


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body and answers its size."""
    received = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        received += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = dumps({"path": scope["path"], "received": received})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def served(limits: Limits) -> contextlib.AbstractAsyncContextManager[int]:
    """`echo` served within `limits` on a free loopback port, in this event loop."""
    return serving(echo, make_socket(HOST, 0), deadline=DEADLINE, name="echo", limits=limits)


async def exchange(port: int, raw: bytes) -> bytes:
    """Send `raw`, then read until the server closes the connection."""
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        writer.write(raw)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        async with asyncio.timeout(DEADLINE):
            return await reader.read()
    except ConnectionResetError:
        return b""  # closed while we still wrote: an answer, if any, was lost with the reset
    finally:
        writer.close()


def status(answer: bytes) -> int | None:
    """The status of the first response in `answer`, or None when the server closed without one."""
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer.split(b" ", 2)[1])


def message(answer: bytes) -> str:
    body = loads_object(answer.split(b"\r\n\r\n", 1)[1])
    text = body["message"]
    assert isinstance(text, str)
    return text


def request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n\r\n" + body


GET = "GET / HTTP/1.1\nHost: x\nConnection: close"


async def normal_get(port: int) -> int | None:
    return status(await exchange(port, request(GET)))


# ------------------------------------------------------------------ malformed HTTP (4.3 item 8)

# (case, raw request, expected status; None: the connection is closed without an answer)
MALFORMED: list[tuple[str, bytes, int | None]] = [
    ("empty target", request("GET  HTTP/1.1\nHost: x"), 400),
    ("bad percent escape", request("GET %zz HTTP/1.1\nHost: x"), 400),
    ("negative Content-Length", request("POST / HTTP/1.1\nHost: x\nContent-Length: -1"), 400),
    ("huge Content-Length", request("POST / HTTP/1.1\nHost: x\nContent-Length: " + "9" * 30), 400),
    (
        "Transfer-Encoding and Content-Length",
        request("POST / HTTP/1.1\nHost: x\nContent-Length: 5\nTransfer-Encoding: chunked", b"0\r\n\r\n"),
        400,
    ),
    ("bad chunk size", request("POST / HTTP/1.1\nHost: x\nTransfer-Encoding: chunked", b"zz\r\n"), 400),
    ("not HTTP", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64, 400),
    ("1001 headers", request(GET + "".join(f"\nX-{i}: y" for i in range(1001))), 431),
    ("64 KiB header line", request(GET + "\nX-Big: " + "a" * (64 * KiB)), 431),
    ("90 KiB of headers", request(GET + "".join(f"\nX-{i}: {'b' * KiB}" for i in range(90))), 431),
    ("20 KiB request target", request(f"GET /{'p' * 20 * KiB} HTTP/1.1\nHost: x"), 414),
]


@pytest.mark.parametrize(("raw", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
async def test_malformed_http_gets_a_4xx_and_the_server_keeps_answering(raw: bytes, expected: int) -> None:
    async with served(Limits()) as port:
        answer = await exchange(port, raw)
        assert status(answer) == expected, answer[:300]
        assert message(answer)  # a JSON body that says what was wrong
        assert await normal_get(port) == 200


async def test_a_chunked_body_with_trailers_is_read() -> None:
    raw = request("POST / HTTP/1.1\nHost: x\nConnection: close\nTransfer-Encoding: chunked")
    async with served(Limits()) as port:
        answer = await exchange(port, raw + b"3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n")
    assert status(answer) == 200
    assert loads_object(answer.split(b"\r\n\r\n", 1)[1])["received"] == 3


async def test_a_header_line_that_never_ends_is_refused_before_it_ends() -> None:
    """httptools buffers a header until its line ends: the server refuses one that goes on and on."""
    async with served(Limits()) as port:
        answer = await exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 4 * MiB)
        assert status(answer) == 431
        assert "request head over 65536 bytes" in message(answer)
        assert await normal_get(port) == 200


# ------------------------------------------------------------------ bodies (4.3 item 9)


async def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent() -> None:
    async with served(Limits(max_body=64 * KiB)) as port:
        # Only the head goes out: the answer comes without the server waiting for the body.
        answer = await exchange(port, request(f"POST / HTTP/1.1\nHost: x\nContent-Length: {2 * MiB}"))
        assert status(answer) == 413
        assert "at most 65536" in message(answer)
        assert await normal_get(port) == 200


async def test_a_chunked_body_is_counted_as_it_streams() -> None:
    chunk = b"%x\r\n%s\r\n" % (16 * KiB, b"c" * 16 * KiB)
    head = request("POST / HTTP/1.1\nHost: x\nConnection: close\nTransfer-Encoding: chunked")
    async with served(Limits(max_body=64 * KiB)) as port:
        within = await exchange(port, head + chunk * 4 + b"0\r\n\r\n")
        over = await exchange(port, head + chunk * 5 + b"0\r\n\r\n")
    assert status(within) == 200
    assert status(over) in (413, None)  # None: closed while the client was still sending
    if over:
        assert "over 65536" in message(over)


async def test_a_body_at_the_limit_is_accepted() -> None:
    async with served(Limits(max_body=64 * KiB)) as port:
        head = f"POST / HTTP/1.1\nHost: x\nConnection: close\nContent-Length: {64 * KiB}"
        answer = await exchange(port, request(head, b"x" * 64 * KiB))
    assert status(answer) == 200
    assert loads_object(answer.split(b"\r\n\r\n", 1)[1])["received"] == 64 * KiB


# ------------------------------------------------------------------ slow clients (4.3 item 11)


@dataclass
class Dribbler:
    """A slowloris connection: a request head sent one byte at a time, until the server closes it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    answer: bytearray = field(default_factory=bytearray)
    closed: bool = False

    async def run(self) -> None:
        with contextlib.suppress(ConnectionError):
            self.writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            while not self.closed:
                self.writer.write(b"a")
                with contextlib.suppress(TimeoutError):
                    data = await asyncio.wait_for(self.reader.read(4096), 0.1)
                    self.answer += data
                    self.closed = not data
        self.closed = True
        self.writer.close()


async def dribblers(port: int, count: int) -> list[Dribbler]:
    opened = [await asyncio.open_connection(HOST, port) for _ in range(count)]
    return [Dribbler(reader, writer) for reader, writer in opened]


async def test_slow_clients_are_closed_after_the_header_timeout_while_others_are_served() -> None:
    limits = Limits(header_timeout=2.0, max_connections=1000)
    async with served(limits) as port:
        slow = await dribblers(port, 200)
        tasks = [asyncio.create_task(d.run()) for d in slow]
        answers = [await normal_get(port) for _ in range(5)]
        still_open = sum(not d.closed for d in slow)
        async with asyncio.timeout(DEADLINE):
            await asyncio.gather(*tasks)
    assert answers == [200] * 5
    assert still_open > 0  # the normal requests were served beside slow connections
    assert all(status(bytes(d.answer)) == 408 for d in slow)
    assert "no complete request head within 2 s" in message(bytes(slow[0].answer))


async def test_a_kept_alive_connection_is_timed_out_on_its_next_head() -> None:
    async with served(Limits(header_timeout=1.0)) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("GET /first HTTP/1.1\nHost: x"))
        first = await reader.readuntil(b"}")
        writer.write(b"GET /second HTTP/1.1\r\nHost")  # and nothing more
        async with asyncio.timeout(DEADLINE):
            rest = await reader.read()
        writer.close()
    assert status(first) == 200
    assert status(rest) == 408


async def test_a_stalled_body_is_closed_after_the_body_timeout() -> None:
    async with served(Limits(body_timeout=1.0)) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("POST / HTTP/1.1\nHost: x\nContent-Length: 10", b"abc"))
        async with asyncio.timeout(DEADLINE):
            answer = await reader.read()
        writer.close()
    assert status(answer) == 408
    assert "request body" in message(answer)


async def test_an_idle_kept_alive_connection_is_closed() -> None:
    async with served(Limits(keep_alive=1)) as port:
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(request("GET / HTTP/1.1\nHost: x"))
        first = await reader.readuntil(b"}")
        async with asyncio.timeout(DEADLINE):
            rest = await reader.read()
        writer.close()
    assert status(first) == 200
    assert rest == b""


async def test_connections_beyond_the_cap_are_refused_and_the_others_kept() -> None:
    async with served(Limits(max_connections=20, header_timeout=60.0)) as port:
        held = [await asyncio.open_connection(HOST, port) for _ in range(20)]
        refused = await exchange(port, request(GET))
        assert status(refused) == 503
        assert "at most 20" in message(refused)
        for _, writer in held[:5]:
            writer.close()
        # The server notices the closes when it reads them: ask until a new connection is served.
        async with asyncio.timeout(DEADLINE):
            while True:
                if await normal_get(port) == 200:
                    break
                await asyncio.sleep(0.05)
        reader, writer = held[5]
        writer.write(request(GET))
        assert status(await reader.read()) == 200
        for _, writer in held[6:]:
            writer.close()


# ------------------------------------------------------------------ a real corral dev


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    [marathon_port] = free_ports(1)
    base = tmp_path_factory.mktemp("limits")
    with stopping(start_dev(base, marathon_port=marathon_port)) as process:
        yield process


def send_raw(address: str, raw: bytes) -> bytes:
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=DEADLINE) as sock:
        with contextlib.suppress(ConnectionError):
            sock.sendall(raw)
        chunks = []
        with contextlib.suppress(ConnectionError):
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def healthy(dev: DevProcess) -> None:
    assert dev.proc.poll() is None, dev.fail("corral dev died")
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        assert http.get(f"http://{dev.master}/master/health").status_code == 200
        assert http.get(f"http://{dev.marathon}/ping").status_code == 200


@pytest.mark.parametrize("daemon", ["master", "marathon"])
def test_malformed_http_to_the_daemons(dev: DevProcess, daemon: str) -> None:
    address = dev.master if daemon == "master" else dev.marathon
    cases = [*MALFORMED, ("lone percent", request("GET /% HTTP/1.1\nHost: x\nConnection: close"), None)]
    for case, raw, expected in cases:
        answer = send_raw(address, raw)
        got = status(answer)
        if expected is None:
            assert got is not None and 400 <= got < 500, (case, answer[:300])
        else:
            assert got == expected, (case, answer[:300])
        healthy(dev)


def test_marathon_refuses_an_app_definition_over_a_zookeeper_node(dev: DevProcess) -> None:
    app = {"id": "/big", "cmd": "sleep 1", "cpus": 0.1, "mem": 16, "env": {"PAD": "x" * 2 * MiB}}
    with marathon_http(dev) as http:
        response = http.post("/v2/apps", content=dumps(app), headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert "at most 1048576" in response.json()["message"]
        group = {"id": "/many", "apps": [{"id": f"a{i}", "cmd": "x" * 2048} for i in range(1000)]}
        response = http.put("/v2/groups", content=dumps(group), headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert http.get("/v2/apps/big").status_code == 404
        assert http.get("/v2/groups/many").status_code == 404
    healthy(dev)

"""Task launch throughput: `corral dev` running N `true` command tasks, against spawning N `true` processes.

The framework side is the raw v1 scheduler HTTP API: one SUBSCRIBE stream, ACCEPTs carrying many LAUNCH
operations per offer, an explicit ACKNOWLEDGE for every update with a uuid, each call its own POST answered
202. The client is a minimal HTTP/1.1 one on asyncio streams (httpx costs milliseconds of CPU per request,
and the client shares the machine with the master): requests are written by hand and pipelined on a few
keep-alive connections, responses are read by status line, headers and Content-Length, and the stream is
de-chunked and split into RecordIO records by hand. The rate is measured from the first ACCEPT to the last
TASK_FINISHED. The baseline, measured in the same run, is one Python process starting the same `true`
processes sequentially with `subprocess`.

Prints readable lines (with the CPU time spent per task by the client, by the `corral dev` process, by its
task supervisor and by the tasks' own processes, and the whole machine's busy time per task and idle share
from /proc/stat, which other work on the machine inflates), then one JSON line:
`{"tasks":1000,"tasks_per_s":..,"baseline_per_s":..,"ratio":..,...}`; the target ratio is >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from corral.protocol import recordio
from corral.protocol.json import JsonObject, JsonValue
from corral.testing.procs import ProcessError, start_dev

TASK_CPUS = 0.01
TASK_MEM = 1.0
PER_LAUNCH = 100  # task infos per LAUNCH operation
CONNECTIONS = 4  # keep-alive connections for calls (ACCEPT, ACKNOWLEDGE, DECLINE), requests pipelined
FAILED = {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_KILLED", "TASK_GONE"}
TARGET_RATIO = 0.5
PATH = b"/api/v1/scheduler"


class HttpError(RuntimeError):
    pass


class StreamEnded(HttpError):
    """The master ended the subscription stream (as it does after TEARDOWN)."""


def _obj(value: JsonValue) -> JsonObject:
    return value if isinstance(value, dict) else {}


def _list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _scalar(offer: JsonObject, name: str) -> float:
    total = 0.0
    for item in _list(offer.get("resources")):
        resource = _obj(item)
        value = _obj(resource.get("scalar")).get("value")
        if resource.get("name") == name and isinstance(value, int | float):
            total += value
    return total


def _task_info(index: int, agent_id: JsonValue, command: str) -> JsonValue:
    return {
        "name": f"bench-{index}",
        "task_id": {"value": f"bench-{index}"},
        "agent_id": agent_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": TASK_CPUS}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": TASK_MEM}},
        ],
        "command": {"value": command},
    }


def _head(data: bytearray, end: int) -> tuple[int, dict[bytes, bytes]]:
    """The status code and (lower-cased) headers of the response head `data[:end]`."""
    lines = bytes(data[:end]).split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise HttpError(f"bad status line {lines[0][:80]!r}")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.setdefault(name.strip().lower(), value.strip())
    return int(parts[1]), headers


def _request(host: bytes, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s"
        % (PATH, host, len(body), extra, body)
    )


class Connection:
    """One keep-alive HTTP/1.1 connection; requests are pipelined, and their responses come back in order.

    Requests written in one loop turn go out in one write; each response is checked against the status
    its request expects, and a mismatch is reported to `on_error`.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.expected: deque[tuple[int, str]] = deque()  # (status, what) per request in flight
        self.out: list[bytes] = []
        self.idle = asyncio.Event()
        self.idle.set()

    def send(self, request: bytes, status: int, what: str) -> None:
        if not self.out:
            asyncio.get_running_loop().call_soon(self._flush)
        self.out.append(request)
        self.expected.append((status, what))
        self.idle.clear()

    def _flush(self) -> None:
        self.writer.write(b"".join(self.out))
        self.out.clear()

    async def read_responses(self) -> None:
        """Parse responses until the connection closes; raises HttpError on an unexpected one."""
        buffer = bytearray()
        while True:
            data = await self.reader.read(65536)
            if not data:
                raise HttpError("the master closed a call connection")
            buffer += data
            while (end := buffer.find(b"\r\n\r\n")) >= 0:
                if buffer.startswith(b"HTTP/1.1 202 ") and buffer.find(b"content-length: 0\r\n", 0, end) > 0:
                    del buffer[: end + 4]  # the common case: 202 with an empty body
                    status, body = 202, b""
                else:
                    status, headers = _head(buffer, end)
                    if b"content-length" not in headers:
                        raise HttpError(f"a {status} response without Content-Length")
                    length = int(headers[b"content-length"])
                    if len(buffer) < end + 4 + length:
                        break
                    body = bytes(buffer[end + 4 : end + 4 + length])
                    del buffer[: end + 4 + length]
                if not self.expected:
                    raise HttpError(f"an unrequested {status} response")
                want, what = self.expected.popleft()
                if status != want:
                    raise HttpError(f"{what} answered {status}: {body[:200]!r}")
                if not self.expected:
                    self.idle.set()


@dataclass
class Bench:
    host: str
    port: int
    tasks: int
    command: str = "true"
    until: str = "TASK_FINISHED"  # the state that ends a task's part in the run (marathon_bench: RUNNING)
    launched: int = 0
    finished: int = 0
    acknowledged: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    first_accept: float | None = None
    last_finished: float | None = None
    framework_id: JsonValue = None
    stream_id: str = ""
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    connections: list[Connection] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    tearing_down: bool = False
    _next: int = 0
    _extra: bytes = b""  # the framework's headers: Mesos-Stream-Id
    _fid: bytes = b""  # the framework id, JSON-encoded

    def call(self, kind: str, payload: bytes | None = None) -> None:
        """POST one call on the next connection (round robin); it must be answered 202.

        `payload` is the JSON of the call's own field, named after the call (`accept`, `acknowledge`).
        """
        body = b'{"framework_id":%s,"type":"%s"' % (self._fid, kind.encode())
        if payload is not None:
            body += b',"%s":%s' % (kind.lower().encode(), payload)
        body += b"}"
        connection = self.connections[self._next]
        self._next = (self._next + 1) % len(self.connections)
        connection.send(_request(self.host.encode(), body, self._extra), 202, kind)

    def on_offers(self, offers: list[JsonValue]) -> None:
        for item in offers:
            offer = _obj(item)
            room = int(min(_scalar(offer, "cpus") / TASK_CPUS, _scalar(offer, "mem") / TASK_MEM) + 1e-6)
            count = min(room, self.tasks - self.launched)
            if count <= 0:
                decline: JsonObject = {"offer_ids": [offer.get("id")], "filters": {"refuse_seconds": 3600}}
                self.call("DECLINE", orjson.dumps(decline))
                continue
            agent_id = offer.get("agent_id")
            infos = [_task_info(self.launched + i, agent_id, self.command) for i in range(count)]
            self.launched += count
            operations: list[JsonValue] = [
                {"type": "LAUNCH", "launch": {"task_infos": infos[i : i + PER_LAUNCH]}}
                for i in range(0, len(infos), PER_LAUNCH)
            ]
            accept: JsonObject = {
                "offer_ids": [offer.get("id")],
                "operations": operations,
                "filters": {"refuse_seconds": 0},
            }
            if self.first_accept is None:
                self.first_accept = time.perf_counter()
            self.call("ACCEPT", orjson.dumps(accept))

    def on_update(self, status: JsonObject) -> None:
        if "uuid" in status:
            ack = {
                "agent_id": status.get("agent_id"),
                "task_id": status.get("task_id"),
                "uuid": status["uuid"],
            }
            self.call("ACKNOWLEDGE", orjson.dumps(ack))
            self.acknowledged += 1
        state = status.get("state")
        if state == self.until:
            self.finished += 1
        elif isinstance(state, str) and state in FAILED:
            self.failed[state] = self.failed.get(state, 0) + 1
        else:
            return
        if self.last_finished is None and self.finished + sum(self.failed.values()) >= self.tasks:
            self.last_finished = time.perf_counter()
            self.done.set()

    def on_record(self, record: bytes) -> None:
        event = _obj(orjson.loads(record))
        kind = event.get("type")
        if kind == "UPDATE":
            self.on_update(_obj(_obj(event.get("update")).get("status")))
        elif kind == "OFFERS":
            self.on_offers(_list(_obj(event.get("offers")).get("offers")))
        elif kind == "SUBSCRIBED":
            self.framework_id = _obj(event.get("subscribed")).get("framework_id")
            self._fid = orjson.dumps(self.framework_id)
            self.subscribed.set()
        elif kind == "ERROR":
            raise RuntimeError(f"master error: {_obj(event.get('error')).get('message')}")

    async def stream(self) -> None:
        """SUBSCRIBE, then read the chunked RecordIO stream until it fails or is cancelled."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            framework_info = {"user": getpass.getuser(), "name": "corral-bench", "failover_timeout": 0}
            body = orjson.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}})
            writer.write(_request(self.host.encode(), body, b"Accept: application/json\r\n"))
            buffer = bytearray()
            while (end := buffer.find(b"\r\n\r\n")) < 0:
                data = await reader.read(65536)
                if not data:
                    raise HttpError("the master closed the SUBSCRIBE connection")
                buffer += data
            status, headers = _head(buffer, end)
            if status != 200:
                raise HttpError(f"SUBSCRIBE answered {status}: {bytes(buffer[end + 4 :])[:200]!r}")
            if headers.get(b"transfer-encoding") != b"chunked":
                raise HttpError("the SUBSCRIBE response is not chunked")
            self.stream_id = headers.get(b"mesos-stream-id", b"").decode()
            self._extra = b"Mesos-Stream-Id: %s\r\n" % self.stream_id.encode()
            del buffer[: end + 4]
            decoder = recordio.Decoder()
            while True:
                # De-chunk whatever whole chunks the buffer holds, and feed them to the RecordIO decoder.
                pos = 0
                pieces: list[bytes] = []
                while (line_end := buffer.find(b"\r\n", pos)) >= 0:
                    size = int(bytes(buffer[pos:line_end]).split(b";")[0], 16)
                    if size == 0:
                        raise StreamEnded("the subscription stream ended")
                    start = line_end + 2
                    if len(buffer) < start + size + 2:
                        break
                    pieces.append(bytes(buffer[start : start + size]))
                    pos = start + size + 2
                del buffer[:pos]
                if pieces:
                    for record in decoder.feed(b"".join(pieces)):
                        self.on_record(record)
                data = await reader.read(262144)
                if not data:
                    raise StreamEnded("the master closed the subscription stream")
                buffer += data
        finally:
            writer.close()

    async def _guard(self, work: Awaitable[None]) -> None:
        try:
            await work
        except Exception as e:
            if not (self.tearing_down and isinstance(e, StreamEnded)):
                self.errors.append(e)
        finally:
            self.done.set()  # wakes run(), which re-raises the error

    async def run(self, deadline: float) -> float:
        """Launch every task and wait for the last to end; returns tasks per second."""
        for _ in range(CONNECTIONS):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.connections.append(Connection(reader, writer))
        workers = [asyncio.create_task(self._guard(self.stream()))]
        workers += [asyncio.create_task(self._guard(c.read_responses())) for c in self.connections]
        try:
            async with asyncio.timeout(deadline):
                await self.done.wait()  # set by the last terminal update, or by a failure
                if self.errors:
                    raise self.errors[0]
                for connection in self.connections:  # the last acknowledgements
                    await connection.idle.wait()
                self.tearing_down = True  # the master ends the stream now
                self.call("TEARDOWN")
                for connection in self.connections:
                    await connection.idle.wait()
                if self.errors:
                    raise self.errors[0]
        except TimeoutError:
            progress = f"{self.launched} launched, {self.finished} finished, failed {self.failed}"
            raise TimeoutError(f"timed out after {deadline:g}s: {progress}") from None
        finally:
            for task in workers:
                task.cancel()
            for connection in self.connections:
                connection.writer.close()
        if self.first_accept is None or self.last_finished is None:
            raise RuntimeError("the run ended before every task finished")
        return self.tasks / (self.last_finished - self.first_accept)


def _stat(pid: int) -> list[bytes] | None:
    """The fields of /proc/PID/stat after the command name (state is [0], ppid [1]); None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int, *, reaped: bool = False) -> float:
    """User + system CPU time of process `pid` (its own threads, not its children; `reaped`: that of the
    children it has waited for instead); 0 if it is gone."""
    fields = _stat(pid)
    first = 13 if reaped else 11
    return 0.0 if fields is None else (int(fields[first]) + int(fields[first + 1])) / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """Seconds of CPU time the whole machine has spent busy and idle (all cores, from /proc/stat)."""
    with open("/proc/stat", "rb") as f:
        ticks = [int(t) for t in f.readline().split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    per_second = os.sysconf("SC_CLK_TCK")
    return (sum(ticks[:8]) - idle) / per_second, idle / per_second


def helpers(pid: int) -> list[int]:
    """The child processes of `pid` (the agent's task supervisor; the tasks are its children, not ours)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def baseline(tasks: int) -> float:
    """Processes per second started and waited for one after another from one Python process."""
    import subprocess

    start = time.perf_counter()
    for _ in range(tasks):
        subprocess.Popen(["true"]).wait()
    return tasks / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1000, help="number of tasks (default 1000)")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up after this many seconds")
    parser.add_argument(
        "--isolation",
        help="the agent's --isolation (default: corral dev's choice, cgroups where they are writable)",
    )
    parser.add_argument(
        "--resources", default="cpus:1000;mem:1000000;disk:1000000", help="the agent's --resources"
    )
    parser.add_argument(
        "--work-root",
        default=None,
        help="make the agent's work dir (the sandboxes) under this directory (default: the system temp dir)",
    )
    args = parser.parse_args()
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")

    with tempfile.TemporaryDirectory(prefix="corral-bench-", dir=args.work_root) as tmp:
        try:
            isolation = ["--isolation", args.isolation] if args.isolation else []
            dev = start_dev(
                Path(tmp), resources=args.resources, extra_args=["--log_level", "warning", *isolation]
            )
        except ProcessError as e:
            print(f"bench: corral dev did not start: {e}", file=sys.stderr)
            return 1
        with dev:
            host, port = dev.master.rsplit(":", 1)
            bench = Bench(host, int(port), args.tasks)
            pid = dev.proc.pid
            others = helpers(pid)
            client_cpu, server_cpu = time.process_time(), cpu_seconds(pid)
            helper_start = {p: cpu_seconds(p) for p in others}
            tasks_start = {p: cpu_seconds(p, reaped=True) for p in others}
            busy, idle = machine_cpu()
            try:
                rate = asyncio.run(bench.run(args.timeout))
            except (RuntimeError, TimeoutError, OSError) as e:
                print(f"bench: {e}\n{dev.log_tail()}", file=sys.stderr)
                return 1
            client_cpu = time.process_time() - client_cpu
            server_cpu = cpu_seconds(pid) - server_cpu
            helper_cpu = sum(max(0.0, cpu_seconds(p) - c) for p, c in helper_start.items())  # 0 if gone
            tasks_cpu = sum(max(0.0, cpu_seconds(p, reaped=True) - c) for p, c in tasks_start.items())
            busy, idle = (now - then for now, then in zip(machine_cpu(), (busy, idle), strict=True))
    base = baseline(args.tasks)
    ratio = rate / base
    failed = sum(bench.failed.values())
    print(f"corral dev:  {args.tasks} `true` tasks in {args.tasks / rate:.2f}s = {rate:.1f} tasks/s", end="")
    print(f" ({failed} not finished: {bench.failed})" if failed else "")
    print(f"baseline:    {args.tasks} `true` processes (Popen().wait(), sequential) = {base:.1f} per s")
    verdict = "meets" if ratio >= TARGET_RATIO else "below"
    print(f"ratio:       {ratio:.3f} ({verdict} the {TARGET_RATIO} target)")
    client_ms, server_ms = client_cpu * 1000 / args.tasks, server_cpu * 1000 / args.tasks
    helper_ms = helper_cpu * 1000 / args.tasks
    print(
        f"cpu/task:    client {client_ms:.3f} ms, corral dev {server_ms:.3f} ms,"
        f" its {len(others)} helper process(es) {helper_ms:.3f} ms ({bench.acknowledged} acks)"
    )
    tasks_ms, busy_ms = tasks_cpu * 1000 / args.tasks, busy * 1000 / args.tasks
    print(
        f"machine:     {busy_ms:.3f} ms busy per task, the tasks' own processes {tasks_ms:.3f} ms;"
        f" {100 * idle / (busy + idle):.0f}% idle during the run"
    )
    print(f"load avg:    {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        orjson.dumps(
            {
                "tasks": args.tasks,
                "tasks_per_s": round(rate, 2),
                "baseline_per_s": round(base, 2),
                "ratio": round(ratio, 4),
                "client_cpu_ms_per_task": round(client_ms, 4),
                "server_cpu_ms_per_task": round(server_ms, 4),
                "helper_cpu_ms_per_task": round(helper_ms, 4),
                "tasks_cpu_ms_per_task": round(tasks_ms, 4),
                "machine_busy_ms_per_task": round(busy_ms, 4),
                "machine_idle_fraction": round(idle / (busy + idle), 4),
            }
        ).decode()
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

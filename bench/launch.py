"""Task launch throughput: `corral dev` running N `true` command tasks, against spawning N `true` processes.

The framework side is the raw v1 scheduler HTTP API over httpx: one SUBSCRIBE stream, ACCEPTs carrying many
LAUNCH operations per offer, an explicit ACKNOWLEDGE for every update with a uuid, all on keep-alive
connections. The rate is measured from the first ACCEPT to the last TASK_FINISHED. The baseline, measured in
the same run, is one Python process starting the same `true` processes sequentially with `subprocess`.

Prints readable lines, then one JSON line:
`{"tasks":1000,"tasks_per_s":..,"baseline_per_s":..,"ratio":..}`; the target ratio is >= 0.5.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson

from corral.protocol import recordio
from corral.protocol.json import JsonObject, JsonValue
from corral.testing.procs import ProcessError, start_dev

TASK_CPUS = 0.01
TASK_MEM = 1.0
PER_LAUNCH = 100  # task infos per LAUNCH operation
WORKERS = 8  # concurrent calls (ACCEPT, ACKNOWLEDGE, DECLINE), each on its own keep-alive connection
FAILED = {"TASK_FAILED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_KILLED", "TASK_GONE"}
TARGET_RATIO = 0.5


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


def _task_info(index: int, agent_id: JsonValue) -> JsonValue:
    return {
        "name": f"bench-{index}",
        "task_id": {"value": f"bench-{index}"},
        "agent_id": agent_id,
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": TASK_CPUS}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": TASK_MEM}},
        ],
        "command": {"value": "true"},
    }


@dataclass
class Bench:
    master: str
    tasks: int
    launched: int = 0
    finished: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    first_accept: float | None = None
    last_finished: float | None = None
    framework_id: JsonValue = None
    stream_id: str = ""
    done: asyncio.Event = field(default_factory=asyncio.Event)
    outbox: asyncio.Queue[JsonObject] = field(default_factory=asyncio.Queue)
    errors: list[BaseException] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.master}/api/v1/scheduler"

    async def call(self, http: httpx.AsyncClient, body: JsonObject) -> None:
        body["framework_id"] = self.framework_id
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id}
        response = await http.post(self.url, content=orjson.dumps(body), headers=headers)
        if response.status_code not in (200, 202):
            raise RuntimeError(f"{body['type']} answered {response.status_code}: {response.text[:200]}")

    def spawn(self, http: httpx.AsyncClient, body: JsonObject) -> None:
        self.outbox.put_nowait(body)

    async def send_calls(self, http: httpx.AsyncClient) -> None:
        """One of WORKERS senders: calls go out on a few keep-alive connections, never one per call
        (thousands of requests queued inside httpx's pool cost quadratic time)."""
        while True:
            body = await self.outbox.get()
            try:
                await self.call(http, body)
            except (RuntimeError, httpx.HTTPError) as e:
                self.errors.append(e)
                self.done.set()  # run() re-raises it
            finally:
                self.outbox.task_done()

    def on_offers(self, http: httpx.AsyncClient, offers: list[JsonValue]) -> None:
        for item in offers:
            offer = _obj(item)
            room = int(min(_scalar(offer, "cpus") / TASK_CPUS, _scalar(offer, "mem") / TASK_MEM) + 1e-6)
            count = min(room, self.tasks - self.launched)
            if count <= 0:
                decline: JsonObject = {"offer_ids": [offer.get("id")], "filters": {"refuse_seconds": 3600}}
                self.spawn(http, {"type": "DECLINE", "decline": decline})
                continue
            infos = [_task_info(self.launched + i, offer.get("agent_id")) for i in range(count)]
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
            self.spawn(http, {"type": "ACCEPT", "accept": accept})

    def on_update(self, http: httpx.AsyncClient, status: JsonObject) -> None:
        if "uuid" in status:
            ack: JsonObject = {k: status.get(k) for k in ("agent_id", "task_id", "uuid")}
            self.spawn(http, {"type": "ACKNOWLEDGE", "acknowledge": ack})
        state = status.get("state")
        if state == "TASK_FINISHED":
            self.finished += 1
        elif isinstance(state, str) and state in FAILED:
            self.failed[state] = self.failed.get(state, 0) + 1
        else:
            return
        if self.finished + sum(self.failed.values()) >= self.tasks:
            self.last_finished = time.perf_counter()
            self.done.set()

    async def stream(self, http: httpx.AsyncClient) -> None:
        try:
            await self._stream(http)
        finally:
            self.done.set()  # wakes run(), which re-raises the error

    async def _stream(self, http: httpx.AsyncClient) -> None:
        framework_info = {"user": getpass.getuser(), "name": "corral-bench", "failover_timeout": 0}
        body = orjson.dumps({"type": "SUBSCRIBE", "subscribe": {"framework_info": framework_info}})
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        timeout = httpx.Timeout(10.0, read=None)
        async with http.stream("POST", self.url, content=body, headers=headers, timeout=timeout) as response:
            if response.status_code != 200:
                raise RuntimeError(f"SUBSCRIBE answered {response.status_code}")
            self.stream_id = response.headers.get("Mesos-Stream-Id", "")
            decoder = recordio.Decoder()
            async for chunk in response.aiter_raw():
                for record in decoder.feed(chunk):
                    event = _obj(orjson.loads(record))
                    kind = event.get("type")
                    if kind == "SUBSCRIBED":
                        self.framework_id = _obj(event.get("subscribed")).get("framework_id")
                    elif kind == "OFFERS":
                        self.on_offers(http, _list(_obj(event.get("offers")).get("offers")))
                    elif kind == "UPDATE":
                        self.on_update(http, _obj(_obj(event.get("update")).get("status")))
                    elif kind == "ERROR":
                        raise RuntimeError(f"master error: {_obj(event.get('error')).get('message')}")
        raise RuntimeError("the subscription stream ended")

    async def run(self, deadline: float) -> float:
        """Launch every task and wait for the last to end; returns tasks per second."""
        limits = httpx.Limits(max_connections=WORKERS + 1, max_keepalive_connections=WORKERS + 1)
        async with httpx.AsyncClient(trust_env=False, limits=limits, timeout=30.0) as http:
            reader = asyncio.create_task(self.stream(http))
            senders = [asyncio.create_task(self.send_calls(http)) for _ in range(WORKERS)]
            try:
                async with asyncio.timeout(deadline):
                    await self.done.wait()  # set by the last terminal update, or by a failure
                    if reader.done():
                        reader.result()
                    await self.outbox.join()  # the last acknowledgements
                    if self.errors:
                        raise self.errors[0]
                    await self.call(http, {"type": "TEARDOWN"})
            except TimeoutError:
                progress = f"{self.launched} launched, {self.finished} finished, failed {self.failed}"
                raise TimeoutError(f"timed out after {deadline:g}s: {progress}") from None
            finally:
                for task in (reader, *senders):
                    task.cancel()
        if self.first_accept is None or self.last_finished is None:
            raise RuntimeError("the run ended before every task finished")
        return self.tasks / (self.last_finished - self.first_accept)


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
        "--resources", default="cpus:1000;mem:1000000;disk:1000000", help="the agent's --resources"
    )
    args = parser.parse_args()
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")

    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        try:
            dev = start_dev(Path(tmp), resources=args.resources, extra_args=["--log_level", "warning"])
        except ProcessError as e:
            print(f"bench: corral dev did not start: {e}", file=sys.stderr)
            return 1
        with dev:
            bench = Bench(dev.master, args.tasks)
            try:
                rate = asyncio.run(bench.run(args.timeout))
            except (RuntimeError, TimeoutError, httpx.HTTPError) as e:
                print(f"bench: {e}\n{dev.log_tail()}", file=sys.stderr)
                return 1
    base = baseline(args.tasks)
    ratio = rate / base
    failed = sum(bench.failed.values())
    print(f"corral dev:  {args.tasks} `true` tasks in {args.tasks / rate:.2f}s = {rate:.1f} tasks/s", end="")
    print(f" ({failed} not finished: {bench.failed})" if failed else "")
    print(f"baseline:    {args.tasks} `true` processes (Popen().wait(), sequential) = {base:.1f} per s")
    verdict = "meets" if ratio >= TARGET_RATIO else "below"
    print(f"ratio:       {ratio:.3f} ({verdict} the {TARGET_RATIO} target)")
    print(
        orjson.dumps(
            {
                "tasks": args.tasks,
                "tasks_per_s": round(rate, 2),
                "baseline_per_s": round(base, 2),
                "ratio": round(ratio, 4),
            }
        ).decode()
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

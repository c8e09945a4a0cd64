"""The master's core at the NSDI'11 scale (mesos.md g.1): 50,000 simulated agents and 200 frameworks launching
short tasks, in one process, on a simulated clock.

Everything goes through `MasterCore.handle` as the runtime drives it, with the wire codecs left out: agents
register (8 cpus, 16 GB, ports each); 200 MULTI_ROLE frameworks over 10 roles with weights 1-3 and a
quota on one role subscribe; every 100 ms of simulated time the core ticks (allocating when resources came
back); each framework answers every offer with one ACCEPT launching up to `--tasks-per-offer` tasks of
1 cpu / 2 GB (the rest of the offer goes back behind the default 5 s filter; an offer it cannot use at all it
declines for 120 s, as Marathon does); agents report TASK_RUNNING at once and
TASK_FINISHED 2-10 s later; frameworks acknowledge every update. Wall-clock time is measured for the
whole run after setup.

Reports placements (tasks launched) per second of wall-clock time (target >= 10,000/s), the mean
offer-to-launch latency (wall-clock time from the allocation that made an offer to the ACCEPT of it being
handled), the master's resident memory, and one JSON line.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import itertools
import random
import resource
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field

import orjson

from corral.core.ids import AgentId, FrameworkId, IdSource, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.allocator import make_allocator
from corral.master.config import MasterConfig
from corral.master.core import MasterCore
from corral.master.messages import (
    AgentMessage,
    AgentRegister,
    Effect,
    FrameworkCall,
    FrameworkSubscribe,
    Inbound,
    SendEvent,
    SendToAgent,
    Tick,
)
from corral.master.roles import QuotaConfig
from corral.master.state import StreamId
from corral.protocol.agent import Register, RunTask, StatusUpdate
from corral.protocol.mesos import (
    AgentInfo,
    Capability,
    CommandInfo,
    FrameworkInfo,
    MasterInfo,
    Source,
    TaskInfo,
    TaskStatus,
)
from corral.protocol.scheduler import Accept, Acknowledge, Launch, Offers, Subscribe, Subscribed, Update

TARGET_PLACEMENTS_PER_S = 10_000
STEP = 0.1  # simulated seconds between ticks
TASK = Resources.of(cpus=1, mem=2048)
COMMAND = CommandInfo(value="true")


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Sim:
    core: MasterCore
    rng: random.Random
    tasks_per_offer: int
    now: float = 0.0
    stream_owner: dict[StreamId, FrameworkId] = field(default_factory=dict)
    # (time, seq, agent, framework, task, state): what agents will report, in time order.
    agent_events: list[tuple[float, int, AgentId, FrameworkId, TaskId, TaskState]] = field(
        default_factory=list
    )
    seq: itertools.count[int] = field(default_factory=itertools.count)
    task_ids: itertools.count[int] = field(default_factory=itertools.count)
    uuids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    placements: int = 0
    finished: int = 0
    latencies: list[float] = field(default_factory=list)

    def send(self, msg: Inbound) -> None:
        """Hand a message to the core and perform everything it causes, depth first as a runtime would."""
        work: deque[Effect] = deque(self.core.handle(msg, self.now))
        while work:
            effect = work.popleft()
            if isinstance(effect, SendEvent):
                work.extend(self._to_framework(effect))
            elif isinstance(effect, SendToAgent) and isinstance(effect.message, RunTask):
                self._run(effect.agent_id, effect.message)

    def _to_framework(self, effect: SendEvent) -> list[Effect]:
        framework_id = self.stream_owner.get(effect.stream_id)
        event = effect.event
        if framework_id is None:
            return []
        if isinstance(event, Offers):
            made = time.perf_counter()
            out: list[Effect] = []
            for offer in event.offers:
                fit = min(self.tasks_per_offer, int(offer.resources.cpus), int(offer.resources.mem // 2048))
                tasks = tuple(
                    TaskInfo(
                        name="t",
                        task_id=TaskId(f"t{next(self.task_ids)}"),
                        agent_id=offer.agent_id,
                        resources=TASK,
                        command=COMMAND,
                    )
                    for _ in range(fit)
                )
                # What a framework cannot use it declines for long, as Marathon does (its
                # `--decline_offer_duration`, 120 s); the rest of an offer it used gets the 5 s default.
                accept = Accept(
                    offer_ids=(offer.id,),
                    operations=(Launch(tasks=tasks),) if tasks else (),
                    refuse_seconds=5.0 if tasks else 120.0,
                )
                out += self.core.handle(FrameworkCall(framework_id=framework_id, call=accept), self.now)
                self.latencies.append(time.perf_counter() - made)
                self.placements += len(tasks)
            return out
        if isinstance(event, Update) and (uuid := event.status.uuid) is not None:
            status = event.status
            assert status.agent_id is not None
            ack = Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=uuid)
            return self.core.handle(FrameworkCall(framework_id=framework_id, call=ack), self.now)
        return []

    def _run(self, agent_id: AgentId, run: RunTask) -> None:
        framework_id = run.framework_info.id
        assert framework_id is not None
        task_id = run.task.task_id
        heapq.heappush(
            self.agent_events,
            (self.now, next(self.seq), agent_id, framework_id, task_id, TaskState.TASK_RUNNING),
        )
        done = self.now + self.rng.uniform(2.0, 10.0)
        heapq.heappush(
            self.agent_events,
            (done, next(self.seq), agent_id, framework_id, task_id, TaskState.TASK_FINISHED),
        )

    def deliver_agent_events(self) -> None:
        while self.agent_events and self.agent_events[0][0] <= self.now:
            _, _, agent_id, framework_id, task_id, state = heapq.heappop(self.agent_events)
            status = TaskStatus(
                task_id=task_id,
                state=state,
                source=Source.SOURCE_EXECUTOR,
                agent_id=agent_id,
                timestamp=self.now,
                uuid=next(self.uuids).to_bytes(16, "big"),
            )
            if state == TaskState.TASK_FINISHED:
                self.finished += 1
            self.send(
                AgentMessage(
                    agent_id=agent_id, message=StatusUpdate(framework_id=framework_id, status=status)
                )
            )


def setup(args: argparse.Namespace) -> Sim:
    rng = random.Random(args.seed)
    config = MasterConfig(allocation_interval=1.0, weights={f"role{i}": float(1 + i % 3) for i in range(10)})
    info = MasterInfo(id="M", ip="127.0.0.1", port=5050, hostname="master")
    allocator = make_allocator(args.allocator, random.Random(args.seed))
    core = MasterCore(config, info, ids=IdSource("M"), allocator=allocator, now=0.0)
    sim = Sim(core, rng, args.tasks_per_offer)
    total = Resources.of(cpus=8, mem=16384, disk=100_000, ranges={"ports": [(31000, 32000)]})
    for i in range(args.agents):
        agent = AgentInfo(hostname=f"agent{i}", resources=total)
        sim.send(
            AgentRegister(
                connection=i,
                register=Register(agent_info=agent, ip=f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}"),
            )
        )
    core.update_quota(
        [
            QuotaConfig(
                role="role0", guarantees={"cpus": args.agents * 0.4}, limits={"cpus": args.agents * 4.0}
            )
        ]
    )
    for i in range(args.frameworks):
        stream = StreamId(f"stream{i}")
        framework = FrameworkInfo(
            user="bench",
            name=f"fw{i}",
            roles=(f"role{i % 10}",),
            capabilities=frozenset({Capability.MULTI_ROLE.value}),
        )
        effects = core.handle(
            FrameworkSubscribe(stream_id=stream, framework_id=None, call=Subscribe(framework_info=framework)),
            0.0,
        )
        [subscribed] = [
            e.event for e in effects if isinstance(e, SendEvent) and isinstance(e.event, Subscribed)
        ]
        sim.stream_owner[stream] = subscribed.framework_id
    return sim


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=50_000)
    parser.add_argument("--frameworks", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=5.0, help="simulated seconds to run")
    parser.add_argument("--tasks-per-offer", type=int, default=4)
    parser.add_argument("--allocator", default="HierarchicalDRF")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--gc-threshold",
        default="100000,50,1000",
        help="gc.set_threshold for the run ('python': CPython's 700,10,10); a master holding a million live "
        "objects wants young collections rarer, or they cost ~40%% of its time",
    )
    args = parser.parse_args()
    if args.gc_threshold != "python":
        gc.set_threshold(*(int(x) for x in args.gc_threshold.split(",")))

    base_mb = rss_mb()
    start = time.perf_counter()
    sim = setup(args)
    setup_s = time.perf_counter() - start
    setup_mb = rss_mb()
    gc.collect()
    gc.freeze()  # the registered cluster is long-lived state, as in a running master

    start = time.perf_counter()
    cpu = time.process_time()
    steps = round(args.seconds / STEP)
    for step in range(1, steps + 1):
        sim.now = step * STEP
        sim.deliver_agent_events()
        sim.send(Tick())
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu
    end_mb = rss_mb()

    state = sim.core.state
    rate = sim.placements / wall
    latency_ms = statistics.fmean(sim.latencies) * 1000 if sim.latencies else 0.0
    running = sum(
        1 for f in state.frameworks.values() for t in f.tasks.values() if t.state == TaskState.TASK_RUNNING
    )
    verdict = "meets" if rate >= TARGET_PLACEMENTS_PER_S else "below"
    cluster = f"{args.agents} agents, {args.frameworks} frameworks in 10 roles"
    print(f"cluster:     {cluster} (set up in {setup_s:.1f} s)")
    allocations = state.metrics["allocation_runs"]
    timing = f"{wall:.2f} s wall ({cpu:.2f} s cpu)"
    print(f"run:         {args.seconds:g} simulated s in {timing}, {allocations} allocations")
    target = f"{verdict} the {TARGET_PLACEMENTS_PER_S:,}/s target"
    tasks = f"{sim.finished} finished, {running} running"
    print(f"placements:  {sim.placements} tasks = {rate:,.0f}/s ({target}); {tasks}")
    print(f"latency:     offer to launch, mean {latency_ms:.2f} ms over {len(sim.latencies)} offers")
    print(f"memory:      master RSS {end_mb:.0f} MB ({setup_mb - base_mb:.0f} MB for the registered cluster)")
    print(
        orjson.dumps(
            {
                "agents": args.agents,
                "frameworks": args.frameworks,
                "simulated_s": args.seconds,
                "wall_s": round(wall, 3),
                "placements": sim.placements,
                "placements_per_s": round(rate, 1),
                "offer_to_launch_ms_mean": round(latency_ms, 3),
                "offers": len(sim.latencies),
                "tasks_finished": sim.finished,
                "master_rss_mb": round(end_mb, 1),
                "gc_threshold": list(gc.get_threshold()),
                "cluster_rss_mb": round(setup_mb - base_mb, 1),
            }
        ).decode()
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

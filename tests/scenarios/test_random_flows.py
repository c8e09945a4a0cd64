"""Random flows of scheduler actions and process exits: agents are never over-allocated, and every
launched task ends once its process has.

Upstream: mesos.md a.10 (an accept is re-validated against current state; unused resources go back to the
pool; reliable status updates: resent until acknowledged), e.1 (an offer is an agent's free resources) and
b.6 (exit -> terminal state). Quickcheck-style, as raft checks its flows (STYLE.md 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corral.core.resources import Resources
from corral.master.config import MasterConfig
from corral.protocol.mesos import TaskInfo
from corral.testing.builders import make_task
from corral.testing.sim import SimCluster, SimFramework

AGENT_RESOURCES = "cpus:2;mem:1024"
FAILOVER_TIMEOUTS = (30.0, 300.0)  # one framework is removed by a long enough absence, the other rarely
TASK_MEM = 64.0
REREGISTER_TIMEOUT = 60.0  # short, so that random waits see agents marked unreachable and coming back


@dataclass(frozen=True)
class Launch:
    framework: int
    offer: int
    cpus: float
    count: int


@dataclass(frozen=True)
class Decline:
    framework: int
    refuse_seconds: float


@dataclass(frozen=True)
class Kill:
    framework: int
    task: int


@dataclass(frozen=True)
class Disconnect:
    framework: int


@dataclass(frozen=True)
class Resubscribe:
    framework: int


@dataclass(frozen=True)
class Acknowledge:
    framework: int


@dataclass(frozen=True)
class Exit:
    process: int
    code: int


@dataclass(frozen=True)
class Wait:
    seconds: float


@dataclass(frozen=True)
class Isolate:
    agent: int


@dataclass(frozen=True)
class Heal:
    agent: int


@dataclass(frozen=True)
class RestartMaster:
    pass


Action = Launch | Decline | Kill | Disconnect | Resubscribe | Acknowledge | Exit | Wait
Fault = Isolate | Heal | RestartMaster

frameworks = st.integers(0, len(FAILOVER_TIMEOUTS) - 1)
actions = st.one_of(
    st.builds(
        Launch,
        frameworks,
        st.integers(0, 3),
        st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.5]),
        st.integers(1, 3),
    ),
    st.builds(Decline, frameworks, st.sampled_from([0.0, 1.0, 5.0, 30.0])),
    st.builds(Kill, frameworks, st.integers(0, 20)),
    st.builds(Disconnect, frameworks),
    st.builds(Resubscribe, frameworks),
    st.builds(Acknowledge, frameworks),
    st.builds(Exit, st.integers(0, 20), st.sampled_from([0, 1])),
    st.builds(Wait, st.sampled_from([0.0, 1.0, 5.0, 12.0, 40.0])),
)
agents = st.integers(0, 1)
faults = st.one_of(st.builds(Isolate, agents), st.builds(Heal, agents), st.just(RestartMaster()))


class Flow:
    """The cluster under test, and what the test asked for, to check the cluster against."""

    def __init__(self) -> None:
        config = MasterConfig(agent_reregister_timeout=REREGISTER_TIMEOUT)
        self.sim = SimCluster(agents=2, resources=AGENT_RESOURCES, master_config=config)
        self.frameworks = [
            self.sim.subscribe_framework(f"fw{i}", failover_timeout=timeout, auto_ack=i == 0)
            for i, timeout in enumerate(FAILOVER_TIMEOUTS)
        ]
        self.cpus: dict[str, float] = {}  # task id -> the cpus it asked for
        self.sim.run_for(1)

    def do(self, action: Action | Fault) -> None:
        sim = self.sim
        match action:
            case Isolate(agent=n):
                if sim.agents[n].reachable:
                    sim.isolate(sim.agents[n])
            case Heal(agent=n):
                if not sim.agents[n].reachable:
                    sim.heal(sim.agents[n])
            case RestartMaster():
                sim.restart_master()
            case Launch(framework=i, offer=n, cpus=cpus, count=count):
                fw = self.frameworks[i]
                if offers := fw.offers():
                    tasks = [self._task(fw, cpus) for _ in range(count)]
                    fw.accept(offers[n % len(offers)], tasks, refuse_seconds=1)
            case Decline(framework=i, refuse_seconds=refuse):
                self.frameworks[i].decline_all(refuse_seconds=refuse)
            case Kill(framework=i, task=n):
                fw = self.frameworks[i]
                if fw.launched:
                    fw.kill(fw.launched[n % len(fw.launched)])
            case Disconnect(framework=i):
                self.frameworks[i].disconnect()
            case Resubscribe(framework=i):
                self.frameworks[i].resubscribe()
            case Acknowledge(framework=i):
                self.frameworks[i].acknowledge_all()
            case Exit(process=n, code=code):
                if running := sim.processes.running():
                    sim.exit(running[n % len(running)].executor_id, code=code)
            case Wait(seconds=seconds):
                sim.run_for(seconds)

    def _task(self, fw: SimFramework, cpus: float) -> TaskInfo:
        task_id = f"{fw.info.name}-t{len(self.cpus)}"
        self.cpus[task_id] = cpus
        return make_task(task_id, cpus=cpus, mem=TASK_MEM)

    # ------------------------------------------------------------ invariants

    def check_never_over_allocated(self) -> None:
        master = self.sim.master.state
        for agent in self.sim.agents:
            total = agent.core.state.resources
            # What really runs there: the processes of the agent's tasks.
            running = [p for p in self.sim.processes.running() if p.agent == agent.name]
            cpus = sum(self.cpus[p.executor_id] for p in running)
            assert cpus <= total.cpus + 1e-9, f"{agent.name} runs {cpus} cpus of {total.cpus}"
            # What the agent believes it runs.
            live = [t.info.resources for e in agent.core.state.executors() for t in e.live_tasks()]
            assert sum(live, Resources()) <= total
            # What the master hands out: used by tasks plus outstanding offers.
            record = master.agents.get(agent.id)
            if record is not None:
                assert record.used + record.offered <= record.total, f"{agent.name}: {record}"

    def finish(self) -> None:
        """Every scheduler comes back, every process exits, time passes until every update is delivered."""
        sim = self.sim
        for agent in sim.agents:
            if not agent.reachable:
                sim.heal(agent)
        for fw in self.frameworks:
            if not fw.subscribed:
                fw.resubscribe()
        for _ in range(4):
            sim.exit_all(code=0)
            sim.run_for(700)  # longer than the longest retry interval (10 min)
            while sum(fw.acknowledge_all() for fw in self.frameworks):
                pass  # each ack releases the next queued update of its task, at once
            if not sim.processes.running() and not any(fw.unacknowledged() for fw in self.frameworks):
                return

    def check_every_launched_task_ended(self) -> None:
        sim = self.sim
        assert sim.processes.running() == []
        for agent in sim.agents:
            assert agent.live_tasks() == [], f"{agent.name} still runs {agent.live_tasks()}"
        assert [t.id for t in sim.master_tasks() if not t.state.is_terminal] == []
        for fw in self.frameworks:
            if not fw.subscribed:
                continue  # removed after its failover timeout: its tasks were killed (checked above)
            states = fw.task_states()
            unfinished = [t for t in fw.launched if t not in states or not states[t].is_terminal]
            assert unfinished == [], f"{fw}: no terminal update for {unfinished}: {states}"


def run(flow: list[Action | Fault]) -> None:
    cluster = Flow()
    for action in flow:
        cluster.do(action)
        cluster.check_never_over_allocated()
    cluster.finish()
    cluster.check_never_over_allocated()
    cluster.check_every_launched_task_ended()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, max_size=30))
def test_random_flows_never_over_allocate_and_every_launched_task_ends(flow: list[Action]) -> None:
    run(list(flow))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(actions, faults), max_size=30))
def test_with_partitions_and_master_failovers_too(flow: list[Action | Fault]) -> None:
    run(flow)

"""Chronos on a whole simulated cluster: its pure core driven as `chronos/runtime.py` drives it, against the
real master and agent cores of SimCluster, on a fake clock (chronos.md c "Schedule evaluation", "Dependent
jobs", "Retries and failures").

Covered: runs launch at their due times (offers are revived and held ahead of time, not awaited at the next
allocation), retries `--failure_retry` apart then an error, a join of two parents runs once, FORBID / REPLACE
/ ALLOW, the run time limit (`maxCompletionTime`) enforced by the agent, and a Chronos restart that neither
launches a slot twice nor forgets a parent's success (#411, #811).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from corral.chronos.dag import parent_problems
from corral.chronos.model import Job
from corral.chronos.runs import RunState, epoch_ms, task_id_for
from corral.chronos.schedule import utc
from corral.chronos.scheduler import (
    ChronosState,
    SchedulerConfig,
    decide,
    on_status,
    put_job,
    reconcile_tasks,
)
from corral.chronos.validation import job_problems
from corral.chronos.wallclock import format_utc
from corral.core.ids import OfferId, TaskId
from corral.core.task_state import TaskState
from corral.frameworks.plan import FrameworkPlan, StatusAck
from corral.protocol.json import JsonValue
from corral.protocol.mesos import Offer, TaskStatus
from corral.protocol.scheduler import Offers, Reconcile, Rescind, Subscribed, Update
from corral.testing.sim import SimCluster

CONFIG = SchedulerConfig(retry_delay=30.0)
STEP = 0.25  # seconds between looks at the framework's events (a runtime reacts at once; this is close)
STARTING, RUNNING = TaskState.TASK_STARTING, TaskState.TASK_RUNNING
FINISHED, FAILED, KILLED = TaskState.TASK_FINISHED, TaskState.TASK_FAILED, TaskState.TASK_KILLED


class SimChronos:
    """Chronos's core on a SimCluster: every event, and every wake the last decision asked for, is a turn;
    each plan goes to the master as the calls the runtime would send, acknowledgements included."""

    def __init__(self, sim: SimCluster, config: SchedulerConfig = CONFIG) -> None:
        self.sim = sim
        self.config = config
        self.fw = sim.subscribe_framework("chronos", failover_timeout=3600.0, checkpoint=True, auto_ack=False)
        self.state = ChronosState()
        self.held: dict[OfferId, Offer] = {}
        self.suppressed = False
        self.wake: datetime | None = None
        self.launched: list[tuple[float, TaskId]] = []  # (sim time, task id) of every task in an ACCEPT
        self._read = 0  # events of `fw.received` handled so far
        self.pump()

    def now(self) -> datetime:
        return utc(self.sim.now())

    def at(self, seconds: float) -> str:
        """An ISO start `seconds` after the cluster started."""
        return format_utc(utc(self.sim.start + seconds))

    def add(self, name: str, **fields: JsonValue) -> Job:
        job = Job.from_json({"name": name, "command": "true", **fields}, now=self.now())
        problems = job_problems(job) + parent_problems(self.state.graph(), job.name, job.parents)
        assert not problems, problems
        self.state = put_job(self.state, job)
        self.turn()
        return job

    # ---- the runtime's loop

    def turn(self) -> None:
        d = decide(
            self.state, list(self.held.values()), self.now(), config=self.config, suppressed=self.suppressed
        )
        self.state, self.held, self.wake = d.state, {o.id: o for o in d.held}, d.wake
        self.launched += [(self.sim.now(), r.task_id) for r in d.launched]
        self.send(d.plan)
        self.suppressed = (self.suppressed or d.plan.suppress) and not d.plan.revive
        self.pump()

    def send(self, plan: FrameworkPlan) -> None:
        for call in plan.to_calls():
            assert self.fw.call(call) in (200, 202), call

    def pump(self) -> None:
        """Handle the events that arrived since the last look, in order (a call may bring more)."""
        while self._read < len(self.fw.received):
            _, event = self.fw.received[self._read]
            self._read += 1
            match event:
                case Subscribed():
                    active = reconcile_tasks(self.state)
                    if active:
                        self.fw.call(Reconcile(tasks=tuple((r.task_id, r.agent_id) for r in active)))
                    self.turn()
                case Offers():
                    self.held.update((o.id, o) for o in event.offers)
                    self.turn()
                case Rescind():
                    self.held.pop(event.offer_id, None)
                case Update():
                    self.update(event.status)
                case _:
                    pass

    def update(self, status: TaskStatus) -> None:
        ack = None
        if status.uuid is not None and status.agent_id is not None:
            ack = StatusAck(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid)
        before = self.state.run(status.task_id)
        self.state, plan = on_status(
            self.state,
            task_id=status.task_id,
            task_state=status.state,
            now=self.now(),
            message=status.message or "",
            ack=ack,
            config=self.config,
        )
        self.send(plan)
        after = self.state.run(status.task_id)
        if before is not None and before.state.is_active and (after is None or after.state.is_terminal):
            self.turn()

    def run_for(self, seconds: float) -> None:
        """Advance the cluster, looking at events every STEP and deciding exactly at each wake."""
        end = self.sim.now() + seconds
        while self.sim.now() < end:
            target = min(end, self.sim.now() + STEP)
            wake = self.wake
            if wake is not None and wake.timestamp() < target:
                target = max(wake.timestamp(), self.sim.now())
                while utc(target) < wake:  # float seconds may land a microsecond short of the wake
                    target += 1e-6
            self.sim.run_for(target - self.sim.now())
            self.pump()
            if wake is not None and self.now() >= wake:
                self.turn()

    def restart(self) -> None:
        """Chronos dies and comes back on the state it had stored; its offers die with its connection."""
        self.fw.disconnect()
        self.held.clear()
        self.suppressed = False
        self.wake = None
        self.fw.resubscribe()
        self.pump()

    def exit(self, task_id: TaskId, code: int) -> None:
        """The task's process exits; Chronos hears of it at once."""
        self.sim.exit(task_id, code)
        self.pump()

    # ---- what happened

    def task(self, job: str, due: float, attempt: int = 0) -> TaskId:
        """The task id of `job`'s run for the slot `due` seconds after the cluster started."""
        return task_id_for(job, utc(self.sim.start + due), attempt)

    def tasks_of(self, job: str) -> list[TaskId]:
        return [t for _, t in self.launched if t.split(":")[3] == job]

    def launch_time(self, task_id: TaskId) -> float:
        return next(t - self.sim.start for t, launched in self.launched if launched == task_id)


def chronos_cluster() -> SimChronos:
    chronos = SimChronos(SimCluster(agents=1, resources="cpus:4;mem:4096;disk:10000"))
    chronos.run_for(1)
    return chronos


def test_runs_launch_at_their_due_times_not_at_the_next_allocation() -> None:
    chronos = chronos_cluster()
    # Two jobs due a quarter second apart: the second needs an offer right after the first took one.
    chronos.add("tick", schedule=f"R3/{chronos.at(10.25)}/PT10S")
    chronos.add("tock", schedule=f"R3/{chronos.at(10.5)}/PT10S")
    for k in range(3):
        chronos.run_for(10.5 + 10 * k - chronos.sim.elapsed() + 0.5)
        for name, due in (("tick", 10.25 + 10 * k), ("tock", 10.5 + 10 * k)):
            task = chronos.task(name, due)
            assert chronos.launch_time(task) == due  # exactly: the offer was there before the due time
            assert chronos.fw.states(task) == [STARTING, RUNNING]
            [(starting_at, _), *_] = chronos.fw.timed_updates(task)
            assert starting_at - chronos.sim.start == due  # and the agent started it then
            chronos.exit(task, 0)
    chronos.run_for(30)
    assert len(chronos.launched) == 6
    job = chronos.state.jobs["tick"]
    assert job.success_count == 3 and job.disabled  # R3 used up: expired after its last success


def test_a_failed_run_is_retried_after_the_retry_delay_then_counted() -> None:
    chronos = chronos_cluster()
    chronos.add("flaky", schedule=f"R1/{chronos.at(5)}/PT1H", retries=2)
    chronos.run_for(5)
    failed_at = 0.0
    for attempt in range(3):
        task = chronos.task("flaky", 5, attempt)  # a retry keeps its slot's due time in its task id
        if attempt:
            assert chronos.launch_time(task) == failed_at + 30  # retry_delay after the failure
        chronos.exit(task, 3)
        failed_at = chronos.sim.elapsed()
        chronos.run_for(31)
    job = chronos.state.jobs["flaky"]
    assert job.error_count == 1 and job.success_count == 0 and job.errors_since_last_success == 1
    assert [r.exit_status for r in chronos.state.runs_of("flaky")] == [3, 3, 3]
    assert len(chronos.launched) == 3  # retries are exhausted: nothing more


def test_a_retry_that_succeeds_counts_a_success_and_no_error() -> None:
    chronos = chronos_cluster()
    chronos.add("flaky", schedule=f"R1/{chronos.at(5)}/PT1H", retries=2)
    chronos.run_for(5)
    chronos.exit(chronos.task("flaky", 5, 0), 1)
    chronos.run_for(31)
    chronos.exit(chronos.task("flaky", 5, 1), 0)
    chronos.run_for(1)
    job = chronos.state.jobs["flaky"]
    assert (job.success_count, job.error_count) == (1, 0)


def test_a_join_runs_once_after_both_parents_succeed_and_a_failed_parent_blocks_it() -> None:
    chronos = chronos_cluster()
    chronos.add("a", schedule=f"R/{chronos.at(5)}/PT1M", retries=0)
    chronos.add("b", schedule=f"R/{chronos.at(15)}/PT1M", retries=0)
    chronos.add("report", parents=["a", "b"])
    chronos.run_for(6)
    chronos.exit(chronos.task("a", 5), 0)
    chronos.run_for(10)
    assert chronos.tasks_of("report") == []  # b has not run yet
    chronos.exit(chronos.task("b", 15), 0)
    chronos.run_for(1)
    [report] = chronos.tasks_of("report")
    chronos.exit(report, 0)
    chronos.run_for(50)  # the second round: a succeeds, b fails
    chronos.exit(chronos.task("a", 65), 0)
    chronos.run_for(10)
    chronos.exit(chronos.task("b", 75), 1)
    chronos.run_for(30)
    assert len(chronos.tasks_of("report")) == 1 and chronos.state.jobs["report"].success_count == 1


def test_forbid_waits_for_the_running_run_then_runs_the_latest_slot_once() -> None:
    chronos = chronos_cluster()
    chronos.add("slow", schedule=f"R/{chronos.at(10)}/PT10S", concurrencyPolicy="FORBID")
    chronos.run_for(30)  # slots 20 and 30 come due while the first run is busy
    first = chronos.task("slow", 10)
    assert chronos.tasks_of("slow") == [first]
    chronos.exit(first, 0)
    chronos.run_for(0.5)
    assert chronos.tasks_of("slow") == [first, chronos.task("slow", 30)]  # the latest slot, once
    assert chronos.state.stats_of("slow").skipped == 1  # slot 20


def test_replace_kills_the_running_run_and_starts_the_new_slot() -> None:
    chronos = chronos_cluster()
    chronos.add("fresh", schedule=f"R/{chronos.at(10)}/PT10S", concurrencyPolicy="REPLACE")
    chronos.run_for(15)
    first, second = chronos.task("fresh", 10), chronos.task("fresh", 20)
    chronos.run_for(6)
    assert chronos.fw.states(first)[-1] == KILLED
    assert chronos.launch_time(second) == 20 and chronos.fw.states(second) == [STARTING, RUNNING]
    killed = chronos.state.run(first)
    assert killed is not None and killed.state is RunState.KILLED
    assert chronos.state.jobs["fresh"].error_count == 0  # a kill is no failure


def test_allow_runs_overlap() -> None:
    chronos = chronos_cluster()
    chronos.add("many", schedule=f"R/{chronos.at(10)}/PT10S", concurrencyPolicy="ALLOW")
    chronos.run_for(31)
    running = chronos.sim.tasks(RUNNING)
    assert running == sorted(chronos.task("many", due) for due in (10, 20, 30))


def test_the_run_time_limit_fails_a_run_that_runs_too_long() -> None:
    chronos = chronos_cluster()
    chronos.add("stuck", schedule=f"R1/{chronos.at(5)}/PT1H", maxCompletionTime=20, retries=0)
    chronos.run_for(23)
    task = chronos.task("stuck", 5)
    assert chronos.fw.states(task) == [STARTING, RUNNING]
    chronos.run_for(2)
    assert chronos.fw.states(task)[-1] == FAILED
    assert chronos.fw.updates(task)[-1].reason == "REASON_MAX_COMPLETION_TIME_REACHED"
    run = chronos.state.run(task)
    assert run is not None and run.state is RunState.FAILED
    assert chronos.state.jobs["stuck"].error_count == 1


def test_a_restarted_chronos_launches_no_slot_twice_and_keeps_dependency_progress() -> None:
    chronos = chronos_cluster()
    chronos.add("a", schedule=f"R/{chronos.at(5)}/PT30S", retries=0)
    chronos.add("b", schedule=f"R/{chronos.at(20)}/PT30S", retries=0)
    chronos.add("join", parents=["a", "b"])
    chronos.run_for(6)
    chronos.exit(chronos.task("a", 5), 0)
    chronos.run_for(1)
    chronos.restart()  # between the two parents (#811), and with nothing running
    chronos.run_for(14)
    b = chronos.task("b", 20)
    chronos.restart()  # while b runs: reconciled, not launched again (#411)
    chronos.run_for(2)
    chronos.exit(b, 0)
    chronos.run_for(1)
    [join] = chronos.tasks_of("join")
    chronos.exit(join, 0)
    chronos.run_for(30)
    counts = Counter(t for _, t in chronos.launched)
    assert all(n == 1 for n in counts.values()), counts
    assert chronos.state.jobs["join"].success_count == 1
    assert epoch_ms(utc(chronos.sim.start + 35)) in {epoch_ms(r.due) for r in chronos.state.runs_of("a")}

"""Chronos's scheduling core on a fake clock (chronos.md c "Schedule evaluation", "Dependent jobs", "Retries
and failures", "Manual runs"): due runs launch once, missed runs within epsilon launch once and older ones are
skipped and counted, retries, FORBID and REPLACE, dependent jobs, disabled jobs, R-count expiry.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.chronos.model import Job
from corral.chronos.runs import Run, RunState
from corral.chronos.schedule import CronSchedule, IsoSchedule, due_between, utc
from corral.chronos.scheduler import (
    ChronosState,
    Decision,
    SchedulerConfig,
    decide,
    delete_job,
    job_state_text,
    kill_tasks,
    next_wake,
    on_status,
    orphaned_children,
    put_job,
    run_now,
    wants_offers,
)
from corral.core.ids import AgentId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.mesos import Offer
from corral.protocol.scheduler import Launch
from corral.testing.clock import FakeClock

T0 = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
CONFIG = SchedulerConfig(retry_delay=10.0, revive_lead=2.0, hold=3.0)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def job(name: str, schedule: str | None = "R/2026-01-01T00:00:10Z/PT60S", **fields: object) -> Job:
    obj: dict[str, object] = {"name": name, "command": "true", "owner": "", "disabled": False, **fields}
    if schedule is not None:
        obj["schedule"] = schedule
    return Job.from_json(obj, now=T0)  # type: ignore[arg-type]


_offer_ids = itertools.count(1)


def offer(cpus: float = 4.0, mem: float = 4096.0, disk: float = 10000.0, host: str = "a1") -> Offer:
    return Offer(
        id=OfferId(f"o{next(_offer_ids)}"),
        framework_id=FrameworkId("fw"),
        agent_id=AgentId(f"agent-{host}"),
        hostname=host,
        resources=Resources.of(cpus=cpus, mem=mem, disk=disk),
    )


def state_of(*jobs: Job) -> ChronosState:
    s = ChronosState()
    for j in jobs:
        s = put_job(s, j)
    return s


def launched_ids(d: Decision) -> list[str]:
    return [
        t.task_id for a in d.plan.accepts for op in a.operations if isinstance(op, Launch) for t in op.tasks
    ]


def report(s: ChronosState, task_id: str, state: TaskState, now: datetime) -> ChronosState:
    s, _ = on_status(s, task_id=TaskId(task_id), task_state=state, now=now, config=CONFIG)
    return s


def finish(s: ChronosState, task_id: str, start: float, end: float, ok: bool = True) -> ChronosState:
    s = report(s, task_id, TaskState.TASK_RUNNING, at(start))
    return report(s, task_id, TaskState.TASK_FINISHED if ok else TaskState.TASK_FAILED, at(end))


def test_a_due_run_launches_once_at_its_due_time() -> None:
    s = state_of(job("tick"))
    d = decide(s, [offer()], at(5), config=CONFIG)  # due at 10 s: nothing yet, and no offer wanted
    assert launched_ids(d) == [] and d.plan.declines and d.plan.suppress
    assert next_wake(d.state, at(5), CONFIG) == at(8)  # revive 2 s ahead
    assert wants_offers(d.state, at(8), CONFIG)
    d = decide(d.state, [], at(8), config=CONFIG, suppressed=True)
    assert d.plan.revive
    o = offer()
    d = decide(d.state, [o], at(8.5), config=CONFIG)  # arrives 1.5 s early: held, not declined
    assert d.held == (o,) and not d.plan.declines and not d.plan.accepts
    d = decide(d.state, list(d.held), at(10), config=CONFIG)
    assert launched_ids(d) == ["ct:1767225610000:0:tick:"]
    assert d.state.jobs["tick"].schedule is not None
    assert d.state.jobs["tick"].schedule.text == "R/2026-01-01T00:01:10.000Z/PT60S"
    again = decide(d.state, [offer()], at(11), config=CONFIG)
    assert launched_ids(again) == []  # the slot is launched exactly once


def test_replanning_a_slot_that_has_a_run_launches_nothing() -> None:
    s = state_of(job("tick"))
    d = decide(s, [offer()], at(10), config=CONFIG)
    [task_id] = launched_ids(d)
    # A crash after the run was stored but before the advanced schedule was: the slot is planned again.
    stale = replace(d.state, jobs=s.jobs)
    d2 = decide(stale, [offer()], at(11), config=CONFIG)
    assert launched_ids(d2) == []
    run = d2.state.run(TaskId(task_id))
    assert run is not None and run.state is RunState.LAUNCHED


def test_a_missed_run_within_epsilon_launches_once_and_older_slots_are_skipped() -> None:
    s = state_of(job("j", "R/2026-01-01T00:00:00Z/PT10S", epsilon="PT15S"))
    d = decide(s, [offer()], at(32), config=CONFIG)  # slots 0, 10, 20, 30: 30 is 2 s late
    assert launched_ids(d) == ["ct:1767225630000:0:j:"]
    assert d.state.stats["j"].skipped == 3


def test_a_missed_run_beyond_epsilon_is_skipped_and_counted() -> None:
    s = state_of(job("j", "R/2026-01-01T00:00:00Z/PT60S", epsilon="PT5S"))
    d = decide(s, [offer()], at(30), config=CONFIG)  # slot 0 is 30 s late
    assert launched_ids(d) == []
    assert d.state.stats["j"].skipped == 1
    assert d.state.jobs["j"].schedule is not None
    assert d.state.jobs["j"].schedule.text.startswith("R/2026-01-01T00:01:00")


def test_a_queued_run_that_waits_past_epsilon_is_skipped() -> None:
    s = state_of(job("j", "R/2026-01-01T00:00:00Z/PT60S", epsilon="PT5S", cpus=64))
    d = decide(s, [offer()], at(1), config=CONFIG)  # too big for the offer: stays queued
    assert launched_ids(d) == [] and job_state_text(d.state, "j") == "queued"
    d = decide(d.state, [offer()], at(7), config=CONFIG)
    assert job_state_text(d.state, "j") == "idle" and d.state.stats["j"].skipped == 1
    assert [r.state for r in d.state.runs_of("j")] == [RunState.SKIPPED]


def test_failures_are_retried_then_counted() -> None:
    s = state_of(job("flaky", "R1/2026-01-01T00:00:00Z/PT60S", retries=1))
    d = decide(s, [offer()], at(0), config=CONFIG)
    [first] = launched_ids(d)
    s = finish(d.state, first, 1, 2, ok=False)
    assert s.jobs["flaky"].error_count == 0  # a retried failure is not an error yet
    assert launched_ids(decide(s, [offer()], at(5), config=CONFIG)) == []  # retry_delay is 10 s
    d = decide(s, [offer()], at(12), config=CONFIG)
    assert launched_ids(d) == ["ct:1767225600000:1:flaky:"]
    s = finish(d.state, "ct:1767225600000:1:flaky:", 13, 14, ok=False)
    assert s.jobs["flaky"].error_count == 1 and s.jobs["flaky"].last_error == at(14)
    assert not s.has_queued("flaky")


def test_a_killed_run_is_neither_retried_nor_counted() -> None:
    s = state_of(job("j"))
    d = decide(s, [offer()], at(10), config=CONFIG)
    [tid] = launched_ids(d)
    s = report(d.state, tid, TaskState.TASK_RUNNING, at(11))
    s, kills = kill_tasks(s, "j", at(12))
    assert [k.task_id for k in kills] == [tid]
    s = report(s, tid, TaskState.TASK_KILLED, at(13))
    assert s.jobs["j"].error_count == 0 and not s.has_queued("j")


def test_forbid_skips_slots_while_running_then_catches_up_once() -> None:
    s = state_of(job("slow", "R/2026-01-01T00:00:00Z/PT10S"))
    d = decide(s, [offer()], at(0), config=CONFIG)
    [first] = launched_ids(d)
    s = report(d.state, first, TaskState.TASK_RUNNING, at(1))
    d = decide(s, [offer()], at(25), config=CONFIG)  # slots 10 and 20 came due while it runs
    assert launched_ids(d) == []
    s = finish(d.state, first, 1, 26)
    d = decide(s, [offer()], at(26), config=CONFIG)
    assert launched_ids(d) == ["ct:1767225620000:0:slow:"]  # the latest slot, once
    assert d.state.stats["slow"].skipped == 1


def test_replace_kills_the_running_run() -> None:
    s = state_of(job("r", "R/2026-01-01T00:00:00Z/PT10S", concurrencyPolicy="REPLACE"))
    d = decide(s, [offer()], at(0), config=CONFIG)
    [first] = launched_ids(d)
    s = report(d.state, first, TaskState.TASK_RUNNING, at(1))
    d = decide(s, [offer()], at(10), config=CONFIG)
    assert [k.task_id for k in d.plan.kills] == [first]
    assert launched_ids(d) == ["ct:1767225610000:0:r:"]


def test_allow_runs_overlap() -> None:
    s = state_of(job("a", "R/2026-01-01T00:00:00Z/PT10S", concurrent=True))
    d = decide(s, [offer()], at(0), config=CONFIG)
    s = report(d.state, launched_ids(d)[0], TaskState.TASK_RUNNING, at(1))
    d = decide(s, [offer()], at(10), config=CONFIG)
    assert launched_ids(d) == ["ct:1767225610000:0:a:"] and job_state_text(d.state, "a") == "2 running"


def test_a_dependent_job_runs_once_after_all_parents_succeeded() -> None:
    s = state_of(
        job("a", "R1/2026-01-01T00:00:00Z/PT60S"),
        job("b", "R1/2026-01-01T00:00:05Z/PT60S"),
    )
    s = put_job(s, job("report", None, parents=["a", "b"]))
    d = decide(s, [offer()], at(0), config=CONFIG)
    s = finish(d.state, launched_ids(d)[0], 0, 1)
    assert not s.has_queued("report")  # b has not succeeded yet
    d = decide(s, [offer()], at(5), config=CONFIG)
    s = finish(d.state, launched_ids(d)[0], 5, 6)
    assert s.has_queued("report")
    d = decide(s, [offer()], at(6), config=CONFIG)
    assert launched_ids(d) == ["ct:1767225606000:0:report:"]
    s = finish(d.state, launched_ids(d)[0], 6, 7)
    assert s.jobs["report"].success_count == 1
    assert launched_ids(decide(s, [offer()], at(8), config=CONFIG)) == []  # once, not again


def test_a_failed_parent_triggers_children_only_with_soft_error() -> None:
    s = state_of(job("p", "R1/2026-01-01T00:00:00Z/PT60S", retries=0))
    s = put_job(s, job("c", None, parents=["p"]))
    d = decide(s, [offer()], at(0), config=CONFIG)
    assert not finish(d.state, launched_ids(d)[0], 0, 1, ok=False).has_queued("c")
    s = put_job(s, job("p", "R1/2026-01-01T00:00:00Z/PT60S", retries=0, softError=True))
    d = decide(s, [offer()], at(0), config=CONFIG)
    assert finish(d.state, launched_ids(d)[0], 0, 1, ok=False).has_queued("c")


def test_disabled_jobs_never_run() -> None:
    s = state_of(job("off", "R/2026-01-01T00:00:00Z/PT10S", disabled=True))
    for t in (0, 10, 20):
        assert launched_ids(decide(s, [offer()], at(t), config=CONFIG)) == []
    s = run_now(s, "off", at(21))
    d = decide(s, [offer()], at(21), config=CONFIG)
    assert launched_ids(d) == [] and [r.message for r in d.state.runs_of("off")] == ["job disabled"]


def test_r_count_decrements_and_the_job_expires_after_its_last_success() -> None:
    s = state_of(job("twice", "R2/2026-01-01T00:00:00Z/PT10S"))
    d = decide(s, [offer()], at(0), config=CONFIG)
    assert d.state.jobs["twice"].schedule is not None
    assert d.state.jobs["twice"].schedule.text == "R1/2026-01-01T00:00:10.000Z/PT10S"
    s = finish(d.state, launched_ids(d)[0], 0, 1)
    d = decide(s, [offer()], at(10), config=CONFIG)
    assert d.state.jobs["twice"].schedule is not None
    assert d.state.jobs["twice"].schedule.text.startswith("R0/")
    s = finish(d.state, launched_ids(d)[0], 10, 11)
    assert s.jobs["twice"].disabled and s.jobs["twice"].success_count == 2
    assert launched_ids(decide(s, [offer()], at(20), config=CONFIG)) == []


def test_a_manual_run_launches_now_and_keeps_repetitions() -> None:
    s = state_of(job("m", "R1/2026-01-02T00:00:00Z/PT10S"))
    s = run_now(s, "m", at(3))
    s = run_now(s, "m", at(3.5))  # already queued: ignored
    d = decide(s, [offer()], at(3.5), config=CONFIG)
    assert launched_ids(d) == ["ct:1767225603000:0:m:"]
    assert d.state.jobs["m"].schedule is not None and d.state.jobs["m"].schedule.text.startswith("R1/")


def test_an_offer_too_small_is_declined_briefly_while_a_run_waits() -> None:
    s = state_of(job("big", "R/2026-01-01T00:00:00Z/PT60S", cpus=2))
    d = decide(s, [offer(cpus=1)], at(0), config=CONFIG)
    assert launched_ids(d) == []
    assert [x.refuse_seconds for x in d.plan.declines] == [CONFIG.busy_refuse] and not d.plan.suppress


def test_constraints_pick_the_matching_agent() -> None:
    s = state_of(job("pinned", "R/2026-01-01T00:00:00Z/PT60S", constraints=[["hostname", "EQUALS", "b2"]]))
    d = decide(s, [offer(host="a1"), offer(host="b2")], at(0), config=CONFIG)
    [accept] = d.plan.accepts
    [op] = accept.operations
    assert isinstance(op, Launch) and op.tasks[0].agent_id == AgentId("agent-b2")


def test_the_task_carries_chronos_environment() -> None:
    s = state_of(
        job("env", "R/2026-01-01T00:00:00Z/PT60S", environmentVariables=[{"name": "X", "value": "1"}])
    )
    d = decide(s, [offer()], at(0), config=CONFIG)
    [accept] = d.plan.accepts
    [op] = accept.operations
    assert isinstance(op, Launch)
    [task] = op.tasks
    assert task.command is not None
    env = dict(task.command.environment)
    assert env["X"] == "1" and env["CHRONOS_JOB_NAME"] == "env" and env["CHRONOS_JOB_RUN_ATTEMPT"] == "0"
    assert task.name == "ChronosTask:env" and task.resources.cpus == 0.1


def test_deleting_a_job_kills_its_runs_and_rewires_children() -> None:
    s = state_of(job("root"))
    s = put_job(s, job("mid", None, parents=["root"]))
    s = put_job(s, job("leaf", None, parents=["mid"]))
    assert orphaned_children(s, "root") == ("mid",)
    s = run_now(s, "mid", at(0))
    d = decide(s, [offer()], at(0), config=CONFIG)
    s, kills = delete_job(d.state, "mid", at(1))
    assert [k.task_id for k in kills] == launched_ids(d)
    assert "mid" not in s.jobs and s.jobs["leaf"].parents == ("root",)


def test_stats_record_run_times_from_start_to_end() -> None:
    s = state_of(job("t", "R/2026-01-01T00:00:00Z/PT10S"))
    for i, took in enumerate((1.0, 3.0, 2.0)):
        d = decide(s, [offer()], at(10 * i), config=CONFIG)
        s = finish(d.state, launched_ids(d)[0], 10 * i + 0.5, 10 * i + 0.5 + took)
    assert s.stats["t"].durations == (1.0, 3.0, 2.0)
    assert s.stats["t"].histogram()["median"] == 2000.0


def test_a_status_for_an_unknown_chronos_task_kills_it() -> None:
    _, plan = on_status(
        ChronosState(), task_id=TaskId("ct:1:0:gone:"), task_state=TaskState.TASK_RUNNING, now=at(0)
    )
    assert [k.task_id for k in plan.kills] == ["ct:1:0:gone:"]


def test_runs_round_trip_through_json() -> None:
    run = Run(job="j", due=at(1.5), attempt=2, queued_at=at(0), state=RunState.FAILED, message="exited 3")
    assert Run.from_json(run.to_json()) == run and run.exit_status == 3


def test_an_accept_with_more_due_soon_returns_the_rest_of_the_offer_at_once() -> None:
    # Rule 5: the rest of the offer comes back unfiltered and re-offered now, for the run due 1 s later.
    s = state_of(job("a", "R/2026-01-01T00:00:10Z/PT60S"), job("b", "R/2026-01-01T00:00:11Z/PT60S"))
    d = decide(s, [offer()], at(10), config=CONFIG)
    [accept] = d.plan.accepts
    assert accept.refuse_seconds == 0.0 and d.plan.revive and not d.plan.suppress
    assert d.wake == at(11)  # offers are flowing: no revive lead to wake for
    # Nothing else due soon: the rest is refused for a while, and no revive.
    lone = decide(state_of(job("a", "R/2026-01-01T00:00:10Z/PT60S")), [offer()], at(10), config=CONFIG)
    [accept] = lone.plan.accepts
    assert accept.refuse_seconds == CONFIG.busy_refuse and not lone.plan.revive


def test_next_wake_adds_the_revive_lead_only_while_offers_are_suppressed() -> None:
    s = state_of(job("a", "R/2026-01-01T00:00:10Z/PT60S"))
    assert next_wake(s, at(0), CONFIG, suppressed=True) == at(8)
    assert next_wake(s, at(0), CONFIG, suppressed=False) == at(10)
    d = decide(s, [], at(0), config=CONFIG)  # nothing wanted: it suppresses, so it wakes to revive
    assert d.plan.suppress and d.wake == at(8)


def test_a_turn_with_nothing_due_changes_nothing() -> None:
    # The store writes what changed: an idle turn must leave the state as it was, cron jobs included.
    s = state_of(job("iso"), job("cron", "*/5 * * * *"))
    first = decide(s, [], at(1), config=CONFIG).state  # a cron job starts counting its slots from now
    assert first.stats_of("cron").handled_through == at(1)
    assert decide(first, [], at(5), config=CONFIG).state is first


def test_the_run_time_limit_is_the_tasks_max_completion_time() -> None:
    s = state_of(job("limited", "R/2026-01-01T00:00:00Z/PT60S", maxCompletionTime=90))
    [accept] = decide(s, [offer()], at(0), config=CONFIG).plan.accepts
    [op] = accept.operations
    assert isinstance(op, Launch) and op.tasks[0].max_completion_time == 90.0
    [accept] = decide(state_of(job("free")), [offer()], at(10), config=CONFIG).plan.accepts
    [op] = accept.operations
    assert isinstance(op, Launch) and op.tasks[0].max_completion_time is None


def test_history_keeps_the_last_finished_runs_and_forgets_a_deleted_jobs() -> None:
    config = replace(CONFIG, history_limit=2)
    s = state_of(job("t", "R/2026-01-01T00:00:00Z/PT10S"))
    for i in range(4):
        d = decide(s, [offer()], at(10 * i), config=config)
        s, _ = on_status(
            d.state,
            task_id=TaskId(launched_ids(d)[0]),
            task_state=TaskState.TASK_FINISHED,
            now=at(10 * i + 1),
            config=config,
        )
    assert [r.due for r in s.runs_of("t")] == [at(20), at(30)]
    d = decide(s, [offer()], at(40), config=config)
    [running] = launched_ids(d)
    s, _ = delete_job(d.state, "t", at(41))
    assert [r.task_id for r in s.runs_of("t")] == [running]  # still running: its end is still to come
    s, _ = on_status(s, task_id=TaskId(running), task_state=TaskState.TASK_KILLED, now=at(42), config=config)
    assert s.runs_of("t") == [] and "t" not in s.runs


def test_a_run_takes_the_smallest_offer_that_fits_and_keeps_the_other_in_hand() -> None:
    s = state_of(job("a", "R/2026-01-01T00:00:10Z/PT60S"), job("b", "R/2026-01-01T00:00:11Z/PT60S"))
    small, big = offer(cpus=0.5, mem=256), offer(cpus=8)
    d = decide(s, [big, small], at(10), config=CONFIG)
    [accept] = d.plan.accepts
    assert accept.offer_ids == (small.id,) and accept.refuse_seconds == 0.0
    assert d.held == (big,) and not d.plan.revive  # the big offer serves b: no revive needed


def test_a_ready_run_with_no_offer_in_hand_revives() -> None:
    s = state_of(job("a", "R/2026-01-01T00:00:10Z/PT60S"))
    d = decide(s, [], at(10), config=CONFIG)  # due, and the offer it was waiting for has not come
    assert d.plan.revive and d.state.has_queued("a")
    d = decide(d.state, [offer(cpus=0.01)], at(10.5), config=CONFIG)  # too small: refused briefly, no revive
    assert not d.plan.revive and [x.refuse_seconds for x in d.plan.declines] == [CONFIG.busy_refuse]


@settings(max_examples=60, deadline=None)
@given(
    schedules=st.lists(
        st.sampled_from(
            ["R/2026-03-28T23:59:30Z/PT7M", "R5/2026-03-29T00:00:00Z/PT1H", "*/5 * * * *", "0 2 * * *"]
        ),
        min_size=1,
        max_size=4,
    ),
    zone=st.sampled_from(["", "Europe/Paris", "America/New_York"]),
    steps=st.lists(st.floats(0.1, 1800.0), min_size=1, max_size=60),
    epsilon=st.sampled_from(["", "PT1S", "PT10M"]),
)
def test_every_slot_is_launched_or_skipped_exactly_once_across_a_dst_change(
    schedules: list[str], zone: str, steps: list[float], epsilon: str
) -> None:
    # decide() ticking on a fake clock at irregular steps through Europe's spring-forward night; every run
    # ends at once. What it launched and skipped must account for each slot once (chronos.md k).
    clock = FakeClock(datetime(2026, 3, 28, 23, 59, tzinfo=UTC).timestamp())
    begin = utc(clock.now())
    fields: dict[str, object] = {"scheduleTimeZone": zone}
    if epsilon:
        fields["epsilon"] = epsilon
    jobs = [job(f"j{i}", text, **fields) for i, text in enumerate(schedules)]
    s = state_of(*jobs)
    launches: dict[str, list[datetime]] = {j.name: [] for j in jobs}  # the history keeps only the latest runs
    for step in [0.0, *steps]:  # the first turn right when the jobs are saved, as the runtime does
        clock.advance(step)
        d = decide(s, [offer()], utc(clock.now()), config=CONFIG)
        s = d.state
        for run in d.launched:
            launches[run.job].append(run.due)
            s = report(s, run.task_id, TaskState.TASK_FINISHED, utc(clock.now()))
    end = utc(clock.now())
    for j in jobs:
        assert j.schedule is not None
        created = begin if isinstance(j.schedule, CronSchedule) else j.schedule.start - timedelta(seconds=1)
        limit = j.schedule.repetitions if isinstance(j.schedule, IsoSchedule) else None
        # Skipped slots do not use up an `Rn` job's repetitions (chronos.md c): its slots are those of the
        # endless schedule until the n-th launch.
        endless = replace(j.schedule, repetitions=None) if isinstance(j.schedule, IsoSchedule) else j.schedule
        slots = due_between(endless, created, end, limit=100_000)
        launched = launches[j.name]
        skipped = s.stats_of(j.name).skipped
        assert len(launched) == len(set(launched))  # never twice
        assert set(launched) <= set(slots)
        if limit is None or len(launched) < limit:
            assert len(launched) + skipped == len(slots)  # none lost
        else:
            assert len(launched) == limit and len(launched) + skipped <= len(slots)

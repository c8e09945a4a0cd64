"""Chronos's decisions: which runs are due, which offers launch them, what a status update changes.

Pure: every function takes a `ChronosState` snapshot and `now` and returns the next state with a
`FrameworkPlan`; the runtime persists the difference and only then sends the plan (so a run is recorded as
LAUNCHED before the ACCEPT that launches it leaves the process, and a crash never launches a slot twice).

Rules:
1. One queued run per job. A scheduled job is planned (`schedule.plan_launch`) only when it has no queued run
   and, under FORBID, no active run: a slot that comes due while the previous run is busy waits, then the
   latest such slot runs once if it is still within the catch-up window (`epsilon`/`startingDeadlineSeconds`);
   older slots are skipped and counted. REPLACE kills the active runs instead. A queued scheduled run that
   waits for offers past its window is skipped and counted too.
2. A run is keyed by its task id (`runs.py`), so re-planning a slot that already has a run launches nothing.
3. Failures (FAILED, LOST, ERROR, DROPPED, GONE) are retried `retries` times, `retry_delay` apart; a KILLED
   run is neither retried nor counted. When retries are exhausted the job counts an error and, with
   `softError`, still triggers its children.
4. A dependent job is queued once every parent succeeded since it last started (`dag.py`); the progress is
   part of the state, so it is persisted with everything else.
5. Offers are wanted ahead of time: `wants_offers` turns true `revive_lead` seconds before a due time, and an
   offer arriving within `hold` seconds of a due time is held (neither used nor declined) so the run
   launches at its due time rather than at the next allocation after it. A run takes the smallest offer
   that fits; when an ACCEPT leaves no offer in hand while more is due, a revive brings its remainder back
   at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from corral.chronos.dag import (
    DependencyProgress,
    JobGraph,
    child_started,
    parent_succeeded,
    parents_after_delete,
    prune,
)
from corral.chronos.model import ConcurrencyPolicy, ConstraintOperator, Job
from corral.chronos.runs import Run, RunState, epoch_ms, is_chronos_task, job_of_task
from corral.chronos.schedule import CronSchedule, IsoSchedule, next_due, plan_launch
from corral.chronos.stats import JobStats
from corral.core.ids import OfferId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.frameworks.plan import FrameworkPlan, OfferAccept, OfferDecline, StatusAck, TaskKill
from corral.protocol.mesos import CommandInfo, Offer, TaskInfo, Uri
from corral.protocol.scheduler import Launch

_RUNNING_STATES = frozenset(
    {TaskState.TASK_STAGING, TaskState.TASK_STARTING, TaskState.TASK_RUNNING, TaskState.TASK_KILLING}
)
_FAILED_STATES = frozenset(
    {
        TaskState.TASK_FAILED,
        TaskState.TASK_ERROR,
        TaskState.TASK_LOST,
        TaskState.TASK_DROPPED,
        TaskState.TASK_GONE,
        TaskState.TASK_GONE_BY_OPERATOR,
        TaskState.TASK_UNKNOWN,
    }
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerConfig:
    retry_delay: float = 60.0  # Chronos's --failure_retry
    revive_lead: float = 2.0  # want offers this long before a due time
    hold: float = 3.0  # keep an offer that arrives this long before a due time
    decline_refuse: float = 120.0  # refuse_seconds when nothing waits (a revive clears it)
    busy_refuse: float = 1.0  # refuse_seconds for an offer too small for what waits
    history_limit: int = 20  # finished runs kept per job


@dataclass(frozen=True, slots=True, kw_only=True)
class JobRuns:
    """One job's runs: those not finished (queued, launched, running), and the last finished ones."""

    live: tuple[Run, ...] = ()
    finished: tuple[Run, ...] = ()  # in the order they finished

    def all(self) -> tuple[Run, ...]:
        return self.live + self.finished

    def find(self, task_id: TaskId) -> Run | None:
        return next((r for r in self.all() if r.task_id == task_id), None)

    def with_run(self, run: Run) -> JobRuns:
        """`run` added, or updated where it is; a finished run moves to the end of `finished`."""
        if run.state.is_terminal:
            live = tuple(r for r in self.live if r.task_id != run.task_id)
            finished = tuple(r for r in self.finished if r.task_id != run.task_id)
            return JobRuns(live=live, finished=(*finished, run))
        if any(r.task_id == run.task_id for r in self.live):
            return replace(self, live=tuple(run if r.task_id == run.task_id else r for r in self.live))
        return replace(self, live=(*self.live, run))

    def trimmed(self, limit: int) -> JobRuns:
        """Only the last `limit` finished runs kept."""
        if len(self.finished) <= limit:
            return self
        return replace(self, finished=self.finished[len(self.finished) - limit :])


_NO_RUNS = JobRuns()
_NO_STATS = JobStats()


def runs_by_job(runs: Iterable[Run]) -> dict[str, JobRuns]:
    """Runs grouped by job (a store's, a test's): unfinished ones first, finished ones by when they ended."""
    out: dict[str, JobRuns] = {}
    for run in sorted(runs, key=lambda r: (r.ended_at is not None, r.ended_at or r.queued_at, r.attempt)):
        out[run.job] = out.get(run.job, _NO_RUNS).with_run(run)
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ChronosState:
    """Everything Chronos knows. Runs are grouped by job, so a turn costs what its jobs' runs cost, not what
    every run ever kept costs, and the store finds what changed by comparing each job's runs by identity."""

    jobs: Mapping[str, Job] = field(default_factory=dict)
    runs: Mapping[str, JobRuns] = field(default_factory=dict)
    stats: Mapping[str, JobStats] = field(default_factory=dict)
    progress: DependencyProgress = field(default_factory=DependencyProgress)

    def run(self, task_id: TaskId) -> Run | None:
        job = job_of_task(task_id)
        return None if job is None else self.runs.get(job, _NO_RUNS).find(task_id)

    def runs_of(self, job: str) -> list[Run]:
        return sorted(self.runs.get(job, _NO_RUNS).all(), key=lambda r: (r.queued_at, r.attempt))

    def live_runs(self) -> Iterator[Run]:
        for runs in self.runs.values():
            yield from runs.live

    def stats_of(self, job: str) -> JobStats:
        return self.stats.get(job, _NO_STATS)

    def has_queued(self, job: str) -> bool:
        return any(r.state is RunState.QUEUED for r in self.runs.get(job, _NO_RUNS).live)

    def active_runs(self, job: str) -> list[Run]:
        return [r for r in self.runs.get(job, _NO_RUNS).live if r.state.is_active]

    def graph(self) -> JobGraph:
        return JobGraph.from_jobs(self.jobs.values())


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    state: ChronosState
    plan: FrameworkPlan
    held: tuple[Offer, ...] = ()  # offers kept for a run due within `hold`; pass them to the next decide
    launched: tuple[Run, ...] = ()
    skipped: tuple[Run, ...] = ()
    wake: datetime | None = None  # `next_wake` of the new state: when to decide again at the latest


# ---- small state edits -----------------------------------------------------------------------------------


def _with_run(state: ChronosState, run: Run) -> ChronosState:
    return replace(state, runs={**state.runs, run.job: state.runs.get(run.job, _NO_RUNS).with_run(run)})


def _with_job(state: ChronosState, job: Job) -> ChronosState:
    return replace(state, jobs={**state.jobs, job.name: job})


def _with_stats(state: ChronosState, name: str, stats: JobStats) -> ChronosState:
    return replace(state, stats={**state.stats, name: stats})


def _queue(state: ChronosState, run: Run) -> ChronosState:
    """Add a queued run unless its task id exists already (Rule 2)."""
    return state if state.run(run.task_id) is not None else _with_run(state, run)


def _is_blocked(state: ChronosState, job: Job) -> bool:
    return job.concurrency_policy is ConcurrencyPolicy.FORBID and bool(state.active_runs(job.name))


# ---- planning due runs -----------------------------------------------------------------------------------


def _waiting(state: ChronosState) -> tuple[set[str], set[str]]:
    """The jobs with a queued run, and the FORBID jobs with an active one: neither plans its next slot."""
    queued: set[str] = set()
    blocked: set[str] = set()
    for name, runs in state.runs.items():
        if not runs.live:
            continue
        job = state.jobs.get(name)
        forbid = job is not None and job.concurrency_policy is ConcurrencyPolicy.FORBID
        for run in runs.live:
            if run.state is RunState.QUEUED:
                queued.add(name)
            elif forbid:
                blocked.add(name)
    return queued, blocked


def _cron_due(state: ChronosState, name: str, schedule: CronSchedule, now: datetime) -> bool:
    handled = state.stats_of(name).handled_through
    if handled is None:
        return True  # planned once from now (it does not catch up on its past) to start counting its slots
    slot = next_due(schedule, handled)
    return slot is not None and slot <= now


def enqueue_due(state: ChronosState, now: datetime) -> tuple[ChronosState, tuple[TaskKill, ...]]:
    """Queue the due slot of every scheduled job (Rule 1); REPLACE's kills of the runs it replaces."""
    kills: list[TaskKill] = []
    queued, blocked = _waiting(state)
    for job in state.jobs.values():  # the loop replaces `state`, never mutates this mapping
        schedule = job.schedule
        if schedule is None or job.disabled:
            continue
        if isinstance(schedule, IsoSchedule):  # inlined: every turn asks every job
            if schedule.repetitions == 0 or schedule.start > now:
                continue
        elif not _cron_due(state, job.name, schedule, now):
            continue
        if job.name in queued or job.name in blocked:
            continue
        stats = state.stats_of(job.name)
        plan = plan_launch(
            schedule, now=now, last_handled=stats.handled_through, catch_up=job.catch_up_window
        )
        if plan.schedule != job.schedule:
            state = _with_job(state, replace(job, schedule=plan.schedule))
        new_stats = replace(stats.with_skipped(plan.skipped), handled_through=plan.handled_through)
        if isinstance(job.schedule, IsoSchedule):
            new_stats = replace(new_stats, handled_through=stats.handled_through)
        if new_stats != stats:
            state = _with_stats(state, job.name, new_stats)
        if plan.due is None:
            continue
        state = _queue(state, Run(job=job.name, due=plan.due, queued_at=now))
        if job.concurrency_policy is ConcurrencyPolicy.REPLACE:
            kills += [TaskKill(task_id=r.task_id, agent_id=r.agent_id) for r in state.active_runs(job.name)]
    return state, tuple(kills)


def _drop_stale(state: ChronosState, now: datetime) -> tuple[ChronosState, list[Run]]:
    """Skip queued runs of disabled or deleted jobs, and scheduled runs past their catch-up window."""
    skipped: list[Run] = []
    for run in list(state.live_runs()):
        if run.state is not RunState.QUEUED:
            continue
        job = state.jobs.get(run.job)
        reason = ""
        if job is None:
            reason = "job deleted"
        elif job.disabled:
            reason = "job disabled"
        elif job.schedule is not None and not run.manual and run.attempt == 0:
            window = job.catch_up_window
            if window is not None and now - run.due > window:
                reason = f"not launched within the catch-up window ({window.total_seconds():g}s)"
        if reason:
            done = replace(run, state=RunState.SKIPPED, ended_at=now, message=reason)
            state = _with_run(state, done)
            if job is not None and not job.disabled:
                state = _with_stats(state, job.name, state.stats_of(job.name).with_skipped(1))
            skipped.append(done)
    return state, skipped


def _upcoming(state: ChronosState, now: datetime) -> list[datetime]:
    """When something will want an offer: queued runs' earliest launch, and next slots of idle jobs."""
    queued, blocked = _waiting(state)
    out = [
        run.not_before or run.queued_at
        for name in queued - blocked
        for run in state.runs[name].live
        if run.state is RunState.QUEUED and name in state.jobs
    ]
    for job in state.jobs.values():
        schedule = job.schedule
        if schedule is None or job.disabled or job.name in queued or job.name in blocked:
            continue
        if isinstance(schedule, IsoSchedule):  # inlined: every turn asks every job
            if schedule.repetitions != 0:
                out.append(schedule.start)  # the first slot not yet launched or skipped
        elif (slot := next_due(schedule, state.stats_of(job.name).handled_through or now)) is not None:
            out.append(slot)
    return out


def _expiries(state: ChronosState) -> list[datetime]:
    """When queued scheduled runs fall out of their catch-up window."""
    out: list[datetime] = []
    for run in state.live_runs():
        job = state.jobs.get(run.job)
        if run.state is RunState.QUEUED and job is not None and job.schedule is not None:
            window = job.catch_up_window
            if window is not None and not run.manual and run.attempt == 0:
                out.append(run.due + window)
    return out


def wants_offers(state: ChronosState, now: datetime, config: SchedulerConfig) -> bool:
    return _wants(_upcoming(state, now), now, config)


def _wants(upcoming: list[datetime], now: datetime, config: SchedulerConfig) -> bool:
    return bool(upcoming) and min(upcoming) - timedelta(seconds=config.revive_lead) <= now


def next_wake(
    state: ChronosState, now: datetime, config: SchedulerConfig, *, suppressed: bool = True
) -> datetime | None:
    """The next instant `decide` has something new to do: a due time, a retry, an expiry, and, while offers
    are suppressed, the revive lead before each."""
    return _wake(_upcoming(state, now), state, now, config, suppressed)


def _wake(
    upcoming: list[datetime], state: ChronosState, now: datetime, config: SchedulerConfig, suppressed: bool
) -> datetime | None:
    times = [t for t in upcoming if t > now] + [t for t in _expiries(state) if t > now]
    if suppressed:
        lead = timedelta(seconds=config.revive_lead)
        times += [t - lead for t in upcoming if t - lead > now]
    return min(times, default=None)


# ---- offers -----------------------------------------------------------------------------------------------


def job_resources(job: Job) -> Resources:
    return Resources.of(cpus=job.cpus, mem=job.mem, disk=job.disk)


def _attribute(offer: Offer, name: str) -> str | None:
    if name == "hostname":
        return offer.hostname
    for a in offer.attributes:
        if a.name == name:
            value = a.display()
            return str(value) if not isinstance(value, float) or not value.is_integer() else str(int(value))
    return None


def satisfies_constraints(job: Job, offer: Offer) -> bool:
    for c in job.constraints:
        value = _attribute(offer, c.attribute)
        match c.operator:
            case ConstraintOperator.EQUALS:
                ok = value == c.value
            case ConstraintOperator.LIKE:
                ok = value is not None and re.fullmatch(c.value, value) is not None
            case ConstraintOperator.UNLIKE:
                ok = value is None or re.fullmatch(c.value, value) is None
        if not ok:
            return False
    return True


def build_task(job: Job, run: Run, offer: Offer) -> TaskInfo:
    """Chronos's MesosTaskBuilder: the command, its environment (built-ins win) and fetch URIs."""
    resources = job_resources(job)
    builtins = {
        "mesos_task_id": run.task_id,
        "MESOS_TASK_ID": run.task_id,
        "CHRONOS_JOB_OWNER": job.owner,
        "CHRONOS_JOB_NAME": job.name,
        "HOST": offer.hostname,
        "CHRONOS_RESOURCE_MEM": f"{job.mem:g}",
        "CHRONOS_RESOURCE_CPU": f"{job.cpus:g}",
        "CHRONOS_RESOURCE_DISK": f"{job.disk:g}",
        "CHRONOS_JOB_RUN_TIME": str(epoch_ms(run.due)),
        "CHRONOS_JOB_RUN_ATTEMPT": str(run.attempt),
    }
    env = {e.name: e.value for e in job.environment_variables if e.name not in builtins}
    env.update(builtins)
    uris = tuple(
        Uri(
            value=f.uri,
            executable=f.executable,
            extract=f.extract,
            cache=f.cache,
            output_file=f.output_file or None,
        )
        for f in job.fetch
    )
    if job.shell:
        command = CommandInfo(value=job.command, shell=True, environment=tuple(env.items()), uris=uris)
    else:
        extra = tuple(run.arguments.split()) if run.arguments else ()
        command = CommandInfo(
            value=job.command,
            shell=False,
            arguments=(job.command, *job.arguments, *extra),
            environment=tuple(env.items()),
            uris=uris,
        )
    return TaskInfo(
        name=f"ChronosTask:{job.name}",
        task_id=run.task_id,
        agent_id=offer.agent_id,
        resources=resources,
        command=command,
        max_completion_time=float(job.max_completion_time) if job.max_completion_time else None,
        data=job.task_info_data.encode() if job.task_info_data else None,
    )


def _launch_order(state: ChronosState, now: datetime) -> list[Run]:
    ready = [r for r in state.live_runs() if r.is_ready(now) and r.job in state.jobs]
    return sorted(ready, key=lambda r: (not state.jobs[r.job].high_priority, r.due, r.job, r.attempt))


def decide(
    state: ChronosState,
    offers: Sequence[Offer],
    now: datetime,
    *,
    config: SchedulerConfig = SchedulerConfig(),
    suppressed: bool = False,
) -> Decision:
    """Queue what is due, launch ready runs on `offers`, hold or decline the rest, revive or suppress."""
    state, kills = enqueue_due(state, now)
    state, skipped = _drop_stale(state, now)
    left = {o.id: o.resources for o in offers}
    by_offer: dict[OfferId, list[TaskInfo]] = {}
    launched: list[Run] = []
    unplaced = False  # a run ready to launch found no offer to fit it
    for run in _launch_order(state, now):
        job = state.jobs[run.job]
        if _is_blocked(state, job):
            continue
        need = job_resources(job)
        fitting = [o for o in offers if need <= left[o.id] and satisfies_constraints(job, o)]
        if not fitting:
            unplaced = True
            continue
        # The smallest offer that fits: a larger one stays in hand for what comes due next.
        offer = min(fitting, key=lambda o: (left[o.id].cpus, left[o.id].mem))
        left[offer.id] = left[offer.id] - need
        by_offer.setdefault(offer.id, []).append(build_task(job, run, offer))
        started = replace(
            run, state=RunState.LAUNCHED, launched_at=now, agent_id=offer.agent_id, hostname=offer.hostname
        )
        state = _with_run(state, started)
        if job.is_dependent:
            state = replace(state, progress=child_started(state.progress, job.name))
        launched.append(started)
    for name in {r.job for r in skipped}:
        state = prune_history(state, name, config.history_limit)
    upcoming = _upcoming(state, now)
    wants = _wants(upcoming, now, config)
    later = min((t for t in upcoming if t > now), default=None)
    soon = later is not None and later <= now + timedelta(seconds=config.hold)
    unused = [o for o in offers if o.id not in by_offer]
    # Rule 5: what an ACCEPT leaves of its offer goes back to the master unfiltered while more is due, and
    # comes back at its next allocation. With no other offer in hand, a revive makes that allocation happen
    # now; so does a run that found no offer when none is in hand.
    busy = wants or soon
    refill = not unused and ((bool(by_offer) and busy) or unplaced)
    accepts = tuple(
        OfferAccept(
            offer_ids=(oid,),
            operations=(Launch(tasks=tuple(tasks)),),
            refuse_seconds=0.0 if busy else config.busy_refuse,
        )
        for oid, tasks in by_offer.items()
    )
    held = tuple(unused) if soon else ()
    declines: tuple[OfferDecline, ...] = ()
    if unused and not soon:
        refuse = config.busy_refuse if wants else config.decline_refuse
        declines = (OfferDecline(offer_ids=tuple(o.id for o in unused), refuse_seconds=refuse),)
    revive = (wants and suppressed) or refill
    plan = FrameworkPlan(
        accepts=accepts,
        declines=declines,
        kills=kills,
        revive=revive,
        suppress=not wants and not suppressed and not held and not revive,
    )
    return Decision(
        state=state,
        plan=plan,
        held=held,
        launched=tuple(launched),
        skipped=tuple(skipped),
        wake=_wake(upcoming, state, now, config, (suppressed or plan.suppress) and not revive),
    )


# ---- status updates ---------------------------------------------------------------------------------------


def on_status(
    state: ChronosState,
    *,
    task_id: TaskId,
    task_state: TaskState,
    now: datetime,
    message: str = "",
    ack: StatusAck | None = None,
    config: SchedulerConfig = SchedulerConfig(),
) -> tuple[ChronosState, FrameworkPlan]:
    """Apply one status update (Rules 3 and 4); the plan acknowledges it and kills strays."""
    acks = (ack,) if ack is not None else ()
    run = state.run(task_id)
    if run is None or run.state.is_terminal:
        stray = run is None and is_chronos_task(task_id) and task_state in _RUNNING_STATES
        kills = (TaskKill(task_id=task_id, agent_id=ack.agent_id if ack else None),) if stray else ()
        return state, FrameworkPlan(acks=acks, kills=kills)
    job = state.jobs.get(run.job)
    if task_state in _RUNNING_STATES:
        started = run.started_at or (now if task_state is not TaskState.TASK_STAGING else None)
        state = _with_run(state, replace(run, state=RunState.RUNNING, started_at=started, message=message))
        if job is not None and job.is_dependent:
            state = replace(state, progress=child_started(state.progress, job.name))
    elif task_state is TaskState.TASK_FINISHED:
        state = _succeeded(state, replace(run, message=message), now)
    elif task_state is TaskState.TASK_KILLED:
        state = _with_run(state, replace(run, state=RunState.KILLED, ended_at=now, message=message))
    elif task_state in _FAILED_STATES:
        state = _failed(state, replace(run, message=message or task_state.value), now, config)
    limit = config.history_limit if job is not None else 0  # a deleted job's runs go once they end
    return prune_history(state, run.job, limit), FrameworkPlan(acks=acks)


def _succeeded(state: ChronosState, run: Run, now: datetime) -> ChronosState:
    done = replace(run, state=RunState.SUCCEEDED, ended_at=now, started_at=run.started_at or run.launched_at)
    state = _with_run(state, done)
    job = state.jobs.get(run.job)
    if job is None:
        return state
    job = job.with_success(now)
    if isinstance(job.schedule, IsoSchedule) and job.schedule.repetitions == 0:
        job = replace(job, disabled=True)  # R0 after a success: expired (3.x disables it)
    state = _with_job(state, job)
    if (duration := done.duration) is not None:
        state = _with_stats(state, job.name, state.stats_of(job.name).with_duration(duration))
    return _trigger_children(state, job.name, now)


def _failed(state: ChronosState, run: Run, now: datetime, config: SchedulerConfig) -> ChronosState:
    state = _with_run(state, replace(run, state=RunState.FAILED, ended_at=now))
    job = state.jobs.get(run.job)
    if job is None:
        return state
    if run.attempt < job.retries and not job.disabled:
        retry = Run(
            job=run.job,
            due=run.due,
            attempt=run.attempt + 1,
            arguments=run.arguments,
            manual=run.manual,
            queued_at=now,
            not_before=now + timedelta(seconds=config.retry_delay),
        )
        return _queue(state, retry)
    state = _with_job(state, job.with_error(now))
    return _trigger_children(state, job.name, now) if job.soft_error else state


def _trigger_children(state: ChronosState, parent: str, now: datetime) -> ChronosState:
    if not any(parent in j.parents for j in state.jobs.values()):
        return state  # most jobs have no children: skip building the graph
    disabled = {n for n, j in state.jobs.items() if j.disabled}
    progress, due = parent_succeeded(state.progress, state.graph(), parent, disabled=disabled)
    state = replace(state, progress=progress)
    for child in due:
        if not state.has_queued(child):
            state = _queue(state, Run(job=child, due=now, queued_at=now))
    return state


def prune_history(state: ChronosState, job: str, limit: int) -> ChronosState:
    """Keep the last `limit` finished runs of `job`, and every unfinished one."""
    runs = state.runs.get(job)
    if runs is None or len(runs.finished) <= limit:
        return state
    trimmed = runs.trimmed(limit)
    if not trimmed.all():
        return replace(state, runs={n: r for n, r in state.runs.items() if n != job})
    return replace(state, runs={**state.runs, job: trimmed})


# ---- API actions ------------------------------------------------------------------------------------------


def put_job(state: ChronosState, job: Job) -> ChronosState:
    """Create or replace a job (the caller validated it). A replaced job's slots restart from its schedule."""
    old = state.jobs.get(job.name)
    state = _with_job(state, job)
    if old is not None and old.schedule != job.schedule:
        stats = state.stats_of(job.name)
        state = _with_stats(state, job.name, replace(stats, handled_through=None))
    if old is None or old.parents == job.parents:
        return state  # no edge went away
    return replace(state, progress=prune(state.progress, state.graph()))


def run_now(state: ChronosState, name: str, now: datetime, arguments: str = "") -> ChronosState:
    """`PUT /job/{name}`: queue attempt 0 now, unless a run is queued already (Chronos's queue holds one).
    A manual run does not use up a repetition (upstream turned R0 into R-forever)."""
    if state.has_queued(name) or name not in state.jobs:
        return state
    arguments = arguments.replace(";", "")
    return _queue(state, Run(job=name, due=now, arguments=arguments, manual=True, queued_at=now))


def kill_tasks(state: ChronosState, name: str, now: datetime) -> tuple[ChronosState, tuple[TaskKill, ...]]:
    """`DELETE /task/kill/{name}`: kill the active runs, drop the queued ones."""
    kills: list[TaskKill] = []
    for run in state.runs_of(name):
        if run.state.is_active:
            kills.append(TaskKill(task_id=run.task_id, agent_id=run.agent_id))
        elif run.state is RunState.QUEUED:
            state = _with_run(state, replace(run, state=RunState.SKIPPED, ended_at=now, message="killed"))
    return state, tuple(kills)


def orphaned_children(state: ChronosState, name: str) -> tuple[str, ...]:
    """Children that deleting `name` would leave without a parent (Corral refuses such a delete)."""
    rewired = parents_after_delete(state.graph(), name)
    return tuple(child for child, parents in rewired.items() if not parents)


def delete_job(state: ChronosState, name: str, now: datetime) -> tuple[ChronosState, tuple[TaskKill, ...]]:
    """`DELETE /job/{name}`: kill its runs, forget it, give its children its parents (upstream's rewiring)."""
    state, kills = kill_tasks(state, name, now)
    rewired = parents_after_delete(state.graph(), name)
    jobs = {n: j for n, j in state.jobs.items() if n != name}
    for child, parents in rewired.items():
        if parents and child in jobs:
            jobs[child] = replace(jobs[child], parents=parents)
    runs = dict(state.runs)
    active = tuple(r for r in runs.pop(name, _NO_RUNS).live if r.state.is_active)
    if active:
        runs[name] = JobRuns(live=active)  # their last updates are still to come
    stats = {n: s for n, s in state.stats.items() if n != name}
    state = replace(state, jobs=jobs, runs=runs, stats=stats)
    return replace(state, progress=prune(state.progress, state.graph())), kills


def job_state_text(state: ChronosState, name: str) -> str:
    """`idle`, `queued` or `<n> running`, as the summary and graph CSV show a job."""
    active = len(state.active_runs(name))
    if active:
        return f"{active} running"
    return "queued" if state.has_queued(name) else "idle"


def reconcile_tasks(state: ChronosState) -> tuple[Run, ...]:
    """Runs whose task the master should report on after a (re)subscription."""
    return tuple(r for r in state.live_runs() if r.state.is_active)


def iter_stats(state: ChronosState) -> Iterable[tuple[str, JobStats]]:
    return ((name, state.stats_of(name)) for name in sorted(state.jobs))

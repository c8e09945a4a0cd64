"""Marathon's offer cycle: `decide(view, offers, now)` -> what to launch, decline, kill, revive or suppress.

The launch queue is derived, not stored: an app needs `instances` minus its instances that count as running
(goal Running, not terminal, not UnreachableInactive), or, under a rolling restart, what `restart_step`
allows. So a failed or lost instance is replaced as soon as its terminal update is recorded, and a surplus
(scale-down, or an unreachable instance that came back next to its replacement) is killed in upstream's
order (`instance.kill_order`, GROUP_BY groups evened out first). Apps under a launch delay wait.

Offers are matched in order; waiting apps take turns, one instance per turn, several per offer (at most
`max_instances_per_offer`), each turn against what is left of the offer. What is left of an accepted offer
is refused for `accept_refuse_seconds`, or not at all when the limit cut the offer short while instances
still wait. An unused offer is declined for `decline_offer_duration` (120 s) when nothing waits, else
briefly so it comes back. The framework suppresses offers when nothing waits and revives when an app
starts waiting.

Cost: one call is linear in apps plus instances, with a small constant (the runtime calls it on every
change, so per-instance work is kept to attribute checks, and placements are gathered only for apps that
are tried on an offer).

Invariant for the runtime: persist `launched` (and `updated`) before sending the plan's calls; then an
accept is never sent for an instance the store does not know.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from corral.core.ids import AgentId, OfferId
from corral.frameworks.plan import FrameworkPlan, OfferAccept, OfferDecline, TaskKill
from corral.marathon.backoff import LaunchDelays
from corral.marathon.constraints import ConstraintOperator
from corral.marathon.constraints_eval import field_value
from corral.marathon.deployment import restart_step
from corral.marathon.instance import AgentPlacement, Condition, Instance, InstanceId, kill_order
from corral.marathon.launch import build_task_info
from corral.marathon.matching import NoMatch, match_offer, placement_of
from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.marathon.strategies import UnreachableEnabled
from corral.protocol.mesos import Offer, TaskInfo
from corral.protocol.scheduler import Launch


class Realized(Protocol):
    """An app as the scheduler realizes it (a `RunSpec`, or the runtime's stored app as it is)."""

    @property
    def app(self) -> AppDefinition: ...

    @property
    def version(self) -> str:
        """What new instances record (MARATHON_APP_VERSION)."""
        ...

    @property
    def config_version(self) -> str:
        """versionInfo.lastConfigChangeAt: older instances are "old" in a restart."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RunSpec:
    """A `Realized` that is not the stored app: an app's original while a deployment has not reached it."""

    app: AppDefinition
    version: str
    config_version: str


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferState:
    """What the master was last told: suppressed or not, and which apps were waiting for offers."""

    suppressed: bool = False
    waiting: frozenset[PathId] = frozenset()


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerView:
    apps: Mapping[PathId, Realized]  # what to realize (deployment.scheduling_target during a deployment)
    instances: Sequence[Instance]  # every known instance, of any app
    restarting: frozenset[PathId] = frozenset()  # apps under a RestartApplication step
    ready: frozenset[InstanceId] = frozenset()  # instances whose readiness checks passed
    delays: LaunchDelays = field(default_factory=LaunchDelays)
    offer_state: OfferState = field(default_factory=OfferState)


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulerConfig:
    decline_offer_duration: float = 120.0  # --decline_offer_duration: nothing is waiting
    unmatched_refuse_seconds: float = 5.0  # something waits, but not for this offer
    accept_refuse_seconds: float = 5.0  # what is left of an accepted offer
    kill_retry_seconds: float = 10.0  # --kill_retry_timeout
    launch_confirm_seconds: float = 300.0  # --task_launch_confirm_timeout: no status since the accept
    # Upstream's default is 5: with the master's allocations 1 s apart that is 5 instances per agent per
    # second, which is most of why its 500-instance scale test took 38.5 s on 5 agents.
    max_instances_per_offer: int = 100
    env_vars_prefix: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class QueuedLaunch:
    app_id: PathId
    count: int  # instances still to launch after this cycle
    delayed_until: float | None = None  # set while a launch delay holds the app back


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferOutcome:
    """One offer tried for one app: used, or why not (`queue_info` sums these up for /v2/queue)."""

    app_id: PathId
    offer_id: OfferId
    agent_id: AgentId
    hostname: str
    at: float
    no_match: NoMatch | None = None  # None: the offer launched at least one instance of the app


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    plan: FrameworkPlan
    launched: tuple[Instance, ...] = ()  # new instances: persist before sending the plan
    updated: tuple[Instance, ...] = ()  # instances with a kill requested: persist as well
    queue: tuple[QueuedLaunch, ...] = ()
    offer_outcomes: tuple[OfferOutcome, ...] = ()
    offer_state: OfferState = field(default_factory=OfferState)
    wake_at: float | None = None  # call decide again then (a delay or an unreachable timeout ends)


def select_to_kill(app: AppDefinition, running: Sequence[Instance], count: int) -> list[Instance]:
    """`count` instances to kill: from the largest GROUP_BY group first, then in kill order."""
    if count <= 0:
        return []
    ordered = kill_order(running, app.kill_selection)
    group_by = [c for c in app.constraints if c.operator is ConstraintOperator.GROUP_BY]
    if not group_by:
        return ordered[:count]
    chosen: list[Instance] = []
    for _ in range(min(count, len(ordered))):
        sizes = Counter(field_value(group_by[0].field, i.agent) for i in ordered)
        biggest = max(sizes.values())
        pick = next(i for i in ordered if sizes[field_value(group_by[0].field, i.agent)] == biggest)
        chosen.append(pick)
        ordered.remove(pick)
    return chosen


@dataclass(slots=True)
class _Cycle:
    """The mutable working state of one `decide` call."""

    view: SchedulerView
    now: float
    config: SchedulerConfig
    kills: list[TaskKill] = field(default_factory=list)
    updated: dict[InstanceId, Instance] = field(default_factory=dict)
    by_app: dict[PathId, list[Instance]] = field(default_factory=dict)  # the view's instances
    counts: dict[PathId, int] = field(default_factory=dict)
    placed: dict[PathId, list[AgentPlacement]] = field(default_factory=dict)  # of apps tried on an offer

    def kill(self, instance: Instance, app: AppDefinition | None, *, decommission: bool) -> None:
        grace = (
            None
            if app is None or app.task_kill_grace_period_seconds is None
            else app.task_kill_grace_period_seconds
        )
        self.kills.append(
            TaskKill(task_id=instance.task_id, agent_id=instance.agent.agent_id, grace_period=grace)
        )
        self.updated[instance.instance_id] = instance.with_kill_requested(self.now, decommission=decommission)

    def plan_app(self, spec: Realized) -> None:
        app = spec.app
        app_id = app.id
        instances = self.by_app.get(app_id, ())
        if app_id in self.view.restarting:
            step = restart_step(app, spec.config_version, instances, ready=self.view.ready)
            for instance in step.kill:
                self.kill(instance, app, decommission=True)
            self.counts[app_id] = step.launch
            return
        strategy, now = app.unreachable_strategy, self.now
        running = [i for i in instances if i.counts_as_running(strategy, now)]
        surplus = len(running) - app.instances
        if surplus > 0:
            dying = [i for i in running if i.is_kill_requested]  # health kills already on their way out
            others = [i for i in running if not i.is_kill_requested]
            for instance in select_to_kill(app, others, surplus - len(dying)):
                self.kill(instance, app, decommission=True)
        self.counts[app_id] = -surplus if surplus < 0 else 0

    def placed_of(self, spec: Realized) -> list[AgentPlacement]:
        """Where the app's current-configuration instances are (constraints count them), with those placed
        in this cycle; computed when the app is first tried on an offer."""
        placed = self.placed.get(spec.app.id)
        if placed is None:
            placed = self.placed[spec.app.id] = [
                i.agent
                for i in self.by_app.get(spec.app.id, ())
                if not i.is_terminal and i.is_launched_with(spec.config_version)
            ]
        return placed

    def is_waiting(self, waiting: Sequence[Realized]) -> bool:
        return any(self.counts[s.app.id] > 0 for s in waiting)

    def retry_kills(self, instances: Sequence[Instance]) -> None:
        """Kills without a terminal update yet are sent again; so is one for a launch never confirmed
        (the master answers a kill of a task it does not know with its terminal state)."""
        for instance in instances:
            requested = instance.kill_requested_at
            if requested is None:  # only a launch never confirmed may be due (most instances: a fast skip)
                due = instance.condition is Condition.PROVISIONED and (
                    self.now - instance.staged_at >= self.config.launch_confirm_seconds
                )
            else:
                due = self.now - requested >= self.config.kill_retry_seconds
            if due and not (
                instance.instance_id in self.updated or instance.is_terminal or instance.is_unreachable
            ):
                spec = self.view.apps.get(instance.app_id)
                self.kill(instance, spec.app if spec else None, decommission=False)


def _match_offer(
    cycle: _Cycle, offer: Offer, waiting: Sequence[Realized], new_uuid: Callable[[], str]
) -> tuple[list[TaskInfo], list[Instance], list[OfferOutcome]]:
    """Waiting apps take turns on the offer, one instance a turn, until none fits or the limit is hit."""
    remaining = offer.resources
    limit = cycle.config.max_instances_per_offer
    tried: dict[PathId, NoMatch | None] = {}
    exhausted: set[PathId] = set()
    tasks: list[TaskInfo] = []
    launched: list[Instance] = []
    progress = True
    while progress and len(tasks) < limit:
        progress = False
        for spec in waiting:
            app = spec.app
            if len(tasks) >= limit or cycle.counts[app.id] == 0 or app.id in exhausted:
                continue
            result = match_offer(app, offer, available=remaining, placed=cycle.placed_of(spec))
            if isinstance(result, NoMatch):
                exhausted.add(app.id)
                tried.setdefault(app.id, result)
                continue
            instance = Instance.provision(
                app_id=app.id,
                version=spec.version,
                agent=placement_of(offer),
                host_ports=result.ports,
                uuid=new_uuid(),
                now=cycle.now,
            )
            tasks.append(build_task_info(app, instance, result, env_vars_prefix=cycle.config.env_vars_prefix))
            launched.append(instance)
            remaining = remaining - result.resources
            cycle.placed_of(spec).append(instance.agent)
            cycle.counts[app.id] -= 1
            tried[app.id] = None
            progress = True
    outcomes = [
        OfferOutcome(
            app_id=app_id,
            offer_id=offer.id,
            agent_id=offer.agent_id,
            hostname=offer.hostname,
            at=cycle.now,
            no_match=no_match,
        )
        for app_id, no_match in tried.items()
    ]
    return tasks, launched, outcomes


# Conditions in which no timeout runs for an instance (unless a kill was requested).
_QUIET = frozenset(Condition) - {Condition.PROVISIONED, Condition.UNREACHABLE}


def _wake_at(view: SchedulerView, cycle: _Cycle, delayed: Mapping[PathId, float]) -> float | None:
    moments = list(delayed.values())
    for instance in view.instances:
        current = cycle.updated.get(instance.instance_id, instance)
        if current.is_terminal or (current.kill_requested_at is None and current.condition in _QUIET):
            continue
        if current.kill_requested_at is not None:
            moments.append(current.kill_requested_at + cycle.config.kill_retry_seconds)
        elif current.condition is Condition.PROVISIONED:
            moments.append(current.staged_at + cycle.config.launch_confirm_seconds)
        spec = view.apps.get(current.app_id)
        strategy = spec.app.unreachable_strategy if spec is not None else None
        if current.is_unreachable and isinstance(strategy, UnreachableEnabled):
            since = current.unreachable_since if current.unreachable_since is not None else current.since
            moments.append(since + strategy.inactive_after_seconds)
    future = [m for m in moments if m > cycle.now]
    return min(future) if future else None


def _path_order(path: PathId) -> tuple[tuple[str, ...], bool]:
    """PathId's own order as a key: sorting by it compares tuples in C, not through `PathId.__lt__`."""
    return path.segments, path.absolute


def decide(
    view: SchedulerView,
    offers: Sequence[Offer],
    now: float,
    *,
    new_uuid: Callable[[], str],
    config: SchedulerConfig | None = None,
) -> Decision:
    """One turn: kills for surplus and stopped apps, launches on `offers`, declines, revive/suppress.

    `new_uuid` mints the uuid of each new instance (the runtime passes `lambda: str(uuid.uuid4())`).
    """
    cycle = _Cycle(view=view, now=now, config=config or SchedulerConfig())
    by_app = cycle.by_app
    for instance in view.instances:
        by_app.setdefault(instance.app_id, []).append(instance)
    for app_id in sorted(a for a in by_app if a not in view.apps):
        # The app was removed (StopApplication): kill what is left.
        for instance in by_app[app_id]:
            if not (instance.is_terminal or instance.is_kill_requested or instance.is_unreachable):
                cycle.kill(instance, None, decommission=True)
    app_ids = sorted(view.apps, key=_path_order)
    for app_id in app_ids:
        cycle.plan_app(view.apps[app_id])
    cycle.retry_kills(view.instances)

    delayed: dict[PathId, float] = {}
    for app_id, spec in view.apps.items():
        if cycle.counts[app_id] == 0:
            continue
        deadline = view.delays.launch_allowed_at(app_id, spec.config_version)
        if deadline is not None and now < deadline:
            delayed[app_id] = deadline
    waiting = [view.apps[a] for a in app_ids if cycle.counts[a] > 0 and a not in delayed]

    accepts: list[OfferAccept] = []
    declined: dict[float, list[OfferId]] = {}
    launched: list[Instance] = []
    outcomes: list[OfferOutcome] = []
    for offer in offers:
        tasks, instances, tried = _match_offer(cycle, offer, waiting, new_uuid)
        launched += instances
        outcomes += tried
        if tasks:
            operations = (Launch(tasks=tuple(tasks)),)
            # Cut short by the per-offer limit while instances still wait: have the rest offered again with
            # the next allocation, not after the usual filter.
            cut = len(tasks) >= cycle.config.max_instances_per_offer and cycle.is_waiting(waiting)
            refuse = 0.0 if cut else cycle.config.accept_refuse_seconds
            accepts.append(OfferAccept(offer_ids=(offer.id,), operations=operations, refuse_seconds=refuse))
        else:
            still = cycle.is_waiting(waiting)
            refuse = cycle.config.unmatched_refuse_seconds if still else cycle.config.decline_offer_duration
            declined.setdefault(refuse, []).append(offer.id)

    still_waiting = frozenset(s.app.id for s in waiting if cycle.counts[s.app.id] > 0)
    before = view.offer_state
    revive = bool(still_waiting) and (before.suppressed or bool(still_waiting - before.waiting))
    suppress = not still_waiting and not before.suppressed
    plan = FrameworkPlan(
        accepts=tuple(accepts),
        declines=tuple(OfferDecline(offer_ids=tuple(ids), refuse_seconds=r) for r, ids in declined.items()),
        kills=tuple(cycle.kills),
        revive=revive,
        suppress=suppress,
    )
    queue = tuple(
        QueuedLaunch(app_id=a, count=cycle.counts[a], delayed_until=delayed.get(a))
        for a in app_ids
        if cycle.counts[a] > 0
    )
    return Decision(
        plan=plan,
        launched=tuple(launched),
        updated=tuple(cycle.updated.values()),
        queue=queue,
        offer_outcomes=tuple(outcomes),
        offer_state=OfferState(
            suppressed=(before.suppressed and not revive) or suppress, waiting=still_waiting
        ),
        wake_at=_wake_at(view, cycle, delayed),
    )

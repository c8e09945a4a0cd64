"""When a Chronos job is due: ISO 8601 repeating intervals, cron expressions, time zones, catch-up.

Syntax (the job's `schedule` field, with `scheduleTimeZone` beside it):

- `R[n]/<start>/<period>`, matched by Chronos's own regex `(R[0-9]*)/(.*)/(P.*)`:
  `R/2026-01-01T00:00:00Z/PT1H` runs hourly forever, `R5/...` five more times, `R0/...` never again. An
  empty start means one second before `now`. Periods are ISO 8601 (`PT10M`, `P1D`, `P1M`, `P2W`,
  `P1Y2M3DT4H5M6.5S`).
- A 5-field cron expression, `minute hour day-of-month month day-of-week` (`0 3 * * *`,
  `30 16,19 * * MON-FRI`), or a macro (`@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`). When both day
  fields are restricted a day matching either runs (Vixie cron). Cron is Corral's addition (upstream #653,
  Yelp/paasta#912).

Why cron lives in `schedule` rather than a field of its own: chronos-python's `add()` insists on exactly
one of `schedule` or `parents`, Chronos's summary, graph and UI show `schedule`, and Kubernetes' CronJob keeps
its cron text in `schedule` as well. The forms cannot be confused: an ISO schedule starts with `R<digits>/`,
a cron expression never does, and upstream rejects anything else, so no valid Chronos job changes meaning.
The zone is the existing `scheduleTimeZone` (IANA names; Kubernetes rejects `CRON_TZ=` inside `schedule` for
the same reason: one place for the zone).

Semantics:

- ISO slots are `origin + k*period`, computed from the origin, never chained (see wallclock.py for DST and
  month ends). Years, months, weeks and days move the wall clock in the schedule's zone; hours, minutes and
  seconds are absolute time (Joda: `P1D` keeps 02:30 across DST, `PT24H` does not). Without
  `scheduleTimeZone` the start's own UTC offset is the zone; with one, the start's wall-clock fields are kept
  and the zone replaced (Chronos's `withZoneRetainFields`).
- `Rn` counts runs, not slots (Chronos 3.x): it drops by one per launch, and slots that were skipped do not
  use it up. `R0` never runs. Previews list at most n times.
- Every instant in and out is an aware datetime; those returned are in UTC, because Python compares
  datetimes of different zones as unequal inside a repeated hour (PEP 495). Zones matter only to the wall
  clock and to printing.
- Catch-up (`plan_launch`): of the slots due since the last one handled, at most one is launched: the latest,
  if it is no older than the catch-up window (`epsilon`; None means unbounded, as in Chronos 3.x). Every other
  slot is skipped and counted. The schedule is then rewritten as Chronos does (`R5/start/PT1H` becomes
  `R4/<next slot>/PT1H`), the start printed as Joda prints it (`2026-01-01T01:00:00.000Z`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from aniso8601 import parse_date, parse_datetime, parse_duration
from aniso8601.builders import TupleBuilder
from croniter import CroniterBadDateError, CroniterError, croniter

from corral.chronos.wallclock import (
    UnknownTimeZone,
    add_calendar,
    format_instant,
    resolve,
    wall_of,
    zone_named,
)

ISO_SCHEDULE = re.compile(r"(R[0-9]*)/(.*)/(P.*)")  # J/Iso8601Expressions.scala
CRON_MACROS = frozenset({"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"})
CRON_COUNT_LIMIT = 10_000  # skipped cron slots are counted up to this many
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MEAN_SECONDS = {"years": 365.2425 * 86400, "months": 30.436875 * 86400, "days": 86400.0}


class ScheduleError(ValueError):
    """A schedule that cannot be parsed; the message names what is wrong."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """An ISO 8601 period: calendar parts move the wall clock, `exact` (hours, minutes, seconds) does not."""

    text: str
    years: int = 0
    months: int = 0
    days: int = 0  # weeks count as 7 days
    exact: timedelta = timedelta()

    @property
    def is_calendar(self) -> bool:
        return bool(self.years or self.months or self.days)

    def as_timedelta(self) -> timedelta | None:
        """A fixed length (days as 24 h), or None when it has months or years."""
        if self.years or self.months:
            return None
        return timedelta(days=self.days) + self.exact


@dataclass(frozen=True, slots=True, kw_only=True)
class IsoSchedule:
    """`R[n]/start/period`; `start` is the next slot, slot number `index` counted from `origin`."""

    text: str  # as shown by GET /scheduler/jobs: as posted until the first launch, then rewritten
    repetitions: int | None  # runs left; None is `R` (forever)
    start: datetime  # UTC
    period: Period
    time_zone: str  # `scheduleTimeZone` as given; "" uses the start's own offset
    zone: tzinfo
    origin: datetime  # naive wall-clock time of slot 0
    index: int = 0

    @property
    def has_drifting_start(self) -> bool:
        """True when re-parsing `text` would not give the same slots: the start was clamped to a month's end,
        moved out of a DST gap, or the period mixes months with days or calendar with clock time. The job
        then also carries `scheduleOrigin` so a store round trip keeps Jan 31 -> Feb 28 -> Mar 31."""
        p = self.period
        if self.index == 0 or not p.is_calendar:
            return False
        if p.exact or ((p.years or p.months) and p.days):
            return True
        wall, clamped = _calendar_wall(self, self.index)
        return clamped or wall_of(self.start, self.zone) != wall


@dataclass(frozen=True, slots=True, kw_only=True)
class CronSchedule:
    text: str
    time_zone: str  # "" is UTC
    zone: tzinfo


Schedule = IsoSchedule | CronSchedule


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchPlan:
    """What to do at `now`: launch the slot `due` (or nothing), persist `schedule` and `handled_through`."""

    due: datetime | None
    skipped: int  # slots that will never run: older than `due`, or beyond the catch-up window
    schedule: Schedule  # ISO: advanced past now, and one repetition fewer if something launches
    handled_through: datetime  # every slot at or before this has been launched or skipped
    next_due: datetime | None  # the first slot after now: when to wake


def utc(seconds: float) -> datetime:
    """Epoch seconds (a runtime clock's `now`) as an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


def parse_schedule(text: str, time_zone: str = "", *, now: datetime | None = None) -> Schedule:
    """Parse a job's `schedule` and `scheduleTimeZone`. `now` is needed only for an empty ISO start."""
    time_zone = "" if time_zone in ("", "null") else time_zone
    try:
        zone = zone_named(time_zone) if time_zone else None
    except UnknownTimeZone as e:
        raise ScheduleError(str(e)) from None
    text = text.strip()
    if ISO_SCHEDULE.fullmatch(text) or text.startswith("R"):
        return _parse_iso(text, time_zone, zone, now)
    if text.startswith("P"):
        raise ScheduleError(f"cannot parse schedule {text!r}: a period needs R[n]/<start>/ before it")
    return _parse_cron(text, time_zone, zone or UTC)


def _parse_iso(text: str, time_zone: str, zone: tzinfo | None, now: datetime | None) -> IsoSchedule:
    match = ISO_SCHEDULE.fullmatch(text)
    if match is None:
        raise ScheduleError(
            f"cannot parse schedule {text!r}: expected R[n]/<start>/<period>, "
            "e.g. R/2026-01-01T00:00:00Z/PT1H"
        )
    count, start_text, period_text = match.groups()
    if start_text:
        start = _parse_start(start_text, text)
        zone = zone or start.tzinfo or UTC
        origin = start.replace(tzinfo=None)  # with a time zone: keep the wall-clock fields, replace the zone
    elif now is not None:
        start = now.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
        zone = zone or UTC
        origin = wall_of(start, zone)
    else:
        raise ScheduleError(f"schedule {text!r} has no start time")
    if start < _EPOCH:
        raise ScheduleError(f"schedule {text!r} starts before 1970")
    period = parse_period(period_text, what=f"schedule {text!r}")
    return IsoSchedule(
        text=text,
        repetitions=int(count[1:]) if len(count) > 1 else None,
        start=resolve(origin, zone),
        period=period,
        time_zone=time_zone,
        zone=zone,
        origin=origin,
    )


def _parse_start(start_text: str, text: str) -> datetime:
    if "T24:" in start_text:
        raise ScheduleError(f"cannot parse the start of {text!r}: write T00:00 of the next day for T24:00")
    try:
        if "T" in start_text:
            parsed: datetime = parse_datetime(start_text)
        else:
            day: date = parse_date(start_text)
            parsed = datetime(day.year, day.month, day.day)
    except (ValueError, NotImplementedError) as e:
        raise ScheduleError(f"cannot parse the start {start_text!r} of {text!r}: {e}") from None
    offset = parsed.utcoffset()
    fixed = UTC if not offset else timezone(offset)
    return parsed.replace(tzinfo=fixed)


def parse_period(text: str, *, what: str = "period") -> Period:
    """An ISO 8601 period (`PT1H`, `P1M`, `P2W`, `PT0.5S`); only seconds may have a fraction."""
    try:
        parts = parse_duration(text, builder=TupleBuilder)
    except (ValueError, NotImplementedError) as e:
        raise ScheduleError(f"cannot parse the period {text!r} of {what}: {e}") from None
    values: dict[str, Decimal] = {}
    for name in ("PnY", "PnM", "PnW", "PnD", "TnH", "TnM", "TnS"):
        raw: str | None = getattr(parts, name)
        try:
            values[name] = Decimal(raw.replace(",", ".")) if raw else Decimal(0)
        except InvalidOperation:
            raise ScheduleError(f"cannot parse the period {text!r} of {what}") from None
        if name != "TnS" and values[name] != int(values[name]):
            raise ScheduleError(f"the period {text!r} of {what} has a fraction: only seconds may have one")
    exact = timedelta(
        hours=int(values["TnH"]),
        minutes=int(values["TnM"]),
        microseconds=int(values["TnS"] * 1_000_000),
    )
    period = Period(
        text=text,
        years=int(values["PnY"]),
        months=int(values["PnM"]),
        days=int(values["PnW"]) * 7 + int(values["PnD"]),
        exact=exact,
    )
    if not period.is_calendar and exact <= timedelta():
        raise ScheduleError(f"the period {text!r} of {what} must be longer than zero")
    return period


def _parse_cron(text: str, time_zone: str, zone: tzinfo) -> CronSchedule:
    fields = text.split()
    if not (len(fields) == 5 or (len(fields) == 1 and fields[0].lower() in CRON_MACROS)):
        raise ScheduleError(
            f"cannot parse schedule {text!r}: expected R[n]/<start>/<period>, or a cron expression with 5 "
            f"fields (minute hour day-of-month month day-of-week) or @hourly/@daily/@weekly/@monthly/@yearly"
        )
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(f"the cron expression {text!r} never matches a date") from None
    except (CroniterError, ValueError, KeyError) as e:
        raise ScheduleError(f"cannot parse the cron expression {text!r}: {e}") from None
    return CronSchedule(text=" ".join(fields), time_zone=time_zone, zone=zone)


def with_origin(schedule: IsoSchedule, origin: datetime) -> IsoSchedule:
    """The schedule counted from an earlier `origin` (`scheduleOrigin`), if its start lies on that grid."""
    moved = replace(schedule, origin=origin.replace(tzinfo=None), index=0)
    k = max(_index_at_or_before(moved, schedule.start), 0)
    if _slot(moved, k) != schedule.start:
        return schedule
    return replace(moved, index=k, start=_slot(moved, k))


# ---- slots ------------------------------------------------------------------------------------------------


def next_due(schedule: Schedule, after: datetime) -> datetime | None:
    """The first due time strictly after `after`; None when no run is left (`R0`, a cron never matching)."""
    match schedule:
        case IsoSchedule():
            if schedule.repetitions == 0:
                return None
            return _slot(schedule, _first_index_after(schedule, after))
        case CronSchedule():
            return _next_cron(schedule, after)


@lru_cache(maxsize=4096)
def _next_cron(schedule: CronSchedule, after: datetime) -> datetime | None:
    """Memoized: the scheduler asks every cron job for its next slot after the same instant on every turn."""
    return next(_cron_times(schedule, after), None)


def due_between(schedule: Schedule, start: datetime, end: datetime, *, limit: int = 1000) -> list[datetime]:
    """Due times in (start, end], in order, at most `limit` and at most the runs left."""
    out: list[datetime] = []
    if isinstance(schedule, IsoSchedule):
        left = limit if schedule.repetitions is None else min(limit, schedule.repetitions)
        k = _first_index_after(schedule, start)
        while len(out) < left and (t := _slot(schedule, k)) <= end:
            out.append(t)
            k += 1
        return out
    for t in _cron_times(schedule, start):
        if t > end or len(out) >= limit:
            break
        out.append(t)
    return out


def upcoming(schedule: Schedule, now: datetime, count: int = 5) -> list[datetime]:
    """The next `count` due times after `now` (the UI's preview), fewer when the runs left are fewer."""
    return due_between(schedule, now, datetime.max.replace(tzinfo=UTC), limit=count)


def advance(schedule: Schedule, *, past: datetime, launched: bool) -> Schedule:
    """Move an ISO schedule's start to its first slot after `past`, one repetition fewer if `launched`."""
    if not isinstance(schedule, IsoSchedule):
        return schedule
    k = _first_index_after(schedule, past)
    reps = schedule.repetitions
    if launched and reps is not None:
        reps = max(reps - 1, 0)
    if k == schedule.index and reps == schedule.repetitions:
        return schedule
    start = _slot(schedule, k)
    count = "R" if reps is None else f"R{reps}"
    text = f"{count}/{format_instant(start.astimezone(schedule.zone))}/{schedule.period.text}"
    return replace(schedule, text=text, repetitions=reps, start=start, index=k)


def plan_launch(
    schedule: Schedule,
    *,
    now: datetime,
    last_handled: datetime | None = None,
    catch_up: timedelta | None = None,
) -> LaunchPlan:
    """Which slot to launch at `now`, at most one, and how many were skipped.

    Slots count from the one after `last_handled` (for ISO, never before the start; for cron with no
    `last_handled`, from `now`: a new cron job does not catch up on its past). The latest due slot launches if
    `now - slot <= catch_up` (any age when None); all others are skipped.
    """
    handled = now if last_handled is None else max(last_handled, now)
    if isinstance(schedule, CronSchedule):
        return _plan_cron(schedule, now, last_handled or now, catch_up, handled)
    if schedule.repetitions == 0:
        return LaunchPlan(due=None, skipped=0, schedule=schedule, handled_through=handled, next_due=None)
    first = schedule.index if last_handled is None else _first_index_after(schedule, last_handled)
    last = _index_at_or_before(schedule, now)
    if last < first:
        nothing = LaunchPlan(due=None, skipped=0, schedule=schedule, handled_through=handled, next_due=None)
        return replace(nothing, next_due=_slot(schedule, first))
    latest = _slot(schedule, last)
    launch = catch_up is None or now - latest <= catch_up
    moved = advance(schedule, past=now, launched=launch)
    return LaunchPlan(
        due=latest if launch else None,
        skipped=last - first + 1 - int(launch),
        schedule=moved,
        handled_through=handled,
        next_due=next_due(moved, now),
    )


def _plan_cron(
    schedule: CronSchedule, now: datetime, lower: datetime, catch_up: timedelta | None, handled: datetime
) -> LaunchPlan:
    due = 0
    for t in _cron_times(schedule, lower):
        if t > now or due >= CRON_COUNT_LIMIT:
            break
        due += 1
    latest = _cron_latest(schedule, now) if due else None
    launch = latest is not None and (catch_up is None or now - latest <= catch_up)
    return LaunchPlan(
        due=latest if launch else None,
        skipped=due - int(launch),
        schedule=schedule,
        handled_through=handled,
        next_due=next_due(schedule, now),
    )


def _calendar_wall(s: IsoSchedule, k: int) -> tuple[datetime, bool]:
    p = s.period
    return add_calendar(s.origin, years=k * p.years, months=k * p.months, days=k * p.days)


def _slot(s: IsoSchedule, k: int) -> datetime:
    wall, _ = _calendar_wall(s, k)
    return resolve(wall, s.zone) + k * s.period.exact


def _index_at_or_before(s: IsoSchedule, t: datetime) -> int:
    """The last slot number (>= index - 1) whose slot is at or before `t`."""
    floor = s.index - 1
    p = s.period
    zero = _slot(s, 0)
    if not p.is_calendar:
        return max((t - zero) // p.exact, floor)
    mean = p.years * _MEAN_SECONDS["years"] + p.months * _MEAN_SECONDS["months"] + p.days * 86400.0
    k = max(int((t - zero).total_seconds() // (mean + p.exact.total_seconds())), floor)
    while k > floor and _slot(s, k) > t:
        k -= 1
    while _slot(s, k + 1) <= t:
        k += 1
    return k


def _first_index_after(s: IsoSchedule, t: datetime) -> int:
    return max(s.index, _index_at_or_before(s, t) + 1)


def _cron_times(s: CronSchedule, after: datetime) -> Iterator[datetime]:
    """Due instants strictly after `after`, increasing; wall times that a DST gap merges run once."""
    it = croniter(s.text, wall_of(after, s.zone))
    last = after
    while True:
        try:
            wall: datetime = it.get_next(datetime)
        except CroniterBadDateError:
            return
        t = resolve(wall, s.zone)
        if t > last:
            yield t
            last = t


def _cron_latest(s: CronSchedule, t: datetime) -> datetime | None:
    """The latest due instant at or before `t`."""
    wall = wall_of(t, s.zone)
    # In a repeated hour every wall time resolves to its first occurrence: look back from the hour's end.
    first, second = wall.replace(tzinfo=s.zone, fold=0), wall.replace(tzinfo=s.zone, fold=1)
    repeated = max((first.utcoffset() or timedelta()) - (second.utcoffset() or timedelta()), timedelta())
    it = croniter(s.text, wall + repeated + timedelta(minutes=1))
    while True:
        try:
            candidate: datetime = it.get_prev(datetime)
        except CroniterBadDateError:
            return None
        instant = resolve(candidate, s.zone)
        if instant <= t:
            return instant

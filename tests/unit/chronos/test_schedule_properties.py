"""Schedules checked against naive references with hypothesis: stepping an absolute period one at a time,
scanning UTC minute by minute for the wall clock, and counting every slot a ticking scheduler launched or
skipped. The claims: due times strictly increase, none is skipped or doubled, and catch-up launches the
latest slot within epsilon and counts the rest (chronos.md c; k "never skip or duplicate a run").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.chronos.schedule import (
    IsoSchedule,
    Schedule,
    due_between,
    parse_schedule,
    plan_launch,
    upcoming,
)
from corral.chronos.wallclock import format_instant, resolve, wall_of

ZONES = ["Europe/Paris", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)

instants = st.integers(min_value=0, max_value=5 * 365 * 86400).map(lambda s: T0 + timedelta(seconds=s))
periods = st.integers(min_value=1, max_value=3 * 86400).map(lambda s: timedelta(seconds=s))
zones = st.sampled_from(ZONES).map(ZoneInfo)


def pt_schedule(start: datetime, period: timedelta, repetitions: int | None) -> IsoSchedule:
    count = "R" if repetitions is None else f"R{repetitions}"
    parsed = parse_schedule(f"{count}/{format_instant(start)}/PT{int(period.total_seconds())}S")
    assert isinstance(parsed, IsoSchedule)
    return parsed


def naive_slots(start: datetime, period: timedelta, until: datetime) -> list[datetime]:
    out, t = [], start
    while t <= until:
        out.append(t)
        t += period
    return out


@cache
def transition_days(zone: tzinfo, year: int) -> tuple[datetime, ...]:
    """Days of `year` whose UTC offset changes, found by brute force."""
    days = []
    for n in range(366):
        day = datetime(year, 1, 1) + timedelta(days=n)
        if (
            day.year == year
            and resolve(day, zone).utcoffset() != resolve(day + timedelta(hours=23), zone).utcoffset()
        ):
            days.append(day)
    return tuple(days)


def naive_resolve(wall: datetime, zone: tzinfo) -> datetime:
    """The first UTC minute whose wall clock in `zone` reaches `wall`, by scanning."""
    u = wall.replace(tzinfo=UTC) - timedelta(hours=15)
    while u.astimezone(zone).replace(tzinfo=None) < wall:
        u += timedelta(minutes=1)
    return u


@settings(max_examples=60, deadline=None)
@given(zone=zones, year=st.integers(2024, 2030), pick=st.integers(0, 1), minute=st.integers(0, 24 * 60 - 1))
def test_resolve_matches_a_minute_scan_on_transition_days(
    zone: tzinfo, year: int, pick: int, minute: int
) -> None:
    days = transition_days(zone, year)
    if not days:
        return
    wall = days[pick % len(days)] + timedelta(minutes=minute)
    assert resolve(wall, zone) == naive_resolve(wall, zone)


def near(start: datetime, period: timedelta, periods: int, fraction: float) -> datetime:
    """An instant `periods` and a fraction of a period from `start`: keeps the naive references short."""
    return start + periods * period + fraction * period


fractions = st.floats(0, 1, exclude_max=True)


@settings(max_examples=150, deadline=None)
@given(
    start=instants,
    period=periods,
    repetitions=st.none() | st.integers(0, 60),
    offset=st.tuples(st.integers(-5, 300), fractions),
    span=st.integers(0, 50),
)
def test_pt_due_times_match_stepping_one_period_at_a_time(
    start: datetime, period: timedelta, repetitions: int | None, offset: tuple[int, float], span: int
) -> None:
    s = pt_schedule(start, period, repetitions)
    after = near(start, period, *offset)
    until = after + span * period
    expected = [t for t in naive_slots(start, period, until) if t > after]
    if repetitions is not None:
        expected = expected[:repetitions]
    assert due_between(s, after, until, limit=10_000) == expected


@settings(max_examples=100, deadline=None)
@given(
    zone=zones,
    start=instants,
    period=st.sampled_from(["P1D", "P1W", "P1M", "P1Y", "PT1H", "PT90M", "P1DT1H", "P2M10D"]),
    after=instants,
)
def test_due_times_strictly_increase_in_every_zone(
    zone: ZoneInfo, start: datetime, period: str, after: datetime
) -> None:
    s = parse_schedule(f"R/{format_instant(start)}/{period}", zone.key)
    times = upcoming(s, after, 40)
    assert len(times) == 40
    assert all(a < b for a, b in pairwise(times))
    assert times[0] > after


@settings(max_examples=40, deadline=None)
@given(zone=zones, year=st.integers(2024, 2030), minute=st.integers(0, 24 * 60 - 1))
def test_p1d_runs_every_day_at_its_wall_time_or_the_next_valid_instant(
    zone: tzinfo, year: int, minute: int
) -> None:
    # start a few days before the year's first transition, run across it
    days = transition_days(zone, year) or (datetime(year, 6, 1),)
    first_wall = days[0] - timedelta(days=3) + timedelta(minutes=minute)
    s = parse_schedule(f"R/{first_wall.isoformat()}/P1D", str(zone))
    times = upcoming(s, resolve(first_wall, zone) - timedelta(seconds=1), 7)
    assert times == [naive_resolve(first_wall + timedelta(days=n), zone) for n in range(7)]


@settings(max_examples=25, deadline=None)
@given(
    zone=zones,
    year=st.integers(2024, 2030),
    every=st.sampled_from([1, 7, 15, 20, 30]),
    hours=st.sampled_from([1, 2, 3]),
)
def test_cron_runs_each_matching_wall_time_once_and_skips_none(
    zone: tzinfo, year: int, every: int, hours: int
) -> None:
    days = transition_days(zone, year) or (datetime(year, 6, 1),)
    begin = resolve(days[0] - timedelta(hours=2), zone)
    end = begin + timedelta(hours=30)
    s = parse_schedule(f"*/{every} */{hours} * * *", str(zone))
    got = due_between(s, begin, end, limit=10_000)

    # naive: every UTC minute whose wall time matches, at its first occurrence, plus one run at the end of
    # each gap that swallowed matching wall times
    expected: list[datetime] = []
    seen_walls: set[datetime] = set()
    u = begin + timedelta(minutes=1)
    while u <= end:
        wall = wall_of(u, zone)
        before = wall_of(u - timedelta(minutes=1), zone)
        swallowed = wall - before > timedelta(minutes=1) and any(
            _matches(before + timedelta(minutes=m), every, hours)
            for m in range(1, (wall - before) // timedelta(minutes=1))
        )
        if (_matches(wall, every, hours) and wall not in seen_walls) or swallowed:
            expected.append(u)
        seen_walls.add(wall)
        u += timedelta(minutes=1)
    assert got == expected


def _matches(wall: datetime, every: int, hours: int) -> bool:
    return wall.minute % every == 0 and wall.hour % hours == 0


@settings(max_examples=150, deadline=None)
@given(
    start=instants,
    period=periods,
    repetitions=st.none() | st.integers(0, 5),
    at_now=st.tuples(st.integers(-3, 300), fractions),
    handled=st.none() | st.tuples(st.integers(-3, 300), fractions),
    epsilon=st.none() | st.tuples(st.integers(0, 10), fractions),
)
def test_catch_up_launches_the_latest_slot_within_epsilon_and_counts_the_rest(
    *,
    start: datetime,
    period: timedelta,
    repetitions: int | None,
    at_now: tuple[int, float],
    handled: tuple[int, float] | None,
    epsilon: tuple[int, float] | None,
) -> None:
    now = near(start, period, *at_now)
    last_handled = None if handled is None else min(near(start, period, *handled), now)
    catch_up = None if epsilon is None else near(start, period, *epsilon) - start
    s = pt_schedule(start, period, repetitions)
    plan = plan_launch(s, now=now, last_handled=last_handled, catch_up=catch_up)

    due = [t for t in naive_slots(start, period, now) if last_handled is None or t > last_handled]
    if repetitions == 0 or not due:
        assert (plan.due, plan.skipped) == (None, 0)
        return
    launch = catch_up is None or now - due[-1] <= catch_up
    assert plan.due == (due[-1] if launch else None)
    assert plan.skipped == len(due) - launch
    assert isinstance(plan.schedule, IsoSchedule)
    assert plan.schedule.repetitions == (None if repetitions is None else repetitions - launch)
    assert plan.schedule.start > now


def tick_through(
    schedule: Schedule, begin: datetime, steps: list[int], epsilon: timedelta | None, handled: datetime | None
) -> tuple[list[datetime], int, datetime]:
    """A scheduler ticking at irregular intervals from `begin`, persisting what each plan returns."""
    launched: list[datetime] = []
    skipped, now = 0, begin
    for step in steps:
        now += timedelta(seconds=step)
        plan = plan_launch(schedule, now=now, last_handled=handled, catch_up=epsilon)
        schedule, handled = plan.schedule, plan.handled_through
        skipped += plan.skipped
        if plan.due is not None:
            launched.append(plan.due)
    return launched, skipped, now


@settings(max_examples=80, deadline=None)
@given(
    zone=zones,
    period=st.sampled_from(["PT1M", "PT7M", "PT1H", "P1D"]),
    steps=st.lists(st.integers(1, 4 * 3600), min_size=1, max_size=40),
    epsilon=st.none() | st.sampled_from([timedelta(0), timedelta(minutes=5), timedelta(hours=2)]),
)
def test_a_ticking_scheduler_launches_or_skips_every_slot_exactly_once(
    zone: ZoneInfo, period: str, steps: list[int], epsilon: timedelta | None
) -> None:
    begin = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # across Europe's spring-forward weekend
    s = parse_schedule(f"R/{format_instant(begin)}/{period}", zone.key)
    assert isinstance(s, IsoSchedule)
    launched, skipped, end = tick_through(s, s.start - timedelta(seconds=1), steps, epsilon, None)
    slots = due_between(s, s.start - timedelta(seconds=1), end, limit=100_000)
    assert len(launched) + skipped == len(slots)
    assert len(set(launched)) == len(launched)
    assert set(launched) <= set(slots)


@settings(max_examples=40, deadline=None)
@given(
    zone=zones,
    expression=st.sampled_from(["*/10 * * * *", "30 2 * * *", "0 * * * *", "15 1,2,3 * * *"]),
    steps=st.lists(st.integers(1, 3 * 3600), min_size=1, max_size=30),
    epsilon=st.none() | st.sampled_from([timedelta(0), timedelta(minutes=5)]),
)
def test_a_ticking_cron_scheduler_launches_or_skips_every_slot_exactly_once(
    zone: ZoneInfo, expression: str, steps: list[int], epsilon: timedelta | None
) -> None:
    begin = datetime(2026, 10, 24, 20, 0, tzinfo=UTC)  # across Europe's fall-back night
    s = parse_schedule(expression, zone.key)
    created = plan_launch(s, now=begin)  # a new job counts from its creation
    launched, skipped, end = tick_through(s, begin, steps, epsilon, created.handled_through)
    slots = due_between(s, begin, end, limit=100_000)
    assert len(launched) + skipped == len(slots)
    assert len(set(launched)) == len(launched)
    assert set(launched) <= set(slots)

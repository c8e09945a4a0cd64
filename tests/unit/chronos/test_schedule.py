"""Schedules on a fake clock: Chronos's `R[n]/<start>/<period>` (chronos.md b "schedule", c "Schedule
evaluation in 3.x"), cron in an IANA zone, the DST rules (a skipped wall time runs once at the next valid
instant, a repeated one once at its first occurrence; chronos.md j.8, #296, #588), month ends, leap days,
R counts, and catch-up within epsilon (chronos.md c, 2.x; Jepsen's windows in h).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest

from corral.chronos.schedule import (
    CronSchedule,
    IsoSchedule,
    ScheduleError,
    advance,
    due_between,
    next_due,
    parse_schedule,
    plan_launch,
    upcoming,
    utc,
    with_origin,
)

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def at(text: str) -> datetime:
    """An instant written with its offset: `at("2026-03-29T03:00+02:00")`."""
    return datetime.fromisoformat(text)


def iso(schedule: str, time_zone: str = "") -> IsoSchedule:
    parsed = parse_schedule(schedule, time_zone)
    assert isinstance(parsed, IsoSchedule)
    return parsed


def shown(times: list[datetime], zone: tzinfo = UTC) -> list[str]:
    """Instants as the wall clock of `zone` shows them."""
    return [t.astimezone(zone).isoformat(timespec="minutes") for t in times]


# ---------------------------------------------------------------- parsing


def test_an_iso_schedule_has_a_count_a_start_and_a_period() -> None:
    s = iso("R5/2026-01-01T00:00:00Z/PT1H")
    assert (s.repetitions, s.start, s.period.exact) == (5, at("2026-01-01T00:00+00:00"), timedelta(hours=1))
    assert iso("R/2026-01-01T00:00:00Z/PT1H").repetitions is None  # forever
    assert iso("R0/2026-01-01T00:00:00Z/PT1H").repetitions == 0
    assert iso("R/2026-01-01T00:00:00Z/P1Y2M3DT4H5M6.5S").period.exact == timedelta(
        hours=4, minutes=5, seconds=6.5
    )
    assert iso("R/2026-01-01T00:00:00Z/P2W").period.days == 14


def test_the_posted_text_is_shown_until_the_first_launch() -> None:
    # 3.0.2 echoes "R0/2014-01-01T00:00:00Z/PT60M" unchanged (chronos.md b, example payloads)
    assert iso("R0/2014-01-01T00:00:00Z/PT60M").text == "R0/2014-01-01T00:00:00Z/PT60M"


def test_schedule_time_zone_keeps_the_wall_clock_fields_of_the_start() -> None:
    # chronos.md b: "R/2014-10-10T18:32:00Z/PT60M + PST fires at 18:32 Pacific" (withZoneRetainFields)
    s = iso("R/2014-10-10T18:32:00Z/PT60M", "PST")
    assert s.start == at("2014-10-10T18:32-07:00")
    assert iso("R/2014-10-10T18:32:00Z/PT60M", "null").start == at("2014-10-10T18:32+00:00")  # 2.x's "null"


def test_without_a_time_zone_the_start_keeps_its_own_offset() -> None:
    s = iso("R/2026-03-28T09:00:00+05:30/P1D")
    ist = timezone(timedelta(hours=5, minutes=30))
    assert shown(upcoming(s, at("2026-03-28T00:00+00:00"), 2), ist) == [
        "2026-03-28T09:00+05:30",
        "2026-03-29T09:00+05:30",
    ]


def test_an_empty_start_means_one_second_before_now() -> None:
    now = at("2026-05-01T12:00:00+00:00")
    s = parse_schedule("R1//PT24H", now=now)
    assert isinstance(s, IsoSchedule)
    assert s.start == now - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("text", "time_zone", "message"),
    [
        ("R5/2026-01-01T00:00:00Z", "", r"expected R\[n\]/<start>/<period>"),
        ("R5/2026-13-01T00:00:00Z/PT1H", "", r"cannot parse the start '2026-13-01T00:00:00Z'"),
        ("R/2026-01-01T00:00:00Z/PT0S", "", r"must be longer than zero"),
        ("R/2026-01-01T00:00:00Z/PT1.5H", "", r"only seconds may have one"),
        ("R/2026-01-01T00:00:00Z/P1X", "", r"cannot parse the period 'P1X'"),
        ("R/1969-12-31T00:00:00Z/PT1H", "", r"starts before 1970"),
        ("R//PT1H", "", r"has no start time"),
        ("PT1H", "", r"a period needs R\[n\]/<start>/ before it"),
        ("R/2026-01-01T00:00:00Z/PT1H", "Mars/Olympus_Mons", r"unknown time zone 'Mars/Olympus_Mons'"),
        ("every day", "", r"a cron expression with 5 fields"),
        ("0 0 3 * * *", "", r"a cron expression with 5 fields"),
        ("61 * * * *", "", r"cannot parse the cron expression '61 \* \* \* \*'"),
        ("0 0 30 2 *", "", r"never matches a date"),
    ],
)
def test_a_bad_schedule_is_an_error_naming_what_is_wrong(text: str, time_zone: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        parse_schedule(text, time_zone)


def test_cron_is_told_from_iso_by_its_leading_r() -> None:
    assert isinstance(parse_schedule("0 3 * * *", "Europe/Paris"), CronSchedule)
    assert isinstance(parse_schedule("@daily"), CronSchedule)
    assert parse_schedule("30  16,19 * *  MON-FRI").text == "30 16,19 * * MON-FRI"


# ---------------------------------------------------------------- slots


def test_a_start_in_the_past_stays_on_its_grid() -> None:
    s = iso("R/2026-01-01T00:10:00Z/PT1H")
    assert next_due(s, at("2026-03-01T05:30+00:00")) == at("2026-03-01T06:10+00:00")


def test_r_limits_the_preview_and_r0_never_runs() -> None:
    now = at("2026-01-01T00:00+00:00")
    assert len(upcoming(iso("R3/2026-01-01T01:00:00Z/PT1H"), now)) == 3
    assert upcoming(iso("R0/2026-01-01T01:00:00Z/PT1H"), now) == []
    assert next_due(iso("R0/2026-01-01T01:00:00Z/PT1H"), now) is None


def test_due_between_is_half_open_and_bounded() -> None:
    s = iso("R/2026-01-01T00:00:00Z/PT1M")
    times = due_between(s, at("2026-01-01T00:00+00:00"), at("2026-01-01T00:03+00:00"))
    assert shown(times) == ["2026-01-01T00:01+00:00", "2026-01-01T00:02+00:00", "2026-01-01T00:03+00:00"]
    assert len(due_between(s, at("2026-01-01T00:00+00:00"), at("2027-01-01T00:00+00:00"), limit=7)) == 7


def test_p1d_keeps_the_wall_clock_and_pt24h_does_not() -> None:
    # chronos.md c.6: Joda `plus(Period)` keeps wall-clock time for P1D, adds absolute hours for PT24H
    days = iso("R/2026-03-07T09:00:00Z/P1D", "America/New_York")
    hours = iso("R/2026-03-07T09:00:00Z/PT24H", "America/New_York")
    now = at("2026-03-07T00:00-05:00")
    assert shown(upcoming(days, now, 3), NEW_YORK) == [
        "2026-03-07T09:00-05:00",
        "2026-03-08T09:00-04:00",  # DST began at 02:00 that night
        "2026-03-09T09:00-04:00",
    ]
    assert shown(upcoming(hours, now, 3), NEW_YORK) == [
        "2026-03-07T09:00-05:00",
        "2026-03-08T10:00-04:00",
        "2026-03-09T10:00-04:00",
    ]


def test_a_daily_run_in_the_spring_forward_gap_runs_once_at_the_next_valid_instant() -> None:
    # Paris jumps from 02:00 to 03:00 on 2026-03-29: 02:30 does not exist that day
    s = iso("R/2026-03-27T02:30:00Z/P1D", "Europe/Paris")
    assert shown(upcoming(s, at("2026-03-27T00:00+01:00"), 4), PARIS) == [
        "2026-03-27T02:30+01:00",
        "2026-03-28T02:30+01:00",
        "2026-03-29T03:00+02:00",
        "2026-03-30T02:30+02:00",  # back on 02:30, not dragged to 03:00
    ]


def test_a_daily_run_in_the_repeated_fall_back_hour_runs_once() -> None:
    # Paris repeats 02:00-03:00 on 2026-10-25: 02:30 runs at its first occurrence only
    s = iso("R/2026-10-24T02:30:00Z/P1D", "Europe/Paris")
    assert shown(upcoming(s, at("2026-10-24T00:00+02:00"), 3), PARIS) == [
        "2026-10-24T02:30+02:00",
        "2026-10-25T02:30+02:00",
        "2026-10-26T02:30+01:00",
    ]


def test_cron_across_new_york_dst_in_both_directions() -> None:
    skipped = parse_schedule("30 2 * * *", "America/New_York")  # 2026-03-08 has no 02:30
    assert shown(upcoming(skipped, at("2026-03-07T12:00-05:00"), 3), NEW_YORK) == [
        "2026-03-08T03:00-04:00",
        "2026-03-09T02:30-04:00",
        "2026-03-10T02:30-04:00",
    ]
    repeated = parse_schedule("30 1 * * *", "America/New_York")  # 2026-11-01 has two 01:30s
    assert shown(upcoming(repeated, at("2026-10-31T12:00-04:00"), 3), NEW_YORK) == [
        "2026-11-01T01:30-04:00",
        "2026-11-02T01:30-05:00",
        "2026-11-03T01:30-05:00",
    ]


def test_cron_times_merged_by_a_gap_run_once() -> None:
    s = parse_schedule("*/20 * * * *", "Europe/Paris")
    assert shown(upcoming(s, at("2026-03-29T01:30+01:00"), 4), PARIS) == [
        "2026-03-29T01:40+01:00",
        "2026-03-29T03:00+02:00",  # 02:00, 02:20, 02:40 and 03:00 are one run
        "2026-03-29T03:20+02:00",
        "2026-03-29T03:40+02:00",
    ]


def test_cron_in_the_repeated_hour_runs_each_wall_time_once() -> None:
    s = parse_schedule("*/30 * * * *", "Europe/Paris")
    after = at("2026-10-25T01:45+02:00")
    assert shown(upcoming(s, after, 4), PARIS) == [
        "2026-10-25T02:00+02:00",
        "2026-10-25T02:30+02:00",
        "2026-10-25T03:00+01:00",  # the second 02:00 and 02:30 do not run again
        "2026-10-25T03:30+01:00",
    ]
    assert next_due(s, at("2026-10-25T02:10+01:00")) == at("2026-10-25T03:00+01:00")


def test_p1m_from_january_31_clamps_each_month_without_drifting() -> None:
    s = iso("R/2026-01-31T00:00:00Z/P1M")
    assert [t.date().isoformat() for t in upcoming(s, at("2026-01-01T00:00+00:00"), 5)] == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
    ]
    assert at("2028-02-29T00:00+00:00") in upcoming(s, at("2028-02-01T00:00+00:00"), 1)


def test_p1y_from_a_leap_day() -> None:
    s = iso("R/2028-02-29T12:00:00Z/P1Y")
    assert [t.date().isoformat() for t in upcoming(s, at("2028-01-01T00:00+00:00"), 5)] == [
        "2028-02-29",
        "2029-02-28",
        "2030-02-28",
        "2031-02-28",
        "2032-02-29",
    ]


# ---------------------------------------------------------------- launching, R counts, rewriting


def test_an_on_time_launch_rewrites_the_schedule_as_chronos_does() -> None:
    s = iso("R5/2026-01-01T00:00:00Z/PT1H")
    plan = plan_launch(s, now=at("2026-01-01T00:00:02+00:00"))
    assert plan.due == at("2026-01-01T00:00+00:00")
    assert plan.skipped == 0
    assert plan.schedule.text == "R4/2026-01-01T01:00:00.000Z/PT1H"  # Joda's ISODateTimeFormat.dateTime
    assert plan.next_due == at("2026-01-01T01:00+00:00")


def test_the_rewritten_start_is_printed_in_the_schedule_time_zone() -> None:
    s = iso("R/2026-03-28T02:30:00Z/P1D", "Europe/Paris")
    plan = plan_launch(s, now=at("2026-03-28T02:30:05+01:00"))
    assert plan.schedule.text == "R/2026-03-29T03:00:00.000+02:00/P1D"
    assert plan.schedule.time_zone == "Europe/Paris"


def test_before_the_start_nothing_launches_and_the_schedule_is_untouched() -> None:
    s = iso("R5/2026-01-01T00:00:00Z/PT1H")
    plan = plan_launch(s, now=at("2025-12-31T23:59+00:00"))
    assert (plan.due, plan.skipped, plan.schedule) == (None, 0, s)
    assert plan.next_due == at("2026-01-01T00:00+00:00")


def test_missed_runs_collapse_into_one_catch_up_run_and_use_one_repetition() -> None:
    # chronos.md c.2 (3.x skipForward): leader down 00:30-03:30, no epsilon: one run now, n-1, grid kept
    s = iso("R5/2026-01-01T01:00:00Z/PT1H")
    plan = plan_launch(s, now=at("2026-01-01T03:30+00:00"))
    assert plan.due == at("2026-01-01T03:00+00:00")  # the latest missed slot
    assert plan.skipped == 2  # 01:00 and 02:00 never run
    assert plan.schedule.text == "R4/2026-01-01T04:00:00.000Z/PT1H"


def test_a_run_missed_by_more_than_epsilon_is_skipped_and_counted() -> None:
    s = iso("R5/2026-01-01T01:00:00Z/PT1H")
    plan = plan_launch(s, now=at("2026-01-01T03:30+00:00"), catch_up=timedelta(minutes=15))
    assert plan.due is None
    assert plan.skipped == 3
    assert plan.schedule.text == "R5/2026-01-01T04:00:00.000Z/PT1H"  # skipped slots use no repetition


def test_a_run_missed_within_epsilon_launches_once() -> None:
    s = iso("R/2026-01-01T01:00:00Z/PT1H")
    now = at("2026-01-01T01:10+00:00")
    first = plan_launch(s, now=now, catch_up=timedelta(minutes=15))
    assert first.due == at("2026-01-01T01:00+00:00")
    # the same tick again (a retry after a crash, before anything persisted but handled_through): nothing
    again = plan_launch(
        first.schedule, now=now, last_handled=first.handled_through, catch_up=timedelta(minutes=15)
    )
    assert (again.due, again.skipped) == (None, 0)


def test_last_handled_guards_against_a_stale_schedule() -> None:
    # the runtime persisted the run (keyed by its due time) but died before persisting the rewritten schedule
    s = iso("R/2026-01-01T01:00:00Z/PT1H")
    plan = plan_launch(s, now=at("2026-01-01T01:00:30+00:00"), last_handled=at("2026-01-01T01:00+00:00"))
    assert plan.due is None


def test_the_last_repetition_leaves_r0_and_nothing_more_is_due() -> None:
    s = iso("R1/2026-01-01T01:00:00Z/PT1H")
    plan = plan_launch(s, now=at("2026-01-01T01:00+00:00"))
    assert plan.due == at("2026-01-01T01:00+00:00")
    assert plan.schedule.text == "R0/2026-01-01T02:00:00.000Z/PT1H"
    assert plan.next_due is None
    later = plan_launch(plan.schedule, now=at("2026-01-02T00:00+00:00"))
    assert (later.due, later.skipped, later.next_due) == (None, 0, None)


def test_jepsens_job_runs_every_target_within_its_window() -> None:
    # chronos.md h: {"schedule": "R5/2015-08-05T21:57:42.000Z/PT24S", "epsilon": "PT6S"}, ticks every second
    schedule = parse_schedule("R5/2015-08-05T21:57:42.000Z/PT24S", "UTC")
    launched, handled = [], None
    for second in range(0, 24 * 6):
        now = at("2015-08-05T21:57:40+00:00") + timedelta(seconds=second)
        plan = plan_launch(schedule, now=now, last_handled=handled, catch_up=timedelta(seconds=6))
        schedule, handled = plan.schedule, plan.handled_through
        if plan.due is not None:
            launched.append(plan.due)
    start = at("2015-08-05T21:57:42+00:00")
    assert launched == [start + timedelta(seconds=24 * k) for k in range(5)]


def test_a_new_cron_job_does_not_catch_up_on_its_past() -> None:
    s = parse_schedule("0 3 * * *", "Europe/Paris")
    plan = plan_launch(s, now=at("2026-06-01T12:00+02:00"))
    assert (plan.due, plan.skipped) == (None, 0)
    assert plan.next_due == at("2026-06-02T03:00+02:00")


def test_a_cron_job_launches_its_latest_missed_run_and_counts_the_others() -> None:
    s = parse_schedule("0 * * * *", "Europe/Paris")
    plan = plan_launch(s, now=at("2026-06-01T12:20+02:00"), last_handled=at("2026-06-01T08:30+02:00"))
    assert plan.due == at("2026-06-01T12:00+02:00")
    assert plan.skipped == 3  # 09:00, 10:00, 11:00
    assert plan.handled_through == at("2026-06-01T12:20+02:00")
    beyond = plan_launch(
        s,
        now=at("2026-06-01T12:20+02:00"),
        last_handled=at("2026-06-01T08:30+02:00"),
        catch_up=timedelta(minutes=5),
    )
    assert (beyond.due, beyond.skipped) == (None, 4)


def test_cron_latest_run_in_the_repeated_hour() -> None:
    s = parse_schedule("45 2 * * *", "Europe/Paris")
    # now is the second 02:50 (CET); 02:45 ran at its first occurrence, an hour and five minutes ago
    plan = plan_launch(s, now=at("2026-10-25T02:50+01:00"), last_handled=at("2026-10-25T01:00+02:00"))
    assert plan.due == at("2026-10-25T02:45+02:00")


def test_a_drifting_start_is_restored_from_its_origin() -> None:
    s = iso("R/2026-01-31T00:00:00Z/P1M")
    moved = advance(s, past=at("2026-01-31T00:00+00:00"), launched=True)
    assert isinstance(moved, IsoSchedule)
    assert moved.text == "R/2026-02-28T00:00:00.000Z/P1M"
    assert moved.has_drifting_start
    reparsed = iso(moved.text)
    assert next_due(reparsed, moved.start) == at("2026-03-28T00:00+00:00")  # what plain Chronos would do
    restored = with_origin(reparsed, moved.origin)
    assert next_due(restored, moved.start) == at("2026-03-31T00:00+00:00")
    assert with_origin(reparsed, datetime(2026, 1, 15)) == reparsed  # not on that grid: ignored


def test_a_start_moved_out_of_a_gap_drifts_but_a_plain_daily_one_does_not() -> None:
    s = iso("R/2026-03-28T02:30:00Z/P1D", "Europe/Paris")
    assert isinstance(gap := advance(s, past=at("2026-03-28T03:00+01:00"), launched=True), IsoSchedule)
    assert gap.has_drifting_start
    assert isinstance(plain := advance(gap, past=at("2026-03-29T04:00+02:00"), launched=True), IsoSchedule)
    assert not plain.has_drifting_start


def test_utc_turns_a_runtime_clock_into_an_aware_instant() -> None:
    assert utc(0.0) == datetime(1970, 1, 1, tzinfo=UTC)
    assert utc(1.5).tzinfo is UTC


def test_instants_come_back_in_utc_so_they_compare_reliably() -> None:
    # Python compares datetimes of different zones as unequal inside a repeated hour (PEP 495)
    s = parse_schedule("45 2 * * *", "Europe/Paris")
    [due] = upcoming(s, at("2026-10-25T00:00+02:00"), 1)
    assert due.tzinfo is UTC
    assert due == at("2026-10-25T00:45+00:00")

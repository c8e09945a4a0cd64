"""Wall-clock time in a zone: zone names, calendar arithmetic, and resolving local times across DST.

Schedules are defined on the wall clock ("every day at 02:30 in Europe/Paris") and run at instants. The two
DST rules every schedule in Corral follows, whatever its syntax:

Rule 1: a wall-clock time skipped by a spring-forward runs once, at the next valid instant (the transition:
        02:30 on the day Paris jumps from 02:00 to 03:00 runs at 03:00 CEST).
Rule 2: a wall-clock time repeated by a fall-back runs once, at its first occurrence (02:30 CEST, not again
        at 02:30 CET an hour later).

Calendar arithmetic clamps to the end of the month (Jan 31 + 1 month = Feb 28 or 29), as Joda-Time does, and
is always computed from the schedule's origin, never chained, so Jan 31 + 2 months is Mar 31, not Mar 28.

Zone names are IANA names (`Europe/Paris`), `UTC`, Java's custom ids (`GMT+05:30`) and Java's three-letter
ids (`PST`), which Chronos accepted through `java.util.TimeZone`. Unlike Java, an unknown name is an error,
not silently GMT.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# java.time.ZoneId.SHORT_IDS, which java.util.TimeZone also resolves (EST, MST and HST are fixed offsets).
_JAVA_SHORT_IDS = {
    "ACT": "Australia/Darwin",
    "AET": "Australia/Sydney",
    "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo",
    "AST": "America/Anchorage",
    "BET": "America/Sao_Paulo",
    "BST": "Asia/Dhaka",
    "CAT": "Africa/Harare",
    "CNT": "America/St_Johns",
    "CST": "America/Chicago",
    "CTT": "Asia/Shanghai",
    "EAT": "Africa/Addis_Ababa",
    "ECT": "Europe/Paris",
    "IET": "America/Indiana/Indianapolis",
    "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo",
    "MIT": "Pacific/Apia",
    "NET": "Asia/Yerevan",
    "NST": "Pacific/Auckland",
    "PLT": "Asia/Karachi",
    "PNT": "America/Phoenix",
    "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles",
    "SST": "Pacific/Guadalcanal",
    "VST": "Asia/Ho_Chi_Minh",
}
_FIXED_SHORT_IDS = {"EST": -5, "MST": -7, "HST": -10}
_CUSTOM_ID = re.compile(r"(?:GMT|UTC)([+-])(\d{1,2})(?::?(\d{2}))?")


class UnknownTimeZone(ValueError):
    """`scheduleTimeZone` names no zone."""


def zone_named(name: str) -> tzinfo:
    """The zone for a `scheduleTimeZone` value. Raises UnknownTimeZone naming the value."""
    if name in ("UTC", "GMT", "Z"):
        return UTC
    if name in _FIXED_SHORT_IDS:
        return timezone(timedelta(hours=_FIXED_SHORT_IDS[name]))
    custom = _CUSTOM_ID.fullmatch(name)
    if custom is not None:
        sign, hours, minutes = custom.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset > timedelta(hours=18):
            raise UnknownTimeZone(f"unknown time zone {name!r}: offsets go up to 18 hours")
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(_JAVA_SHORT_IDS.get(name, name))
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZone(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Paris' or 'America/New_York'"
        ) from None


def add_calendar(wall: datetime, *, years: int = 0, months: int = 0, days: int = 0) -> tuple[datetime, bool]:
    """`wall` plus years and months (clamped to the month's last day), then days. Also says if it clamped."""
    total = wall.year * 12 + (wall.month - 1) + years * 12 + months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    moved = wall.replace(year=year, month=month + 1, day=min(wall.day, last))
    return moved + timedelta(days=days), wall.day > last


def resolve(wall: datetime, zone: tzinfo) -> datetime:
    """The instant a naive wall-clock time in `zone` denotes, by Rules 1 and 2 above, in UTC (PEP 495: an
    aware datetime inside a repeated hour compares unequal to every datetime of another zone)."""
    first = wall.replace(tzinfo=zone, fold=0)  # PEP 495: fold=0 is the first occurrence, or pre-gap offset
    if _round_trip(wall, zone) == wall:
        return first.astimezone(UTC)
    before = first.utcoffset() or timedelta()
    after = wall.replace(tzinfo=zone, fold=1).utcoffset() or timedelta()
    # The transition lies in (wall - after, wall - before]: the first instant whose wall clock reaches `wall`.
    base = wall.replace(tzinfo=UTC)
    lo, hi = int((base - after).timestamp()), int((base - before).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, zone).replace(tzinfo=None) >= wall:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


def wall_of(instant: datetime, zone: tzinfo) -> datetime:
    """The naive wall-clock time of an aware instant in `zone`."""
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _round_trip(wall: datetime, zone: tzinfo) -> datetime:
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone).replace(tzinfo=None, fold=0)


def format_instant(instant: datetime) -> str:
    """Joda's `ISODateTimeFormat.dateTime`, as Chronos prints schedules: `2026-01-01T00:00:00.000Z`, or with
    the zone's offset (`2026-03-29T03:00:00.000+02:00`)."""
    offset = instant.utcoffset() or timedelta()
    text = instant.replace(tzinfo=None).isoformat(timespec="milliseconds")
    if offset == timedelta():
        return text + "Z"
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(offset) // timedelta(minutes=1)
    return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def format_utc(instant: datetime) -> str:
    """`lastSuccess`/`lastError` style: always UTC, milliseconds and `Z` (`2014-03-08T16:57:17.507Z`)."""
    return format_instant(instant.astimezone(UTC))

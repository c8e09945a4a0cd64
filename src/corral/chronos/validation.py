"""Input rules for Chronos jobs: Jackson's lenient reads, the name rules of each API prefix, and the checks
made when a job is posted, returned as problems (values), never raised.

Chronos reads every field node by node (`JobDeserializer`): `asText` turns a number into text (Jepsen posted
`"name": 36`), numbers may be strings (`"cpus": "0.5"`), unknown fields are ignored. Corral reads the same way
but answers a clear `DecodeError` (path and problem) where Chronos threw a stack trace or silently dropped a
value (an unknown constraint operator, a container without an image, an unknown time zone).

Names: 3.x (`/v1/scheduler/*`) requires `[\\w.-]+`, 2.x (`/scheduler/*`) `[\\w\\s#_-]+` (spaces and `#`,
no dots); both are ASCII `\\w`, as in Java. A name also becomes a store key and part of every task id, so
it must pass Mesos' id rule too (`core.ids.id_problem`): not `.` or `..`, no control characters (which `\\s`
would let in), at most 255 bytes. The rules apply when a job is created; a stored name is never re-checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar

from aniso8601 import parse_datetime

from corral.core.errors import DecodeError
from corral.core.ids import id_problem
from corral.protocol.json import JsonValue, Reader

if TYPE_CHECKING:
    from corral.chronos.model import Job


E = TypeVar("E", bound=StrEnum)


class NameRule(StrEnum):
    V3 = "v3"  # /v1/scheduler/*: J/JobUtils.scala `([\w\.-]+)`
    LEGACY = "legacy"  # /scheduler/* (2.x): `([\w\s#_-]+)`


_NAME_PATTERNS = {
    NameRule.V3: re.compile(r"[\w.-]+", re.ASCII),
    NameRule.LEGACY: re.compile(r"[\w\s#_-]+", re.ASCII),
}
_NAME_HINTS = {
    NameRule.V3: "letters, digits, '_', '.' and '-'",
    NameRule.LEGACY: "letters, digits, spaces, '_', '#' and '-'",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    path: str  # the JSON field, e.g. "name", "retries", "parents"
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def name_problem(name: str, rule: NameRule = NameRule.V3) -> Problem | None:
    """Why `name` may not be a new job's name under `rule`, or None."""
    if not _NAME_PATTERNS[rule].fullmatch(name):
        return Problem(path="name", message=f"invalid job name {name[:64]!r}: use only {_NAME_HINTS[rule]}")
    if problem := id_problem(name):
        return Problem(path="name", message=f"invalid job name {name[:64]!r}: {problem}")
    return None


def job_problems(job: Job, *, rule: NameRule | None = NameRule.V3) -> tuple[Problem, ...]:
    """The checks a posted job must pass besides decoding (parents are dag.py's). Chronos checks the name
    only when a job is created: pass `rule=None` when replacing one."""
    found: list[Problem] = []
    if rule is not None and (bad := name_problem(job.name, rule)) is not None:
        found.append(bad)
    if job.retries < 0:
        found.append(Problem(path="retries", message=f"must be 0 or more, got {job.retries}"))
    for field, value in (("cpus", job.cpus), ("mem", job.mem), ("disk", job.disk)):
        if value < 0:
            found.append(Problem(path=field, message=f"must not be negative, got {value}"))
    if job.max_completion_time < 0:
        found.append(Problem(path="maxCompletionTime", message="must be 0 (no limit) or more seconds"))
    if job.starting_deadline_seconds is not None and job.starting_deadline_seconds <= 0:
        found.append(Problem(path="startingDeadlineSeconds", message="must be more than 0 seconds"))
    if job.name in job.parents:
        found.append(Problem(path="parents", message=f"job {job.name!r} cannot be its own parent"))
    return tuple(found)


# ---- Jackson-like reads ----------------------------------------------------------------------------------


def text(r: Reader, key: str, default: str = "") -> str:
    """`asText`: strings as they are, numbers and booleans as their JSON text; absent or null -> default."""
    value = r.raw(key)
    return default if value is None else as_text(value, _path(r, key))


def texts(r: Reader, key: str) -> tuple[str, ...]:
    return tuple(as_text(item, f"{_path(r, key)}[{i}]") for i, item in enumerate(r.array(key)))


def as_text(value: JsonValue, path: str) -> str:
    match value:
        case str():
            return value
        case bool():
            return "true" if value else "false"
        case int() | float():
            return str(value)
        case _:
            raise DecodeError(path, "expected a string")


def timestamp(r: Reader, key: str) -> datetime | None:
    """`lastSuccess`/`lastError`: "" or an ISO 8601 date-time (UTC when it has no offset)."""
    raw = text(r, key)
    if not raw:
        return None
    try:
        parsed: datetime = parse_datetime(raw)
    except (ValueError, NotImplementedError):
        raise DecodeError(_path(r, key), f"expected an ISO 8601 date-time, got {raw!r}") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def choice(r: Reader, key: str, enum: type[E], default: E) -> E:
    """An enum value, matched case-insensitively (Chronos upper-cases container types and volume modes)."""
    raw = text(r, key)
    if not raw:
        return default
    for member in enum:
        if member.value.lower() == raw.lower():
            return member
    allowed = ", ".join(m.value for m in enum)
    raise DecodeError(_path(r, key), f"unknown value {raw!r} (one of {allowed})")


def _path(r: Reader, key: str) -> str:
    return f"{r.path}.{key}" if r.path else key

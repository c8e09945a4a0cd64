"""Reading Marathon's camelCase JSON the way upstream's RAML-generated play-json readers do.

Rule 1: errors accumulate; a reader never raises. Every problem becomes a `Violation` whose path uses
upstream's syntax (`/healthChecks(0)/portIndex`) and whose error is play-json's code
(`error.expected.jsnumber`, `error.path.missing`, `error.min`, ...), so the caller can answer one 422
"Invalid JSON" listing them all.
Rule 2: `null` means absent (play's `readNullable`); unknown keys are ignored; no numeric strings (unlike
Mesos' protobuf JSON, play-json is strict about types).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from corral.marathon.errors import Violation
from corral.protocol.json import JsonObject, JsonValue

E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")

MISSING = "error.path.missing"
EXPECTED_STRING = "error.expected.jsstring"
EXPECTED_NUMBER = "error.expected.jsnumber"
EXPECTED_BOOLEAN = "error.expected.jsboolean"
EXPECTED_ARRAY = "error.expected.jsarray"
EXPECTED_OBJECT = "error.expected.jsobject"
EXPECTED_INT = "error.expected.int"
EXPECTED_LONG = "error.expected.long"
UNKNOWN_ENUM = "error.unknown.enum.literal"
BELOW_MIN = "error.min"
ABOVE_MAX = "error.max"
TOO_SHORT = "error.minLength"
TOO_LONG = "error.maxLength"
NO_MATCH = "error.pattern"

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def child_path(path: str, key: str) -> str:
    return f"{path}/{key}"


def index_path(path: str, index: int) -> str:
    return f"{path}({index})"


class Fields:
    """One JSON object at `path`; getters return the value, or None when absent or invalid."""

    __slots__ = ("errors", "obj", "path")

    def __init__(self, obj: JsonObject, path: str, errors: list[Violation]) -> None:
        self.obj = obj
        self.path = path
        self.errors = errors

    @staticmethod
    def of(value: JsonValue, path: str, errors: list[Violation]) -> Fields | None:
        if not isinstance(value, dict):
            errors.append(Violation(path=path or "/", error=EXPECTED_OBJECT))
            return None
        return Fields(value, path, errors)

    def at(self, key: str) -> str:
        return child_path(self.path, key)

    def fail(self, path: str, code: str) -> None:
        self.errors.append(Violation(path=path, error=code))

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def raw(self, key: str, *, required: bool = False) -> JsonValue:
        value = self.obj.get(key)
        if value is None and required:
            self.fail(self.at(key), MISSING)
        return value

    def read(
        self,
        key: str,
        convert: Callable[[JsonValue, str, list[Violation]], T | None],
        *,
        required: bool = False,
    ) -> T | None:
        value = self.raw(key, required=required)
        return None if value is None else convert(value, self.at(key), self.errors)

    def string(
        self,
        key: str,
        *,
        required: bool = False,
        min_length: int | None = None,
        max_length: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> str | None:
        def convert(value: JsonValue, path: str, errors: list[Violation]) -> str | None:
            return as_string(
                value, path, errors, min_length=min_length, max_length=max_length, pattern=pattern
            )

        return self.read(key, convert, required=required)

    def integer(
        self,
        key: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        long: bool = False,
    ) -> int | None:
        def convert(value: JsonValue, path: str, errors: list[Violation]) -> int | None:
            return as_integer(value, path, errors, minimum=minimum, maximum=maximum, long=long)

        return self.read(key, convert, required=required)

    def number(
        self, key: str, *, required: bool = False, minimum: float | None = None, maximum: float | None = None
    ) -> float | None:
        def convert(value: JsonValue, path: str, errors: list[Violation]) -> float | None:
            return as_number(value, path, errors, minimum=minimum, maximum=maximum)

        return self.read(key, convert, required=required)

    def boolean(self, key: str) -> bool | None:
        return self.read(key, as_boolean)

    def enum(self, key: str, choices: type[E], *, required: bool = False) -> E | None:
        def convert(value: JsonValue, path: str, errors: list[Violation]) -> E | None:
            return as_enum(value, path, errors, choices)

        return self.read(key, convert, required=required)

    def child(self, key: str, *, required: bool = False) -> Fields | None:
        value = self.raw(key, required=required)
        return None if value is None else Fields.of(value, self.at(key), self.errors)

    def array(self, key: str) -> list[tuple[JsonValue, str]] | None:
        """The items of an array with their paths, or None when absent or not an array."""
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, list):
            self.fail(self.at(key), EXPECTED_ARRAY)
            return None
        return [(item, index_path(self.at(key), i)) for i, item in enumerate(value)]

    def each(self, key: str, decode: Callable[[Fields], T | None]) -> list[T] | None:
        """An array of objects, each decoded; None when absent. Invalid items are left out."""
        items = self.array(key)
        if items is None:
            return None
        out: list[T] = []
        for value, path in items:
            fields = Fields.of(value, path, self.errors)
            decoded = None if fields is None else decode(fields)
            if decoded is not None:
                out.append(decoded)
        return out

    def strings(
        self, key: str, *, min_length: int | None = None, pattern: re.Pattern[str] | None = None
    ) -> list[str] | None:
        items = self.array(key)
        if items is None:
            return None
        out: list[str] = []
        for value, path in items:
            text = as_string(value, path, self.errors, min_length=min_length, pattern=pattern)
            if text is not None:
                out.append(text)
        return out

    def string_map(self, key: str) -> dict[str, str] | None:
        """`{"k": "v"}` (labels and the like); a non-string value fails at `/key/k`."""
        fields = self.child(key)
        if fields is None:
            return None
        out: dict[str, str] = {}
        for name, value in fields.obj.items():
            text = as_string(value, fields.at(name), self.errors)
            if text is not None:
                out[name] = text
        return out


def as_string(
    value: JsonValue,
    path: str,
    errors: list[Violation],
    *,
    min_length: int | None = None,
    max_length: int | None = None,
    pattern: re.Pattern[str] | None = None,
) -> str | None:
    if not isinstance(value, str):
        errors.append(Violation(path=path, error=EXPECTED_STRING))
        return None
    if min_length is not None and len(value) < min_length:
        errors.append(Violation(path=path, error=TOO_SHORT))
        return None
    if max_length is not None and len(value) > max_length:
        errors.append(Violation(path=path, error=TOO_LONG))
        return None
    if pattern is not None and not pattern.fullmatch(value):
        errors.append(Violation(path=path, error=NO_MATCH))
        return None
    return value


def _bounded(
    value: T, path: str, errors: list[Violation], *, low: float | None, high: float | None, number: float
) -> T | None:
    if low is not None and number < low:
        errors.append(Violation(path=path, error=BELOW_MIN))
        return None
    if high is not None and number > high:
        errors.append(Violation(path=path, error=ABOVE_MAX))
        return None
    return value


def as_number(
    value: JsonValue,
    path: str,
    errors: list[Violation],
    *,
    minimum: float | None = None,
    maximum: float | None = None,
) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append(Violation(path=path, error=EXPECTED_NUMBER))
        return None
    number = float(value)
    return _bounded(number, path, errors, low=minimum, high=maximum, number=number)


def as_integer(
    value: JsonValue,
    path: str,
    errors: list[Violation],
    *,
    minimum: int | None = None,
    maximum: int | None = None,
    long: bool = False,
) -> int | None:
    """play-json's IntReads/LongReads: any JSON number with an integral value in range (`3.0` is 3)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(Violation(path=path, error=EXPECTED_NUMBER))
        return None
    low, high = _INT64 if long else _INT32
    if isinstance(value, float) and not value.is_integer():
        errors.append(Violation(path=path, error=EXPECTED_LONG if long else EXPECTED_INT))
        return None
    whole = int(value)
    if not low <= whole <= high:
        errors.append(Violation(path=path, error=EXPECTED_LONG if long else EXPECTED_INT))
        return None
    return _bounded(whole, path, errors, low=minimum, high=maximum, number=whole)


def as_boolean(value: JsonValue, path: str, errors: list[Violation]) -> bool | None:
    if not isinstance(value, bool):
        errors.append(Violation(path=path, error=EXPECTED_BOOLEAN))
        return None
    return value


def as_enum(value: JsonValue, path: str, errors: list[Violation], choices: type[E]) -> E | None:
    text = as_string(value, path, errors)
    if text is None:
        return None
    try:
        return choices(text)
    except ValueError:
        errors.append(Violation(path=path, error=UNKNOWN_ENUM))
        return None

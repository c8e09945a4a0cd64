"""JSON codec: the only place that sees untyped JSON.

`JsonValue` is the recursive type of decoded JSON. `Reader` walks a decoded object and raises DecodeError
naming the field's path, applying Mesos' lenient protobuf-JSON input rules: numeric strings for numbers,
"true"/"false" for booleans, null for unset.

Hostile input (reliability-security.md 4.3 #7, #8, #10) ends here as a DecodeError, never as a crash:
orjson refuses invalid UTF-8, lone surrogates, NaN and Infinity, numbers beyond a double and nesting past
1024 levels without recursing in Python. `loads` also refuses nesting deeper than `MAX_DEPTH`, which orjson
can read but not write: a document Corral accepts (a TaskInfo's unknown fields travel on to the agent and
into checkpoints) must be one it can encode again.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable
from typing import TypeVar

import orjson

from corral.core.errors import DecodeError

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
JsonObject = dict[str, JsonValue]
T = TypeVar("T")

_MISSING = object()


def dumps(value: object) -> bytes:
    return orjson.dumps(value)


MAX_DEPTH = 254  # orjson.dumps refuses 255 nested arrays or objects


def loads(data: bytes | str) -> JsonValue:
    """Decode JSON; `DecodeError` (never a bare ValueError) on malformed or too deeply nested input."""
    try:
        value: JsonValue = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise DecodeError("", f"malformed JSON: {e}") from None
    # A document with no more brackets than MAX_DEPTH cannot nest deeper: only others pay for the check,
    # which is encoding the value again (orjson refuses what it cannot write).
    brackets = (
        data.count(b"[") + data.count(b"{") if isinstance(data, bytes) else data.count("[") + data.count("{")
    )
    if brackets > MAX_DEPTH:
        try:
            orjson.dumps(value)
        except orjson.JSONEncodeError:
            raise DecodeError("", f"JSON nested more than {MAX_DEPTH} levels deep") from None
    return value


def loads_object(data: bytes | str) -> JsonObject:
    value = loads(data)
    if not isinstance(value, dict):
        raise DecodeError("", f"expected a JSON object, got {_kind(value)}")
    return value


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, path: str = "") -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError(path, "is not valid base64") from None


def _kind(value: object) -> str:
    match value:
        case None:
            return "null"
        case bool():
            return "a boolean"
        case int() | float():
            return "a number"
        case str():
            return "a string"
        case list():
            return "an array"
        case _:
            return "an object"


class Reader:
    """Typed access to a JSON object, with error paths like `accept.operations[0].launch`."""

    __slots__ = ("obj", "path")

    def __init__(self, obj: JsonValue, path: str = "") -> None:
        if not isinstance(obj, dict):
            raise DecodeError(path, f"expected an object, got {_kind(obj)}")
        self.obj: JsonObject = obj
        self.path = path

    def _sub(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def raw(self, key: str) -> JsonValue:
        return self.obj.get(key)

    def _get(self, key: str, required: bool) -> object:
        value = self.obj.get(key)
        if value is None:
            if required:
                raise DecodeError(self._sub(key), "is required")
            return _MISSING
        return value

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise DecodeError(self._sub(key), "is required")
        return value

    def opt_text(self, key: str) -> str | None:
        value = self._get(key, False)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            raise DecodeError(self._sub(key), f"expected a string, got {_kind(value)}")
        return value

    def number(self, key: str, default: float | None = None) -> float:
        value = self.opt_number(key)
        if value is None:
            if default is None:
                raise DecodeError(self._sub(key), "is required")
            return default
        return value

    def opt_number(self, key: str) -> float | None:
        value = self._get(key, False)
        if value is _MISSING:
            return None
        if isinstance(value, bool):
            raise DecodeError(self._sub(key), "expected a number, got a boolean")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise DecodeError(self._sub(key), f"expected a number, got {_kind(value)}")

    def integer(self, key: str, default: int | None = None) -> int:
        value = self.opt_integer(key)
        if value is None:
            if default is None:
                raise DecodeError(self._sub(key), "is required")
            return default
        return value

    def opt_integer(self, key: str) -> int | None:
        # int64 fields (nanoseconds) exceed a float's 53 bits: take ints and integer strings as they are.
        value = self._get(key, False)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        number = self.opt_number(key)
        if number is None:
            return None
        if not math.isfinite(number) or number != int(number):
            raise DecodeError(self._sub(key), "expected an integer")
        return int(number)

    def flag(self, key: str, default: bool) -> bool:
        value = self._get(key, False)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise DecodeError(self._sub(key), f"expected a boolean, got {_kind(value)}")

    def blob(self, key: str) -> bytes | None:
        text = self.opt_text(key)
        return None if text is None else b64decode(text, self._sub(key))

    def child(self, key: str) -> Reader:
        value = self._get(key, True)
        return Reader(value, self._sub(key))  # type: ignore[arg-type]

    def opt_child(self, key: str) -> Reader | None:
        value = self._get(key, False)
        if value is _MISSING:
            return None
        return Reader(value, self._sub(key))  # type: ignore[arg-type]

    def raw_child(self, key: str) -> JsonObject | None:
        reader = self.opt_child(key)
        return None if reader is None else reader.obj

    def value(self, key: str) -> str:
        """A Mesos id wrapper: `{"value": "..."}` -> "..."."""
        return self.child(key).text("value")

    def opt_value(self, key: str) -> str | None:
        reader = self.opt_child(key)
        return None if reader is None else reader.text("value")

    def array(self, key: str) -> list[JsonValue]:
        value = self._get(key, False)
        if value is _MISSING:
            return []
        if not isinstance(value, list):
            raise DecodeError(self._sub(key), f"expected an array, got {_kind(value)}")
        return value

    def objs(self, key: str) -> list[Reader]:
        return [Reader(item, f"{self._sub(key)}[{i}]") for i, item in enumerate(self.array(key))]

    def strs(self, key: str) -> list[str]:
        out: list[str] = []
        for i, item in enumerate(self.array(key)):
            if not isinstance(item, str):
                raise DecodeError(f"{self._sub(key)}[{i}]", f"expected a string, got {_kind(item)}")
            out.append(item)
        return out

    def each(self, key: str, decode: Callable[[Reader], T]) -> tuple[T, ...]:
        return tuple(decode(r) for r in self.objs(key))

    def enum(self, key: str, choices: Callable[[str], T], required: bool = True) -> T | None:
        text = self.opt_text(key)
        if text is None:
            if required:
                raise DecodeError(self._sub(key), "is required")
            return None
        try:
            return choices(text)
        except ValueError:
            if not required:  # proto2: an unknown name in an optional enum field is dropped (mesos.md a.4)
                return None
            raise DecodeError(self._sub(key), f"unknown value {text!r}") from None


def ident(value: str) -> JsonObject:
    """`"x"` -> `{"value": "x"}`, the shape of every Mesos id on the wire."""
    return {"value": value}

"""Agent attributes (`--attributes rack:r1;ssd:1;zone:{a,b};keys:[1-5]`), used by placement constraints."""

from __future__ import annotations

import re
from dataclasses import dataclass

from corral.core.errors import ResourceParseError
from corral.core.resources import Range, _parse_range_list, format_ranges

_ITEM = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*:\s*(.+?)\s*$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@dataclass(frozen=True, slots=True)
class Attribute:
    name: str
    text: str | None = None
    scalar: float | None = None
    ranges: tuple[Range, ...] | None = None
    items: frozenset[str] | None = None

    def display(self) -> str | float:
        """The value as `/master/state` shows it (`"attributes":{"rack":"r1","ssd":1.0}`)."""
        if self.scalar is not None:
            return self.scalar
        if self.ranges is not None:
            return format_ranges(self.ranges)
        if self.items is not None:
            return "{" + ",".join(sorted(self.items)) + "}"
        return self.text or ""


def parse_attributes(text: str) -> tuple[Attribute, ...]:
    out: list[Attribute] = []
    for item in filter(None, (p.strip() for p in text.split(";"))):
        m = _ITEM.match(item)
        if not m:
            raise ResourceParseError(f"bad attribute {item!r} (expected NAME:VALUE)")
        name, value = m[1], m[2]
        if value.startswith("[") and value.endswith("]"):
            out.append(Attribute(name, ranges=_parse_range_list(value, name)))
        elif value.startswith("{") and value.endswith("}"):
            items = frozenset(s.strip() for s in value[1:-1].split(",") if s.strip())
            out.append(Attribute(name, items=items))
        elif _NUMBER.match(value):
            out.append(Attribute(name, scalar=float(value)))
        else:
            out.append(Attribute(name, text=value))
    return tuple(out)

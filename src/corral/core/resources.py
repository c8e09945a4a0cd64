"""Resources: scalars (cpus, mem, disk, gpus), ranges (ports) and sets, with +, -, <= and Mesos' text syntax.

Invariants: scalars are rounded to 3 decimal digits (Mesos' fixed point) and never negative or zero
(zero entries are dropped); ranges are sorted, merged and inclusive; empty ranges and sets are dropped.
So two equal bundles compare equal, and `a - b` is well defined whenever `b <= a`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from corral.core.errors import ResourceParseError

Range = tuple[int, int]
MODEL_SCALARS = ("cpus", "gpus", "mem", "disk")


def _round(value: float) -> float:
    return round(value, 3)


def _fmt(value: float) -> str:
    """A scalar in `--resources` syntax, exact to the 3 decimals kept (`:g` would print 123457 or 1e+07)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def normalize_ranges(ranges: Iterable[Range]) -> tuple[Range, ...]:
    merged: list[list[int]] = []
    for begin, end in sorted(ranges):
        if merged and begin <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    return tuple((b, e) for b, e in merged)


def subtract_ranges(have: tuple[Range, ...], take: tuple[Range, ...]) -> tuple[Range, ...]:
    out: list[Range] = []
    for begin, end in have:
        pieces = [(begin, end)]
        for tb, te in take:
            next_pieces: list[Range] = []
            for pb, pe in pieces:
                if te < pb or tb > pe:
                    next_pieces.append((pb, pe))
                    continue
                if pb < tb:
                    next_pieces.append((pb, tb - 1))
                if te < pe:
                    next_pieces.append((te + 1, pe))
            pieces = next_pieces
        out.extend(pieces)
    return normalize_ranges(out)


def ranges_contain(outer: tuple[Range, ...], inner: tuple[Range, ...]) -> bool:
    return all(any(ob <= b and e <= oe for ob, oe in outer) for b, e in inner)


def format_ranges(ranges: tuple[Range, ...]) -> str:
    return "[" + ", ".join(f"{b}-{e}" for b, e in ranges) + "]"


def range_count(ranges: tuple[Range, ...]) -> int:
    return sum(e - b + 1 for b, e in ranges)


@dataclass(frozen=True, slots=True)
class Resources:
    scalars: Mapping[str, float] = field(default_factory=dict)
    ranges: Mapping[str, tuple[Range, ...]] = field(default_factory=dict)
    sets: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @staticmethod
    def of(
        *,
        ranges: Mapping[str, Iterable[Range]] | None = None,
        sets: Mapping[str, Iterable[str]] | None = None,
        **scalars: float,
    ) -> Resources:
        """`Resources.of(cpus=1, mem=128, ranges={"ports": [(31000, 31000)]})`, normalized."""
        return Resources(
            {k: _round(v) for k, v in scalars.items() if _round(v) > 0},
            {k: r for k, v in (ranges or {}).items() if (r := normalize_ranges(v))},
            {k: s for k, v in (sets or {}).items() if (s := frozenset(v))},
        )

    def scalar(self, name: str) -> float:
        return self.scalars.get(name, 0.0)

    @property
    def cpus(self) -> float:
        return self.scalar("cpus")

    @property
    def mem(self) -> float:
        return self.scalar("mem")

    @property
    def disk(self) -> float:
        return self.scalar("disk")

    def ports(self) -> tuple[Range, ...]:
        return self.ranges.get("ports", ())

    def is_empty(self) -> bool:
        return not (self.scalars or self.ranges or self.sets)

    # `+` and `-` run on every offer, launch and status update: they share the operands' (never mutated)
    # mappings where a kind is untouched, and normalize ranges only where both sides have some.

    def __add__(self, other: Resources) -> Resources:
        if not (other.scalars or other.ranges or other.sets):
            return self
        if not (self.scalars or self.ranges or self.sets):
            return other
        scalars = self.scalars
        if other.scalars:
            scalars = dict(scalars)
            for name, value in other.scalars.items():
                have = scalars.get(name)
                scalars[name] = value if have is None else round(have + value, 3)
        ranges = self.ranges
        if other.ranges:
            ranges = dict(ranges)
            for name, rs in other.ranges.items():
                have_ranges = ranges.get(name)
                ranges[name] = rs if have_ranges is None else normalize_ranges(have_ranges + rs)
        sets = self.sets
        if other.sets:
            sets = dict(sets)
            for name, items in other.sets.items():
                sets[name] = sets.get(name, frozenset()) | items
        return Resources(scalars, ranges, sets)

    def __sub__(self, other: Resources) -> Resources:
        """Subtraction that saturates at zero; check `other <= self` first where over-use matters."""
        if not (other.scalars or other.ranges or other.sets):
            return self
        scalars = self.scalars
        if other.scalars and scalars:
            scalars = dict(scalars)
            for name, value in other.scalars.items():
                have = scalars.get(name)
                if have is None:
                    continue
                left = round(have - value, 3)
                if left > 0:
                    scalars[name] = left
                else:
                    del scalars[name]
        ranges = self.ranges
        if other.ranges and ranges:
            ranges = dict(ranges)
            for name, rs in other.ranges.items():
                if name in ranges:
                    left_ranges = subtract_ranges(ranges[name], rs)
                    if left_ranges:
                        ranges[name] = left_ranges
                    else:
                        del ranges[name]
        sets = self.sets
        if other.sets and sets:
            sets = dict(sets)
            for name, items in other.sets.items():
                if name in sets:
                    left_items = sets[name] - items
                    if left_items:
                        sets[name] = left_items
                    else:
                        del sets[name]
        return Resources(scalars, ranges, sets)

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Resources):
            return NotImplemented
        return self.missing_from(other) is None

    def missing_from(self, other: Resources) -> str | None:
        """Why `self` does not fit inside `other` (e.g. "cpus: need 2, have 1.5"), or None if it fits."""
        for name, value in self.scalars.items():
            have = other.scalars.get(name, 0.0)
            if value > have + 1e-9:
                return f"{name}: need {_fmt(value)}, have {_fmt(have)}"
        for name, rs in self.ranges.items():
            if not ranges_contain(other.ranges.get(name, ()), rs):
                have_text = format_ranges(other.ranges.get(name, ()))
                return f"{name}: need {format_ranges(rs)}, have {have_text}"
        for name, items in self.sets.items():
            if not items <= other.sets.get(name, frozenset()):
                return f"{name}: need {sorted(items)}, have {sorted(other.sets.get(name, ()))}"
        return None

    def to_model(self) -> dict[str, float | str]:
        """The v0 endpoints' "model" format: cpus/gpus/mem/disk always present, ranges as strings."""
        out: dict[str, float | str] = {name: self.scalars.get(name, 0.0) for name in MODEL_SCALARS}
        for name, value in self.scalars.items():
            out[name] = value
        for name, rs in self.ranges.items():
            out[name] = format_ranges(rs)
        for name, items in self.sets.items():
            out[name] = "{" + ",".join(sorted(items)) + "}"
        return out

    def __str__(self) -> str:
        parts = [f"{n}:{_fmt(v)}" for n, v in self.scalars.items()]
        parts += [f"{n}:{format_ranges(r)}" for n, r in self.ranges.items()]
        parts += [f"{n}:{{{','.join(sorted(s))}}}" for n, s in self.sets.items()]
        return ";".join(parts)


_ITEM = re.compile(r"^\s*([A-Za-z_][\w.\-]*)(?:\(([^)]*)\))?\s*:\s*(.+?)\s*$")
_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")


def _parse_range_list(text: str, what: str) -> tuple[Range, ...]:
    inner = text.strip()[1:-1].strip()
    out: list[Range] = []
    for part in filter(None, (p.strip() for p in inner.split(","))):
        m = _RANGE.match(part)
        if not m:
            raise ResourceParseError(f"{what}: bad range {part!r} (expected BEGIN-END)")
        begin, end = int(m[1]), int(m[2])
        if begin > end:
            raise ResourceParseError(f"{what}: range {part!r} begins after it ends")
        out.append((begin, end))
    return normalize_ranges(out)


def parse_resources(text: str) -> Resources:
    """Parse `cpus:4;mem:4096;disk:10000;ports:[31000-32000];zones:{a,b}`.

    Roles in parentheses (static reservations) are accepted only for the default role `*`.
    """
    scalars: dict[str, float] = {}
    ranges: dict[str, tuple[Range, ...]] = {}
    sets: dict[str, frozenset[str]] = {}
    for item in filter(None, (p.strip() for p in text.split(";"))):
        m = _ITEM.match(item)
        if not m:
            raise ResourceParseError(f"bad resource {item!r} (expected NAME:VALUE)")
        name, role, value = m[1], m[2], m[3]
        if role not in (None, "*"):
            raise ResourceParseError(f"{name}: reservations for role {role!r} are not supported")
        if value.startswith("["):
            if not value.endswith("]"):
                raise ResourceParseError(f"{name}: unterminated range list {value!r}")
            ranges[name] = normalize_ranges(ranges.get(name, ()) + _parse_range_list(value, name))
        elif value.startswith("{"):
            if not value.endswith("}"):
                raise ResourceParseError(f"{name}: unterminated set {value!r}")
            items = {s.strip() for s in value[1:-1].split(",") if s.strip()}
            sets[name] = sets.get(name, frozenset()) | items
        else:
            try:
                number = float(value)
            except ValueError:
                raise ResourceParseError(f"{name}: {value!r} is not a number") from None
            if not 0 <= number < float("inf"):  # negative, NaN or infinite
                raise ResourceParseError(f"{name}: {value!r} must be a finite number >= 0")
            scalars[name] = _round(scalars.get(name, 0.0) + number)
    return Resources(
        {k: v for k, v in scalars.items() if v > 0},
        {k: r for k, r in ranges.items() if r},  # `ports:[]` and `zones:{}` are nothing, not empty entries
        {k: s for k, s in sets.items() if s},
    )

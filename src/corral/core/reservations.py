"""Reservations and roles: resources set aside for one role, and bundles split by reservation.

A reservation is static (an agent's `--resources 'cpus(eng):2'`) or dynamic (a RESERVE operation, made by a
principal); with RESERVATION_REFINEMENT one may refine another for a subrole (`eng` -> `eng/web`), so a
`Reservation` keeps the one it refines as `parent` (mesos.md a.9 "reservations[] ... a stack").

`ReservedResources` is a bundle split that way: `unreserved` plus one `Resources` per reservation. `Resources`
itself stays role-less; everything that must know roles (the agent's totals, offers, the master's books,
the allocator) carries a `ReservedResources` or a `Mapping[Reservation, Resources]` beside it.

Invariants: no bucket of `reserved` is empty; a reservation's resources can be offered to its role and to
that role's subroles only (`eng` reservations go to `eng` and `eng/web`, never to `ops` or `*`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from corral.core.errors import ResourceParseError
from corral.core.resources import Resources, parse_resources

DEFAULT_ROLE = "*"

# Upstream's role name rules (`roles::validate`): not `.` or `..`, no leading `-`, no whitespace, slashes
# only between non-empty path components; `*` only on its own.
_BAD_ROLE_CHARS = re.compile(r"[\s\x00-\x1f\x7f\\]")


def role_problem(role: str) -> str | None:
    """Why `role` is not a valid role name, or None."""
    if role == DEFAULT_ROLE:
        return None
    if not role:
        return "Empty role name is invalid"
    if _BAD_ROLE_CHARS.search(role):
        return f"Role '{role}' contains invalid characters"
    for part in role.split("/"):
        if part in ("", ".", ".."):
            return f"Role '{role}' has an empty, '.' or '..' path component"
        if part.startswith("-"):
            return f"Role '{role}' has a path component starting with '-'"
        if part == DEFAULT_ROLE:
            return f"Role '{role}' may not contain '*' as a path component"
    return None


def is_subrole(role: str, of: str) -> bool:
    """`role` is `of` or below it (`eng/web` is a subrole of `eng`); `*` has no subroles."""
    return role == of or (of != DEFAULT_ROLE and role.startswith(of) and role[len(of) : len(of) + 1] == "/")


def parent_role(role: str) -> str | None:
    """`eng/web/a` -> `eng/web`; a top-level role has none."""
    head, sep, _ = role.rpartition("/")
    return head if sep else None


def top_level_role(role: str) -> str:
    return role.split("/", 1)[0]


class ReservationType(StrEnum):
    STATIC = "STATIC"
    DYNAMIC = "DYNAMIC"


@dataclass(frozen=True, slots=True)
class Reservation:
    """One reservation for `role`; `parent` is the reservation this one refines (None for the first)."""

    role: str
    type: ReservationType = ReservationType.STATIC
    principal: str | None = None
    parent: Reservation | None = None

    @property
    def is_dynamic(self) -> bool:
        return self.type is ReservationType.DYNAMIC

    def stack(self) -> tuple[Reservation, ...]:
        """The reservations from the first made to this one (upstream's `reservations[]` order)."""
        out: list[Reservation] = []
        current: Reservation | None = self
        while current is not None:
            out.append(current)
            current = current.parent
        return tuple(reversed(out))

    def sort_key(self) -> tuple[tuple[str, str, str], ...]:
        return tuple((r.role, r.type.value, r.principal or "") for r in self.stack())

    def is_allocatable_to(self, role: str) -> bool:
        return is_subrole(role, self.role)

    def __str__(self) -> str:
        by = f" by {self.principal}" if self.principal else ""
        return f"{self.type.value.lower()} {self.role}{by}"


def static(role: str) -> Reservation:
    return Reservation(role)


def dynamic(role: str, principal: str | None = None, parent: Reservation | None = None) -> Reservation:
    return Reservation(role, ReservationType.DYNAMIC, principal, parent)


Reserved = Mapping[Reservation, Resources]
NO_RESERVATIONS: Reserved = {}


def sum_reserved(reserved: Reserved) -> Resources:
    total = Resources()
    for resources in reserved.values():
        total = total + resources
    return total


def add_reserved(a: Reserved, b: Reserved) -> dict[Reservation, Resources]:
    out = dict(a)
    for key, resources in b.items():
        out[key] = out[key] + resources if key in out else resources
    return out


def subtract_reserved(a: Reserved, b: Reserved) -> dict[Reservation, Resources]:
    """`a - b` per reservation, saturating at zero; empty buckets are dropped."""
    out = dict(a)
    for key, resources in b.items():
        if key in out:
            left = out[key] - resources
            if left.is_empty():
                del out[key]
            else:
                out[key] = left
    return out


def reserved_by_role(reserved: Reserved) -> dict[str, Resources]:
    out: dict[str, Resources] = {}
    for key, resources in reserved.items():
        out[key.role] = out[key.role] + resources if key.role in out else resources
    return out


@dataclass(frozen=True, slots=True)
class ReservedResources:
    """A bundle split by reservation: `unreserved`, plus the resources of each reservation."""

    unreserved: Resources = field(default_factory=Resources)
    reserved: Reserved = field(default_factory=dict)

    @staticmethod
    def split(total: Resources, reserved: Reserved) -> ReservedResources:
        """From a total that includes `reserved` (as AgentInfo and Offer carry them)."""
        if not reserved:
            return ReservedResources(total, {})
        kept = {k: v for k, v in reserved.items() if not v.is_empty()}
        return ReservedResources(total - sum_reserved(kept), kept)

    def total(self) -> Resources:
        return self.unreserved + sum_reserved(self.reserved) if self.reserved else self.unreserved

    def is_empty(self) -> bool:
        return self.unreserved.is_empty() and not self.reserved

    def by_role(self) -> dict[str, Resources]:
        return reserved_by_role(self.reserved)

    def allocatable_to(self, role: str) -> ReservedResources:
        """What a framework in `role` may be offered: the unreserved resources and the reservations of
        `role` and of its ancestors."""
        return ReservedResources(
            self.unreserved, {k: v for k, v in self.reserved.items() if k.is_allocatable_to(role)}
        )

    def __add__(self, other: ReservedResources) -> ReservedResources:
        return ReservedResources(
            self.unreserved + other.unreserved, add_reserved(self.reserved, other.reserved)
        )

    def __sub__(self, other: ReservedResources) -> ReservedResources:
        return ReservedResources(
            self.unreserved - other.unreserved, subtract_reserved(self.reserved, other.reserved)
        )

    def missing_from(self, other: ReservedResources) -> str | None:
        """Why `self` does not fit in `other`, bucket by bucket, or None."""
        if (missing := self.unreserved.missing_from(other.unreserved)) is not None:
            return f"unreserved {missing}"
        for key, resources in self.reserved.items():
            if (missing := resources.missing_from(other.reserved.get(key, Resources()))) is not None:
                return f"reserved ({key}) {missing}"
        return None

    def __le__(self, other: object) -> bool:
        if not isinstance(other, ReservedResources):
            return NotImplemented
        return self.missing_from(other) is None

    def __str__(self) -> str:
        parts = [str(self.unreserved)] if not self.unreserved.is_empty() else []
        for key in sorted(self.reserved, key=Reservation.sort_key):
            parts.append(f"{key.role}({self.reserved[key]})")
        return "; ".join(parts)


# ---------------------------------------------------------------- `--resources` with roles

_ITEM = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(?:\(([^)]*)\))?\s*:(.*)$")


def parse_reserved_resources(text: str, default_role: str = DEFAULT_ROLE) -> ReservedResources:
    """`cpus:2;mem:1024;cpus(eng):2;mem(eng):512`: the items with a role are static reservations for it;
    those without one belong to `default_role` (upstream's `--default_role`, `*` = unreserved)."""
    groups: dict[str, list[str]] = {}
    for item in filter(None, (p.strip() for p in text.split(";"))):
        m = _ITEM.match(item)
        if not m:
            raise ResourceParseError(f"bad resource {item!r} (expected NAME:VALUE or NAME(ROLE):VALUE)")
        name, role, value = m[1], (m[2] or "").strip() or default_role, m[3]
        if (problem := role_problem(role)) is not None:
            raise ResourceParseError(f"{name}: {problem}")
        groups.setdefault(role, []).append(f"{name}:{value}")
    unreserved = Resources()
    reserved: dict[Reservation, Resources] = {}
    for role, items in groups.items():
        resources = parse_resources(";".join(items))
        if role == DEFAULT_ROLE:
            unreserved = resources
        elif not resources.is_empty():
            reserved[static(role)] = resources
    return ReservedResources(unreserved, reserved)


def format_reserved_resources(resources: ReservedResources) -> str:
    """The inverse of `parse_reserved_resources` (for logs and `--resources` round trips)."""
    parts = [str(resources.unreserved)] if not resources.unreserved.is_empty() else []
    for key in sorted(resources.reserved, key=Reservation.sort_key):
        for item in str(resources.reserved[key]).split(";"):
            name, _, value = item.partition(":")
            parts.append(f"{name}({key.role}):{value}")
    return ";".join(parts)


def roles_of(reservations: Iterable[Reservation]) -> set[str]:
    return {r.role for r in reservations}

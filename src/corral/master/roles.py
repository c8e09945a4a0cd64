"""Roles as the master keeps them: weights, quota, and per-role books of what is used, offered and reserved.

A role exists while anything names it (mesos.md e.1, `docs/roles.md`): a framework subscribed to it, a
reservation, a weight or a quota (upstream's "implicit roles"); with `--roles` only the listed roles may be
used. Weights come from `--weights eng=2,ops=1`, `PUT /weights` and UPDATE_WEIGHTS; quota from
UPDATE_QUOTA and `/quota`: guarantees and limits on scalar resources, for top-level roles only.

The books are scalar sums kept up to date on every change (an offer made or withdrawn, a task or
executor started or ended, an agent added or removed), so an allocation cycle and `/roles` read them in
O(roles), never by walking agents or tasks. Invariant: `used[r] + offered[r]` is what frameworks hold in
role `r`; `reserved[r]` is the reservations for `r` on agents the master knows, allocated or not, and
`used_reserved[r] + offered_reserved[r]` the allocated part of them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from corral.core.reservations import DEFAULT_ROLE, Reservation, role_problem
from corral.core.resources import MODEL_SCALARS, Resources
from corral.protocol.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from corral.master.allocator import RoleView

Scalars = dict[str, float]
# Quota applies to scalars only; ports and other ranges and sets are never guaranteed or limited.
NON_QUOTA = frozenset({"ports"})


def parse_weights(text: str) -> dict[str, float]:
    """`--weights eng=2,ops=1.5`. Raises ValueError."""
    out: dict[str, float] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        role, sep, value = item.partition("=")
        role = role.strip()
        try:
            weight = float(value)
        except ValueError:
            weight = math.nan
        if not sep or not weight > 0 or math.isinf(weight):
            raise ValueError(f"{item!r} is not ROLE=WEIGHT with a positive weight")
        if (problem := role_problem(role)) is not None:
            raise ValueError(problem)
        out[role] = weight
    return out


def parse_roles(text: str) -> frozenset[str]:
    """`--roles eng,ops` (the deprecated whitelist; `*` is always allowed). Raises ValueError."""
    roles = {r.strip() for r in text.split(",") if r.strip()}
    for role in roles:
        if (problem := role_problem(role)) is not None:
            raise ValueError(problem)
    return frozenset(roles | {DEFAULT_ROLE})


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaConfig:
    """One role's quota (upstream's QuotaConfig): guarantees and limits per scalar resource name."""

    role: str
    guarantees: Mapping[str, float] = field(default_factory=dict)
    limits: Mapping[str, float] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not self.guarantees and not self.limits

    def problem(self) -> str | None:
        """Why UPDATE_QUOTA must refuse this config (400), or None."""
        if (problem := role_problem(self.role)) is not None:
            return problem
        if self.role == DEFAULT_ROLE:
            return "Setting quota for the default role '*' is not supported"
        if "/" in self.role:
            return f"Quota is not supported on nested role '{self.role}'"
        for kind, quantities in (("guarantee", self.guarantees), ("limit", self.limits)):
            for name, value in quantities.items():
                if name in NON_QUOTA:
                    return f"Quota {kind} for '{name}' is not supported: quota applies to scalars only"
                if not 0 <= value < math.inf:
                    return f"Quota {kind} for '{name}' must be a finite number >= 0"
        for name, guarantee in self.guarantees.items():
            limit = self.limits.get(name)
            if limit is not None and guarantee > limit:
                return f"Role '{self.role}': guarantee {guarantee:g} for '{name}' exceeds its limit {limit:g}"
        return None


def _add(into: dict[str, Scalars], role: str, scalars: Mapping[str, float], sign: float) -> None:
    book = into.get(role)
    if book is None:
        if sign < 0:
            return
        book = into[role] = {}
    for name, value in scalars.items():
        left = book.get(name, 0.0) + sign * value
        if abs(left) < 1e-9:
            book.pop(name, None)
        else:
            book[name] = left
    if not book:
        del into[role]


def _scalars_sum(reserved: Mapping[Reservation, Resources]) -> dict[str, Scalars]:
    out: dict[str, Scalars] = {}
    for reservation, resources in reserved.items():
        _add(out, reservation.role, resources.scalars, 1.0)
    return out


@dataclass(slots=True)
class RoleBook:
    weights: dict[str, float] = field(default_factory=dict)
    quotas: dict[str, QuotaConfig] = field(default_factory=dict)
    # `--roles`; None: any role.
    whitelist: frozenset[str] | None = None
    totals: Scalars = field(default_factory=dict)
    used: dict[str, Scalars] = field(default_factory=dict)
    offered: dict[str, Scalars] = field(default_factory=dict)
    reserved: dict[str, Scalars] = field(default_factory=dict)
    used_reserved: dict[str, Scalars] = field(default_factory=dict)
    offered_reserved: dict[str, Scalars] = field(default_factory=dict)

    # ------------------------------------------------------------ books

    def add_agent(self, total: Resources, reservations: Mapping[Reservation, Resources]) -> None:
        for name, value in total.scalars.items():
            self.totals[name] = self.totals.get(name, 0.0) + value
        for role, scalars in _scalars_sum(reservations).items():
            _add(self.reserved, role, scalars, 1.0)

    def remove_agent(self, total: Resources, reservations: Mapping[Reservation, Resources]) -> None:
        for name, value in total.scalars.items():
            left = self.totals.get(name, 0.0) - value
            if left > 1e-9:
                self.totals[name] = left
            else:
                self.totals.pop(name, None)
        for role, scalars in _scalars_sum(reservations).items():
            _add(self.reserved, role, scalars, -1.0)

    def charge(
        self,
        role: str,
        resources: Resources,
        reservations: Mapping[Reservation, Resources],
        *,
        offered: bool,
        sign: float,
    ) -> None:
        """Resources taken (sign 1) or given back (sign -1) by a framework in `role`, offered or used."""
        _add(self.offered if offered else self.used, role, resources.scalars, sign)
        if reservations:
            book = self.offered_reserved if offered else self.used_reserved
            for reservation, bundle in reservations.items():
                _add(book, reservation.role, bundle.scalars, sign)

    # ------------------------------------------------------------ queries

    def weight(self, role: str) -> float:
        return self.weights.get(role, 1.0)

    def is_allowed(self, role: str) -> bool:
        return self.whitelist is None or role in self.whitelist

    def allocated(self, role: str) -> Scalars:
        out = dict(self.used.get(role, {}))
        for name, value in self.offered.get(role, {}).items():
            out[name] = out.get(name, 0.0) + value
        return out

    def allocated_reserved(self, role: str) -> Scalars:
        out = dict(self.used_reserved.get(role, {}))
        for name, value in self.offered_reserved.get(role, {}).items():
            out[name] = out.get(name, 0.0) + value
        return out

    def consumed(self, role: str) -> Scalars:
        """Quota consumption of `role` and its subroles: reservations plus unreserved allocations."""
        out: Scalars = {}
        for other in self.known():
            if other == role or other.startswith(role + "/"):
                for name, value in self.allocated(other).items():
                    out[name] = out.get(name, 0.0) + value
                for name, value in self.reserved.get(other, {}).items():
                    out[name] = out.get(name, 0.0) + value
                for name, value in self.allocated_reserved(other).items():
                    out[name] = out.get(name, 0.0) - value
        return {k: v for k, v in out.items() if abs(v) > 1e-9}

    def known(self, extra: Iterable[str] = ()) -> list[str]:
        """Every role something names (implicit roles), plus the whitelist and `extra`, sorted."""
        roles = {*self.weights, *self.quotas, *self.used, *self.offered, *self.reserved, *extra}
        if self.whitelist is not None:
            roles |= self.whitelist
        return sorted(roles)

    def views(self, extra: Iterable[str] = ()) -> dict[str, RoleView]:
        """What the allocator sees of every role."""
        from corral.master.allocator import RoleView  # the allocator's view types import the state

        out: dict[str, RoleView] = {}
        for role in self.known(extra):
            quota = self.quotas.get(role)
            out[role] = RoleView(
                weight=self.weight(role),
                guarantee=dict(quota.guarantees) if quota else {},
                limit=dict(quota.limits) if quota else {},
                allocated=self.allocated(role),
                reserved=dict(self.reserved.get(role, {})),
                allocated_reserved=self.allocated_reserved(role),
            )
        return out

    def share(self, role: str) -> float:
        """The role's weighted dominant share of the cluster (its subroles included), as DRF ranks it."""
        held: Scalars = {}
        for other in self.known():
            if other == role or other.startswith(role + "/"):
                for name, value in self.allocated(other).items():
                    held[name] = held.get(name, 0.0) + value
        dominant = max((held.get(n, 0.0) / t for n, t in self.totals.items() if t > 0), default=0.0)
        return dominant / self.weight(role)


# ---------------------------------------------------------------- JSON documents (mesos.md c.3, c.7)


def model(scalars: Mapping[str, float]) -> JsonObject:
    """Scalars in the v0 "model" format: cpus, gpus, mem and disk always present."""
    out: JsonObject = {name: round(scalars.get(name, 0.0), 3) for name in MODEL_SCALARS}
    for name, value in scalars.items():
        out[name] = round(value, 3)
    return out


def v1_quantities(scalars: Mapping[str, float]) -> JsonObject:
    """`{"cpus": {"value": 1.0}, ...}`, the map of QuotaConfig.guarantees/limits."""
    return {name: {"value": value} for name, value in sorted(scalars.items())}


def v1_resources(scalars: Mapping[str, float]) -> list[JsonValue]:
    return [
        {"name": name, "type": "SCALAR", "scalar": {"value": round(value, 3)}}
        for name, value in sorted(scalars.items())
    ]


def quota_info_json(book: RoleBook, config: QuotaConfig) -> JsonObject:
    """QuotaInfo (pre-1.9 `infos`): the guarantee as Resource objects."""
    return {"role": config.role, "guarantee": v1_resources(config.guarantees)}


def quota_config_json(config: QuotaConfig) -> JsonObject:
    out: JsonObject = {"role": config.role}
    if config.guarantees:
        out["guarantees"] = v1_quantities(config.guarantees)
    if config.limits:
        out["limits"] = v1_quantities(config.limits)
    return out


def quota_status_json(book: RoleBook) -> JsonObject:
    """QuotaStatus, the body of `GET /quota` and of GET_QUOTA's `status`."""
    configs = [book.quotas[r] for r in sorted(book.quotas)]
    return {
        "infos": [quota_info_json(book, c) for c in configs if c.guarantees],
        "configs": [quota_config_json(c) for c in configs],
    }


def weights_json(book: RoleBook) -> list[JsonValue]:
    """`GET /weights`: WeightInfo objects for the roles whose weight was set."""
    return [{"weight": book.weights[r], "role": r} for r in sorted(book.weights)]


def role_quota_json(book: RoleBook, role: str) -> JsonObject:
    config = book.quotas.get(role) or QuotaConfig(role=role)
    return {
        "role": role,
        "guarantee": model(config.guarantees),
        "limit": {name: value for name, value in sorted(config.limits.items())},
        "consumed": model(book.consumed(role)),
    }


def roles_json(book: RoleBook, frameworks: Mapping[str, list[str]]) -> JsonObject:
    """`GET /roles` (mesos.md c.3): every known role with its weight, quota and books."""
    out: list[JsonValue] = []
    for role in book.known(frameworks):
        allocated = book.allocated(role)
        ids: list[JsonValue] = list(frameworks.get(role, []))
        out.append(
            {
                "name": role,
                "weight": book.weight(role),
                "quota": role_quota_json(book, role),
                "resources": model(allocated),
                "allocated": model(allocated),
                "offered": model(book.offered.get(role, {})),
                "reserved": model(book.reserved.get(role, {})),
                "share": round(book.share(role), 6),
                "frameworks": ids,
            }
        )
    return {"roles": out}


def v1_roles_json(book: RoleBook, frameworks: Mapping[str, list[str]]) -> JsonObject:
    """GET_ROLES' `get_roles`: master.proto's Role with resources as Resource objects."""
    out: list[JsonValue] = []
    for role in book.known(frameworks):
        allocated = book.allocated(role)
        quota = book.quotas.get(role)
        entry: JsonObject = {
            "name": role,
            "weight": book.weight(role),
            "frameworks": [{"value": f} for f in frameworks.get(role, [])],
            "resources": v1_resources(allocated),
            "allocated": v1_resources(allocated),
            "offered": v1_resources(book.offered.get(role, {})),
            "reserved": v1_resources(book.reserved.get(role, {})),
        }
        if quota is not None:
            entry["quota"] = {
                "role": role,
                "guarantee": v1_resources(quota.guarantees),
                "limit": v1_resources(quota.limits),
                "consumed": v1_resources(book.consumed(role)),
            }
        out.append(entry)
    return {"roles": out}

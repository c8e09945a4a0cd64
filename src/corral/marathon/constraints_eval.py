"""Evaluating placement constraints against an offer and the app's placed instances (marathon.md c.2).

Upstream's `mesos/Constraints.scala` as of 1.9, rule for rule:

- The field is `hostname`/`@hostname`, `@region`, `@zone`, or an agent attribute. Attribute values compare as
  text: scalars formatted `0.###` (half-even), ranges `[b-e,...]` sorted by begin, sets `{a,b}` sorted.
- An offer without the field meets only UNLIKE.
- UNIQUE: no placed instance has the offer's value. CLUSTER with a value: the offer's value equals it;
  without one: equals the first placed instance's value (anything, if none is placed). MAX_PER n: fewer than
  n placed instances share the offer's value. LIKE/UNLIKE: the regex does / does not fully match. IS: equals
  the value (a scalar value is formatted as above first).
- GROUP_BY [n] (the classic rule, unchanged up to 1.9): an offer whose value starts a new group is accepted;
  an existing group is accepted only once there are at least n groups and it is (one of) the smallest.
  Placed instances without the field form a group of their own, as upstream counts them.

"Placed" means the app's instances that are not terminal and run its current configuration, plus those
placed earlier in the same offer cycle; the caller chooses them (`scheduler.py`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Context, Decimal

from corral.core.attributes import Attribute
from corral.marathon.constraints import Constraint, ConstraintOperator
from corral.marathon.instance import AgentPlacement

_SCALAR_VALUE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_WIDE = Context(prec=400, rounding=ROUND_HALF_EVEN)


def format_scalar(value: float) -> str:
    """Java's `new DecimalFormat("0.###")` on a double: 2.0 -> "2", 1.1005 -> "1.101", 1.0005 -> "1"."""
    text = format(_WIDE.quantize(Decimal(value), Decimal("0.001")), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def attribute_text(attribute: Attribute) -> str:
    if attribute.scalar is not None:
        return format_scalar(attribute.scalar)
    if attribute.ranges is not None:
        return "[" + ",".join(f"{b}-{e}" for b, e in sorted(attribute.ranges)) + "]"
    if attribute.items is not None:
        return "{" + ",".join(sorted(attribute.items)) + "}"
    return attribute.text or ""


def field_value(field: str, placement: AgentPlacement) -> str | None:
    """The constraint field's value on an agent (an offer's, or a placed instance's), None if it has none."""
    if field in ("hostname", "@hostname"):
        return placement.hostname
    if field == "@region":
        return placement.region
    if field == "@zone":
        return placement.zone
    for attribute in placement.attributes:
        if attribute.name == field:
            return attribute_text(attribute)
    return None


def _full_match(pattern: str, text: str) -> bool:
    try:
        return re.fullmatch(pattern, text) is not None
    except re.error:  # validation rejects these; an app stored before that still must not crash matching
        return False


def _group_by(offer_value: str, placed: Sequence[str | None], value: str | None) -> bool:
    minimum = max(0, int(value)) if value is not None and _is_int(value) else 0
    groups = Counter(placed)
    if offer_value not in groups:
        return True
    return len(groups) >= minimum and groups[offer_value] == min(groups.values())


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def meets_constraint(constraint: Constraint, offer: AgentPlacement, placed: Sequence[AgentPlacement]) -> bool:
    offer_value = field_value(constraint.field, offer)
    if offer_value is None:
        return constraint.operator is ConstraintOperator.UNLIKE
    value = constraint.value
    placed_values = [field_value(constraint.field, p) for p in placed]
    match constraint.operator:
        case ConstraintOperator.UNIQUE:
            return offer_value not in placed_values
        case ConstraintOperator.CLUSTER:
            if not value:
                return not placed_values or placed_values[0] == offer_value
            return offer_value == value
        case ConstraintOperator.GROUP_BY:
            return _group_by(offer_value, placed_values, value)
        case ConstraintOperator.MAX_PER:
            limit = int(value) if value is not None and _is_int(value) else 0
            return placed_values.count(offer_value) < limit
        case ConstraintOperator.LIKE:
            return bool(value) and _full_match(value or "", offer_value)
        case ConstraintOperator.UNLIKE:
            return bool(value) and not _full_match(value or "", offer_value)
        case ConstraintOperator.IS:
            wanted = value or ""
            if _SCALAR_VALUE.fullmatch(wanted):
                wanted = format_scalar(float(wanted))
            return offer_value == wanted


def unmet_constraints(
    constraints: Sequence[Constraint], offer: AgentPlacement, placed: Sequence[AgentPlacement]
) -> tuple[Constraint, ...]:
    return tuple(c for c in constraints if not meets_constraint(c, offer, placed))


def describe(constraint: Constraint) -> str:
    """`hostname:UNIQUE`, `rack:GROUP_BY:3`: how queue reasons and logs name a constraint."""
    parts = [constraint.field, constraint.operator.value]
    if constraint.value is not None:
        parts.append(constraint.value)
    return ":".join(parts)

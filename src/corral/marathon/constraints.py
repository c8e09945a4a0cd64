"""Placement constraints as apps declare them: `["hostname", "UNIQUE"]`, `["rack", "GROUP_BY", "3"]`
(marathon.md c.2). This module parses and checks the triples; matching them against offers is
`matching.py`'s job.

Operators are case-insensitive on input and stored upper-case, as upstream writes them back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from corral.protocol.json import JsonValue


class ConstraintOperator(StrEnum):
    UNIQUE = "UNIQUE"
    CLUSTER = "CLUSTER"
    GROUP_BY = "GROUP_BY"
    LIKE = "LIKE"
    UNLIKE = "UNLIKE"
    MAX_PER = "MAX_PER"
    IS = "IS"


WRONG_ARITY = "Each constraint must have either 2 or 3 fields"
ILLEGAL_SPECIFICATION = "illegal constraint specification"
UNKNOWN_OPERATOR = (
    "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
)
UNIQUE_TAKES_NO_VALUE = "UNIQUE does not accept a value"
GROUP_BY_NEEDS_INT = "GROUP BY must define an integer value or else no value at all"
MAX_PER_NEEDS_INT = "MAX_PER requires an integer value"
LIKE_NEEDS_REGEX = "LIKE and UNLIKE require a non-empty, regular expression value"
INVALID_REGEX = "is not a valid regular expression"
IS_TEXT_OR_SCALAR = (
    "IS only supports Mesos text and float values "
    "(see http://mesos.apache.org/documentation/latest/attributes-resources/)"
)

_INT = re.compile(r"^[+-]?\d+$")  # Scala's String.toInt
_MESOS_TEXT_OR_FLOAT = re.compile(r"^[a-zA-Z0-9_/.-]*$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Constraint:
    field: str  # `hostname`/`@hostname`, `@region`, `@zone`, or an agent attribute
    operator: ConstraintOperator
    value: str | None = None

    def to_json(self) -> list[JsonValue]:
        parts: list[JsonValue] = [self.field, self.operator.value]
        if self.value is not None:
            parts.append(self.value)
        return parts


def _is_int(text: str) -> bool:
    return bool(_INT.fullmatch(text)) and -(2**31) <= int(text) < 2**31


def _value_problem(operator: ConstraintOperator, value: str | None) -> str | None:
    match operator:
        case ConstraintOperator.UNIQUE:
            return None if value is None else UNIQUE_TAKES_NO_VALUE
        case ConstraintOperator.CLUSTER:
            return None  # without a value, the first instance pins it
        case ConstraintOperator.GROUP_BY:
            return None if value is None or _is_int(value) else GROUP_BY_NEEDS_INT
        case ConstraintOperator.MAX_PER:
            return None if value is not None and _is_int(value) else MAX_PER_NEEDS_INT
        case ConstraintOperator.LIKE | ConstraintOperator.UNLIKE:
            if value is None:
                return LIKE_NEEDS_REGEX
            try:
                re.compile(value)
            except re.error:
                return INVALID_REGEX
            return None
        case ConstraintOperator.IS:
            return None if _MESOS_TEXT_OR_FLOAT.fullmatch(value or "") else IS_TEXT_OR_SCALAR


def parse_constraint(parts: tuple[str, ...]) -> Constraint | str:
    """A checked constraint, or upstream's complaint about it (`complyWithAppConstraintRules`)."""
    if not 2 <= len(parts) <= 3:
        return WRONG_ARITY
    field, op = parts[0], parts[1]
    value = parts[2] if len(parts) == 3 else None
    if not field:
        return ILLEGAL_SPECIFICATION
    try:
        operator = ConstraintOperator(op.upper())
    except ValueError:
        return UNKNOWN_OPERATOR
    problem = _value_problem(operator, value)
    return problem if problem is not None else Constraint(field=field, operator=operator, value=value)

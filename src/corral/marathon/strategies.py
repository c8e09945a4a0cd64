"""How an app is upgraded, killed, and replaced when unreachable (marathon.md b.1, c.1, c.7).

Defaults follow upstream: upgrades keep full capacity and may double it ({1, 1}); apps with persistent
volumes ("resident") default to {0.5, 0} and never replace unreachable instances; single-instance apps
(label `MARATHON_SINGLE_INSTANCE_APP=true`) default to {0, 0}. `unreachableStrategy` defaults to {0, 0}
(replace at once), the 1.5.1+ value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from corral.marathon.errors import Violation
from corral.marathon.reader import EXPECTED_OBJECT, UNKNOWN_ENUM, Fields
from corral.protocol.json import JsonObject, JsonValue

DISABLED = "disabled"


class KillSelection(StrEnum):
    YOUNGEST_FIRST = "YOUNGEST_FIRST"
    OLDEST_FIRST = "OLDEST_FIRST"


class TaskLostBehavior(StrEnum):
    WAIT_FOREVER = "WAIT_FOREVER"
    RELAUNCH_AFTER_TIMEOUT = "RELAUNCH_AFTER_TIMEOUT"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpgradeStrategy:
    minimum_health_capacity: float = 1.0
    maximum_over_capacity: float = 1.0


DEFAULT_UPGRADE = UpgradeStrategy()
RESIDENT_UPGRADE = UpgradeStrategy(minimum_health_capacity=0.5, maximum_over_capacity=0.0)
SINGLE_INSTANCE_UPGRADE = UpgradeStrategy(minimum_health_capacity=0.0, maximum_over_capacity=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class UnreachableEnabled:
    inactive_after_seconds: int = 0
    expunge_after_seconds: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class UnreachableDisabled:
    """Unreachable instances are never replaced (`"unreachableStrategy": "disabled"`)."""


UnreachableStrategy = UnreachableEnabled | UnreachableDisabled


@dataclass(frozen=True, slots=True, kw_only=True)
class Residency:
    """Deprecated and without effect upstream; kept because resident apps must carry it."""

    relaunch_escalation_timeout_seconds: int = 3600
    task_lost_behavior: TaskLostBehavior = TaskLostBehavior.WAIT_FOREVER


# Integral floats beyond this stay floats: `int(1e308)` has no 64-bit JSON form (encoding it was a 500).
_EXACT_INT_LIMIT = 2**53


def number_json(value: float) -> int | float:
    """Write `1.0` as `1`, as upstream does (`"cpus":1,"mem":128,"disk":0`)."""
    return int(value) if value.is_integer() and abs(value) <= _EXACT_INT_LIMIT else value


def decode_upgrade_strategy(fields: Fields) -> UpgradeStrategy | None:
    health = fields.number("minimumHealthCapacity", required=True, minimum=0.0, maximum=1.0)
    over = fields.number("maximumOverCapacity", required=True, minimum=0.0, maximum=1.0)
    if health is None or over is None:
        return None
    return UpgradeStrategy(minimum_health_capacity=health, maximum_over_capacity=over)


def encode_upgrade_strategy(strategy: UpgradeStrategy) -> JsonObject:
    return {
        "maximumOverCapacity": number_json(strategy.maximum_over_capacity),
        "minimumHealthCapacity": number_json(strategy.minimum_health_capacity),
    }


def decode_unreachable_strategy(
    value: JsonValue, path: str, errors: list[Violation]
) -> UnreachableStrategy | None:
    """`"disabled"` or `{inactiveAfterSeconds, expungeAfterSeconds}` (each defaulting to 0)."""
    if isinstance(value, str):
        if value == DISABLED:
            return UnreachableDisabled()
        errors.append(Violation(path=path, error=UNKNOWN_ENUM))
        return None
    if not isinstance(value, dict):
        errors.append(Violation(path=path, error=EXPECTED_OBJECT))
        return None
    fields = Fields(value, path, errors)
    inactive = fields.integer("inactiveAfterSeconds", long=True)
    expunge = fields.integer("expungeAfterSeconds", long=True)
    return UnreachableEnabled(inactive_after_seconds=inactive or 0, expunge_after_seconds=expunge or 0)


def encode_unreachable_strategy(strategy: UnreachableStrategy) -> JsonValue:
    match strategy:
        case UnreachableDisabled():
            return DISABLED
        case UnreachableEnabled():
            return {
                "inactiveAfterSeconds": strategy.inactive_after_seconds,
                "expungeAfterSeconds": strategy.expunge_after_seconds,
            }


def decode_residency(fields: Fields) -> Residency:
    timeout = fields.integer("relaunchEscalationTimeoutSeconds", minimum=0)
    return Residency(
        relaunch_escalation_timeout_seconds=3600 if timeout is None else timeout,
        task_lost_behavior=fields.enum("taskLostBehavior", TaskLostBehavior) or TaskLostBehavior.WAIT_FOREVER,
    )


def encode_residency(residency: Residency) -> JsonObject:
    return {
        "relaunchEscalationTimeoutSeconds": residency.relaunch_escalation_timeout_seconds,
        "taskLostBehavior": residency.task_lost_behavior.value,
    }

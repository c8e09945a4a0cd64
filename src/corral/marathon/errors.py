"""The 422 body of Marathon's v2 API (marathon.md a.1 "Error mapping").

Two kinds share the shape `{"message": ..., "details": [{"path": "/cpus", "errors": [...]}]}`: JSON shape
and type errors (upstream's play-json readers, message "Invalid JSON", codes like `error.expected.jsnumber`)
and semantic validation failures (wix-accord, message "Object is not valid", human-readable errors). Paths
use upstream's syntax: `/field`, `(i)` for list indices, `/` for the object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from corral.core.errors import CorralError
from corral.protocol.json import JsonObject, JsonValue

INVALID_JSON = "Invalid JSON"
OBJECT_NOT_VALID = "Object is not valid"


@dataclass(frozen=True, slots=True, kw_only=True)
class Violation:
    path: str
    error: str


def group_details(violations: Iterable[Violation]) -> list[JsonValue]:
    """Group by path, keeping first-seen order of paths and of errors (duplicates dropped)."""
    grouped: dict[str, list[str]] = {}
    for v in violations:
        errors = grouped.setdefault(v.path, [])
        if v.error not in errors:
            errors.append(v.error)
    return [{"path": path, "errors": list[JsonValue](errors)} for path, errors in grouped.items()]


class ValidationError(CorralError):
    """An app (or update) Marathon would answer with 422; `body()` is that answer's JSON."""

    def __init__(self, message: str, violations: Iterable[Violation]) -> None:
        self.message = message
        self.violations = tuple(violations)
        super().__init__(f"{message}: " + "; ".join(f"{v.path}: {v.error}" for v in self.violations))

    def body(self) -> JsonObject:
        return {"message": self.message, "details": group_details(self.violations)}

    def errors_at(self, path: str) -> list[str]:
        """The errors reported for one path (handy in tests and logs)."""
        return [v.error for v in self.violations if v.path == path]

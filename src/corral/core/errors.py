"""Errors shared across layers. Expected outcomes are values; these are for malformed input."""

from __future__ import annotations


class CorralError(Exception):
    """Base of Corral's own exceptions."""


class DaemonStopped(CorralError):
    """A daemon ends on purpose (e.g. a leader that lost its lease): its message is logged without a
    traceback, and the process exits with 1."""


class DecodeError(CorralError):
    """A message does not have the shape its schema requires. `path` names the offending field."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}" if path else problem)
        self.path = path
        self.problem = problem


class ResourceParseError(CorralError):
    """A resource or attribute specification (`cpus:4;mem:1024`) cannot be parsed."""

"""Marathon path ids: `/prod/web/db` names an app or a group (marathon.md a.1 "Path ids", b.1 `id`).

Invariants: a `PathId` holds no empty segments (`//x` is `/x`, as upstream's `PathId.apply` sanitises raw
ids); `canonical()` resolves `.` and `..` against a base group (`..` at the root stays at the root) and is
always absolute. Validation returns upstream's messages (`state/PathId.scala`) rather than raising, so callers
can report them at whatever JSON path the id came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from corral.core.ids import MAX_ID_BYTES

# One segment: lower-case DNS-ish labels separated by dots, or `.` / `..` (upstream ID_PATH_SEGMENT_PATTERN).
SEGMENT_PATTERN = (
    r"^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$"
)
_SEGMENT = re.compile(SEGMENT_PATTERN)
# The looser pattern of the RAML `PathId` string type, checked while reading JSON (`error.pattern`): every
# `/`-separated part is empty, `..` or DNS-ish with dots. Upstream spells it
# `^(\/?((\.{2})|([a-z0-9][a-z0-9\-.]*[a-z0-9]+)|([a-z0-9]*))($|\/))+$`, which accepts the same strings but
# backtracks exponentially in Python's engine (a 100-character id took seconds, blocking the event loop).
_RAML_PART = r"(\.\.|[a-z0-9]([a-z0-9\-.]*[a-z0-9])?)?"
RAML_PATTERN = re.compile(rf"^{_RAML_PART}(/{_RAML_PART})*$")
RESERVED_LAST_SEGMENTS = ("restart", "tasks", "versions", ".", "..")

INVALID_CHARS = f"must fully match regular expression '{SEGMENT_PATTERN}'"
RESERVED_KEYWORD = "must not end with any of the following reserved keywords: " + ", ".join(
    RESERVED_LAST_SEGMENTS
)
EMPTY_PATH = "Path must contain at least one path element"
NOT_ABSOLUTE = "Path needs to be absolute"
# An app's task ids are `<safe id>.<36-character UUID>` (instance.py) and a Mesos id is at most 255 bytes;
# the safe id is the path id without its leading `/`. Segments are ASCII, so characters are bytes.
MAX_APP_ID_LENGTH = 1 + MAX_ID_BYTES - len(".") - 36
APP_ID_TOO_LONG = (
    f"must be at most {MAX_APP_ID_LENGTH} characters long, so that the app's task ids fit in Mesos'"
    f" {MAX_ID_BYTES} bytes"
)


@dataclass(frozen=True, slots=True, order=True)
class PathId:
    """A sequence of segments; absolute ids print with a leading `/`."""

    segments: tuple[str, ...] = ()
    absolute: bool = True

    @staticmethod
    def parse(text: str) -> PathId:
        """`"/a//b/"` -> `/a/b`; `"a/b"` is relative. Empty segments are dropped, nothing else is changed."""
        return PathId(tuple(s for s in text.split("/") if s), absolute=text.startswith("/"))

    @staticmethod
    def from_safe_id(text: str) -> PathId:
        """Inverse of `safe_id`: `"prod_web"` -> `/prod/web` (task ids carry the safe form)."""
        return PathId(tuple(s for s in text.split("_") if s))

    def __str__(self) -> str:
        joined = "/".join(self.segments)
        return "/" + joined if self.absolute else joined

    @property
    def is_root(self) -> bool:
        return not self.segments

    @property
    def is_top_level(self) -> bool:
        return len(self.segments) == 1

    @property
    def parent(self) -> PathId:
        """The enclosing group; the root is its own parent."""
        return PathId(self.segments[:-1], self.absolute)

    @property
    def name(self) -> str:
        """The last segment (`""` for the root)."""
        return self.segments[-1] if self.segments else ""

    @property
    def safe_id(self) -> str:
        """`/prod/web` -> `prod_web`, the prefix of the app's task ids (marathon.md b.5)."""
        return "_".join(self.segments)

    def child(self, name: str) -> PathId:
        return PathId((*self.segments, *PathId.parse(name).segments), self.absolute)

    def canonical(self, base: PathId | None = None) -> PathId:
        """Resolve against `base` (default the root): `"b/../c"` under `/a` is `/a/c`."""
        base = base or ROOT
        if not base.absolute:
            raise ValueError(f"base {base} is not absolute")
        segments = self.segments if self.absolute else base.segments + self.segments
        out: list[str] = []
        for segment in segments:
            if segment == "..":
                if out:
                    out.pop()
            elif segment != ".":
                out.append(segment)
        return PathId(tuple(out))

    def includes(self, other: PathId) -> bool:
        """True when `other` is this id or lies below it (`/a` includes `/a/b`)."""
        n = len(self.segments)
        return other.segments[:n] == self.segments

    def is_child_of(self, parent: PathId) -> bool:
        """Upstream's `childOf`: resolved against `parent`, the id sits directly inside it."""
        return not parent.absolute or self.canonical(parent).parent == parent


ROOT = PathId()


def resolve(text: str, base: str | PathId = "/") -> PathId:
    """Parse an id as a client sends it and make it absolute: `resolve("web", "/prod")` is `/prod/web`."""
    base_id = base if isinstance(base, PathId) else PathId.parse(base).canonical()
    return PathId.parse(text).canonical(base_id)


def segment_problems(path: PathId) -> list[str]:
    """Upstream's `pathIdValidator` minus `childOf` (trivially true once an id is canonical)."""
    problems: list[str] = []
    if not all(_SEGMENT.fullmatch(s) for s in path.segments):
        problems.append(INVALID_CHARS)
    if path.segments and path.segments[-1] in RESERVED_LAST_SEGMENTS:
        problems.append(RESERVED_KEYWORD)
    return problems


def app_id_problems(path: PathId) -> list[str]:
    """Why `path` cannot name an app (`/id` errors of a 422), or [] if it can."""
    problems = segment_problems(path)
    if not path.absolute:
        problems.append(NOT_ABSOLUTE)
    if path.is_root:
        problems.append(EMPTY_PATH)
    if len(str(path)) > MAX_APP_ID_LENGTH:
        problems.append(APP_ID_TOO_LONG)
    return problems


def child_problems(path: PathId, base: PathId) -> list[str]:
    """Upstream's `validPathWithBase`: an app or group nested in a group must sit directly in it."""
    problems = segment_problems(path)
    if not path.is_child_of(base):
        problems.append(f"Identifier is not child of {base}. Hint: use relative paths.")
    return problems

"""Marathon path ids (marathon.md a.1 "Path ids", b.1 `id`; upstream `state/PathId.scala`): ids are
canonicalised (a leading `/` is added, `.` and `..` resolved, empty segments tolerated), relative ids resolve
against the enclosing group, and each segment is a lower-case DNS-ish label.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.marathon.paths import (
    EMPTY_PATH,
    INVALID_CHARS,
    NOT_ABSOLUTE,
    RESERVED_KEYWORD,
    ROOT,
    PathId,
    app_id_problems,
    child_problems,
    resolve,
)

segments = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
steps = st.one_of(segments, st.just("."), st.just(".."))


def test_an_id_prints_as_clients_send_it() -> None:
    assert str(PathId.parse("/prod/web/db")) == "/prod/web/db"
    assert str(PathId.parse("prod/web")) == "prod/web"
    assert str(ROOT) == "/"


def test_empty_segments_are_dropped_so_a_double_slash_addresses_the_same_app() -> None:
    # marathon-python interpolates ids raw: `DELETE /v2/apps//my-app` (marathon.md a.1)
    assert PathId.parse("//my-app") == PathId.parse("/my-app") == PathId(("my-app",))
    assert PathId.parse("/a//b/") == PathId(("a", "b"))


def test_relative_ids_resolve_against_the_group() -> None:
    assert resolve("web", "/prod") == PathId.parse("/prod/web")
    assert resolve("hello2") == PathId.parse("/hello2")  # POST /v2/apps resolves against the root
    assert resolve("../db", "/prod/web") == PathId.parse("/prod/db")
    assert resolve("/abs/x", "/prod") == PathId.parse("/abs/x")


def test_dot_and_dot_dot_are_resolved_and_dot_dot_stops_at_the_root() -> None:
    assert PathId.parse("/a/./b/../c").canonical() == PathId.parse("/a/c")
    assert PathId.parse("../../x").canonical(PathId.parse("/a")) == PathId.parse("/x")


def test_a_relative_base_is_refused() -> None:
    with pytest.raises(ValueError, match="not absolute"):
        PathId.parse("x").canonical(PathId.parse("rel"))


def test_parent_name_and_levels() -> None:
    web = PathId.parse("/prod/web")
    assert web.parent == PathId.parse("/prod")
    assert web.name == "web"
    assert web.parent.is_top_level and not web.is_top_level
    assert ROOT.parent == ROOT and ROOT.is_root and ROOT.name == ""
    assert ROOT.child("prod").child("web") == web


def test_the_safe_id_prefixes_task_ids() -> None:
    # `/foo/bar` becomes `foo_bar` (marathon.md b.5)
    assert PathId.parse("/foo/bar").safe_id == "foo_bar"
    assert PathId.from_safe_id("foo_bar") == PathId.parse("/foo/bar")


def test_a_group_includes_what_lies_below_it() -> None:
    prod = PathId.parse("/prod")
    assert prod.includes(PathId.parse("/prod/web/db"))
    assert prod.includes(prod)
    assert not prod.includes(PathId.parse("/production"))
    assert ROOT.includes(prod)


@pytest.mark.parametrize("text", ["/hello2", "/prod/web-1", "/a.b/c0", "/x", "/0/1/2", "/my.domain.app"])
def test_valid_app_ids(text: str) -> None:
    assert app_id_problems(PathId.parse(text)) == []


@pytest.mark.parametrize("text", ["/Hello", "/under_score", "/-lead", "/trail-", "/a..b", "/a.-b", "/sp ace"])
def test_segments_must_be_lower_case_dns_labels(text: str) -> None:
    assert app_id_problems(PathId.parse(text)) == [INVALID_CHARS]


def test_the_segment_message_is_upstreams_verbatim() -> None:
    assert INVALID_CHARS == (
        "must fully match regular expression "
        r"'^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$'"
    )


@pytest.mark.parametrize("last", ["restart", "tasks", "versions"])
def test_an_app_may_not_end_with_a_route_keyword(last: str) -> None:
    assert app_id_problems(PathId.parse(f"/prod/{last}")) == [RESERVED_KEYWORD]
    assert RESERVED_KEYWORD == (
        "must not end with any of the following reserved keywords: restart, tasks, versions, ., .."
    )
    assert app_id_problems(PathId.parse(f"/{last}/web")) == []


def test_the_root_and_relative_ids_cannot_name_an_app() -> None:
    assert app_id_problems(ROOT) == [EMPTY_PATH]
    assert app_id_problems(PathId.parse("web")) == [NOT_ABSOLUTE]


def test_a_nested_id_must_sit_directly_in_its_group() -> None:
    base = PathId.parse("/prod")
    assert child_problems(PathId.parse("/prod/web"), base) == []
    assert child_problems(PathId.parse("web"), base) == []  # relative: resolved inside the group
    assert child_problems(PathId.parse("/other/web"), base) == [
        "Identifier is not child of /prod. Hint: use relative paths."
    ]


@given(st.lists(steps, max_size=6), st.lists(segments, max_size=3))
def test_canonical_ids_are_absolute_plain_and_stable(parts: list[str], base_parts: list[str]) -> None:
    base = PathId(tuple(base_parts))
    canonical = PathId(tuple(parts), absolute=False).canonical(base)
    assert canonical.absolute
    assert not {".", ".."} & set(canonical.segments)
    assert canonical.canonical() == canonical
    assert PathId.parse(str(canonical)) == canonical


@given(st.lists(segments, min_size=1, max_size=4), st.lists(segments, max_size=3))
def test_a_relative_id_without_dots_lands_inside_its_base(parts: list[str], base_parts: list[str]) -> None:
    base = PathId(tuple(base_parts))
    resolved = resolve("/".join(parts), base)
    assert resolved.segments == base.segments + tuple(parts)
    assert base.includes(resolved)

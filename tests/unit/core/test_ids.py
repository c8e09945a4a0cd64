"""Ids: the master's id formats (mesos.md a.9 "ID formats", `Master::newFrameworkId/newOfferId/newSlaveId`)
and the rules for framework-chosen ids, which become sandbox directory names (upstream
`common::validation::validateID`: not empty, not `.`/`..`, no `/`, `\\` or control characters, at most
NAME_MAX = 255 bytes).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.ids import MAX_ID_BYTES, IdSource, id_problem


def test_master_minted_ids_follow_mesos_formats() -> None:
    ids = IdSource("M")
    assert [ids.framework(), ids.framework()] == ["M-0000", "M-0001"]
    assert [ids.agent(), ids.agent()] == ["M-S0", "M-S1"]
    assert [ids.offer(), ids.offer(), ids.offer()] == ["M-O0", "M-O1", "M-O2"]


def test_each_kind_counts_on_its_own_and_frameworks_grow_past_four_digits() -> None:
    ids = IdSource("3f0d2c9e-6a1b-4b8e-9d7a-1c2b3d4e5f60", _frameworks=9999)
    assert ids.offer() == "3f0d2c9e-6a1b-4b8e-9d7a-1c2b3d4e5f60-O0"
    assert ids.framework() == "3f0d2c9e-6a1b-4b8e-9d7a-1c2b3d4e5f60-9999"
    assert ids.framework() == "3f0d2c9e-6a1b-4b8e-9d7a-1c2b3d4e5f60-10000"
    assert ids.agent() == "3f0d2c9e-6a1b-4b8e-9d7a-1c2b3d4e5f60-S0"


def test_two_sources_with_the_same_master_id_agree() -> None:
    a, b = IdSource("M"), IdSource("M")
    assert [a.offer() for _ in range(3)] == [b.offer() for _ in range(3)]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "must not be empty"),
        (".", "must not be '.' or '..'"),
        ("..", "must not be '.' or '..'"),
        ("a/b", "must not contain '/', '\\' or control characters"),
        ("a\\b", "must not contain '/', '\\' or control characters"),
        ("tab\there", "must not contain '/', '\\' or control characters"),
        ("nul\x00", "must not contain '/', '\\' or control characters"),
        ("del\x7f", "must not contain '/', '\\' or control characters"),
        ("x" * 256, "must be at most 255 bytes"),
        ("é" * 128, "must be at most 255 bytes"),  # 256 bytes of UTF-8 in 128 characters
    ],
)
def test_bad_framework_ids(value: str, problem: str) -> None:
    assert id_problem(value) == problem


@pytest.mark.parametrize("value", ["web-1", "pod-1.main", "...", ".hidden", "x" * 255, "é" * 127, "a b"])
def test_good_framework_ids(value: str) -> None:
    assert id_problem(value) is None


@given(
    st.text(
        alphabet=st.characters(min_codepoint=0x20, exclude_characters="/\\\x7f", exclude_categories=["Cs"]),
        min_size=1,
    )
)
def test_printable_ids_are_judged_only_by_length_and_dots(value: str) -> None:
    too_long = len(value.encode()) > MAX_ID_BYTES
    expected = "must not be '.' or '..'" if value in (".", "..") else None
    assert id_problem(value) == ("must be at most 255 bytes" if too_long else expected)


def test_an_id_with_a_lone_surrogate_is_refused_not_a_crash() -> None:
    # JSON may carry "\ud800"; such an id has no UTF-8 form and so can name no directory.
    assert id_problem("task-\ud800") == "must be valid Unicode text"

"""The pure parts of the ZooKeeper implementation: Mesos' candidate names and the store's key encoding."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from kazoo.exceptions import BadVersionError, RolledBackError

from corral.coord.zk_store import first_failure, key_of, znode_name
from corral.coord.zookeeper import candidate_sequence, candidates


def test_candidates_are_json_info_children_with_ten_digits() -> None:
    assert candidate_sequence("json.info_0000000012") == 12
    for other in ("log_replicas", "info_0000000001", "0000000003", "json.info_12", "json.info_00000000x1"):
        assert candidate_sequence(other) is None


def test_the_leader_is_the_lowest_sequence_and_others_are_ignored() -> None:
    children = ["json.info_0000000012", "log_replicas", "json.info_0000000003", "info_0000000001"]
    assert candidates(children) == ["json.info_0000000003", "json.info_0000000012"]
    assert candidates(["log_replicas"]) == []


@given(st.text(min_size=1))
def test_any_key_is_one_valid_znode_name_and_comes_back(key: str) -> None:
    name = znode_name(key)
    assert "/" not in name and name not in (".", "..")
    assert all(0x20 < ord(c) < 0x7F for c in name)  # ZooKeeper forbids control and some unicode characters
    assert key_of(name) == key


def test_the_failing_operation_of_a_multi_op_is_found() -> None:
    assert first_failure([True, "/path"]) is None
    bad = BadVersionError()
    assert first_failure([RolledBackError(), bad, RolledBackError()]) == (1, bad)

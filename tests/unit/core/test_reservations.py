"""Reservations and roles (mesos.md a.9 reservation formats, e.1 "Reservations", `docs/roles.md`)."""

from __future__ import annotations

import pytest

from corral.core.errors import ResourceParseError
from corral.core.reservations import (
    Reservation,
    ReservationType,
    ReservedResources,
    dynamic,
    format_reserved_resources,
    is_subrole,
    parent_role,
    parse_reserved_resources,
    role_problem,
    static,
    top_level_role,
)
from corral.core.resources import Resources


@pytest.mark.parametrize("role", ["*", "eng", "eng/web", "eng/web/a", "a.b", "x-y", "_1"])
def test_valid_role_names(role: str) -> None:
    assert role_problem(role) is None


@pytest.mark.parametrize("role", ["", ".", "..", "-eng", "eng/", "/eng", "eng//web", "a b", "eng/*", "a\\b"])
def test_invalid_role_names(role: str) -> None:
    assert role_problem(role) is not None


def test_subroles_and_parents() -> None:
    assert is_subrole("eng/web", "eng") and is_subrole("eng", "eng")
    assert not is_subrole("engineering", "eng") and not is_subrole("eng", "eng/web")
    assert not is_subrole("eng", "*"), "'*' has no subroles: unreserved is not a reservation"
    assert parent_role("eng/web/a") == "eng/web" and parent_role("eng") is None
    assert top_level_role("eng/web/a") == "eng"


def test_a_reservation_goes_to_its_role_and_subroles_only() -> None:
    eng = static("eng")
    assert eng.is_allocatable_to("eng") and eng.is_allocatable_to("eng/web")
    assert not eng.is_allocatable_to("ops") and not eng.is_allocatable_to("*")


def test_refined_reservations_keep_their_stack() -> None:
    refined = dynamic("eng/web", "ops", parent=static("eng"))
    assert [r.role for r in refined.stack()] == ["eng", "eng/web"]
    assert refined.stack()[-1].type is ReservationType.DYNAMIC
    assert refined != dynamic("eng/web", "ops"), "a different stack is a different reservation"


def test_parse_static_reservations_from_agent_resources() -> None:
    # `--resources 'cpus(eng):2;mem(eng):1024'` plus unreserved resources (mesos.md e.1 "Static")
    parsed = parse_reserved_resources("cpus:4;mem:4096;cpus(eng):2;mem(eng):1024;ports(*):[31000-31009]")
    assert parsed.unreserved == Resources.of(cpus=4, mem=4096, ranges={"ports": [(31000, 31009)]})
    assert parsed.reserved == {static("eng"): Resources.of(cpus=2, mem=1024)}
    assert parsed.total() == Resources.of(cpus=6, mem=5120, ranges={"ports": [(31000, 31009)]})
    assert parse_reserved_resources(format_reserved_resources(parsed)) == parsed


def test_default_role_applies_to_items_without_one() -> None:
    parsed = parse_reserved_resources("cpus:1;mem(ops):64", default_role="eng")
    assert parsed.unreserved.is_empty()
    assert parsed.reserved == {static("eng"): Resources.of(cpus=1), static("ops"): Resources.of(mem=64)}


@pytest.mark.parametrize("text", ["cpus(bad role):1", "cpus(eng/):1", "cpus(eng):x", "nonsense"])
def test_bad_reserved_resources(text: str) -> None:
    with pytest.raises(ResourceParseError):
        parse_reserved_resources(text)


def test_bundle_arithmetic_keeps_reservations_apart() -> None:
    eng, ops = static("eng"), static("ops")
    agent = ReservedResources(Resources.of(cpus=4), {eng: Resources.of(cpus=2), ops: Resources.of(cpus=1)})
    task = ReservedResources(Resources.of(cpus=1), {eng: Resources.of(cpus=2)})
    assert task <= agent
    left = agent - task
    assert left == ReservedResources(Resources.of(cpus=3), {ops: Resources.of(cpus=1)}), "empty buckets go"
    assert not (ReservedResources(Resources(), {eng: Resources.of(cpus=3)}) <= agent)
    missing = ReservedResources(Resources(), {ops: Resources.of(cpus=2)}).missing_from(agent)
    assert missing == "reserved (static ops) cpus: need 2, have 1"
    assert agent.allocatable_to("eng/web") == ReservedResources(
        Resources.of(cpus=4), {eng: Resources.of(cpus=2)}
    )
    assert agent.by_role() == {"eng": Resources.of(cpus=2), "ops": Resources.of(cpus=1)}


def test_split_takes_reservations_out_of_a_total() -> None:
    reserved = {dynamic("eng", "alice"): Resources.of(mem=64)}
    split = ReservedResources.split(Resources.of(cpus=1, mem=128), reserved)
    assert split.unreserved == Resources.of(cpus=1, mem=64)
    assert split.reserved == reserved


def test_reservations_sort_and_print() -> None:
    keys = [dynamic("ops", "bob"), static("eng"), Reservation("eng", ReservationType.DYNAMIC)]
    assert [str(k) for k in sorted(keys, key=Reservation.sort_key)] == [
        "dynamic eng",
        "static eng",
        "dynamic ops by bob",
    ]

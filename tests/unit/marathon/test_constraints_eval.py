"""Constraint evaluation (marathon.md c.2, upstream `mesos/Constraints.scala` 1.9), checked rule by rule and
against a naive, loop-only reference with hypothesis."""

from __future__ import annotations

import re
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from corral.core.attributes import Attribute, parse_attributes
from corral.core.ids import AgentId
from corral.marathon.constraints import Constraint, ConstraintOperator, parse_constraint
from corral.marathon.constraints_eval import attribute_text, field_value, format_scalar, meets_constraint
from corral.marathon.instance import AgentPlacement

Op = ConstraintOperator


def agent(host: str, attributes: str = "") -> AgentPlacement:
    return AgentPlacement(
        agent_id=AgentId(host), hostname=host, attributes=parse_attributes(attributes) if attributes else ()
    )


def constraint(*parts: str) -> Constraint:
    parsed = parse_constraint(parts)
    assert isinstance(parsed, Constraint), parsed
    return parsed


def test_attribute_values_read_as_upstream_formats_them() -> None:
    assert format_scalar(2.0) == "2"
    assert format_scalar(1.1005) == "1.101"  # half-even on the double's exact value
    assert format_scalar(1.0005) == "1"
    assert attribute_text(Attribute("ports", ranges=((5, 6), (1, 2)))) == "[1-2,5-6]"
    assert attribute_text(Attribute("zones", items=frozenset({"b", "a"}))) == "{a,b}"
    host = agent("h1", "rack:r1;ssd:1.0")
    assert [field_value(f, host) for f in ("hostname", "@hostname", "rack", "ssd", "gpu", "@zone")] == [
        "h1",
        "h1",
        "r1",
        "1",
        None,
        None,
    ]


def test_unique_hostname_refuses_a_host_that_already_has_one() -> None:
    unique = constraint("hostname", "UNIQUE")
    assert meets_constraint(unique, agent("h1"), [agent("h2")])
    assert not meets_constraint(unique, agent("h1"), [agent("h2"), agent("h1")])


def test_cluster_pins_to_its_value_or_to_the_first_placed_instance() -> None:
    assert meets_constraint(constraint("rack", "CLUSTER", "r1"), agent("h", "rack:r1"), [])
    assert not meets_constraint(constraint("rack", "CLUSTER", "r1"), agent("h", "rack:r2"), [])
    free = constraint("rack", "CLUSTER")
    assert meets_constraint(free, agent("h", "rack:r2"), [])  # the first one decides
    assert not meets_constraint(free, agent("h", "rack:r2"), [agent("x", "rack:r1")])


def test_group_by_opens_new_groups_then_fills_the_smallest() -> None:
    spread = constraint("rack", "GROUP_BY", "3")
    placed = [agent("a", "rack:r1")]
    assert meets_constraint(spread, agent("b", "rack:r2"), placed)  # a new group is always fine
    assert not meets_constraint(spread, agent("c", "rack:r1"), placed)  # only 1 of 3 groups seen
    placed += [agent("b", "rack:r2"), agent("c", "rack:r3")]
    assert meets_constraint(spread, agent("d", "rack:r1"), placed)  # 3 groups: all smallest
    placed.append(agent("d", "rack:r1"))
    assert not meets_constraint(spread, agent("e", "rack:r1"), placed)  # r1 is no longer the smallest


def test_max_per_like_unlike_and_is() -> None:
    assert not meets_constraint(
        constraint("rack", "MAX_PER", "1"), agent("b", "rack:r1"), [agent("a", "rack:r1")]
    )
    assert meets_constraint(constraint("hostname", "LIKE", "web-[0-9]+"), agent("web-12"), [])
    assert not meets_constraint(constraint("hostname", "LIKE", "web"), agent("web-12"), [])  # a full match
    assert meets_constraint(constraint("hostname", "UNLIKE", "db.*"), agent("web-1"), [])
    assert meets_constraint(constraint("ssd", "IS", "1.000"), agent("h", "ssd:1"), [])
    assert meets_constraint(constraint("rack", "IS", "r1"), agent("h", "rack:r1"), [])


def test_an_agent_without_the_attribute_meets_only_unlike() -> None:
    bare = agent("h")
    for op, value in [("UNIQUE", None), ("CLUSTER", "x"), ("GROUP_BY", None), ("LIKE", ".*"), ("IS", "x")]:
        parts = ("rack", op) if value is None else ("rack", op, value)
        assert not meets_constraint(constraint(*parts), bare, [])
    assert meets_constraint(constraint("rack", "UNLIKE", "r1"), bare, [])


# ---------------------------------------------------------------- against a naive reference


def naive(c: Constraint, offer: AgentPlacement, placed: Sequence[AgentPlacement]) -> bool:
    """The rules as the docs state them, written with nothing but loops."""

    def value(a: AgentPlacement) -> str | None:
        if c.field == "hostname":
            return a.hostname
        for attribute in a.attributes:
            if attribute.name == c.field:
                return (
                    attribute.text if attribute.text is not None else format_scalar(attribute.scalar or 0.0)
                )
        return None

    mine = value(offer)
    if mine is None:
        return c.operator is Op.UNLIKE
    same = 0
    for p in placed:
        if value(p) == mine:
            same += 1
    if c.operator is Op.UNIQUE:
        return same == 0
    if c.operator is Op.MAX_PER:
        return same < int(c.value or "0")
    if c.operator is Op.CLUSTER:
        if c.value:
            return mine == c.value
        return len(placed) == 0 or value(placed[0]) == mine
    if c.operator is Op.LIKE:
        return re.fullmatch(c.value or "", mine) is not None
    if c.operator is Op.UNLIKE:
        return re.fullmatch(c.value or "", mine) is None
    if c.operator is Op.IS:
        return mine == c.value
    groups: dict[str | None, int] = {}
    for p in placed:
        groups[value(p)] = groups.get(value(p), 0) + 1
    if mine not in groups:
        return True
    smallest = min(groups.values())
    return len(groups) >= int(c.value or "0") and groups[mine] == smallest


hosts = st.sampled_from(["h1", "h2", "h3", "web-1", "db-2"])
racks = st.sampled_from(["", "rack:r1", "rack:r2", "rack:r3", "rack:2", "rack:r1;zone:z"])
agents = st.builds(agent, hosts, racks)
constraints = st.sampled_from(
    [
        constraint("hostname", "UNIQUE"),
        constraint("rack", "UNIQUE"),
        constraint("rack", "CLUSTER"),
        constraint("rack", "CLUSTER", "r1"),
        constraint("hostname", "CLUSTER"),
        constraint("rack", "GROUP_BY"),
        constraint("rack", "GROUP_BY", "2"),
        constraint("rack", "GROUP_BY", "3"),
        constraint("hostname", "GROUP_BY", "2"),
        constraint("rack", "MAX_PER", "2"),
        constraint("hostname", "MAX_PER", "1"),
        constraint("hostname", "LIKE", "web-[0-9]"),
        constraint("rack", "LIKE", "r[12]"),
        constraint("rack", "UNLIKE", "r1"),
        constraint("rack", "IS", "r2"),
        constraint("rack", "IS", "2"),
    ]
)


@given(c=constraints, offer=agents, placed=st.lists(agents, max_size=8))
@settings(max_examples=400)
def test_constraints_agree_with_the_naive_reference(
    c: Constraint, offer: AgentPlacement, placed: list[AgentPlacement]
) -> None:
    assert meets_constraint(c, offer, placed) == naive(c, offer, placed)


@given(offers=st.lists(agents, min_size=1, max_size=20), limit=st.integers(1, 3))
@settings(max_examples=100)
def test_placing_one_by_one_under_max_per_never_exceeds_the_limit(
    offers: list[AgentPlacement], limit: int
) -> None:
    c = constraint("hostname", "MAX_PER", str(limit))
    placed: list[AgentPlacement] = []
    for offer in offers:
        if meets_constraint(c, offer, placed):
            placed.append(offer)
    assert all(sum(p.hostname == h for p in placed) <= limit for h in {p.hostname for p in placed})

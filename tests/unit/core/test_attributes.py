"""Agent attributes (`--attributes rack:abc;zone:west;os:centos5;level:10;keys:[1000-1500]`, mesos.md f.1),
and how `/master/state` displays them.
"""

from __future__ import annotations

import pytest

from corral.core.attributes import Attribute, parse_attributes
from corral.core.errors import ResourceParseError


def test_parse_the_mesos_example() -> None:
    attrs = parse_attributes("rack:abc;zone:west;os:centos5;level:10;keys:[1000-1500]")
    assert attrs == (
        Attribute("rack", text="abc"),
        Attribute("zone", text="west"),
        Attribute("os", text="centos5"),
        Attribute("level", scalar=10.0),
        Attribute("keys", ranges=((1000, 1500),)),
    )


def test_sets_negative_and_fractional_scalars() -> None:
    attrs = parse_attributes("zone:{b, a};temp:-4;ratio:0.25;ssd:1")
    assert attrs == (
        Attribute("zone", items=frozenset({"a", "b"})),
        Attribute("temp", scalar=-4.0),
        Attribute("ratio", scalar=0.25),
        Attribute("ssd", scalar=1.0),
    )


def test_text_that_only_looks_numeric_stays_text() -> None:
    assert parse_attributes("v:1.2.3;host:10.0.0.5;n:1e3") == (
        Attribute("v", text="1.2.3"),
        Attribute("host", text="10.0.0.5"),
        Attribute("n", text="1e3"),
    )


def test_whitespace_and_empty_items() -> None:
    assert parse_attributes(" rack : r1 ;; ") == (Attribute("rack", text="r1"),)
    assert parse_attributes("") == ()


def test_display_is_what_master_state_shows() -> None:
    # `/master/state` agents[].attributes: {"rack":"r1","ssd":1.0,"keys":"[1-5]","zone":"{a,b}"}
    attrs = parse_attributes("rack:r1;ssd:1;keys:[1-3,4-5];zone:{b,a}")
    assert [a.display() for a in attrs] == ["r1", 1.0, "[1-5]", "{a,b}"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rack", r"bad attribute 'rack' \(expected NAME:VALUE\)"),
        (":r1", r"bad attribute ':r1'"),
        ("keys:[5-1]", r"keys: range '5-1' begins after it ends"),
        ("keys:[x]", r"keys: bad range 'x'"),
    ],
)
def test_bad_attributes(text: str, message: str) -> None:
    with pytest.raises(ResourceParseError, match=message):
        parse_attributes(text)

"""Reserved resources on the wire (mesos.md a.9): both reservation formats decoded, both written, and an
agent's static reservations carried by AgentInfo from agent to master."""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.core.ids import AgentId
from corral.core.reservations import dynamic, static
from corral.core.resources import Resources
from corral.protocol.json import JsonObject, Reader
from corral.protocol.mesos import AgentInfo, decode_reserved, decode_resources, encode_resources, reserved_in


def resources(*items: JsonObject) -> Reader:
    return Reader({"resources": list(items)})


def cpus(value: float, **extra: object) -> JsonObject:
    return {"name": "cpus", "type": "SCALAR", "scalar": {"value": value}, **extra}  # type: ignore[dict-item]


def test_pre_refinement_format() -> None:
    r = resources(
        cpus(1, role="*"),
        cpus(2, role="eng"),
        cpus(3, role="eng", reservation={"principal": "alice"}),
    )
    assert decode_resources(r, "resources") == Resources.of(cpus=6)
    assert decode_reserved(r, "resources") == {
        static("eng"): Resources.of(cpus=2),
        dynamic("eng", "alice"): Resources.of(cpus=3),
    }


def test_refinement_format_wins_and_keeps_the_stack() -> None:
    stack = [{"type": "STATIC", "role": "eng"}, {"type": "DYNAMIC", "role": "eng/web", "principal": "ops"}]
    r = resources(cpus(1, role="eng", reservations=stack))
    [(key, bundle)] = decode_reserved(r, "resources").items()
    assert key == dynamic("eng/web", "ops", parent=static("eng")) and bundle == Resources.of(cpus=1)


@pytest.mark.parametrize(
    "resource",
    [cpus(1, role="bad role"), cpus(1, reservations=[{"type": "STATIC", "role": "*"}])],
)
def test_bad_reservations_are_decode_errors(resource: JsonObject) -> None:
    with pytest.raises(DecodeError):
        decode_reserved(resources(resource), "resources")


def test_encoding_writes_both_formats_and_round_trips() -> None:
    reserved = {static("eng"): Resources.of(cpus=2), dynamic("ops", "bob"): Resources.of(mem=64)}
    encoded = encode_resources(Resources.of(cpus=3, mem=64), "eng", reserved)
    assert encoded == [
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 1.0},
            "role": "*",
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "cpus",
            "type": "SCALAR",
            "scalar": {"value": 2.0},
            "role": "eng",
            "reservations": [{"type": "STATIC", "role": "eng"}],
            "allocation_info": {"role": "eng"},
        },
        {
            "name": "mem",
            "type": "SCALAR",
            "scalar": {"value": 64.0},
            "role": "ops",
            "reservation": {"principal": "bob"},
            "reservations": [{"type": "DYNAMIC", "role": "ops", "principal": "bob"}],
            "allocation_info": {"role": "eng"},
        },
    ]
    assert reserved_in({"resources": encoded}) == reserved


def test_agent_info_carries_static_reservations() -> None:
    info = AgentInfo(
        hostname="h",
        id=AgentId("S1"),
        resources=Resources.of(cpus=4, mem=1024),
        reservations={static("eng"): Resources.of(cpus=2)},
    )
    assert AgentInfo.from_json(Reader(info.to_json())) == info
    unreserved = AgentInfo(hostname="h", resources=Resources.of(cpus=1))
    encoded = unreserved.to_json()["resources"]
    assert isinstance(encoded, list) and all(isinstance(r, dict) and r["role"] == "*" for r in encoded)

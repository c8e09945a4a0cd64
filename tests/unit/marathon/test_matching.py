"""Matching one instance against one offer (upstream `ResourceMatcher`, `PortsMatcher`; marathon.md b.1
`requirePorts`, `acceptedResourceRoles`, c.2): what fits, which host ports, and why not."""

from __future__ import annotations

from dataclasses import replace

from corral.core.resources import Resources
from corral.marathon.instance import AgentPlacement
from corral.marathon.matching import Match, NoMatch, RejectReason, match_offer, pick_host_ports, port_requests

from .scheduling_fixtures import make_app, make_offer


def test_a_fitting_offer_gives_the_resources_and_the_lowest_free_ports() -> None:
    app = make_app(cpus=1, mem=256, disk=10, portDefinitions=[{"port": 0}, {"port": 0}])
    result = match_offer(app, make_offer("a1", cpus=2, mem=512, disk=100, ports=[(31000, 31010)]))
    assert isinstance(result, Match)
    assert result.host_ports == (31000, 31001)
    assert result.resources == Resources.of(cpus=1, mem=256, disk=10, ranges={"ports": [(31000, 31001)]})


def test_every_short_scalar_is_named() -> None:
    app = replace(make_app(cpus=2, mem=1024, disk=10), gpus=1)
    result = match_offer(app, make_offer("a1", cpus=1, mem=512))
    assert isinstance(result, NoMatch)
    assert result.reasons == (
        RejectReason.INSUFFICIENT_CPUS,
        RejectReason.INSUFFICIENT_MEMORY,
        RejectReason.INSUFFICIENT_DISK,
        RejectReason.INSUFFICIENT_GPUS,
    )
    assert result.rejections[0].detail == "cpus: need 2, have 1"
    assert result.first_reason is RejectReason.INSUFFICIENT_CPUS


def test_ports_are_checked_only_once_everything_else_fits() -> None:
    app = make_app(cpus=8, portDefinitions=[{"port": 0}])
    result = match_offer(app, make_offer("a1", cpus=1, ports=[]))
    assert isinstance(result, NoMatch) and result.reasons == (RejectReason.INSUFFICIENT_CPUS,)
    result = match_offer(make_app(portDefinitions=[{"port": 0}]), make_offer("a1", ports=[]))
    assert isinstance(result, NoMatch) and result.reasons == (RejectReason.INSUFFICIENT_PORTS,)


def test_require_ports_needs_exactly_the_declared_ports() -> None:
    app = make_app(requirePorts=True, portDefinitions=[{"port": 8080}, {"port": 8081}])
    assert port_requests(app) == (8080, 8081)
    result = match_offer(app, make_offer("a1", ports=[(8000, 8080)]))
    assert isinstance(result, NoMatch)
    assert result.rejections[0].detail == "ports: need 8081, have [8000-8080]"
    result = match_offer(app, make_offer("a1", ports=[(8000, 8100)]))
    assert isinstance(result, Match) and result.host_ports == (8080, 8081)


def test_without_require_ports_declared_ports_are_service_ports_and_host_ports_are_dynamic() -> None:
    app = make_app(portDefinitions=[{"port": 10001}])
    result = match_offer(app, make_offer("a1", ports=[(31000, 31000)]))
    assert isinstance(result, Match) and result.host_ports == (31000,)


def test_ports_used_earlier_in_the_cycle_are_not_offered_again() -> None:
    offer = make_offer("a1", ports=[(31000, 31001)])
    app = make_app(portDefinitions=[{"port": 0}])
    first = match_offer(app, offer)
    assert isinstance(first, Match)
    second = match_offer(app, offer, available=offer.resources - first.resources)
    assert isinstance(second, Match) and second.host_ports == (31001,)
    third = match_offer(app, offer, available=offer.resources - first.resources - second.resources)
    assert isinstance(third, NoMatch) and third.reasons == (RejectReason.INSUFFICIENT_PORTS,)


def test_fixed_ports_are_not_handed_out_as_dynamic_ones() -> None:
    assert pick_host_ports((0, 31000), ((31000, 31001),)) == (31001, 31000)


def test_container_port_mappings_without_a_host_port_take_none() -> None:
    app = make_app(
        cmd=None,
        container={
            "type": "DOCKER",
            "docker": {"image": "nginx"},
            "portMappings": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 9000}],
        },
        networks=[{"mode": "container", "name": "overlay"}],
    )
    assert port_requests(app) == (0, None)
    result = match_offer(app, make_offer("a1", ports=[(31000, 31005)]))
    assert isinstance(result, Match) and result.host_ports == (31000, None) and result.ports == (31000,)


def test_only_unreserved_resources_are_offered_so_a_role_list_without_star_never_matches() -> None:
    result = match_offer(make_app(acceptedResourceRoles=["prod"]), make_offer("a1"))
    assert isinstance(result, NoMatch) and result.reasons == (RejectReason.UNFULFILLED_ROLE,)
    assert isinstance(match_offer(make_app(acceptedResourceRoles=["*", "prod"]), make_offer("a1")), Match)


def test_unmet_constraints_are_named() -> None:
    app = make_app(constraints=[["hostname", "UNIQUE"], ["rack", "CLUSTER", "r1"]])
    placed = [AgentPlacement(agent_id=make_offer("a1").agent_id, hostname="a1.example.com")]
    result = match_offer(app, make_offer("a1", attributes="rack:r2"), placed=placed)
    assert isinstance(result, NoMatch)
    assert [r.detail for r in result.rejections] == [
        "constraint hostname:UNIQUE",
        "constraint rack:CLUSTER:r1",
    ]
    assert result.reasons == (RejectReason.UNFULFILLED_CONSTRAINT,)

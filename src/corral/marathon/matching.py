"""Matching an app's next instance against one offer: resources, role, constraints, host ports.

Upstream's `ResourceMatcher.matchResources` (1.9): every unmet scalar (cpus, mem, disk, gpus), the role and
each unmet constraint is reported; host ports are picked only when all of those are met, so
InsufficientPorts appears alone. The reasons are upstream's `NoOfferMatchReason` names, which `/v2/queue`
summarizes (`queue_info.py`).

Host ports, per port index (`port_requests`): with host networking, `portDefinitions[i].port` when
`requirePorts` (a fixed port, equal to the service port) else 0 (any port from the offer); with container
networking, `portMappings[i].hostPort` (None: no host port, 0: any, n: exactly n). Dynamic ports are the
lowest free ones, so matching is deterministic. `available` is what is left of the offer after earlier
matches in the same cycle, ports included, so two instances never get the same port.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from corral.core.resources import Range, Resources, format_ranges, subtract_ranges
from corral.marathon.constraints_eval import describe, unmet_constraints
from corral.marathon.instance import AgentPlacement
from corral.marathon.model import AppDefinition
from corral.protocol.mesos import Offer

UNRESERVED_ROLE = "*"


class RejectReason(StrEnum):
    UNFULFILLED_ROLE = "UnfulfilledRole"
    UNFULFILLED_CONSTRAINT = "UnfulfilledConstraint"
    NO_CORRESPONDING_RESERVATION_FOUND = "NoCorrespondingReservationFound"
    AGENT_MAINTENANCE = "AgentMaintenance"
    INSUFFICIENT_CPUS = "InsufficientCpus"
    INSUFFICIENT_MEMORY = "InsufficientMemory"
    INSUFFICIENT_DISK = "InsufficientDisk"
    INSUFFICIENT_GPUS = "InsufficientGpus"
    INSUFFICIENT_PORTS = "InsufficientPorts"
    DECLINED_SCARCE_RESOURCES = "DeclinedScarceResources"


# Upstream's `NoOfferMatchReason.reasonFunnel`: an unmatched offer is counted under its first reason here.
REASON_FUNNEL: tuple[RejectReason, ...] = tuple(RejectReason)

_SCALARS = (
    ("cpus", RejectReason.INSUFFICIENT_CPUS),
    ("mem", RejectReason.INSUFFICIENT_MEMORY),
    ("disk", RejectReason.INSUFFICIENT_DISK),
    ("gpus", RejectReason.INSUFFICIENT_GPUS),
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    reason: RejectReason
    detail: (
        str  # "cpus: need 2, have 1.5", "constraint hostname:UNIQUE", "ports: need 8080, have [31000-32000]"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    resources: Resources  # what the task takes, ports included
    host_ports: tuple[int | None, ...]  # per port index; None for a container port without a host port

    @property
    def ports(self) -> tuple[int, ...]:
        return tuple(p for p in self.host_ports if p is not None)


@dataclass(frozen=True, slots=True, kw_only=True)
class NoMatch:
    rejections: tuple[Rejection, ...]

    @property
    def reasons(self) -> tuple[RejectReason, ...]:
        return tuple(dict.fromkeys(r.reason for r in self.rejections))

    @property
    def first_reason(self) -> RejectReason:
        """The reason upstream's funnel counts this offer under."""
        return min(self.reasons, key=REASON_FUNNEL.index)


def placement_of(offer: Offer) -> AgentPlacement:
    return AgentPlacement(agent_id=offer.agent_id, hostname=offer.hostname, attributes=offer.attributes)


def port_requests(app: AppDefinition) -> tuple[int | None, ...]:
    """Per port index: None (no host port), 0 (any host port) or the fixed host port."""
    if app.is_host_networking:
        return tuple(d.port if app.require_ports else 0 for d in app.port_definitions)
    if app.container is not None:
        return tuple(m.host_port for m in app.container.port_mappings)
    return ()


def app_resources(app: AppDefinition) -> Resources:
    return Resources.of(cpus=app.cpus, mem=app.mem, disk=app.disk, gpus=app.gpus)


def _free_ports(ranges: tuple[Range, ...]) -> Iterator[int]:
    for begin, end in ranges:
        yield from range(begin, end + 1)


def pick_host_ports(
    requests: tuple[int | None, ...], offered: tuple[Range, ...]
) -> tuple[int | None, ...] | Rejection:
    fixed = [p for p in requests if p]
    missing = [p for p in fixed if not any(b <= p <= e for b, e in offered)]
    if missing or len(set(fixed)) != len(fixed):
        need = ", ".join(str(p) for p in missing or fixed)
        return Rejection(
            reason=RejectReason.INSUFFICIENT_PORTS,
            detail=f"ports: need {need}, have {format_ranges(offered)}",
        )
    free = _free_ports(subtract_ranges(offered, tuple((p, p) for p in fixed)))
    picked: list[int | None] = []
    for request in requests:
        if request == 0:
            port = next(free, None)
            if port is None:
                dynamic = sum(1 for r in requests if r == 0)
                detail = f"ports: need {dynamic} dynamic, have {format_ranges(offered)} ({len(fixed)} fixed)"
                return Rejection(reason=RejectReason.INSUFFICIENT_PORTS, detail=detail)
            picked.append(port)
        else:
            picked.append(request)
    return tuple(picked)


def match_offer(
    app: AppDefinition,
    offer: Offer,
    *,
    available: Resources | None = None,
    placed: Sequence[AgentPlacement] = (),
) -> Match | NoMatch:
    """Can the app's next instance run on this offer, given the instances already `placed`?"""
    have = offer.resources if available is None else available
    rejections: list[Rejection] = []
    for name, reason in _SCALARS:
        need = Resources.of(**{name: getattr(app, name)})
        problem = need.missing_from(have)
        if problem is not None:
            rejections.append(Rejection(reason=reason, detail=problem))
    accepted = app.accepted_resource_roles or (UNRESERVED_ROLE,)
    if UNRESERVED_ROLE not in accepted:
        detail = f"acceptedResourceRoles {list(accepted)}: only unreserved (*) resources are offered"
        rejections.append(Rejection(reason=RejectReason.UNFULFILLED_ROLE, detail=detail))
    for constraint in unmet_constraints(app.constraints, placement_of(offer), placed):
        detail = f"constraint {describe(constraint)}"
        rejections.append(Rejection(reason=RejectReason.UNFULFILLED_CONSTRAINT, detail=detail))
    if rejections:
        return NoMatch(rejections=tuple(rejections))
    host_ports = pick_host_ports(port_requests(app), have.ports())
    if isinstance(host_ports, Rejection):
        return NoMatch(rejections=(host_ports,))
    ports = [(p, p) for p in host_ports if p is not None]
    resources = app_resources(app) + Resources.of(ranges={"ports": ports})
    return Match(resources=resources, host_ports=host_ports)

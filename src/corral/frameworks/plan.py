"""What a framework's pure core decided to tell the master in one turn: a `FrameworkPlan`.

Marathon's and Chronos's `decide(...)` return one; the runtime turns it into v1 scheduler calls with
`to_calls()` and sends them in that order. Invariants: an offer id appears in at most one accept or decline
(a plan never both uses and refuses an offer), and a plan never both revives and suppresses.

Call order: accepts first (the instances they launch are already persisted), then declines, kills and
acknowledgements, and revive/suppress last, so a revive also clears the filters this very plan's declines set.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.core.ids import AgentId, OfferId, TaskId
from corral.protocol.mesos import DEFAULT_REFUSE_SECONDS
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
    Kill,
    Operation,
    Revive,
    Suppress,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferAccept:
    offer_ids: tuple[OfferId, ...]
    operations: tuple[Operation, ...]
    refuse_seconds: float = DEFAULT_REFUSE_SECONDS  # for the part of the offers left unused


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferDecline:
    offer_ids: tuple[OfferId, ...]
    refuse_seconds: float = DEFAULT_REFUSE_SECONDS


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskKill:
    task_id: TaskId
    agent_id: AgentId | None = None
    grace_period: float | None = None  # None: the task's own kill_policy


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusAck:
    agent_id: AgentId
    task_id: TaskId
    uuid: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkPlan:
    accepts: tuple[OfferAccept, ...] = ()
    declines: tuple[OfferDecline, ...] = ()
    kills: tuple[TaskKill, ...] = ()
    acks: tuple[StatusAck, ...] = ()
    revive: bool = False
    suppress: bool = False
    roles: tuple[str, ...] = ()  # for revive/suppress; empty means all of the framework's roles

    def __post_init__(self) -> None:
        if self.revive and self.suppress:
            raise ValueError("a plan cannot both revive and suppress")
        seen: set[OfferId] = set()
        for offer_ids in [a.offer_ids for a in self.accepts] + [d.offer_ids for d in self.declines]:
            for offer_id in offer_ids:
                if offer_id in seen:
                    raise ValueError(f"offer {offer_id} is used twice in one plan")
                seen.add(offer_id)

    @property
    def is_empty(self) -> bool:
        return not (self.accepts or self.declines or self.kills or self.acks or self.revive or self.suppress)

    @property
    def accepted_offer_ids(self) -> tuple[OfferId, ...]:
        return tuple(o for a in self.accepts for o in a.offer_ids)

    @property
    def declined_offer_ids(self) -> tuple[OfferId, ...]:
        return tuple(o for d in self.declines for o in d.offer_ids)

    def merge(self, other: FrameworkPlan) -> FrameworkPlan:
        """Both plans' calls; a revive in either wins over a suppress (work waiting beats saving offers)."""
        revive = self.revive or other.revive
        return FrameworkPlan(
            accepts=self.accepts + other.accepts,
            declines=self.declines + other.declines,
            kills=self.kills + other.kills,
            acks=self.acks + other.acks,
            revive=revive,
            suppress=(self.suppress or other.suppress) and not revive,
            roles=tuple(dict.fromkeys(self.roles + other.roles)),
        )

    def to_calls(self) -> list[Call]:
        calls: list[Call] = [
            Accept(offer_ids=a.offer_ids, operations=a.operations, refuse_seconds=a.refuse_seconds)
            for a in self.accepts
        ]
        calls += [Decline(offer_ids=d.offer_ids, refuse_seconds=d.refuse_seconds) for d in self.declines]
        calls += [
            Kill(task_id=k.task_id, agent_id=k.agent_id, grace_period=k.grace_period) for k in self.kills
        ]
        calls += [Acknowledge(agent_id=a.agent_id, task_id=a.task_id, uuid=a.uuid) for a in self.acks]
        if self.revive:
            calls.append(Revive(roles=self.roles))
        if self.suppress:
            calls.append(Suppress(roles=self.roles))
        return calls

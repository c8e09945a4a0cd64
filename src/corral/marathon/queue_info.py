"""Why an app is waiting: `/v2/queue` items and their `processedOffersSummary` (marathon.md a.6).

Upstream's `OfferMatchStatistics` and `QueueInfoConversion` (1.9). Per app, from the moment it starts
waiting (a "launch attempt") until nothing is left to launch:

- every offer tried for it counts as processed; one that launched nothing also as unused;
- an unused offer is counted under its first reason in upstream's funnel (UnfulfilledRole,
  UnfulfilledConstraint, ..., InsufficientCpus, InsufficientMemory, ..., InsufficientPorts);
- the last unused offer of each agent is kept (`lastUnusedOffers`, `rejectSummaryLastOffers`).

A reject summary lists every funnel reason in order as `{reason, declined, processed}`, where `processed` is
what reached that stage: the offers minus those declined by earlier reasons.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from corral.core.ids import AgentId
from corral.marathon.backoff import LaunchDelay, queue_delay_json
from corral.marathon.instance import format_timestamp
from corral.marathon.matching import REASON_FUNNEL, RejectReason
from corral.marathon.paths import PathId
from corral.marathon.scheduler import OfferOutcome, QueuedLaunch
from corral.protocol.json import JsonObject, JsonValue


@dataclass(frozen=True, slots=True, kw_only=True)
class AppOfferStats:
    since: float  # when this launch attempt began
    processed: int = 0
    unused: int = 0
    last_used_at: float | None = None
    last_unused_at: float | None = None
    rejected: Mapping[RejectReason, int] = field(default_factory=dict)  # over the launch attempt
    last_unused: Mapping[AgentId, OfferOutcome] = field(default_factory=dict)  # per agent

    def record(self, outcome: OfferOutcome) -> AppOfferStats:
        if outcome.no_match is None:
            return replace(self, processed=self.processed + 1, last_used_at=outcome.at)
        reason = outcome.no_match.first_reason
        return replace(
            self,
            processed=self.processed + 1,
            unused=self.unused + 1,
            last_unused_at=outcome.at,
            rejected={**self.rejected, reason: self.rejected.get(reason, 0) + 1},
            last_unused={**self.last_unused, outcome.agent_id: outcome},
        )


@dataclass(frozen=True, slots=True)
class QueueStats:
    apps: Mapping[PathId, AppOfferStats] = field(default_factory=dict)

    def record(
        self, queue: Sequence[QueuedLaunch], outcomes: Sequence[OfferOutcome], now: float
    ) -> QueueStats:
        """Fold in one `decide` turn: its queue after the turn and the offers it tried."""
        apps = {q.app_id: self.apps.get(q.app_id) or AppOfferStats(since=now) for q in queue}
        for outcome in outcomes:
            if (stats := apps.get(outcome.app_id)) is not None:
                apps[outcome.app_id] = stats.record(outcome)
        return QueueStats(apps)

    def reset(self, app_id: PathId) -> QueueStats:
        return QueueStats({k: v for k, v in self.apps.items() if k != app_id})


def reject_summary(processed: int, rejected: Mapping[RejectReason, int]) -> list[JsonValue]:
    out: list[JsonValue] = []
    for reason in REASON_FUNNEL:
        declined = rejected.get(reason, 0)
        out.append({"reason": reason.value, "declined": declined, "processed": processed})
        processed -= declined
    return out


def processed_offers_summary(stats: AppOfferStats) -> JsonObject:
    last = Counter(o.no_match.first_reason for o in stats.last_unused.values() if o.no_match is not None)
    out: JsonObject = {"processedOffersCount": stats.processed, "unusedOffersCount": stats.unused}
    if stats.last_unused_at is not None:
        out["lastUnusedOfferAt"] = format_timestamp(stats.last_unused_at)
    if stats.last_used_at is not None:
        out["lastUsedOfferAt"] = format_timestamp(stats.last_used_at)
    out["rejectSummaryLastOffers"] = reject_summary(len(stats.last_unused), last)
    out["rejectSummaryLaunchAttempt"] = reject_summary(stats.processed, stats.rejected)
    return out


def unused_offer_json(outcome: OfferOutcome) -> JsonObject:
    reasons: list[JsonValue] = [r.value for r in outcome.no_match.reasons] if outcome.no_match else []
    offer: JsonObject = {"id": outcome.offer_id, "agentId": outcome.agent_id, "hostname": outcome.hostname}
    return {"offer": offer, "reason": reasons, "timestamp": format_timestamp(outcome.at)}


def queue_item_json(
    *,
    app_json: JsonObject,
    queued: QueuedLaunch,
    delay: LaunchDelay | None,
    stats: AppOfferStats | None,
    now: float,
    embed_last_unused_offers: bool = False,
) -> JsonObject:
    """One `{"queue": [...]}` item. No `role` key: the PyPI client rejects unknown keys (clients.md 3.5)."""
    stats = stats or AppOfferStats(since=now)
    out: JsonObject = {
        "app": app_json,
        "count": queued.count,
        "delay": queue_delay_json(delay, now),
        "since": format_timestamp(stats.since),
        "processedOffersSummary": processed_offers_summary(stats),
    }
    if embed_last_unused_offers:
        out["lastUnusedOffers"] = [unused_offer_json(o) for o in stats.last_unused.values()]
    return out


def describe_waiting(stats: AppOfferStats) -> list[str]:
    """Human lines for logs and the CLI: what each agent's last offer lacked."""
    lines: list[str] = []
    for outcome in sorted(stats.last_unused.values(), key=lambda o: o.hostname):
        if outcome.no_match is not None:
            details = "; ".join(r.detail for r in outcome.no_match.rejections)
            lines.append(f"{outcome.hostname}: {details}")
    return lines

"""`/v2/queue` and why an app waits (marathon.md a.6; upstream `OfferMatchStatistics`, `QueueInfoConversion`):
offers counted per launch attempt, each unused one under its first reason in the funnel."""

from __future__ import annotations

from corral.marathon.backoff import LaunchDelays
from corral.marathon.queue_info import QueueStats, describe_waiting, queue_item_json

from .scheduling_fixtures import V1, Fleet, make_app, make_offer

REASONS = [
    "UnfulfilledRole",
    "UnfulfilledConstraint",
    "NoCorrespondingReservationFound",
    "AgentMaintenance",
    "InsufficientCpus",
    "InsufficientMemory",
    "InsufficientDisk",
    "InsufficientGpus",
    "InsufficientPorts",
    "DeclinedScarceResources",
]


def test_a_waiting_app_shows_which_resource_no_offer_had() -> None:
    fleet, stats = Fleet(), QueueStats()
    app = make_app("/web", instances=2, cpus=2, mem=4096, constraints=[["rack", "CLUSTER", "r1"]])
    fleet.put(app)
    started = fleet.clock.now()
    decision = fleet.cycle(
        make_offer("a1", cpus=1, mem=8192, attributes="rack:r1"),  # too few cpus
        make_offer("a2", cpus=4, mem=1024, attributes="rack:r1"),  # too little memory
        make_offer("a3", cpus=1, mem=1024, attributes="rack:r2"),  # wrong rack, and too small anyway
    )
    stats = stats.record(decision.queue, decision.offer_outcomes, fleet.clock.now())
    fleet.clock.advance(1)
    decision = fleet.cycle(make_offer("a4", cpus=3, mem=8192, attributes="rack:r1"))  # room for one
    stats = stats.record(decision.queue, decision.offer_outcomes, fleet.clock.now())

    [queued] = decision.queue
    item = queue_item_json(
        app_json={"id": "/web"}, queued=queued, delay=None, stats=stats.apps[app.id], now=fleet.clock.now()
    )
    assert item["count"] == 1 and item["delay"] == {"timeLeftSeconds": 0, "overdue": True}
    assert item["since"] == "2023-11-14T22:13:20.000Z"
    assert started == 1_700_000_000.0
    summary = item["processedOffersSummary"]
    assert isinstance(summary, dict)
    assert (summary["processedOffersCount"], summary["unusedOffersCount"]) == (4, 3)
    assert summary["lastUsedOfferAt"] == "2023-11-14T22:13:21.000Z"
    assert summary["lastUnusedOfferAt"] == "2023-11-14T22:13:20.000Z"
    attempt = summary["rejectSummaryLaunchAttempt"]
    assert isinstance(attempt, list)
    assert [r["reason"] for r in attempt if isinstance(r, dict)] == REASONS
    counted = {r["reason"]: (r["declined"], r["processed"]) for r in attempt if isinstance(r, dict)}
    assert counted["UnfulfilledConstraint"] == (1, 4)  # a3 counts here only, though it is also too small
    assert counted["InsufficientCpus"] == (1, 3)
    assert counted["InsufficientMemory"] == (1, 2)
    assert counted["InsufficientPorts"] == (0, 1)  # what is left: the offer that was used
    assert "role" not in item  # the PyPI client would choke on it
    assert describe_waiting(stats.apps[app.id]) == [
        "a1.example.com: cpus: need 2, have 1",
        "a2.example.com: mem: need 4096, have 1024",
        "a3.example.com: cpus: need 2, have 1; mem: need 4096, have 1024; constraint rack:CLUSTER:r1",
    ]


def test_statistics_end_with_the_launch_attempt_and_the_delay_is_shown() -> None:
    fleet, stats = Fleet(), QueueStats()
    app = make_app("/web", backoffSeconds=30)
    fleet.put(app)
    decision = fleet.cycle(make_offer("a1", cpus=0.1))
    stats = stats.record(decision.queue, decision.offer_outcomes, fleet.clock.now())
    assert stats.apps[app.id].unused == 1
    decision = fleet.cycle(make_offer("a1"))
    stats = stats.record(decision.queue, decision.offer_outcomes, fleet.clock.now())
    assert stats.apps == {}  # launched: nothing waits

    delays = LaunchDelays().add_failure(app, V1, fleet.clock.now())
    fleet.delays = delays
    fleet.clock.advance(10)
    [instance] = fleet.live()
    fleet.instances.pop(instance.instance_id)  # failed and expunged
    [queued] = fleet.cycle().queue
    item = queue_item_json(
        app_json={}, queued=queued, delay=delays.get(app.id, V1), stats=None, now=fleet.clock.now(),
        embed_last_unused_offers=True,
    )  # fmt: skip
    assert item["delay"] == {"timeLeftSeconds": 20, "overdue": False}
    assert item["lastUnusedOffers"] == []

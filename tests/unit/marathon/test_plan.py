"""FrameworkPlan: the calls one decision sends, in a safe order, and nothing contradictory."""

from __future__ import annotations

import pytest

from corral.core.ids import AgentId, OfferId, TaskId
from corral.frameworks.plan import FrameworkPlan, OfferAccept, OfferDecline, StatusAck, TaskKill
from corral.protocol.scheduler import Accept, Acknowledge, Decline, Kill, Revive, Suppress
from corral.protocol.scheduler_client import encode_call


def test_calls_go_out_accepts_first_and_revive_last() -> None:
    plan = FrameworkPlan(
        accepts=(OfferAccept(offer_ids=(OfferId("o1"),), operations=(), refuse_seconds=5),),
        declines=(OfferDecline(offer_ids=(OfferId("o2"), OfferId("o3")), refuse_seconds=120),),
        kills=(TaskKill(task_id=TaskId("web.1"), agent_id=AgentId("S1"), grace_period=3),),
        acks=(StatusAck(agent_id=AgentId("S1"), task_id=TaskId("web.1"), uuid=b"u" * 16),),
        revive=True,
    )
    calls = plan.to_calls()
    assert [type(c) for c in calls] == [Accept, Decline, Kill, Acknowledge, Revive]
    decline = encode_call(None, calls[1])
    assert decline["decline"] == {
        "offer_ids": [{"value": "o2"}, {"value": "o3"}],
        "filters": {"refuse_seconds": 120},
    }
    kill = encode_call(None, calls[2])
    assert kill["kill"] == {
        "task_id": {"value": "web.1"},
        "agent_id": {"value": "S1"},
        "kill_policy": {"grace_period": {"nanoseconds": 3_000_000_000}},
    }
    assert plan.accepted_offer_ids == ("o1",) and plan.declined_offer_ids == ("o2", "o3")


def test_an_offer_is_used_once_and_revive_excludes_suppress() -> None:
    with pytest.raises(ValueError, match="twice"):
        FrameworkPlan(
            accepts=(OfferAccept(offer_ids=(OfferId("o1"),), operations=()),),
            declines=(OfferDecline(offer_ids=(OfferId("o1"),)),),
        )
    with pytest.raises(ValueError, match="both"):
        FrameworkPlan(revive=True, suppress=True)


def test_merging_plans_keeps_every_call_and_lets_revive_win() -> None:
    a = FrameworkPlan(kills=(TaskKill(task_id=TaskId("t1")),), suppress=True)
    b = FrameworkPlan(kills=(TaskKill(task_id=TaskId("t2")),), revive=True)
    merged = a.merge(b)
    assert [k.task_id for k in merged.kills] == ["t1", "t2"]
    assert merged.revive and not merged.suppress
    assert [type(c) for c in FrameworkPlan(suppress=True).to_calls()] == [Suppress]
    assert FrameworkPlan().is_empty and FrameworkPlan().to_calls() == []

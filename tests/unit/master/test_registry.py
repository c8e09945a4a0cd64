"""The registry a new leader recovers: agents it expects back, no reconciliation answers, then unreachable."""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, TaskId
from corral.core.task_state import TaskState
from corral.master.messages import RecoverRegistry
from corral.master.registry import decode_registry, registry_document
from corral.master.roles import QuotaConfig
from corral.protocol.scheduler import Reconcile

from .harness import Harness

GONE = AgentId("S-old")


def recovered_master() -> Harness:
    h = Harness()
    h.send(RecoverRegistry(agents=((AgentId("S1"), "a1"), (GONE, "a2")), unreachable=((AgentId("S9"), 5.0),)))
    return h


def test_the_document_round_trips_admitted_recovered_and_unreachable_agents() -> None:
    h = recovered_master()
    live = h.add_agent("fresh")
    document = registry_document(h.state)
    assert document == {
        "agents": [  # sorted by id
            {"id": live, "hostname": "fresh"},
            {"id": "S-old", "hostname": "a2"},
            {"id": "S1", "hostname": "a1"},
        ],
        "unreachable": [{"id": "S9", "time": 5.0}],
        "weights": {},
        "quotas": [],
    }
    recovered = decode_registry(document)
    assert set(recovered.agents) == {(AgentId("S-old"), "a2"), (AgentId("S1"), "a1"), (live, "fresh")}
    assert recovered.unreachable == ((AgentId("S9"), 5.0),)


def test_a_malformed_document_names_the_field() -> None:
    with pytest.raises(DecodeError, match="agents"):
        decode_registry({"agents": [{"hostname": "x"}], "unreachable": []})


def test_tasks_on_an_expected_agent_get_no_reconciliation_answer_until_it_returns_or_times_out() -> None:
    h = recovered_master()
    framework = h.subscribe()
    asked = Reconcile(tasks=((TaskId("t1"), GONE), (TaskId("t2"), AgentId("S9"))))
    answers = h.updates_to(framework, h.call(framework, asked))
    assert [(u.task_id, u.state) for u in answers] == [("t2", TaskState.TASK_LOST)]

    h.tick(h.core.config.agent_reregister_timeout + 1)
    assert GONE not in h.state.recovered_agents
    assert GONE in h.state.unreachable_agents
    answers = h.updates_to(framework, h.call(framework, asked))
    assert [(u.task_id, u.state) for u in answers] == [
        ("t1", TaskState.TASK_LOST),
        ("t2", TaskState.TASK_LOST),
    ]


def test_an_agent_that_re_registers_is_no_longer_expected() -> None:
    h = recovered_master()
    h.add_agent("a1", agent_id=AgentId("S1"))
    assert AgentId("S1") not in h.state.recovered_agents
    h.tick(h.core.config.agent_reregister_timeout + 1)
    assert AgentId("S1") not in h.state.unreachable_agents
    assert AgentId("S1") in h.state.agents


def test_weights_and_quotas_set_by_operators_survive_a_failover() -> None:
    before = Harness()
    before.add_agent("a1", cpus=8)
    assert before.core.update_weights({"eng": 3.0}) is None
    quota = QuotaConfig(role="eng", guarantees={"cpus": 2.0}, limits={"cpus": 4.0})
    assert before.core.update_quota([quota]) is None
    document = registry_document(before.state)
    assert document["weights"] == {"eng": 3.0}
    assert document["quotas"] == [{"role": "eng", "guarantees": {"cpus": 2.0}, "limits": {"cpus": 4.0}}]

    after = Harness()  # the new leader: no agent back yet, so the guarantee exceeds capacity, and is kept
    after.send(decode_registry(document))
    assert after.state.roles.weights == {"eng": 3.0}
    assert after.state.roles.quotas["eng"].limits == {"cpus": 4.0}


def test_a_document_from_before_weights_and_quotas_still_reads() -> None:
    recovered = decode_registry({"agents": [{"id": "S1", "hostname": "a"}], "unreachable": []})
    assert recovered.weights == ()
    assert recovered.quotas == ()

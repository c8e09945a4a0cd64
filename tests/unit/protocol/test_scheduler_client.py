"""The framework side of the scheduler API must agree with the master side: round trips both ways."""

from __future__ import annotations

from dataclasses import replace

import pytest

from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.json import dumps, loads
from corral.protocol.mesos import CommandInfo, FrameworkInfo, MasterInfo, Offer, Source, TaskInfo, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
    Error,
    Event,
    Failure,
    FrameworkMessage,
    Heartbeat,
    Kill,
    Launch,
    Message,
    Offers,
    Reconcile,
    Rescind,
    Revive,
    Shutdown,
    Subscribe,
    Subscribed,
    Suppress,
    Teardown,
    Update,
    decode_call,
    encode_event,
)
from corral.protocol.scheduler_client import decode_event, encode_call

FID = FrameworkId("m-0000")
AGENT = AgentId("m-S0")
UUID = bytes(range(16))

TASK = TaskInfo(
    name="web-1",
    task_id=TaskId("web-1"),
    agent_id=AGENT,
    resources=Resources.of(cpus=0.5, mem=128, ranges={"ports": [(31000, 31000)]}),
    command=CommandInfo(value="python3 -m http.server $PORT0"),
)

CALLS: list[Call] = [
    Teardown(),
    Accept(offer_ids=(OfferId("m-O1"),), operations=(Launch(tasks=(TASK,)),), refuse_seconds=5.0),
    Decline(offer_ids=(OfferId("m-O1"), OfferId("m-O2")), refuse_seconds=120.0),
    Revive(),
    Revive(roles=("eng",)),
    Suppress(),
    Kill(task_id=TaskId("web-1")),
    Kill(task_id=TaskId("web-1"), agent_id=AGENT, grace_period=30.0),
    Shutdown(executor_id=ExecutorId("e1"), agent_id=AGENT),
    Acknowledge(agent_id=AGENT, task_id=TaskId("web-1"), uuid=UUID),
    Reconcile(tasks=()),
    Reconcile(tasks=((TaskId("web-1"), None), (TaskId("web-2"), AGENT))),
    Message(agent_id=AGENT, executor_id=ExecutorId("e1"), data=b"hello"),
]


@pytest.mark.parametrize("call", CALLS, ids=lambda c: type(c).__name__)
def test_every_call_a_framework_sends_decodes_to_itself_on_the_master(call: Call) -> None:
    framework_id, decoded = decode_call(loads(dumps(encode_call(FID, call))))
    assert framework_id == FID
    if isinstance(call, Accept):
        assert isinstance(decoded, Accept)
        [launch] = decoded.operations
        assert isinstance(launch, Launch)
        assert launch.tasks[0].task_id == TASK.task_id
        assert launch.tasks[0].resources == TASK.resources
        assert launch.tasks[0].command == TASK.command
    else:
        assert decoded == call


def test_a_resubscribe_carries_the_framework_id_at_both_levels() -> None:
    info = FrameworkInfo(user="root", name="marathon", failover_timeout=604800.0).with_id(FID)
    framework_id, decoded = decode_call(loads(dumps(encode_call(FID, Subscribe(framework_info=info)))))
    assert framework_id == FID
    assert isinstance(decoded, Subscribe)
    assert decoded.framework_info.id == FID
    assert decoded.framework_info.failover_timeout == 604800.0


OFFER = Offer(
    id=OfferId("m-O7"),
    framework_id=FID,
    agent_id=AGENT,
    hostname="agent1",
    resources=Resources.of(cpus=4, mem=4096, ranges={"ports": [(31000, 32000)]}),
    agent_ip="127.0.0.1",
    agent_port=5051,
)
STATUS = TaskStatus(
    task_id=TaskId("web-1"),
    state=TaskState.TASK_RUNNING,
    source=Source.SOURCE_EXECUTOR,
    agent_id=AGENT,
    executor_id=ExecutorId("web-1"),
    timestamp=1_700_000_000.5,
    uuid=UUID,
    healthy=True,
)
EVENTS: list[Event] = [
    Subscribed(
        framework_id=FID, master_info=MasterInfo(id="m", ip="127.0.0.1", port=5050, hostname="localhost")
    ),
    Offers(offers=(OFFER,)),
    Rescind(offer_id=OfferId("m-O7")),
    Update(status=STATUS),
    FrameworkMessage(agent_id=AGENT, executor_id=ExecutorId("e1"), data=b"hi"),
    Failure(agent_id=AGENT),
    Failure(agent_id=AGENT, executor_id=ExecutorId("e1"), status=9),
    Error(message="Framework has been removed"),
    Heartbeat(),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_the_master_sends_decodes_to_itself_in_a_framework(event: Event) -> None:
    assert decode_event(loads(dumps(encode_event(event)))) == event


def test_multi_role_offers_keep_their_allocation_role() -> None:
    offer = replace(OFFER, role="eng")
    decoded = decode_event(loads(dumps(encode_event(Offers(offers=(offer,)), multi_role=True))))
    assert isinstance(decoded, Offers)
    assert decoded.offers[0].role == "eng"

"""Framework lifecycle in the master core (mesos.md a.1, a.10 "Scheduler disconnection", d.4, h)."""

from __future__ import annotations

from corral.core.ids import FrameworkId
from corral.core.task_state import TaskState
from corral.master.config import MasterConfig
from corral.master.messages import CloseStream, FrameworkSubscribe
from corral.master.state import StreamId
from corral.protocol.agent import ShutdownFramework, UpdateFrameworkInfo
from corral.protocol.mesos import FrameworkInfo
from corral.protocol.scheduler import Heartbeat, Offers, Subscribe, Subscribed, Teardown, UpdateFramework

from .harness import Harness, command_task


def test_subscribe_answers_subscribed_then_a_heartbeat_at_once() -> None:
    master = Harness()
    framework_id = master.subscribe("fw")
    events = master.events_of(framework_id)
    assert isinstance(events[0], Subscribed) and events[0].framework_id == FrameworkId("M-0000")
    assert events[0].heartbeat_interval_seconds == 15.0
    assert isinstance(events[1], Heartbeat)


def test_heartbeats_follow_every_15_seconds() -> None:
    master = Harness()
    framework_id = master.subscribe()
    assert not any(isinstance(e, Heartbeat) for e in master.events_of(framework_id, master.tick(14.9)))
    assert any(isinstance(e, Heartbeat) for e in master.events_of(framework_id, master.tick(0.1)))
    assert any(isinstance(e, Heartbeat) for e in master.events_of(framework_id, master.tick(15.0)))


def test_a_new_framework_is_offered_the_agents_free_resources_on_the_next_tick() -> None:
    master = Harness()
    agent_id = master.add_agent(cpus=4, mem=4096)
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    assert offer.agent_id == agent_id and offer.resources.cpus == 4 and offer.resources.mem == 4096


def test_resubscribe_keeps_tasks_and_closes_the_older_stream() -> None:
    master = Harness()
    agent_id = master.add_agent()
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    master.launch(framework_id, offer, command_task("t1", agent_id))
    old_stream = master.stream_of[framework_id]

    again = master.subscribe(framework_id=framework_id)

    assert again == framework_id
    assert CloseStream(stream_id=old_stream, error="Framework failed over") in master.effects
    assert "t1" in master.state.frameworks[framework_id].tasks
    assert master.state.frameworks[framework_id].connected


def test_resubscribe_with_an_id_unknown_after_a_master_restart_is_accepted() -> None:
    master = Harness()
    assert master.subscribe(framework_id=FrameworkId("old-master-0007")) == "old-master-0007"


def test_a_disconnected_framework_loses_its_offers_at_once() -> None:
    master = Harness()
    master.add_agent()
    framework_id = master.subscribe()
    master.tick()
    assert master.state.offers
    master.disconnect_framework(framework_id)
    assert not master.state.offers
    assert master.state.agents[next(iter(master.state.agents))].offered.is_empty()


def test_failover_timeout_removes_the_framework_and_kills_its_tasks() -> None:
    master = Harness()
    agent_id = master.add_agent()
    framework_id = master.subscribe(failover_timeout=100.0)  # pymesos' silent default
    [offer] = master.offers_to(framework_id, master.tick())
    master.launch(framework_id, offer, command_task("t1", agent_id))
    master.disconnect_framework(framework_id)

    assert master.to_agent(agent_id, master.tick(99.0)) == []
    assert framework_id in master.state.frameworks

    effects = master.tick(1.0)
    assert master.to_agent(agent_id, effects) == [ShutdownFramework(framework_id=framework_id)]
    assert framework_id not in master.state.frameworks
    [completed] = master.state.completed_frameworks
    assert [t.state for t in completed.completed_tasks] == [TaskState.TASK_KILLED]
    assert master.state.agents[agent_id].used.is_empty()


def test_failover_timeout_zero_removes_the_framework_as_soon_as_its_stream_closes() -> None:
    master = Harness()
    framework_id = master.subscribe(failover_timeout=0.0)
    master.disconnect_framework(framework_id)
    assert framework_id not in master.state.frameworks


def test_resubscribing_before_the_failover_timeout_keeps_the_framework() -> None:
    master = Harness()
    framework_id = master.subscribe(failover_timeout=10.0)
    master.disconnect_framework(framework_id)
    master.tick(5.0)
    master.subscribe(framework_id=framework_id)
    master.tick(10.0)
    assert master.state.frameworks[framework_id].connected


def test_a_removed_framework_resubscribing_gets_an_error_and_its_stream_closed() -> None:
    master = Harness()
    framework_id = master.subscribe()
    master.call(framework_id, Teardown())
    info = FrameworkInfo(user="alice", name="fw", id=framework_id)
    call = Subscribe(framework_info=info)
    effects = master.send(
        FrameworkSubscribe(stream_id=StreamId("late"), framework_id=framework_id, call=call)
    )
    assert CloseStream(stream_id=StreamId("late"), error="Framework has been removed") in effects


def test_teardown_kills_tasks_and_ends_the_stream() -> None:
    master = Harness()
    agent_id = master.add_agent()
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    master.launch(framework_id, offer, command_task("t1", agent_id))

    effects = master.call(framework_id, Teardown())

    assert ShutdownFramework(framework_id=framework_id) in master.to_agent(agent_id, effects)
    assert CloseStream(stream_id=master.stream_of[framework_id]) in effects
    assert master.state.completed_frameworks[0].id == framework_id


def test_completed_frameworks_are_capped() -> None:
    master = Harness(config=MasterConfig(max_completed_frameworks=2))
    for _ in range(3):
        master.call(master.subscribe(), Teardown())
    assert [f.id for f in master.state.completed_frameworks] == ["M-0001", "M-0002"]


def test_update_framework_is_pushed_to_agents_running_its_tasks() -> None:
    master = Harness()
    agent_id = master.add_agent()
    framework_id = master.subscribe()
    [offer] = master.offers_to(framework_id, master.tick())
    master.launch(framework_id, offer, command_task("t1", agent_id))
    assert master.core.update_problem(framework_id, _update(framework_id, user="mallory")) is not None
    call = _update(framework_id, name="renamed")
    assert master.core.update_problem(framework_id, call) is None

    effects = master.call(framework_id, call)

    [message] = master.to_agent(agent_id, effects)
    assert isinstance(message, UpdateFrameworkInfo) and message.framework_info.name == "renamed"


def test_suppressed_roles_on_subscribe_get_no_offers() -> None:
    master = Harness()
    master.add_agent()
    stream = StreamId("s")
    call = Subscribe(framework_info=FrameworkInfo(user="u", name="n"), suppressed_roles=("*",))
    master.send(FrameworkSubscribe(stream_id=stream, framework_id=None, call=call))
    assert not any(isinstance(e, Offers) for e in master.events(stream, master.tick(1.0)))


def _update(framework_id: FrameworkId, *, user: str = "alice", name: str = "fw") -> UpdateFramework:
    info = FrameworkInfo(user=user, name=name, id=framework_id, failover_timeout=100.0)
    return UpdateFramework(framework_info=info)

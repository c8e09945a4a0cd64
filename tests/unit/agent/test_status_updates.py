"""The status update manager (`mesos.md` a.10 "Reliable status updates", Key facts 4)."""

from __future__ import annotations

from corral.agent.effects import Checkpoint, Effect, SendToMaster, UpdateRecord
from corral.agent.status_updates import StatusUpdateManager
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.protocol.agent import StatusUpdate
from corral.protocol.mesos import TaskStatus
from corral.testing.clock import FakeClock

FID, EID, CID, TID = FrameworkId("f"), ExecutorId("e"), ContainerId("c"), TaskId("t")


def status(state: TaskState, n: int) -> TaskStatus:
    return TaskStatus(task_id=TID, state=state, uuid=n.to_bytes(16, "big"))


def enqueue(
    manager: StatusUpdateManager, update: TaskStatus, now: float, *, checkpoint: bool = False
) -> list[Effect] | None:
    return manager.update(
        update, framework_id=FID, executor_id=EID, container_id=CID, checkpoint=checkpoint, now=now
    )


def sent(effects: list[Effect] | None) -> list[TaskStatus]:
    assert effects is not None
    return [
        e.message.status
        for e in effects
        if isinstance(e, SendToMaster) and isinstance(e.message, StatusUpdate)
    ]


def connected_manager(clock: FakeClock) -> StatusUpdateManager:
    manager = StatusUpdateManager(retry_min=10.0, retry_max=600.0)
    manager.resume(clock.now())
    return manager


def test_the_head_is_resent_at_10_20_40_seconds_doubling_up_to_10_minutes() -> None:
    clock = FakeClock()
    manager = connected_manager(clock)
    running = status(TaskState.TASK_RUNNING, 1)
    assert sent(enqueue(manager, running, clock.now())) == [running]

    resends: list[float] = []
    start = clock.now()
    while clock.now() - start < 3000:
        deadline = manager.next_deadline()
        assert deadline is not None
        clock.t = deadline
        assert sent(manager.retry(clock.now())) == [running]
        resends.append(clock.now() - start)
    # 10, +20, +40, +80, +160, +320, then +600 each time
    assert resends[:8] == [10, 30, 70, 150, 310, 630, 1230, 1830]


def test_only_the_head_is_in_flight_and_an_ack_releases_the_next() -> None:
    clock = FakeClock()
    manager = connected_manager(clock)
    running, finished = status(TaskState.TASK_RUNNING, 1), status(TaskState.TASK_FINISHED, 2)
    enqueue(manager, running, clock.now())
    assert sent(enqueue(manager, finished, clock.now())) == []

    assert manager.acknowledge(FID, TID, finished.uuid or b"", clock.now()) is None  # not the head: ignored
    assert manager.acknowledge(FID, TID, b"\0" * 16, clock.now()) is None  # unknown uuid: ignored
    result = manager.acknowledge(FID, TID, running.uuid or b"", clock.now())
    assert result is not None
    acked, effects = result
    assert acked == running
    [message] = [e.message for e in effects if isinstance(e, SendToMaster)]
    assert message == StatusUpdate(framework_id=FID, status=finished, latest_state=TaskState.TASK_FINISHED)

    clock.advance(10.0)
    assert sent(manager.retry(clock.now())) == [finished]  # the schedule restarted at the new head
    assert manager.acknowledge(FID, TID, finished.uuid or b"", clock.now()) is not None
    assert not manager.has_pending(FID, TID)
    assert enqueue(manager, status(TaskState.TASK_RUNNING, 3), clock.now()) is not None  # the stream ended


def test_updates_are_checkpointed_before_they_are_sent_and_acks_too() -> None:
    clock = FakeClock()
    manager = connected_manager(clock)
    running = status(TaskState.TASK_RUNNING, 1)
    effects = enqueue(manager, running, clock.now(), checkpoint=True)
    assert effects is not None
    assert [type(e) for e in effects] == [Checkpoint, SendToMaster]
    assert effects[0] == Checkpoint(
        record=UpdateRecord(framework_id=FID, executor_id=EID, container_id=CID, task_id=TID, status=running)
    )
    result = manager.acknowledge(FID, TID, running.uuid or b"", clock.now())
    assert result is not None
    assert result[1] == [
        Checkpoint(
            record=UpdateRecord(
                framework_id=FID, executor_id=EID, container_id=CID, task_id=TID, ack=running.uuid
            )
        )
    ]


def test_duplicates_and_updates_after_a_terminal_one_are_dropped() -> None:
    clock = FakeClock()
    manager = connected_manager(clock)
    enqueue(manager, status(TaskState.TASK_RUNNING, 1), clock.now())
    assert enqueue(manager, status(TaskState.TASK_RUNNING, 1), clock.now()) is None
    assert enqueue(manager, status(TaskState.TASK_FAILED, 2), clock.now()) == []
    assert enqueue(manager, status(TaskState.TASK_RUNNING, 3), clock.now()) is None


def test_nothing_is_sent_while_disconnected_and_heads_go_out_at_once_on_reconnect() -> None:
    clock = FakeClock()
    manager = connected_manager(clock)
    running = status(TaskState.TASK_RUNNING, 1)
    enqueue(manager, running, clock.now())
    clock.advance(10.0)
    sent(manager.retry(clock.now()))  # interval now 20 s

    manager.pause()
    clock.advance(20.0)
    assert sent(manager.retry(clock.now())) == []
    other = TaskStatus(task_id=TaskId("u"), state=TaskState.TASK_RUNNING, uuid=b"u" * 16)
    assert (
        manager.update(
            other, framework_id=FID, executor_id=EID, container_id=CID, checkpoint=False, now=clock.now()
        )
        == []
    )

    clock.advance(300.0)
    assert sent(manager.resume(clock.now())) == [running, other]
    assert manager.next_deadline() == clock.now() + 10.0  # back to the minimum interval


def test_cleanup_closes_one_frameworks_streams_and_nothing_of_it_is_resent() -> None:
    clock = FakeClock()
    manager = connected_manager(clock)
    enqueue(manager, status(TaskState.TASK_RUNNING, 1), clock.now())
    enqueue(manager, status(TaskState.TASK_KILLED, 2), clock.now())
    other = TaskStatus(task_id=TID, state=TaskState.TASK_RUNNING, uuid=b"o" * 16)
    manager.update(
        other, framework_id=FrameworkId("g"), executor_id=EID, container_id=CID, checkpoint=False, now=0.0
    )

    assert manager.cleanup(FID) == 2  # both of its unacknowledged updates
    assert manager.cleanup(FID) == 0
    assert not manager.has_pending(FID, TID) and manager.has_pending(FrameworkId("g"), TID)
    assert manager.acknowledge(FID, TID, (1).to_bytes(16, "big"), clock.now()) is None
    clock.advance(3600.0)
    assert sent(manager.retry(clock.now())) == [other]  # the other framework's head only
    assert sent(manager.resume(clock.now())) == [other]


def test_a_recovered_stream_resends_what_was_not_acknowledged_once_the_master_is_back() -> None:
    clock = FakeClock()
    manager = StatusUpdateManager(retry_min=10.0, retry_max=600.0)
    starting, running, finished = (
        status(TaskState.TASK_STARTING, 1),
        status(TaskState.TASK_RUNNING, 2),
        status(TaskState.TASK_FINISHED, 3),
    )
    pending = manager.recover(
        framework_id=FID,
        executor_id=EID,
        container_id=CID,
        updates=(starting, running, finished),
        acknowledged=(starting.uuid or b"",),
    )
    assert pending == 2
    assert sent(manager.resume(clock.now())) == [running]  # the head only, as ever
    assert enqueue(manager, running, clock.now()) is None  # a duplicate: its uuid was recorded before
    acked = manager.acknowledge(FID, TID, running.uuid or b"", clock.now())
    assert acked is not None and sent(acked[1]) == [finished]
    assert enqueue(manager, status(TaskState.TASK_RUNNING, 4), clock.now()) is None  # after a terminal one


def test_a_fully_acknowledged_terminal_stream_is_not_recovered() -> None:
    manager = StatusUpdateManager(retry_min=10.0, retry_max=600.0)
    finished = status(TaskState.TASK_FINISHED, 1)
    updates, acks = (finished,), (finished.uuid or b"",)
    assert (
        manager.recover(
            framework_id=FID, executor_id=EID, container_id=CID, updates=updates, acknowledged=acks
        )
        == 0
    )
    assert not manager.has_pending(FID, TID)
    assert sent(manager.resume(FakeClock().now())) == []

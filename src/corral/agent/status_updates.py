"""The status update manager: at-least-once, in-order delivery of task status updates to the master.

Rules (upstream's `TaskStatusUpdateManager`):
1. Each task has a FIFO stream; only its head is in flight. The next update goes out when the master
   acknowledges the head with the head's uuid; an acknowledgement of any other uuid is ignored.
2. An update is checkpointed (when its framework checkpoints) before it is first sent, and so is an ack.
3. The head is resent `retry_min` after sending, then after twice that, ..., capped at `retry_max`, for as
   long as it is not acknowledged. While the master is disconnected nothing is sent; when it is back,
   every head goes out at once and its schedule restarts from `retry_min`.
4. A duplicate (a uuid the stream has seen) and anything after a terminal update are dropped. The stream
   ends when its terminal update is acknowledged.
5. A framework the agent forgets (`cleanup`, upstream's `TaskStatusUpdateManager::cleanup` from
   `Slave::removeFramework`) loses its streams, acknowledged or not: nothing of it is resent after that.
6. A restarted agent rebuilds each stream from its checkpoint (`recover`): every update recorded, minus the
   ones acknowledged. What is left goes out when the master is connected, as after any disconnection.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from corral.agent.effects import Checkpoint, Effect, SendToMaster, UpdateRecord
from corral.agent.state import Deadlines
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.protocol.agent import StatusUpdate
from corral.protocol.mesos import TaskStatus

StreamKey = tuple[FrameworkId, TaskId]


@dataclass(slots=True, eq=False)
class _Stream:
    framework_id: FrameworkId
    executor_id: ExecutorId
    container_id: ContainerId
    task_id: TaskId
    checkpoint: bool
    pending: deque[TaskStatus] = field(default_factory=deque)
    seen: set[bytes] = field(default_factory=set)
    terminated: bool = False
    interval: float = 0.0
    retry_at: float | None = None


class StatusUpdateManager:
    def __init__(self, *, retry_min: float, retry_max: float) -> None:
        self.retry_min = retry_min
        self.retry_max = retry_max
        self.connected = False
        self._streams: dict[StreamKey, _Stream] = {}
        self._retries: Deadlines[StreamKey] = Deadlines()

    def update(
        self,
        status: TaskStatus,
        *,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        container_id: ContainerId,
        checkpoint: bool,
        now: float,
    ) -> list[Effect] | None:
        """Queue `status` (which carries a uuid). None if it is a duplicate or follows a terminal update."""
        assert status.uuid is not None
        key = (framework_id, status.task_id)
        stream = self._streams.get(key)
        if stream is None:
            stream = _Stream(framework_id, executor_id, container_id, status.task_id, checkpoint)
            self._streams[key] = stream
        if status.uuid in stream.seen or stream.terminated:
            return None
        stream.seen.add(status.uuid)
        stream.pending.append(status)
        stream.terminated = status.state.is_terminal
        effects: list[Effect] = []
        if stream.checkpoint:
            effects.append(Checkpoint(record=self._record(stream, status=status)))
        if len(stream.pending) == 1:
            effects += self._forward(stream, now)
        return effects

    def recover(
        self,
        *,
        framework_id: FrameworkId,
        executor_id: ExecutorId,
        container_id: ContainerId,
        updates: tuple[TaskStatus, ...],
        acknowledged: tuple[bytes, ...],
    ) -> int:
        """Rebuild a checkpointed task's stream; returns how many of its updates are unacknowledged."""
        if not updates:
            return 0
        task_id = updates[0].task_id
        stream = _Stream(framework_id, executor_id, container_id, task_id, checkpoint=True)
        stream.pending.extend(updates)
        stream.seen.update(u.uuid for u in updates if u.uuid is not None)
        stream.terminated = any(u.state.is_terminal for u in updates)
        for uuid in acknowledged:  # each acknowledged the head of its time, in order
            if stream.pending and stream.pending[0].uuid == uuid:
                stream.pending.popleft()
        if stream.pending or not stream.terminated:
            self._streams[(framework_id, task_id)] = stream
        return len(stream.pending)

    def acknowledge(
        self, framework_id: FrameworkId, task_id: TaskId, uuid: bytes, now: float
    ) -> tuple[TaskStatus, list[Effect]] | None:
        """Release the head if `uuid` is its uuid: (the acknowledged update, effects); None otherwise."""
        stream = self._streams.get((framework_id, task_id))
        if stream is None or not stream.pending or stream.pending[0].uuid != uuid:
            return None
        acked = stream.pending.popleft()
        stream.retry_at = None
        effects: list[Effect] = []
        if stream.checkpoint:
            effects.append(Checkpoint(record=self._record(stream, ack=uuid)))
        if stream.pending:
            effects += self._forward(stream, now)
        elif stream.terminated:
            del self._streams[(framework_id, task_id)]
        return acked, effects

    def has_pending(self, framework_id: FrameworkId, task_id: TaskId) -> bool:
        stream = self._streams.get((framework_id, task_id))
        return stream is not None and bool(stream.pending)

    def cleanup(self, framework_id: FrameworkId) -> int:
        """Close every stream of `framework_id`; returns how many updates were still unacknowledged."""
        keys = [key for key in self._streams if key[0] == framework_id]
        return sum(len(self._streams.pop(key).pending) for key in keys)  # their retries lapse in `retry`

    def retry(self, now: float) -> list[Effect]:
        """Resend every head whose retry time has come, doubling its interval."""
        effects: list[Effect] = []
        for key in self._retries.pop_due(now):
            stream = self._streams.get(key)
            if stream is None or stream.retry_at is None or stream.retry_at > now or not stream.pending:
                continue  # acknowledged, or rescheduled since this entry was added
            if not self.connected:
                stream.retry_at = None  # resume() resends it
                continue
            stream.interval = min(stream.interval * 2, self.retry_max)
            effects += self._send(stream, now)
        return effects

    def pause(self) -> None:
        self.connected = False

    def resume(self, now: float) -> list[Effect]:
        """The master is (re)connected: send every head now, restarting its schedule."""
        self.connected = True
        effects: list[Effect] = []
        for stream in self._streams.values():
            if stream.pending:
                stream.interval = self.retry_min
                effects += self._send(stream, now)
        return effects

    def next_deadline(self) -> float | None:
        return self._retries.next()

    def _forward(self, stream: _Stream, now: float) -> list[Effect]:
        stream.interval = self.retry_min
        if not self.connected:
            stream.retry_at = None
            return []
        return self._send(stream, now)

    def _send(self, stream: _Stream, now: float) -> list[Effect]:
        stream.retry_at = now + stream.interval
        self._retries.add(stream.retry_at, (stream.framework_id, stream.task_id))
        head = stream.pending[0]
        latest = stream.pending[-1].state
        return [
            SendToMaster(
                message=StatusUpdate(framework_id=stream.framework_id, status=head, latest_state=latest)
            )
        ]

    @staticmethod
    def _record(
        stream: _Stream, *, status: TaskStatus | None = None, ack: bytes | None = None
    ) -> UpdateRecord:
        return UpdateRecord(
            framework_id=stream.framework_id,
            executor_id=stream.executor_id,
            container_id=stream.container_id,
            task_id=stream.task_id,
            status=status,
            ack=ack,
        )

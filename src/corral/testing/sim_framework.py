"""A simulated scheduler on SimCluster: it subscribes, hears events, and makes v1 scheduler calls.

It behaves like a thin pymesos scheduler without a mind of its own: the test decides every accept,
decline, kill and reconcile. Calls are encoded as the scheduler would POST them, decoded by the master's
codec and checked as the master's edge checks them (`master/http_api.py`): the call methods return that
edge's HTTP status (202, 200 for UPDATE_FRAMEWORK; 400 unknown framework or stale stream, 403 not
subscribed). With `auto_ack`, every update that carries a uuid is acknowledged as soon as it arrives, the
way pymesos' driver does after the `statusUpdate` callback.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.task_state import TaskState
from corral.master.core import MasterCore
from corral.master.messages import FrameworkCall, FrameworkSubscribe
from corral.master.state import StreamId
from corral.protocol.json import dumps, loads
from corral.protocol.mesos import ExecutorInfo, Offer, TaskInfo, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Decline,
    Error,
    Event,
    Failure,
    FrameworkMessage,
    Kill,
    Launch,
    LaunchGroup,
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
    UpdateFramework,
    decode_call,
)
from corral.protocol.scheduler_client import encode_call
from corral.testing.builders import make_framework_info, with_agent

DEFAULT_REFUSE_SECONDS = 5.0  # mesos.md e.1: a Filters message with no refuse_seconds means 5 s


class SchedulerEdge(Protocol):
    """The master's `POST /api/v1/scheduler`, as the cluster wires it."""

    def now(self) -> float: ...

    def new_stream_id(self) -> StreamId: ...

    def open_stream(self, framework: SimFramework, message: FrameworkSubscribe) -> None: ...

    def close_stream(self, stream_id: StreamId) -> None: ...

    def master(self) -> MasterCore: ...

    def submit(self, message: FrameworkCall) -> None: ...


def _wire(framework_id: FrameworkId | None, call: Call) -> tuple[FrameworkId | None, Call]:
    return decode_call(loads(dumps(encode_call(framework_id, call))))


class SimFramework:
    def __init__(
        self,
        edge: SchedulerEdge,
        *,
        name: str,
        failover_timeout: float,
        capabilities: Iterable[str],
        checkpoint: bool,
        auto_ack: bool,
    ) -> None:
        self._edge = edge
        self.info = make_framework_info(
            name, failover_timeout=failover_timeout, capabilities=capabilities, checkpoint=checkpoint
        )
        self.auto_ack = auto_ack
        self.id: FrameworkId | None = None
        self.stream_id: StreamId | None = None
        self.subscribed = False  # SUBSCRIBED arrived on the current stream
        self.received: list[tuple[float, Event]] = []  # every event, with the time it arrived
        self.launched: list[TaskId] = []  # every task it asked to launch (in accepted calls)
        self._offers: dict[OfferId, Offer] = {}
        self._unacked: dict[bytes, TaskStatus] = {}

    def __repr__(self) -> str:
        return f"SimFramework({self.info.name}, {self.id})"

    # ------------------------------------------------------------ the stream

    def receive(self, event: Event, now: float) -> None:
        self.received.append((now, event))
        match event:
            case Subscribed():
                self.id = event.framework_id
                self.subscribed = True
            case Offers():
                self._offers.update((o.id, o) for o in event.offers)
            case Rescind():
                self._offers.pop(event.offer_id, None)
            case Update() if event.status.uuid is not None:
                self._unacked[event.status.uuid] = event.status
                if self.auto_ack:
                    self.acknowledge(event.status)
            case _:
                pass

    def stream_ended(self) -> None:
        """The stream broke or the master ended it: offers die with it."""
        self.stream_id = None
        self.subscribed = False
        self._offers.clear()

    def resubscribe(self) -> None:
        """SUBSCRIBE on a new stream, with the framework id once it has one (failover, or a new master)."""
        self._offers.clear()
        self.subscribed = False
        self.stream_id = self._edge.new_stream_id()
        info = self.info if self.id is None else self.info.with_id(self.id)
        framework_id, call = _wire(self.id, Subscribe(framework_info=info))
        assert isinstance(call, Subscribe)
        subscribe = FrameworkSubscribe(stream_id=self.stream_id, framework_id=framework_id, call=call)
        self._edge.open_stream(self, subscribe)

    def disconnect(self) -> None:
        """The scheduler's connection drops (it crashed, or the network did)."""
        stream_id = self.stream_id
        self.stream_ended()
        if stream_id is not None:
            self._edge.close_stream(stream_id)

    # ------------------------------------------------------------ calls

    def call(self, call: Call) -> int:
        """Make `call` as pymesos would POST it; the master edge's HTTP status."""
        if self.id is None:
            return 400
        framework_id, decoded = _wire(self.id, call)
        assert framework_id is not None
        master = self._edge.master()
        record = master.framework(framework_id)
        if record is None:
            return 400  # "Framework cannot be found"
        if not record.connected:
            return 403  # "Framework is not subscribed"
        if self.stream_id != record.stream_id:
            return 400  # the stream id does not match the framework's
        if isinstance(decoded, UpdateFramework) and master.update_problem(framework_id, decoded):
            return 400
        self._edge.submit(FrameworkCall(framework_id=framework_id, call=decoded))
        return 200 if isinstance(decoded, UpdateFramework) else 202

    def accept(
        self,
        offers: Offer | Sequence[Offer],
        tasks: Iterable[TaskInfo] = (),
        *,
        refuse_seconds: float = DEFAULT_REFUSE_SECONDS,
    ) -> int:
        """ACCEPT with one LAUNCH; tasks built without an agent id are placed on the offers' agent."""
        offers = [offers] if isinstance(offers, Offer) else list(offers)
        placed = tuple(t if t.agent_id else with_agent(t, offers[0].agent_id) for t in tasks)
        operations = (Launch(tasks=placed),) if placed else ()
        return self._accept(offers, operations, placed, refuse_seconds)

    def launch_group(
        self,
        offer: Offer,
        executor: ExecutorInfo,
        tasks: Iterable[TaskInfo],
        *,
        refuse_seconds: float = DEFAULT_REFUSE_SECONDS,
    ) -> int:
        placed = tuple(t if t.agent_id else with_agent(t, offer.agent_id) for t in tasks)
        operation = LaunchGroup(executor=executor, tasks=placed)
        return self._accept([offer], (operation,), placed, refuse_seconds)

    def _accept(
        self,
        offers: list[Offer],
        operations: tuple[Launch | LaunchGroup, ...],
        tasks: tuple[TaskInfo, ...],
        refuse_seconds: float,
    ) -> int:
        for offer in offers:
            self._offers.pop(offer.id, None)
        call = Accept(
            offer_ids=tuple(o.id for o in offers), operations=operations, refuse_seconds=refuse_seconds
        )
        status = self.call(call)
        if status == 202:
            self.launched += [t.task_id for t in tasks]
        return status

    def decline(
        self, offers: Offer | Sequence[Offer], *, refuse_seconds: float = DEFAULT_REFUSE_SECONDS
    ) -> int:
        offers = [offers] if isinstance(offers, Offer) else list(offers)
        for offer in offers:
            self._offers.pop(offer.id, None)
        return self.call(Decline(offer_ids=tuple(o.id for o in offers), refuse_seconds=refuse_seconds))

    def decline_all(self, *, refuse_seconds: float = DEFAULT_REFUSE_SECONDS) -> int:
        return self.decline(self.offers(), refuse_seconds=refuse_seconds)

    def kill(
        self, task_id: str, *, agent_id: AgentId | None = None, grace_period: float | None = None
    ) -> int:
        return self.call(Kill(task_id=TaskId(task_id), agent_id=agent_id, grace_period=grace_period))

    def shutdown(self, executor_id: str, agent_id: AgentId) -> int:
        return self.call(Shutdown(executor_id=ExecutorId(executor_id), agent_id=agent_id))

    def message(self, agent_id: AgentId, executor_id: str, data: bytes) -> int:
        return self.call(Message(agent_id=agent_id, executor_id=ExecutorId(executor_id), data=data))

    def reconcile(self, *tasks: str | tuple[str, AgentId | None]) -> int:
        """RECONCILE: implicit with no tasks, else explicit for each `task_id` or `(task_id, agent_id)`."""
        pairs = tuple((TaskId(t), None) if isinstance(t, str) else (TaskId(t[0]), t[1]) for t in tasks)
        return self.call(Reconcile(tasks=pairs))

    def revive(self) -> int:
        return self.call(Revive())

    def suppress(self) -> int:
        return self.call(Suppress())

    def teardown(self) -> int:
        return self.call(Teardown())

    def acknowledge(self, status: TaskStatus) -> int:
        assert status.uuid is not None and status.agent_id is not None, f"not acknowledgeable: {status}"
        result = self.call(Acknowledge(agent_id=status.agent_id, task_id=status.task_id, uuid=status.uuid))
        if result == 202:
            self._unacked.pop(status.uuid, None)
        return result

    def acknowledge_all(self) -> int:
        """Acknowledge every update not acknowledged yet, oldest first; how many were."""
        return sum(self.acknowledge(s) == 202 for s in list(self._unacked.values()))

    # ------------------------------------------------------------ what it has heard

    @property
    def events(self) -> list[Event]:
        return [e for _, e in self.received]

    def offers(self, agent_id: AgentId | None = None) -> list[Offer]:
        """Outstanding offers: received, and neither rescinded nor answered (on `agent_id`, if given)."""
        return [o for o in self._offers.values() if agent_id is None or o.agent_id == agent_id]

    def updates(self, task_id: str | None = None) -> list[TaskStatus]:
        """Every UPDATE received (of `task_id`, if given), resends and reconciliation answers included."""
        return [s for _, s in self.timed_updates(task_id)]

    def timed_updates(self, task_id: str | None = None) -> list[tuple[float, TaskStatus]]:
        return [
            (t, e.status)
            for t, e in self.received
            if isinstance(e, Update) and (task_id is None or e.status.task_id == task_id)
        ]

    def states(self, task_id: str) -> list[TaskState]:
        """The states `task_id` went through as told, without repeats (resends, reconciliation)."""
        out: list[TaskState] = []
        for status in self.updates(task_id):
            if not out or out[-1] != status.state:
                out.append(status.state)
        return out

    def state_of(self, task_id: str) -> TaskState | None:
        updates = self.updates(task_id)
        return updates[-1].state if updates else None

    def task_states(self) -> dict[TaskId, TaskState]:
        return {s.task_id: s.state for s in self.updates()}

    def unacknowledged(self) -> list[TaskStatus]:
        return list(self._unacked.values())

    def messages(self) -> list[FrameworkMessage]:
        return [e for e in self.events if isinstance(e, FrameworkMessage)]

    def failures(self) -> list[Failure]:
        return [e for e in self.events if isinstance(e, Failure)]

    def errors(self) -> list[str]:
        return [e.message for e in self.events if isinstance(e, Error)]

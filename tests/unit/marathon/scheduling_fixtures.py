"""Builders for the scheduling tests: apps, offers, status updates, and a tiny Marathon loop (`Fleet`) that
runs `decide` and applies what it returns, as the runtime will, with a fake clock and no I/O."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from corral.core.attributes import parse_attributes
from corral.core.ids import AgentId, FrameworkId, OfferId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.marathon.backoff import LaunchDelays
from corral.marathon.instance import Instance, InstanceId
from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.marathon.scheduler import Decision, OfferState, RunSpec, SchedulerConfig, SchedulerView, decide
from corral.protocol.json import JsonValue
from corral.protocol.mesos import Offer, TaskStatus
from corral.testing.clock import FakeClock

V1 = "2024-01-01T00:00:00.000Z"
V2 = "2024-01-02T00:00:00.000Z"


def make_app(app_id: str = "/web", **fields: JsonValue) -> AppDefinition:
    """An app as a client would post it: `make_app("/web", instances=2, cpus=0.5)`."""
    body: dict[str, JsonValue] = {"id": app_id, "cmd": "sleep 1000", "cpus": 0.5, "mem": 64}
    body.update(fields)
    return AppDefinition.from_json(body)


def make_offer(
    agent: str,
    *,
    cpus: float = 4,
    mem: float = 4096,
    disk: float = 0,
    gpus: float = 0,
    ports: Iterable[tuple[int, int]] = ((31000, 31099),),
    attributes: str = "",
    hostname: str | None = None,
    offer_id: str | None = None,
) -> Offer:
    return Offer(
        id=OfferId(offer_id or f"offer-{agent}"),
        framework_id=FrameworkId("marathon"),
        agent_id=AgentId(agent),
        hostname=hostname or f"{agent}.example.com",
        resources=Resources.of(cpus=cpus, mem=mem, disk=disk, gpus=gpus, ranges={"ports": list(ports)}),
        attributes=parse_attributes(attributes) if attributes else (),
    )


@dataclass(slots=True)
class Uuids:
    """Sequential, uuid-shaped ids: `00000000-0000-4000-8000-000000000001`, ..."""

    n: int = 0

    def __call__(self) -> str:
        self.n += 1
        return f"00000000-0000-4000-8000-{self.n:012d}"


def status(
    instance: Instance, state: TaskState, *, healthy: bool | None = None, reason: str | None = None
) -> TaskStatus:
    return TaskStatus(
        task_id=instance.task_id,
        state=state,
        agent_id=instance.agent.agent_id,
        healthy=healthy,
        reason=reason,
    )


@dataclass(slots=True)
class Fleet:
    """Marathon's state and loop for one test: apps, instances, delays; `cycle` runs one `decide`."""

    clock: FakeClock = field(default_factory=FakeClock)
    apps: dict[PathId, RunSpec] = field(default_factory=dict)
    instances: dict[InstanceId, Instance] = field(default_factory=dict)
    restarting: frozenset[PathId] = frozenset()
    ready: frozenset[InstanceId] = frozenset()
    delays: LaunchDelays = field(default_factory=LaunchDelays)
    offer_state: OfferState = field(default_factory=OfferState)
    config: SchedulerConfig = field(default_factory=SchedulerConfig)
    uuids: Uuids = field(default_factory=Uuids)

    def put(self, app: AppDefinition, *, version: str = V1, config_version: str | None = None) -> None:
        self.apps[app.id] = RunSpec(app=app, version=version, config_version=config_version or version)

    def remove(self, app_id: str) -> None:
        del self.apps[PathId.parse(app_id)]

    def view(self) -> SchedulerView:
        return SchedulerView(
            apps=dict(self.apps),
            instances=tuple(self.instances.values()),
            restarting=self.restarting,
            ready=self.ready,
            delays=self.delays,
            offer_state=self.offer_state,
        )

    def cycle(self, *offers: Offer) -> Decision:
        decision = decide(self.view(), offers, self.clock.now(), new_uuid=self.uuids, config=self.config)
        for instance in decision.launched + decision.updated:
            self.instances[instance.instance_id] = instance
        self.offer_state = decision.offer_state
        return decision

    def update(self, instance: Instance, state: TaskState, *, healthy: bool | None = None) -> Instance:
        current = self.instances[instance.instance_id].with_status(
            status(instance, state, healthy=healthy), self.clock.now()
        )
        self.instances[instance.instance_id] = current
        return current

    def run_all(self, *, healthy: bool | None = None) -> None:
        """Every launched, live instance reports TASK_RUNNING."""
        for instance in list(self.instances.values()):
            if not instance.is_terminal and not instance.is_running:
                self.update(instance, TaskState.TASK_RUNNING, healthy=healthy)

    def finish_kills(self) -> None:
        """Every instance a kill was sent for reports TASK_KILLED."""
        for instance in list(self.instances.values()):
            if instance.is_kill_requested and not instance.is_terminal:
                self.update(instance, TaskState.TASK_KILLED)

    def live(self, app_id: str = "/web") -> list[Instance]:
        path = PathId.parse(app_id)
        return [i for i in self.instances.values() if i.app_id == path and not i.is_terminal]

    def running(self, app_id: str = "/web") -> list[Instance]:
        return [i for i in self.live(app_id) if i.is_running]

    def set_healthy(self, instance: Instance, healthy: bool = True) -> None:
        self.instances[instance.instance_id] = replace(self.instances[instance.instance_id], healthy=healthy)

"""Marathon's state in the coordination Store: apps, app versions, instances, deployments, the framework id.

Layout (JSON values, one key per object, marathon.md c.6 in spirit):

    marathon/framework-id                   "<framework id>"
    marathon/apps/<safeId>                  {"app": AppJSON, "version": ts, "versionInfo": {...}}
    marathon/app-versions/<safeId>/<ts>     AppJSON (every version ever stored, until the app is deleted)
    marathon/instances/<instanceId>         Instance JSON
    marathon/deployments/<id>               {"id", "steps", "step": k, "original"/"target": the affected
                                            apps only (`with_unaffected` restores the rest on load), ...}
    marathon/groups                         {"version": ts, "groups": {"/prod": ["/db"], ...}} (every group)
                                            (written when groups change; apps' groups are implied on load)
    marathon/group-versions/<key>/<ts>      group document (groups.snapshot_json), the last 50 per group

Every write is a compare-and-set against the version this process last read or wrote, so a second writer
(a stale leader) is detected; Marathon is the only writer of these keys, so a conflict re-reads the key's
version and writes again (the leader's view wins). Instances are written before the ACCEPT that launches
them (scheduler.py's invariant); the runtime awaits these calls in order. Batches (`put_instances`, the
two keys of `put_app`) are issued at once rather than one round trip after another.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from corral.coord.ports import Store, VersionConflict
from corral.core.attributes import Attribute
from corral.core.ids import AgentId, TaskId
from corral.core.task_state import TaskState
from corral.marathon.deployment import ActionKind, DeploymentAction, DeploymentPlan, DeploymentStep
from corral.marathon.groups import GroupTable
from corral.marathon.instance import AgentPlacement, Condition, Goal, Instance, InstanceId
from corral.marathon.model import AppDefinition, VersionInfo
from corral.marathon.paths import PathId
from corral.protocol.json import JsonObject, JsonValue, dumps, loads

log = logging.getLogger(__name__)

PREFIX = "marathon/"
FRAMEWORK_ID = PREFIX + "framework-id"
APPS = PREFIX + "apps/"
APP_VERSIONS = PREFIX + "app-versions/"
INSTANCES = PREFIX + "instances/"
DEPLOYMENTS = PREFIX + "deployments/"
GROUPS = PREFIX + "groups"
GROUP_VERSIONS = PREFIX + "group-versions/"
MAX_GROUP_VERSIONS = 50  # upstream --zk_max_versions


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredApp:
    """An app as Marathon keeps it: the definition and its version stamps."""

    app: AppDefinition
    version: str
    version_info: VersionInfo

    @property
    def config_version(self) -> str:
        return self.version_info.last_config_change_at


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningDeployment:
    """A deployment plan, the step it is at (0-based), and the (version, config version) of the original
    apps, which the scheduler realizes until their action starts."""

    plan: DeploymentPlan
    step: int = 0
    original_versions: Mapping[PathId, tuple[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadedState:
    framework_id: str | None
    apps: dict[PathId, StoredApp]
    instances: dict[InstanceId, Instance]
    deployments: list[RunningDeployment]
    groups: GroupTable


# ------------------------------------------------------------------ codecs


def _obj(value: JsonValue) -> JsonObject:
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object, got {type(value).__name__}")
    return value


def _opt_float(value: JsonValue) -> float | None:
    return None if value is None else float(cast(float, value))


def _opt_str(value: JsonValue) -> str | None:
    return None if value is None else str(value)


def encode_stored_app(stored: StoredApp) -> JsonObject:
    return {
        "app": stored.app.to_json(),
        "version": stored.version,
        "versionInfo": {
            "lastScalingAt": stored.version_info.last_scaling_at,
            "lastConfigChangeAt": stored.version_info.last_config_change_at,
        },
    }


def decode_stored_app(value: JsonValue) -> StoredApp:
    obj = _obj(value)
    info = _obj(obj["versionInfo"])
    return StoredApp(
        app=AppDefinition.from_json(obj["app"]),
        version=str(obj["version"]),
        version_info=VersionInfo(
            last_scaling_at=str(info["lastScalingAt"]), last_config_change_at=str(info["lastConfigChangeAt"])
        ),
    )


def _encode_attribute(a: Attribute) -> JsonObject:
    out: JsonObject = {"name": a.name}
    if a.text is not None:
        out["text"] = a.text
    if a.scalar is not None:
        out["scalar"] = a.scalar
    if a.ranges is not None:
        out["ranges"] = [[b, e] for b, e in a.ranges]
    if a.items is not None:
        out["items"] = list[JsonValue](sorted(a.items))
    return out


def _decode_attribute(value: JsonValue) -> Attribute:
    obj = _obj(value)
    ranges = obj.get("ranges")
    items = obj.get("items")
    return Attribute(
        str(obj["name"]),
        text=_opt_str(obj.get("text")),
        scalar=_opt_float(obj.get("scalar")),
        ranges=None
        if ranges is None
        else tuple((int(cast(int, r[0])), int(cast(int, r[1]))) for r in cast(list[list[JsonValue]], ranges)),
        items=None if items is None else frozenset(str(i) for i in cast(list[JsonValue], items)),
    )


def encode_instance(i: Instance) -> JsonObject:
    return {
        "instanceId": i.instance_id,
        "taskId": i.task_id,
        "appId": str(i.app_id),
        "version": i.version,
        "agent": {
            "agentId": i.agent.agent_id,
            "hostname": i.agent.hostname,
            "attributes": [_encode_attribute(a) for a in i.agent.attributes],
            "region": i.agent.region,
            "zone": i.agent.zone,
        },
        "hostPorts": list[JsonValue](i.host_ports),
        "stagedAt": i.staged_at,
        "since": i.since,
        "condition": i.condition.value,
        "state": None if i.state is None else i.state.value,
        "goal": i.goal.value,
        "startedAt": i.started_at,
        "healthy": i.healthy,
        "unreachableSince": i.unreachable_since,
        "killRequestedAt": i.kill_requested_at,
        "ipAddresses": list[JsonValue](i.ip_addresses),
        "message": i.message,
    }


def decode_instance(value: JsonValue) -> Instance:
    obj = _obj(value)
    agent = _obj(obj["agent"])
    state = obj.get("state")
    healthy = obj.get("healthy")
    return Instance(
        instance_id=InstanceId(str(obj["instanceId"])),
        task_id=TaskId(str(obj["taskId"])),
        app_id=PathId.parse(str(obj["appId"])),
        version=str(obj["version"]),
        agent=AgentPlacement(
            agent_id=AgentId(str(agent["agentId"])),
            hostname=str(agent["hostname"]),
            attributes=tuple(
                _decode_attribute(a) for a in cast(list[JsonValue], agent.get("attributes", []))
            ),
            region=_opt_str(agent.get("region")),
            zone=_opt_str(agent.get("zone")),
        ),
        host_ports=tuple(int(cast(int, p)) for p in cast(list[JsonValue], obj.get("hostPorts", []))),
        staged_at=float(cast(float, obj["stagedAt"])),
        since=float(cast(float, obj["since"])),
        condition=Condition(str(obj["condition"])),
        state=None if state is None else TaskState(str(state)),
        goal=Goal(str(obj["goal"])),
        started_at=_opt_float(obj.get("startedAt")),
        healthy=None if healthy is None else bool(healthy),
        unreachable_since=_opt_float(obj.get("unreachableSince")),
        kill_requested_at=_opt_float(obj.get("killRequestedAt")),
        ip_addresses=tuple(str(a) for a in cast(list[JsonValue], obj.get("ipAddresses", []))),
        message=_opt_str(obj.get("message")),
    )


def encode_deployment(d: RunningDeployment) -> JsonObject:
    """Only the affected apps' original and target definitions: `with_unaffected` restores the rest."""
    plan = d.plan
    affected = plan.affected_apps
    steps: list[JsonValue] = [
        [
            {"action": a.kind.value, "app": str(a.app_id), "sentenced": list[JsonValue](a.sentenced)}
            for a in step.actions
        ]
        for step in plan.steps
    ]
    return {
        "id": plan.id,
        "version": plan.version,
        "original": {str(k): plan.original[k].to_json() for k in affected if k in plan.original},
        "target": {str(k): plan.target[k].to_json() for k in affected if k in plan.target},
        "steps": steps,
        "step": d.step,
        "originalVersions": {str(k): [v, c] for k, (v, c) in d.original_versions.items()},
    }


def decode_deployment(value: JsonValue) -> RunningDeployment:
    obj = _obj(value)
    steps = tuple(
        DeploymentStep(
            actions=tuple(
                DeploymentAction(
                    kind=ActionKind(str(_obj(a)["action"])),
                    app_id=PathId.parse(str(_obj(a)["app"])),
                    sentenced=tuple(InstanceId(str(s)) for s in cast(list[JsonValue], _obj(a)["sentenced"])),
                )
                for a in cast(list[JsonValue], step)
            )
        )
        for step in cast(list[JsonValue], obj["steps"])
    )
    plan = DeploymentPlan(
        id=str(obj["id"]),
        version=str(obj["version"]),
        original={PathId.parse(k): AppDefinition.from_json(v) for k, v in _obj(obj["original"]).items()},
        target={PathId.parse(k): AppDefinition.from_json(v) for k, v in _obj(obj["target"]).items()},
        steps=steps,
    )
    versions = {
        PathId.parse(k): (str(cast(list[JsonValue], v)[0]), str(cast(list[JsonValue], v)[1]))
        for k, v in _obj(obj.get("originalVersions", {})).items()
    }
    return RunningDeployment(plan=plan, step=int(cast(int, obj["step"])), original_versions=versions)


def encode_groups(table: GroupTable) -> JsonObject:
    groups: JsonObject = {str(k): [str(d) for d in deps] for k, deps in sorted(table.dependencies.items())}
    return {"version": table.version, "groups": groups}


def decode_groups(value: JsonValue) -> GroupTable:
    obj = _obj(value)
    return GroupTable(
        version=str(obj["version"]),
        dependencies={
            PathId.parse(k): tuple(PathId.parse(str(d)) for d in cast(list[JsonValue], deps))
            for k, deps in _obj(obj["groups"]).items()
        },
    )


def _group_key(group_id: PathId) -> str:
    """`/prod/web` -> `prod_web`; the root `_root` (no safe id starts with `_`)."""
    return group_id.safe_id or "_root"


def with_unaffected(d: RunningDeployment, apps: Mapping[PathId, AppDefinition]) -> RunningDeployment:
    """A decoded deployment with the apps it does not touch in its original and target, as `apps` has them.

    A plan holds every app (the deployment events show whole root groups), but storing them all made each
    deployment write O(apps): 1,000 apps posted one by one wrote gigabytes. Apps a deployment does not touch
    are the same in its original and target, so the loaded apps stand in for them."""
    plan = d.plan
    affected = set(plan.affected_apps)
    unaffected = {k: v for k, v in apps.items() if k not in affected}
    plan = replace(plan, original={**unaffected, **plan.original}, target={**unaffected, **plan.target})
    return replace(d, plan=plan)


# ------------------------------------------------------------------ the store


class MarathonStore:
    """Typed access to Marathon's keys in a `Store`, with compare-and-set on every write."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._versions: dict[str, int] = {}

    async def _put(self, key: str, value: JsonValue) -> None:
        data = dumps(value)
        try:
            self._versions[key] = await self._store.put(key, data, self._versions.get(key))
        except VersionConflict:
            current = await self._store.get(key)
            log.warning("store key %s changed behind Marathon's back; overwriting", key)
            expected = None if current is None else current.version
            self._versions[key] = await self._store.put(key, data, expected)

    async def _delete(self, key: str) -> None:
        await self._store.delete(key, None)
        self._versions.pop(key, None)

    async def _read(self, key: str) -> JsonValue | None:
        got = await self._store.get(key)
        if got is None:
            return None
        self._versions[key] = got.version
        return loads(got.value)

    async def _read_all(self, prefix: str) -> list[JsonValue]:
        out: list[JsonValue] = []
        for key in await self._store.list(prefix):
            value = await self._read(key)
            if value is not None:
                out.append(value)
        return out

    async def load(self) -> LoadedState:
        framework_id = await self._read(FRAMEWORK_ID)
        apps = [decode_stored_app(v) for v in await self._read_all(APPS)]
        instances = [decode_instance(v) for v in await self._read_all(INSTANCES)]
        by_id = {s.app.id: s.app for s in apps}
        deployments = [
            with_unaffected(decode_deployment(v), by_id) for v in await self._read_all(DEPLOYMENTS)
        ]
        groups = await self._read(GROUPS)
        table = GroupTable() if groups is None else decode_groups(groups)
        # Written only when the groups themselves change: the last change may be an app's.
        table = replace(table, version=max((table.version, *(s.version for s in apps))))
        return LoadedState(
            framework_id=framework_id if isinstance(framework_id, str) else None,
            apps={s.app.id: s for s in apps},
            instances={i.instance_id: i for i in instances},
            deployments=sorted(deployments, key=lambda d: d.plan.version),
            groups=table.with_apps(by_id, by_id),
        )

    async def put_framework_id(self, framework_id: str) -> None:
        await self._put(FRAMEWORK_ID, framework_id)

    async def put_app(self, stored: StoredApp) -> None:
        """The version first, then the app (both writes issued at once: they run in that order)."""
        safe = stored.app.id.safe_id
        document = encode_stored_app(stored)
        await asyncio.gather(
            self._put(f"{APP_VERSIONS}{safe}/{stored.version}", document["app"]),
            self._put(APPS + safe, document),
        )

    async def delete_app(self, app_id: PathId) -> None:
        for key in await self._store.list(f"{APP_VERSIONS}{app_id.safe_id}/"):
            await self._delete(key)
        await self._delete(APPS + app_id.safe_id)

    async def app_versions(self, app_id: PathId) -> list[str]:
        prefix = f"{APP_VERSIONS}{app_id.safe_id}/"
        return [key.removeprefix(prefix) for key in await self._store.list(prefix)]

    async def app_version(self, app_id: PathId, version: str) -> AppDefinition | None:
        value = await self._read(f"{APP_VERSIONS}{app_id.safe_id}/{version}")
        return None if value is None else AppDefinition.from_json(value)

    async def put_instance(self, instance: Instance) -> None:
        await self._put(INSTANCES + instance.instance_id, encode_instance(instance))

    async def delete_instance(self, instance_id: InstanceId) -> None:
        await self._delete(INSTANCES + instance_id)

    async def put_instances(self, instances: Iterable[Instance]) -> None:
        """Write distinct instances together: all writes are issued at once, not one round trip each."""
        await asyncio.gather(*(self.put_instance(i) for i in instances))

    async def delete_instances(self, instance_ids: Iterable[InstanceId]) -> None:
        await asyncio.gather(*(self.delete_instance(i) for i in instance_ids))

    async def put_deployment(self, deployment: RunningDeployment) -> None:
        await self._put(DEPLOYMENTS + deployment.plan.id, encode_deployment(deployment))

    async def delete_deployment(self, deployment_id: str) -> None:
        await self._delete(DEPLOYMENTS + deployment_id)

    async def put_groups(self, table: GroupTable) -> None:
        await self._put(GROUPS, encode_groups(table))

    async def put_group_version(self, group_id: PathId, version: str, document: JsonValue) -> None:
        """Keep `document` as the group at `version`; the oldest beyond MAX_GROUP_VERSIONS go."""
        await self._put(f"{GROUP_VERSIONS}{_group_key(group_id)}/{version}", document)
        versions = sorted(await self.group_versions(group_id))
        for old in versions[: max(0, len(versions) - MAX_GROUP_VERSIONS)]:
            await self._delete(f"{GROUP_VERSIONS}{_group_key(group_id)}/{old}")

    async def group_versions(self, group_id: PathId) -> list[str]:
        prefix = f"{GROUP_VERSIONS}{_group_key(group_id)}/"
        return [key.removeprefix(prefix) for key in await self._store.list(prefix)]

    async def group_version(self, group_id: PathId, version: str) -> JsonValue | None:
        return await self._read(f"{GROUP_VERSIONS}{_group_key(group_id)}/{version}")

    async def delete_group_versions(self, group_id: PathId) -> None:
        for version in await self.group_versions(group_id):
            await self._delete(f"{GROUP_VERSIONS}{_group_key(group_id)}/{version}")

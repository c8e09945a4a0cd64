"""Marathon's store: every record round-trips; versions are kept per app and go with it, and per group."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from corral.coord.local import SqliteStore
from corral.core.attributes import parse_attributes
from corral.core.ids import AgentId
from corral.core.task_state import TaskState
from corral.marathon.deployment import plan_deployment
from corral.marathon.groups import GroupTable
from corral.marathon.instance import AgentPlacement, Instance
from corral.marathon.model import VersionInfo
from corral.marathon.paths import ROOT, PathId
from corral.marathon.store import MAX_GROUP_VERSIONS, MarathonStore, RunningDeployment, StoredApp
from corral.protocol.json import loads_object
from corral.protocol.mesos import TaskStatus

from .scheduling_fixtures import V1, V2, make_app


async def test_records_round_trip(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "m.db")
    store = MarathonStore(sqlite)
    app = make_app("/prod/web", instances=2, labels={"a": "b"})
    stored = StoredApp(
        app=app, version=V2, version_info=VersionInfo(last_scaling_at=V2, last_config_change_at=V1)
    )
    placement = AgentPlacement(
        agent_id=AgentId("a1"), hostname="h1", attributes=parse_attributes("rack:r1;n:2")
    )
    instance = Instance.provision(
        app_id=app.id, version=V2, agent=placement, host_ports=(31000,), uuid="u-1", now=10.0
    )
    instance = instance.with_status(TaskStatus(task_id=instance.task_id, state=TaskState.TASK_RUNNING), 11.0)
    plan = plan_deployment({}, {app.id: app}, deployment_id="d1", version=V2)
    deployment = RunningDeployment(plan=plan, step=1, original_versions={app.id: (V1, V1)})
    await store.put_framework_id("fw")
    await store.put_app(stored)
    await store.put_instance(instance)
    await store.put_deployment(deployment)

    loaded = await MarathonStore(sqlite).load()
    assert loaded.framework_id == "fw"
    assert loaded.apps == {app.id: stored}
    assert loaded.instances == {instance.instance_id: instance}
    assert loaded.deployments == [deployment]
    assert await store.app_versions(app.id) == [V2]
    assert await store.app_version(app.id, V2) == app

    await store.delete_app(app.id)
    await store.delete_instance(instance.instance_id)
    await store.delete_deployment("d1")
    empty = await store.load()
    assert (empty.apps, empty.instances, empty.deployments) == ({}, {}, [])
    assert await store.app_versions(PathId.parse("/prod/web")) == []
    await sqlite.close()


async def test_groups_and_group_versions_round_trip(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "m.db")
    store = MarathonStore(sqlite)
    prod, web = PathId.parse("/prod"), PathId.parse("/prod/web")
    assert (await store.load()).groups == GroupTable()  # nothing stored: the empty root
    await store.put_app(
        StoredApp(
            app=make_app("/legacy/app"),
            version=V1,
            version_info=VersionInfo(last_scaling_at=V1, last_config_change_at=V1),
        )
    )
    legacy = (await store.load()).groups  # apps stored before groups were: their groups, implied
    assert set(legacy.dependencies) == {ROOT, PathId.parse("/legacy")} and legacy.version == V1
    table = GroupTable(version=V2, dependencies={ROOT: (), prod: (), web: (PathId.parse("/prod/db"),)})
    await store.put_groups(table)
    assert (await MarathonStore(sqlite).load()).groups == table.with_apps({}, [PathId.parse("/legacy/app")])
    for second in range(MAX_GROUP_VERSIONS + 1):
        await store.put_group_version(prod, f"2024-01-01T00:00:{second:02d}.000Z", {"id": "/prod"})
    versions = sorted(await store.group_versions(prod))
    assert len(versions) == MAX_GROUP_VERSIONS and versions[0] == "2024-01-01T00:00:01.000Z"  # oldest gone
    assert await store.group_version(prod, versions[0]) == {"id": "/prod"}
    await store.put_group_version(ROOT, V1, {"id": "/"})
    assert await store.group_versions(ROOT) == [V1] and await store.group_versions(web) == []
    await store.delete_group_versions(prod)
    assert await store.group_versions(prod) == [] and await store.group_versions(ROOT) == [V1]
    await sqlite.close()


async def test_instances_are_written_and_expunged_in_batches(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "m.db")
    store = MarathonStore(sqlite)
    placement = AgentPlacement(agent_id=AgentId("a1"), hostname="h1")
    app = PathId.parse("/web")
    instances = [
        Instance.provision(app_id=app, version=V1, agent=placement, host_ports=(), uuid=f"u-{n}", now=1.0)
        for n in range(5)
    ]
    await store.put_instances(instances)
    await store.delete_instances([instances[0].instance_id, instances[1].instance_id])
    loaded = await MarathonStore(sqlite).load()
    assert loaded.instances == {i.instance_id: i for i in instances[2:]}
    await sqlite.close()


async def test_a_deployment_stores_only_the_apps_it_changes(tmp_path: Path) -> None:
    sqlite = SqliteStore(tmp_path / "m.db")
    store = MarathonStore(sqlite)
    info = VersionInfo(last_scaling_at=V1, last_config_change_at=V1)
    others = {a.id: a for a in (make_app(f"/other-{n}") for n in range(3))}
    web = make_app("/web", instances=1)
    for app in (*others.values(), web):
        await store.put_app(StoredApp(app=app, version=V1, version_info=info))
    plan = plan_deployment(
        {**others, web.id: web}, {**others, web.id: replace(web, instances=3)}, deployment_id="d1", version=V2
    )
    await store.put_deployment(RunningDeployment(plan=plan))
    stored = await sqlite.get("marathon/deployments/d1")
    assert stored is not None
    original, target = loads_object(stored.value)["original"], loads_object(stored.value)["target"]
    assert isinstance(original, dict) and isinstance(target, dict)
    assert original.keys() == target.keys() == {"/web"}
    [loaded] = (await MarathonStore(sqlite).load()).deployments
    assert loaded.plan == plan  # the untouched apps come back from the stored apps
    await sqlite.close()

"""Marathon's store: every record round-trips; versions are kept per app and go with it."""

from __future__ import annotations

from pathlib import Path

from corral.coord.local import SqliteStore
from corral.core.attributes import parse_attributes
from corral.core.ids import AgentId
from corral.core.task_state import TaskState
from corral.marathon.deployment import plan_deployment
from corral.marathon.instance import AgentPlacement, Instance
from corral.marathon.model import VersionInfo
from corral.marathon.paths import PathId
from corral.marathon.store import MarathonStore, RunningDeployment, StoredApp
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

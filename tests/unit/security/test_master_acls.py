"""The master's core under `--acls` (upstream `master_authorization_tests.cpp`: UnauthorizedRole,
UnauthorizedTask, UnauthorizedTaskGroup, FilterStateEndpoint), on a fake clock."""

from __future__ import annotations

from dataclasses import replace

from corral.core.ids import ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.master.authorization import sandbox_user, visible_state
from corral.master.config import MasterConfig
from corral.master.messages import CloseStream, FrameworkSubscribe, TeardownFramework
from corral.master.state import StreamId
from corral.protocol.agent import RunTask, RunTaskGroup, ShutdownFramework
from corral.protocol.json import dumps
from corral.protocol.mesos import CommandInfo, ExecutorInfo, FrameworkInfo, Offer, TaskInfo
from corral.protocol.scheduler import Accept, LaunchGroup, Subscribe, Subscribed
from corral.security.acls import parse_acls

from ..master.harness import Harness, command_task

ACLS = {
    "register_frameworks": [
        {"principals": {"values": ["web"]}, "roles": {"values": ["web", "*"]}},
        {"principals": {"values": ["batch"]}, "roles": {"type": "ANY"}},
    ],
    "run_tasks": [
        {"principals": {"values": ["web"]}, "users": {"values": ["nobody"]}},
        {"principals": {"values": ["batch"]}, "users": {"type": "ANY"}},
    ],
    "view_frameworks": [{"principals": {"type": "ANY"}, "users": {"type": "ANY"}}],
    "view_tasks": [{"principals": {"values": ["ops"]}, "users": {"values": ["nobody"]}}],
    "view_executors": [{"principals": {"values": ["ops"]}, "users": {"type": "ANY"}}],
}


def guarded() -> Harness:
    return Harness(config=MasterConfig(acls=parse_acls(dumps(ACLS).decode())))


def subscribe(master: Harness, principal: str | None, *, role: str = "*", stream: str = "s1") -> list[object]:
    info = FrameworkInfo(user="nobody", name="fw", principal=principal, roles=(role,), failover_timeout=60.0)
    call = Subscribe(framework_info=info)
    return list(master.send(FrameworkSubscribe(stream_id=StreamId(stream), framework_id=None, call=call)))


def subscribed(master: Harness, principal: str, stream: str = "s1") -> tuple[FrameworkId, Offer]:
    subscribe(master, principal, stream=stream)
    [event] = [e for e in master.events(StreamId(stream)) if isinstance(e, Subscribed)]
    master.stream_of[event.framework_id] = StreamId(stream)
    [offer, *_] = master.offers_to(event.framework_id, master.tick())
    return event.framework_id, offer


def as_user(task: TaskInfo, user: str) -> TaskInfo:
    assert task.command is not None
    return replace(task, command=replace(task.command, user=user))


def test_a_principal_may_subscribe_only_with_the_roles_it_is_allowed() -> None:
    master = guarded()
    assert any(isinstance(e, CloseStream) and e.error is None for e in subscribe(master, "web")) is False
    assert master.state.frameworks  # web may use `*`
    [refused] = [e for e in subscribe(master, "web", role="ops", stream="s2") if isinstance(e, CloseStream)]
    assert refused.error == "Not authorized to use roles 'ops' as principal 'web'"
    [anonymous] = [e for e in subscribe(master, None, stream="s3") if isinstance(e, CloseStream)]
    assert anonymous.error == "Not authorized to use roles '*'"
    assert len(master.state.frameworks) == 1


def test_a_task_run_as_a_user_its_principal_may_not_use_is_task_error_unauthorized() -> None:
    master = guarded()
    agent_id = master.add_agent()
    framework_id, offer = subscribed(master, "web")
    allowed = as_user(command_task("ok", agent_id), "nobody")
    refused = as_user(command_task("root", agent_id), "root")
    effects = master.launch(framework_id, offer, refused, allowed)
    [update] = master.updates_to(framework_id, effects)
    assert (update.task_id, update.state, update.reason) == (
        "root",
        TaskState.TASK_ERROR,
        "REASON_TASK_UNAUTHORIZED",
    )
    assert update.message == "Not authorized to launch task 'root' as user 'root'"
    [run] = master.to_agent(agent_id, effects)
    assert isinstance(run, RunTask) and run.task.task_id == "ok"


def test_a_task_without_a_user_runs_as_the_frameworks_user() -> None:
    master = guarded()
    agent_id = master.add_agent()
    framework_id, offer = subscribed(master, "web")  # FrameworkInfo.user is nobody
    [run] = master.to_agent(agent_id, master.launch(framework_id, offer, command_task("t", agent_id)))
    assert isinstance(run, RunTask)


def test_one_unauthorized_task_refuses_its_whole_group() -> None:
    master = guarded()
    agent_id = master.add_agent()
    framework_id, offer = subscribed(master, "web")
    executor = ExecutorInfo(
        executor_id=ExecutorId("pod"), type="DEFAULT", resources=Resources.of(cpus=0.1, mem=32, disk=32)
    )
    tasks = tuple(
        TaskInfo(
            name=name,
            task_id=TaskId(name),
            agent_id=agent_id,
            resources=Resources.of(cpus=0.5),
            command=CommandInfo(value="true", user=user),
        )
        for name, user in (("a", "nobody"), ("b", "root"))
    )
    group = LaunchGroup(executor=executor, tasks=tasks)
    call = Accept(offer_ids=(offer.id,), operations=(group,), refuse_seconds=5.0)
    effects = master.call(framework_id, call)
    updates = master.updates_to(framework_id, effects)
    assert [(u.task_id, u.reason) for u in updates] == [
        ("a", "REASON_TASK_GROUP_UNAUTHORIZED"),
        ("b", "REASON_TASK_GROUP_UNAUTHORIZED"),
    ]
    assert not [m for m in master.to_agent(agent_id, effects) if isinstance(m, RunTaskGroup)]


def test_an_operator_teardown_removes_the_framework_and_shuts_it_down_on_its_agents() -> None:
    master = guarded()
    agent_id = master.add_agent()
    framework_id, offer = subscribed(master, "batch")
    master.launch(framework_id, offer, as_user(command_task("t", agent_id), "root"))
    effects = master.send(TeardownFramework(framework_id=framework_id))
    assert ShutdownFramework(framework_id=framework_id) in master.to_agent(agent_id, effects)
    assert framework_id not in master.state.frameworks
    [done] = visible_state(master.state, "dev").completed_frameworks  # dev may view no task of it
    assert done.id == framework_id and list(done.completed_tasks) == []
    assert [t.id for t in master.state.completed_frameworks[0].completed_tasks] == ["t"]
    again = master.send(TeardownFramework(framework_id=framework_id))  # already gone: nothing to do
    assert master.to_agent(agent_id, again) == [] and framework_id not in master.state.frameworks


def test_the_visible_state_hides_the_tasks_and_executors_a_principal_may_not_view() -> None:
    master = guarded()
    agent_id = master.add_agent()
    framework_id, offer = subscribed(master, "batch")
    custom = ExecutorInfo(
        executor_id=ExecutorId("ex"),
        command=CommandInfo(value="./ex"),
        resources=Resources.of(cpus=0.1, mem=32),
    )
    tasks = (
        as_user(command_task("mine", agent_id, cpus=0.5, mem=32), "nobody"),
        as_user(command_task("roots", agent_id, cpus=0.5, mem=32), "root"),
        TaskInfo(
            name="x",
            task_id=TaskId("x"),
            agent_id=agent_id,
            resources=Resources.of(cpus=0.5),
            executor=custom,
        ),
    )
    master.launch(framework_id, offer, *tasks)
    state = master.state

    ops = visible_state(state, "ops")
    assert list(ops.frameworks[framework_id].tasks) == ["mine", "x"]  # x runs as the framework's nobody
    assert list(ops.frameworks[framework_id].executors) == list(state.frameworks[framework_id].executors)
    dev = visible_state(state, "dev")
    assert dev.frameworks[framework_id].tasks == {} and dev.frameworks[framework_id].executors == {}
    assert len(state.frameworks[framework_id].tasks) == 3  # the state itself is untouched


def test_without_acls_the_visible_state_is_the_state_itself() -> None:
    master = Harness()
    assert visible_state(master.state, None) is master.state


def test_a_sandbox_path_names_the_user_of_its_executor_or_command_task() -> None:
    master = guarded()
    agent_id = master.add_agent()
    framework_id, offer = subscribed(master, "batch")
    master.launch(framework_id, offer, as_user(command_task("t", agent_id), "root"))
    run = f"/frameworks/{framework_id}/executors/t/runs/latest"
    assert sandbox_user(master.state, run + "/stdout") == "root"
    assert sandbox_user(master.state, f"/var/agent/slaves/{agent_id}{run}") == "root"
    assert sandbox_user(master.state, f"/frameworks/{framework_id}/executors/other/runs/latest") == "nobody"
    assert sandbox_user(master.state, "/frameworks/unknown/executors/t/runs/latest") is None
    assert sandbox_user(master.state, "/etc/passwd") is None

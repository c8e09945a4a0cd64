"""Corral's own master<->agent protocol (`protocol/agent.py`; Mesos uses libprocess messages here, mesos.md
f.6, which no v1 client sees). Every message must survive the trip through JSON bytes unchanged, because a
master that lost its state rebuilds frameworks, executors and tasks from what agents re-register with.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.attributes import parse_attributes
from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources, parse_resources
from corral.core.task_state import TaskState
from corral.protocol.agent import (
    AcknowledgeUpdate,
    AgentTask,
    AgentToMaster,
    ExecutorExited,
    ExecutorToFramework,
    FrameworkToExecutor,
    KillTask,
    MasterToAgent,
    Ping,
    Register,
    Registered,
    ResourceStatistics,
    RunTask,
    RunTaskGroup,
    ShutdownExecutor,
    ShutdownFramework,
    StatusUpdate,
    TaskUsage,
    UpdateFrameworkInfo,
    UsageReport,
    decode_agent_message,
    decode_master_message,
    encode_agent_message,
    encode_master_message,
)
from corral.protocol.json import JsonObject, Reader, dumps, loads
from corral.protocol.mesos import (
    AgentInfo,
    CommandInfo,
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    Source,
    TaskInfo,
    TaskStatus,
)


def agent_trip(message: AgentToMaster) -> AgentToMaster:
    return decode_agent_message(loads(dumps(encode_agent_message(message))))


def master_trip(message: MasterToAgent) -> MasterToAgent:
    return decode_master_message(loads(dumps(encode_master_message(message))))


# ---------------------------------------------------------------- fixtures built like the daemons build them

F = FrameworkId("M-0000")
UUID = bytes(range(16))
FRAMEWORK = FrameworkInfo(
    user="alice",
    name="my-fw",
    id=F,
    failover_timeout=60.0,
    checkpoint=True,
    roles=("eng",),
    capabilities=frozenset({"MULTI_ROLE", "PARTITION_AWARE"}),
    hostname="sched-host",
)
EXECUTOR = ExecutorInfo(
    executor_id=ExecutorId("MinimalExecutor"),
    framework_id=F,
    name="MinimalExecutor",
    command=CommandInfo(value="/usr/bin/python3 /opt/fw/executor.py"),
    resources=Resources.of(cpus=0.1, mem=32),
)
DEFAULT_EXECUTOR = ExecutorInfo(
    executor_id=ExecutorId("pod-1-exec"),
    framework_id=F,
    type="DEFAULT",
    resources=Resources.of(cpus=0.1, mem=32),
)
COMMAND_TASK = TaskInfo(
    name="web-1",
    task_id=TaskId("web-1"),
    agent_id=AgentId("M-S3"),
    resources=parse_resources("cpus:0.5;mem:128;ports:[31000-31000]"),
    command=CommandInfo(value="python3 -m http.server $PORT0", environment=(("PORT0", "31000"),)),
    kill_grace_period=10.0,
)
EXECUTOR_TASK = TaskInfo(
    name="t1",
    task_id=TaskId("t1"),
    agent_id=AgentId("M-S3"),
    resources=Resources.of(cpus=0.1, mem=32),
    executor=EXECUTOR,
    data=b"Hello from task t1!",
)
RUNNING = TaskStatus(
    task_id=TaskId("web-1"),
    state=TaskState.TASK_RUNNING,
    source=Source.SOURCE_EXECUTOR,
    agent_id=AgentId("M-S3"),
    executor_id=ExecutorId("web-1"),
    timestamp=1700000123.456,
    uuid=UUID,
    healthy=True,
)
AGENT = AgentInfo(
    hostname="agent3.example.com",
    id=AgentId("M-S3"),
    resources=parse_resources("cpus:8;mem:15000;disk:93000;ports:[31000-32000]"),
    attributes=parse_attributes("rack:r12;ssd:1;zone:{a,b};keys:[1-5]"),
)
MASTER = MasterInfo(id="3f0d2c9e", ip="10.0.0.5", port=5050, hostname="master1.example.com")


# ---------------------------------------------------------------- agent -> master


def test_first_registration_has_no_agent_id() -> None:
    register = Register(
        agent_info=AgentInfo(hostname="agent3", resources=Resources.of(cpus=1)), ip="10.0.0.13"
    )
    assert agent_trip(register) == register
    assert encode_agent_message(register)["type"] == "REGISTER"


def test_reregistration_carries_everything_the_agent_runs() -> None:
    register = Register(
        agent_info=AGENT,
        ip="10.0.0.13",
        frameworks=(FRAMEWORK,),
        executors=((F, EXECUTOR),),
        tasks=(
            AgentTask(
                framework_id=F,
                executor_id=ExecutorId("web-1"),
                task=COMMAND_TASK,
                state=TaskState.TASK_RUNNING,
                latest_status=RUNNING,
            ),
            AgentTask(framework_id=F, executor_id=None, task=EXECUTOR_TASK, state=TaskState.TASK_STAGING),
        ),
    )
    again = agent_trip(register)
    assert again == register
    assert isinstance(again, Register)
    # What the master rebuilds from must be complete, not just equal in the fields that compare.
    assert again.frameworks[0].is_partition_aware
    assert again.tasks[0].task.command == COMMAND_TASK.command
    assert again.tasks[1].task.executor == EXECUTOR


@pytest.mark.parametrize(
    "message",
    [
        StatusUpdate(framework_id=F, status=RUNNING),
        StatusUpdate(framework_id=F, status=RUNNING, latest_state=TaskState.TASK_FINISHED),
        ExecutorExited(framework_id=F, executor_id=ExecutorId("MinimalExecutor"), status=9),
        ExecutorToFramework(
            framework_id=F, executor_id=ExecutorId("MinimalExecutor"), data=b"hi-from-executor"
        ),
        ExecutorToFramework(framework_id=F, executor_id=ExecutorId("MinimalExecutor"), data=b""),
    ],
)
def test_agent_messages_round_trip(message: AgentToMaster) -> None:
    assert agent_trip(message) == message


def test_a_status_update_looks_like_the_scheduler_api_status() -> None:
    encoded = encode_agent_message(StatusUpdate(framework_id=F, status=RUNNING))
    assert encoded == {
        "type": "STATUS_UPDATE",
        "status_update": {"framework_id": {"value": "M-0000"}, "status": RUNNING.to_json()},
    }
    status = RUNNING.to_json()
    assert status["uuid"] == "AAECAwQFBgcICQoLDA0ODw=="


states = st.sampled_from(list(TaskState))
small_ids = st.from_regex(r"[a-z0-9][a-z0-9.\-]{0,10}", fullmatch=True)
statuses = st.builds(
    TaskStatus,
    task_id=small_ids.map(TaskId),
    state=states,
    message=st.none() | st.text(max_size=8),
    source=st.none() | st.sampled_from(list(Source)),
    agent_id=st.none() | small_ids.map(AgentId),
    timestamp=st.none() | st.floats(0, 2e9),
    uuid=st.none() | st.binary(min_size=16, max_size=16),
    healthy=st.none() | st.booleans(),
)
agent_messages: st.SearchStrategy[AgentToMaster] = st.one_of(
    st.builds(
        StatusUpdate,
        framework_id=small_ids.map(FrameworkId),
        status=statuses,
        latest_state=st.none() | states,
    ),
    st.builds(
        ExecutorExited,
        framework_id=small_ids.map(FrameworkId),
        executor_id=small_ids.map(ExecutorId),
        status=st.integers(-(2**31), 2**31 - 1),
    ),
    st.builds(
        ExecutorToFramework,
        framework_id=small_ids.map(FrameworkId),
        executor_id=small_ids.map(ExecutorId),
        data=st.binary(max_size=32),
    ),
)


@given(agent_messages)
def test_any_agent_message_round_trips(message: AgentToMaster) -> None:
    assert agent_trip(message) == message


@st.composite
def usage_reports(draw: st.DrawFn) -> UsageReport:
    timestamp = draw(st.floats(0, 2e9))
    seconds, counts = st.none() | st.floats(0, 1e6), st.none() | st.integers(0, 2**53)
    statistics = st.builds(
        ResourceStatistics,
        timestamp=st.just(timestamp),
        cpus_user_time_secs=seconds,
        cpus_system_time_secs=seconds,
        cpus_limit=st.none() | st.floats(0.001, 256),
        mem_rss_bytes=counts,
        mem_limit_bytes=counts,
    )
    usage = st.builds(
        TaskUsage,
        framework_id=small_ids.map(FrameworkId),
        task_id=small_ids.map(TaskId),
        statistics=statistics,
    )
    return UsageReport(timestamp=timestamp, tasks=tuple(draw(st.lists(usage, max_size=4))))


@given(usage_reports())
def test_any_usage_report_round_trips(report: UsageReport) -> None:
    assert agent_trip(report) == report


def test_a_usage_report_says_its_timestamp_once_and_names_upstreams_statistics() -> None:
    statistics = ResourceStatistics(timestamp=5.0, cpus_user_time_secs=1.5, mem_rss_bytes=1024)
    report = UsageReport(
        timestamp=5.0, tasks=(TaskUsage(framework_id=F, task_id=TaskId("web"), statistics=statistics),)
    )
    assert encode_agent_message(report) == {
        "type": "USAGE",
        "usage": {
            "timestamp": 5.0,
            "tasks": [
                {
                    "framework_id": "M-0000",
                    "task_id": "web",
                    "cpus_user_time_secs": 1.5,
                    "mem_rss_bytes": 1024,
                }
            ],
        },
    }
    with pytest.raises(DecodeError) as e:
        decode_agent_message(
            {
                "type": "USAGE",
                "usage": {
                    "timestamp": 5,
                    "tasks": [{"framework_id": "f", "task_id": "t", "mem_rss_bytes": 1.5}],
                },
            }
        )
    assert e.value.path == "usage.tasks[0].mem_rss_bytes"


# ---------------------------------------------------------------- master -> agent


@pytest.mark.parametrize(
    "message",
    [
        Registered(agent_id=AgentId("M-S3"), master_info=MASTER),
        Registered(agent_id=AgentId("M-S3"), master_info=MASTER, heartbeat_interval_seconds=2.5),
        RunTask(framework_info=FRAMEWORK, task=COMMAND_TASK),
        RunTask(framework_info=FRAMEWORK, task=EXECUTOR_TASK),
        RunTaskGroup(
            framework_info=FRAMEWORK,
            executor=DEFAULT_EXECUTOR,
            tasks=(
                COMMAND_TASK,
                TaskInfo(
                    name="side",
                    task_id=TaskId("pod-1.side"),
                    agent_id=AgentId("M-S3"),
                    resources=Resources.of(cpus=0.1),
                    command=CommandInfo(value="sleep 1"),
                ),
            ),
        ),
        KillTask(framework_id=F, task_id=TaskId("web-1")),
        KillTask(framework_id=F, task_id=TaskId("web-1"), grace_period=30.0),
        ShutdownExecutor(framework_id=F, executor_id=ExecutorId("MinimalExecutor")),
        ShutdownFramework(framework_id=F),
        AcknowledgeUpdate(framework_id=F, task_id=TaskId("web-1"), uuid=UUID),
        FrameworkToExecutor(framework_id=F, executor_id=ExecutorId("MinimalExecutor"), data=b"hello"),
        UpdateFrameworkInfo(framework_info=FRAMEWORK),
        Ping(),
    ],
    ids=lambda m: type(m).__name__,
)
def test_master_messages_round_trip(message: MasterToAgent) -> None:
    assert master_trip(message) == message


def test_run_task_relays_what_the_framework_sent() -> None:
    # A TaskInfo decoded from an ACCEPT keeps fields Corral does not model (health checks, labels, limits),
    # and they reach the agent.
    sent: JsonObject = {
        "name": "web-1",
        "task_id": {"value": "web-1"},
        "agent_id": {"value": "M-S3"},
        "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}],
        "command": {"value": "sleep 10"},
        "health_check": {"type": "TCP", "tcp": {"port": 31000}},
        "labels": {"labels": [{"key": "app", "value": "web"}]},
    }
    task = TaskInfo.from_json(Reader(sent))
    again = master_trip(RunTask(framework_info=FRAMEWORK, task=task))
    assert isinstance(again, RunTask)
    assert again.task == task
    assert again.task.raw["health_check"] == {"type": "TCP", "tcp": {"port": 31000}}
    assert again.task.labels == [{"key": "app", "value": "web"}]


def test_registered_carries_the_master_info() -> None:
    encoded = encode_master_message(Registered(agent_id=AgentId("M-S3"), master_info=MASTER))
    assert encoded["type"] == "REGISTERED"
    assert encoded["registered"] == {
        "agent_id": {"value": "M-S3"},
        "master_info": MASTER.to_json(),
        "heartbeat_interval_seconds": 15.0,
    }
    master_info = MASTER.to_json()
    assert master_info["ip"] == 83886090  # mesos.md d.1


master_messages: st.SearchStrategy[MasterToAgent] = st.one_of(
    st.builds(
        KillTask,
        framework_id=small_ids.map(FrameworkId),
        task_id=small_ids.map(TaskId),
        grace_period=st.none() | st.integers(0, 10**12).map(lambda ns: ns / 1e9),
    ),
    st.builds(
        ShutdownExecutor, framework_id=small_ids.map(FrameworkId), executor_id=small_ids.map(ExecutorId)
    ),
    st.builds(ShutdownFramework, framework_id=small_ids.map(FrameworkId)),
    st.builds(
        AcknowledgeUpdate,
        framework_id=small_ids.map(FrameworkId),
        task_id=small_ids.map(TaskId),
        uuid=st.binary(min_size=16, max_size=16),
    ),
    st.builds(
        FrameworkToExecutor,
        framework_id=small_ids.map(FrameworkId),
        executor_id=small_ids.map(ExecutorId),
        data=st.binary(max_size=32),
    ),
    st.just(Ping()),
)


@given(master_messages)
def test_any_simple_master_message_round_trips(message: MasterToAgent) -> None:
    assert master_trip(message) == message


# ---------------------------------------------------------------- malformed messages


def test_unknown_message_types_are_decode_errors() -> None:
    with pytest.raises(DecodeError, match=r"^type: unknown agent message type 'LAUNCH'$"):
        decode_agent_message({"type": "LAUNCH"})
    with pytest.raises(DecodeError, match=r"^type: unknown master message type 'REGISTER'$"):
        decode_master_message({"type": "REGISTER", "register": {}})


def test_missing_bodies_and_fields_name_the_path() -> None:
    with pytest.raises(DecodeError) as e:
        decode_agent_message({"type": "STATUS_UPDATE"})
    assert e.value.path == "status_update"
    with pytest.raises(DecodeError) as e:
        decode_master_message({"type": "KILL_TASK", "kill_task": {"framework_id": {"value": "f"}}})
    assert e.value.path == "kill_task.task_id"
    with pytest.raises(DecodeError) as e:
        decode_agent_message(
            {
                "type": "STATUS_UPDATE",
                "status_update": {
                    "framework_id": {"value": "f"},
                    "status": {"task_id": {"value": "t"}, "state": "TASK_NAPPING"},
                },
            }
        )
    assert e.value.path == "status_update.status.state"

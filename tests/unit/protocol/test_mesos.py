"""Mesos' shared messages (mesos.md a.9) and their protobuf-JSON codecs (mesos.md a.4): Resource and Attribute
JSON, FrameworkInfo, TaskInfo, CommandInfo, ExecutorInfo, TaskStatus, MasterInfo (mesos.md d.1), Offer
(mesos.md a.7) and Filters.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.attributes import Attribute, parse_attributes
from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources, parse_resources
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, Reader, dumps, loads
from corral.protocol.mesos import (
    AgentInfo,
    CommandInfo,
    ExecutorInfo,
    FrameworkInfo,
    MasterInfo,
    Offer,
    Source,
    TaskInfo,
    TaskStatus,
    Uri,
    decode_attributes,
    decode_filters,
    decode_resources,
    duration_seconds,
    encode_attributes,
    encode_duration,
    encode_resources,
    ipv4_as_network_order_int,
)


def wire(value: JsonObject) -> Reader:
    """What the other side reads: the object after a trip through JSON bytes."""
    return Reader(loads(dumps(value)))


def resources_of(items: list[JsonValue]) -> Resources:
    return decode_resources(Reader({"resources": items}), "resources")


# ---------------------------------------------------------------- strategies

ids = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/\\"), min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))
names = st.text(min_size=1, max_size=12)
milli = st.integers(1, 10**7).map(lambda t: t / 1000)
resources = st.builds(
    lambda cpus, mem, ports, zones: Resources.of(
        ranges={"ports": [(p, p) for p in ports]}, sets={"zones": zones}, cpus=cpus, mem=mem
    ),
    milli,
    milli,
    st.frozensets(st.integers(31000, 31020), max_size=5),
    st.frozensets(st.sampled_from("abc")),
)
seconds = st.integers(0, 10**12).map(lambda ns: ns / 1e9)  # whole nanoseconds, as DurationInfo carries

# ---------------------------------------------------------------- resources and attributes (mesos.md a.9)


def test_decode_the_resource_examples() -> None:
    r = resources_of(
        [
            {"name": "gpus", "type": "SCALAR", "scalar": {"value": 2}},
            {
                "name": "ports",
                "type": "RANGES",
                "ranges": {"range": [{"begin": 31000, "end": 32000}]},
                "role": "*",
            },
            {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}},
        ]
    )
    assert r == Resources.of(gpus=2, ranges={"ports": [(31000, 32000)]}, sets={"zones": ["a", "b"]})


def test_decode_infers_a_missing_type_and_sums_repeated_names() -> None:
    r = resources_of(
        [
            {"name": "cpus", "scalar": {"value": "0.5"}},
            {"name": "cpus", "scalar": {"value": 0.25}},
            {"name": "ports", "ranges": {"range": [{"begin": 1, "end": 2}]}},
            {"name": "ports", "ranges": {"range": [{"begin": 3, "end": 3}]}},
            {"name": "zones", "set": {"item": ["a"]}},
        ]
    )
    assert r == Resources.of(cpus=0.75, ranges={"ports": [(1, 3)]}, sets={"zones": ["a"]})


@pytest.mark.parametrize(
    ("item", "path", "problem"),
    [
        (
            {"name": "cpus", "scalar": {"value": -1}},
            "resources[0].scalar.value",
            "must be a finite number >= 0",
        ),
        (
            {"name": "cpus", "scalar": {"value": "NaN"}},
            "resources[0].scalar.value",
            "must be a finite number >= 0",
        ),
        (
            {"name": "cpus", "scalar": {"value": "Infinity"}},
            "resources[0].scalar.value",
            "must be a finite number >= 0",
        ),
        (
            {"name": "ports", "ranges": {"range": [{"begin": 5, "end": 1}]}},
            "resources[0].ranges.range[0]",
            "begin is greater than end",
        ),
        (
            {"name": "x", "type": "TEXT", "text": {"value": "t"}},
            "resources[0].type",
            "unknown resource type 'TEXT'",
        ),
        ({"scalar": {"value": 1}}, "resources[0].name", "is required"),
    ],
)
def test_bad_resources_are_decode_errors(item: JsonObject, path: str, problem: str) -> None:
    with pytest.raises(DecodeError) as e:
        resources_of([item])
    assert (e.value.path, e.value.problem) == (path, problem)


def test_encode_resources_writes_the_default_role() -> None:
    r = parse_resources("cpus:7.5;ports:[31000-31099,31101-32000];zones:{b,a}")
    assert encode_resources(r) == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 7.5}, "role": "*"},
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 31099}, {"begin": 31101, "end": 32000}]},
            "role": "*",
        },
        {"name": "zones", "type": "SET", "set": {"item": ["a", "b"]}, "role": "*"},
    ]


def test_a_multi_role_framework_sees_allocation_info_on_every_resource() -> None:
    # mesos.md a.7: "For MULTI_ROLE frameworks, the offer and every resource additionally carry
    # allocation_info"
    [cpus] = encode_resources(Resources.of(cpus=1), role="eng")
    assert cpus == {
        "name": "cpus",
        "type": "SCALAR",
        "scalar": {"value": 1.0},
        "role": "*",
        "allocation_info": {"role": "eng"},
    }


@given(resources)
def test_resources_round_trip(r: Resources) -> None:
    assert decode_resources(wire({"resources": encode_resources(r)}), "resources") == r


def test_attributes_from_an_offer() -> None:
    # mesos.md a.7 OFFERS example
    attrs = decode_attributes(
        Reader(
            {
                "attributes": [
                    {"name": "rack", "type": "TEXT", "text": {"value": "r12"}},
                    {"name": "ssd", "type": "SCALAR", "scalar": {"value": 1.0}},
                ]
            }
        ),
        "attributes",
    )
    assert attrs == (Attribute("rack", text="r12"), Attribute("ssd", scalar=1.0))


def test_attributes_round_trip() -> None:
    attrs = parse_attributes("rack:abc;zone:{west,east};level:10;keys:[1000-1500]")
    assert encode_attributes(attrs)[1] == {"name": "zone", "type": "SET", "set": {"item": ["east", "west"]}}
    assert decode_attributes(wire({"a": encode_attributes(attrs)}), "a") == attrs


# ---------------------------------------------------------------- FrameworkInfo

SUBSCRIBE_INFO: JsonObject = {  # mesos.md a.6, SUBSCRIBE (new framework)
    "user": "alice",
    "name": "my-fw",
    "failover_timeout": 604800,
    "checkpoint": True,
    "roles": ["eng"],
    "capabilities": [{"type": "MULTI_ROLE"}, {"type": "PARTITION_AWARE"}, {"type": "TASK_KILLING_STATE"}],
    "hostname": "sched-host",
    "webui_url": "http://sched-host:8080",
    "labels": {"labels": [{"key": "team", "value": "infra"}]},
}


def test_framework_info_from_the_subscribe_example() -> None:
    info = FrameworkInfo.from_json(Reader(SUBSCRIBE_INFO))
    assert info == FrameworkInfo(
        user="alice",
        name="my-fw",
        failover_timeout=604800.0,
        checkpoint=True,
        roles=("eng",),
        hostname="sched-host",
        webui_url="http://sched-host:8080",
        capabilities=frozenset({"MULTI_ROLE", "PARTITION_AWARE", "TASK_KILLING_STATE"}),
    )
    assert info.is_multi_role and info.is_partition_aware and info.has_task_killing_state
    # Echoed to executors untouched: fields Corral does not model (labels) survive.
    assert info.to_json()["labels"] == {"labels": [{"key": "team", "value": "infra"}]}
    assert FrameworkInfo.from_json(wire(info.to_json())) == info


def test_framework_info_defaults_are_written_out() -> None:
    # mesos.md a.4 "Defaults are written out": failover_timeout 0.0, checkpoint false
    info = FrameworkInfo.from_json(Reader({"user": "u", "name": "n"}))
    assert (info.failover_timeout, info.checkpoint, info.roles, info.id) == (0.0, False, ("*",), None)
    assert not info.is_partition_aware
    assert info.to_json() == {"user": "u", "name": "n", "failover_timeout": 0.0, "checkpoint": False}


def test_the_deprecated_single_role() -> None:
    info = FrameworkInfo.from_json(Reader({"user": "u", "name": "n", "role": "eng"}))
    assert info.roles == ("eng",)
    assert FrameworkInfo.from_json(wire(info.to_json())).roles == ("eng",)


@pytest.mark.parametrize(
    ("extra", "path", "problem"),
    [
        ({"roles": ["eng"]}, "framework_info.roles", "requires the MULTI_ROLE capability"),
        ({"failover_timeout": -1}, "framework_info.failover_timeout", "must be >= 0"),
        ({"user": None}, "framework_info.user", "is required"),
        ({"checkpoint": "yes"}, "framework_info.checkpoint", "expected a boolean, got a string"),
    ],
)
def test_bad_framework_infos(extra: JsonObject, path: str, problem: str) -> None:
    with pytest.raises(DecodeError) as e:
        FrameworkInfo.from_json(Reader({"user": "u", "name": "n", **extra}, "framework_info"))
    assert (e.value.path, e.value.problem) == (path, problem)


def test_with_id_sets_the_id_everywhere() -> None:
    info = FrameworkInfo.from_json(Reader(SUBSCRIBE_INFO)).with_id(FrameworkId("M-0000"))
    assert info.id == "M-0000"
    assert info.to_json()["id"] == {"value": "M-0000"}
    assert info.raw["id"] == {"value": "M-0000"}


framework_infos = st.builds(
    FrameworkInfo,
    user=names,
    name=names,
    id=st.none() | ids.map(FrameworkId),
    failover_timeout=st.floats(0, 1e9),
    checkpoint=st.booleans(),
    hostname=st.none() | names,
    principal=st.none() | names,
    webui_url=st.none() | names,
    capabilities=st.frozensets(st.sampled_from(["PARTITION_AWARE", "TASK_KILLING_STATE", "GPU_RESOURCES"])),
)
multi_role_infos = st.builds(
    lambda info, roles: FrameworkInfo(
        user=info.user, name=info.name, roles=tuple(roles), capabilities=info.capabilities | {"MULTI_ROLE"}
    ),
    framework_infos,
    st.lists(names, min_size=1, max_size=3),
)


@given(framework_infos | multi_role_infos)
def test_framework_infos_built_in_code_round_trip(info: FrameworkInfo) -> None:
    # Corral's own frameworks (Marathon, Chronos) build FrameworkInfo in code and SUBSCRIBE with it.
    assert FrameworkInfo.from_json(wire(info.to_json())) == info


# ---------------------------------------------------------------- TaskInfo, CommandInfo, ExecutorInfo

LAUNCH_TASK: JsonObject = {  # mesos.md a.6, ACCEPT with LAUNCH (command task)
    "name": "web-1",
    "task_id": {"value": "web-1"},
    "agent_id": {"value": "M-S3"},
    "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}, "role": "*"},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 128}, "role": "*"},
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 31000}]},
            "role": "*",
        },
    ],
    "command": {
        "shell": True,
        "value": "python3 -m http.server $PORT0",
        "environment": {"variables": [{"name": "PORT0", "value": "31000"}]},
        "uris": [{"value": "https://example.com/site.tgz", "extract": True, "executable": False}],
    },
    "kill_policy": {"grace_period": {"nanoseconds": 10000000000}},
    "health_check": {
        "type": "HTTP",
        "http": {"port": 31000, "path": "/"},
        "delay_seconds": 15,
        "interval_seconds": 10,
        "timeout_seconds": 20,
        "consecutive_failures": 3,
        "grace_period_seconds": 10,
    },
    "labels": {"labels": [{"key": "app", "value": "web"}]},
}

EXECUTOR_TASK: JsonObject = {  # mesos.md a.6, ACCEPT with LAUNCH using a custom executor
    "name": "t1",
    "task_id": {"value": "t1"},
    "agent_id": {"value": "M-S3"},
    "executor": {
        "executor_id": {"value": "MinimalExecutor"},
        "name": "MinimalExecutor",
        "command": {"value": "/usr/bin/python3 /opt/fw/executor.py"},
        "resources": [
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
            {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
        ],
    },
    "data": "SGVsbG8gZnJvbSB0YXNrIHQxIQ==",
    "resources": [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
    ],
}


def test_command_task_from_the_launch_example() -> None:
    task = TaskInfo.from_json(Reader(LAUNCH_TASK))
    assert (task.name, task.task_id, task.agent_id) == ("web-1", "web-1", "M-S3")
    assert task.resources == Resources.of(cpus=0.5, mem=128, ranges={"ports": [(31000, 31000)]})
    assert task.command == CommandInfo(
        value="python3 -m http.server $PORT0",
        environment=(("PORT0", "31000"),),
        uris=(Uri(value="https://example.com/site.tgz"),),
    )
    assert task.executor is None
    assert task.kill_grace_period == 10.0
    assert task.labels == [{"key": "app", "value": "web"}]
    # Relayed to the agent as the framework sent it: the health check Corral does not model survives.
    assert task.to_json() == LAUNCH_TASK


def test_custom_executor_task_from_the_launch_example() -> None:
    task = TaskInfo.from_json(Reader(EXECUTOR_TASK))
    assert task.data == b"Hello from task t1!"
    assert task.command is None
    assert task.executor is not None
    assert task.executor.executor_id == "MinimalExecutor"
    assert task.executor.type == "CUSTOM"
    assert task.executor.resources == Resources.of(cpus=0.1, mem=32)
    assert task.executor.command is not None
    assert task.executor.command.argv() == ["/bin/sh", "-c", "/usr/bin/python3 /opt/fw/executor.py"]
    # The defaults of the executor's type and its command's shell are written out (mesos.md a.4).
    executor_json = task.to_json()["executor"]
    assert isinstance(executor_json, dict)
    assert executor_json["type"] == "CUSTOM"
    assert executor_json["command"] == {"value": "/usr/bin/python3 /opt/fw/executor.py", "shell": True}


def test_the_master_fills_in_the_executors_framework_id() -> None:
    # upstream `validateFrameworkID`: "The master fills in `ExecutorInfo.framework_id` for executors used in
    # Launch operations."
    task = TaskInfo.from_json(Reader(EXECUTOR_TASK))
    assert task.executor is not None
    filled = replace(task, executor=replace(task.executor, framework_id=FrameworkId("M-0000")))
    executor_json = filled.to_json()["executor"]
    assert isinstance(executor_json, dict)
    assert executor_json["framework_id"] == {"value": "M-0000"}


@pytest.mark.parametrize(
    ("task_id", "problem"),
    [
        ("", "must not be empty"),
        ("..", "must not be '.' or '..'"),
        ("a/b", "must not contain '/', '\\' or control characters"),
    ],
)
def test_task_ids_must_be_usable_as_directory_names(task_id: str, problem: str) -> None:
    bad: JsonObject = {**LAUNCH_TASK, "task_id": {"value": task_id}}
    with pytest.raises(DecodeError) as e:
        TaskInfo.from_json(Reader(bad, "accept.operations[0].launch.task_infos[0]"))
    assert e.value.path == "accept.operations[0].launch.task_infos[0].task_id.value"
    assert e.value.problem == problem


def test_commands() -> None:
    plain = CommandInfo.from_json(Reader({"shell": False, "value": "/bin/echo", "arguments": ["echo", "hi"]}))
    assert plain.argv() == ["echo", "hi"]
    assert plain.describe() == "[/bin/echo, echo, hi]"
    bare = CommandInfo.from_json(Reader({"shell": "false", "value": "/bin/true"}))
    assert bare.argv() == ["/bin/true"]
    shell = CommandInfo.from_json(Reader({"value": "sleep 1000 && echo done"}))
    assert shell.shell is True  # CommandInfo.shell defaults to true (mesos.md a.9)
    assert shell.describe() == "sh -c 'sleep 1000 &...'"
    with pytest.raises(DecodeError, match=r"^command\.value: is required for a shell command$"):
        CommandInfo.from_json(Reader({"shell": True}, "command"))


def test_secret_environment_variables_are_not_passed_on() -> None:
    command = CommandInfo.from_json(
        Reader(
            {
                "value": "env",
                "environment": {
                    "variables": [
                        {"name": "A", "value": "1"},
                        {"name": "B", "type": "SECRET", "secret": {"type": "REFERENCE"}},
                        {"name": "C", "type": "VALUE"},
                    ]
                },
            }
        )
    )
    assert command.environment == (("A", "1"), ("C", ""))


@pytest.mark.parametrize(
    ("executor", "path", "problem"),
    [
        (
            {"type": "DEFAULT", "command": {"value": "x"}},
            "executor.command",
            "must not be set for a DEFAULT executor",
        ),
        ({"type": "CUSTOM"}, "executor.command", "is required for a CUSTOM executor"),
        ({}, "executor.command", "is required for a CUSTOM executor"),
        ({"type": "WEIRD"}, "executor.type", "unknown executor type 'WEIRD'"),
    ],
)
def test_executor_type_rules(executor: JsonObject, path: str, problem: str) -> None:
    # mesos.md a.6: "Each executor.type must be set (DEFAULT or CUSTOM), and a DEFAULT executor must not set
    # command"
    with pytest.raises(DecodeError) as e:
        ExecutorInfo.from_json(Reader({"executor_id": {"value": "e"}, **executor}, "executor"))
    assert (e.value.path, e.value.problem) == (path, problem)


commands = st.builds(
    CommandInfo,
    value=names,
    shell=st.booleans(),
    arguments=st.lists(names, max_size=3).map(tuple),
    environment=st.lists(st.tuples(names, st.text(max_size=5)), max_size=3).map(tuple),
    uris=st.lists(
        st.builds(
            Uri,
            value=names,
            executable=st.booleans(),
            extract=st.booleans(),
            cache=st.booleans(),
            output_file=st.none() | names,
        ),
        max_size=2,
    ).map(tuple),
    user=st.none() | names,
)
executors = st.builds(
    ExecutorInfo,
    executor_id=ids.map(ExecutorId),
    framework_id=st.none() | ids.map(FrameworkId),
    name=st.none() | names,
    command=commands,
    resources=resources,
    shutdown_grace_period=st.none() | seconds,
)
task_infos = st.builds(
    TaskInfo,
    name=names,
    task_id=ids.map(TaskId),
    agent_id=ids.map(AgentId),
    resources=resources,
    command=st.none() | commands,
    kill_grace_period=st.none() | seconds,
    max_completion_time=st.none() | seconds,
    data=st.none() | st.binary(max_size=20),
)


@given(task_infos, st.none() | executors)
def test_task_infos_built_in_code_round_trip(task: TaskInfo, executor: ExecutorInfo | None) -> None:
    # The Corral frameworks build TaskInfo in code; the wire form must carry every field.
    if executor is not None:
        task = replace(task, command=None, executor=executor)
    assert TaskInfo.from_json(wire(task.to_json())) == task


@given(st.sampled_from([LAUNCH_TASK, EXECUTOR_TASK]))
def test_decoded_task_infos_re_encode_to_an_equal_task(sent: JsonObject) -> None:
    task = TaskInfo.from_json(Reader(copy.deepcopy(sent)))
    again = TaskInfo.from_json(wire(task.to_json()))
    assert again == task
    assert again.raw.get("labels") == sent.get("labels")


def test_durations_are_nanoseconds() -> None:
    assert encode_duration(10.0) == {"nanoseconds": 10000000000}
    assert duration_seconds(Reader({"nanoseconds": 30000000000})) == 30.0
    assert duration_seconds(None) is None


# ---------------------------------------------------------------- TaskStatus

RUNNING_UPDATE: JsonObject = {  # mesos.md a.7, UPDATE from an executor
    "task_id": {"value": "web-1"},
    "state": "TASK_RUNNING",
    "source": "SOURCE_EXECUTOR",
    "agent_id": {"value": "M-S3"},
    "executor_id": {"value": "web-1"},
    "timestamp": 1700000123.456,
    "uuid": "dVqSCqKUTQ+DJ5NxekL7ZQ==",
    "healthy": True,
    "container_status": {
        "container_id": {"value": "0b1e"},
        "network_infos": [{"ip_addresses": [{"protocol": "IPv4", "ip_address": "10.0.0.13"}]}],
        "executor_pid": 4242,
    },
}


def test_task_status_from_the_update_example() -> None:
    status = TaskStatus.from_json(Reader(RUNNING_UPDATE))
    assert status == TaskStatus(
        task_id=TaskId("web-1"),
        state=TaskState.TASK_RUNNING,
        source=Source.SOURCE_EXECUTOR,
        agent_id=AgentId("M-S3"),
        executor_id=ExecutorId("web-1"),
        timestamp=1700000123.456,
        uuid=bytes.fromhex("755a920aa2944d0f832793717a42fb65"),
        healthy=True,
    )
    assert status.to_json() == RUNNING_UPDATE  # container_status rides along untouched


def test_a_master_generated_status_has_no_uuid() -> None:
    lost: JsonObject = {  # mesos.md a.7, reconciliation UPDATE
        "task_id": {"value": "x"},
        "state": "TASK_LOST",
        "source": "SOURCE_MASTER",
        "reason": "REASON_RECONCILIATION",
        "message": "Reconciliation: Task is unknown",
        "timestamp": 1700000200.0,
    }
    status = TaskStatus.from_json(Reader(lost))
    assert (status.uuid, status.healthy, status.reason) == (None, None, "REASON_RECONCILIATION")
    assert status.to_json() == lost


def test_bad_task_statuses() -> None:
    with pytest.raises(DecodeError, match=r"^status\.state: unknown value 'TASK_SLEEPING'$"):
        TaskStatus.from_json(Reader({"task_id": {"value": "t"}, "state": "TASK_SLEEPING"}, "status"))
    with pytest.raises(DecodeError, match=r"^status\.state: is required$"):
        TaskStatus.from_json(Reader({"task_id": {"value": "t"}}, "status"))
    # An unknown optional enum is dropped (mesos.md a.4): a newer executor's source does not kill the update.
    odd = TaskStatus.from_json(
        Reader({"task_id": {"value": "t"}, "state": "TASK_RUNNING", "source": "SOURCE_X"})
    )
    assert odd.source is None


task_statuses = st.builds(
    TaskStatus,
    task_id=ids.map(TaskId),
    state=st.sampled_from(list(TaskState)),
    message=st.none() | st.text(max_size=10),
    source=st.none() | st.sampled_from(list(Source)),
    reason=st.none() | st.sampled_from(["REASON_RECONCILIATION", "REASON_COMMAND_EXECUTOR_FAILED"]),
    data=st.none() | st.binary(max_size=10),
    agent_id=st.none() | ids.map(AgentId),
    executor_id=st.none() | ids.map(ExecutorId),
    timestamp=st.none() | st.floats(0, 2e9),
    uuid=st.none() | st.binary(min_size=16, max_size=16),
    healthy=st.none() | st.booleans(),
)


@given(task_statuses)
def test_task_statuses_round_trip(status: TaskStatus) -> None:
    assert TaskStatus.from_json(wire(status.to_json())) == status


# ---------------------------------------------------------------- MasterInfo, AgentInfo, Offer


@pytest.mark.parametrize(
    ("ip", "number"),
    [("127.0.0.1", 16777343), ("10.0.0.5", 83886090), ("0.0.0.0", 0), ("255.255.255.255", 2**32 - 1)],
)
def test_master_info_ip_is_the_network_order_uint32(ip: str, number: int) -> None:
    # mesos.md d.1: "On x86, 10.0.0.5 is therefore 5<<24 | 10 = 83886090 and 127.0.0.1 is 16777343"
    assert ipv4_as_network_order_int(ip) == number


@pytest.mark.parametrize("ip", ["master1.example.com", "a.b.example.com", "::1", "300.1.1.1", ""])
def test_master_info_ip_is_zero_for_what_is_not_ipv4(ip: str) -> None:
    assert ipv4_as_network_order_int(ip) == 0


def test_master_info_json_is_what_zookeeper_holds() -> None:
    info = MasterInfo(id="3f0d2c9e", ip="10.0.0.5", port=5050, hostname="master1.example.com")
    assert info.to_json() == {  # mesos.md d.1, minus `domain`
        "id": "3f0d2c9e",
        "ip": 83886090,
        "port": 5050,
        "pid": "master@10.0.0.5:5050",
        "hostname": "master1.example.com",
        "version": "1.11.0",
        "address": {"hostname": "master1.example.com", "ip": "10.0.0.5", "port": 5050},
        "capabilities": [{"type": "AGENT_UPDATE"}],
    }
    assert MasterInfo.from_json(wire(info.to_json())) == info


def test_agent_info_round_trips_and_defaults_its_port() -> None:
    info = AgentInfo(
        hostname="agent3.example.com",
        id=AgentId("M-S3"),
        resources=parse_resources("cpus:8;mem:15000;ports:[31000-32000]"),
        attributes=parse_attributes("rack:r12;ssd:1"),
    )
    assert AgentInfo.from_json(wire(info.to_json())) == info
    assert AgentInfo.from_json(Reader({"hostname": "h"})).port == 5051


def make_offer() -> Offer:
    return Offer(
        id=OfferId("M-O17"),
        framework_id=FrameworkId("M-0000"),
        agent_id=AgentId("M-S3"),
        hostname="agent3.example.com",
        resources=parse_resources("cpus:7.5;mem:14864;ports:[31000-31099,31101-32000]"),
        attributes=parse_attributes("rack:r12;ssd:1"),
        executor_ids=(ExecutorId("MinimalExecutor"),),
        agent_ip="10.0.0.13",
        role="eng",
    )


def test_offer_json_matches_the_offers_example() -> None:
    # mesos.md a.7 OFFERS example (without domain, reservations and unavailability, which Corral has not)
    offer = make_offer().to_json(multi_role=False)
    assert offer["id"] == {"value": "M-O17"}
    assert offer["framework_id"] == {"value": "M-0000"}
    assert offer["agent_id"] == {"value": "M-S3"}
    assert offer["hostname"] == "agent3.example.com"
    assert offer["url"] == {
        "scheme": "http",
        "address": {"hostname": "agent3.example.com", "ip": "10.0.0.13", "port": 5051},
        "path": "/slave(1)",
    }
    assert offer["resources"] == [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": 7.5}, "role": "*"},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": 14864.0}, "role": "*"},
        {
            "name": "ports",
            "type": "RANGES",
            "ranges": {"range": [{"begin": 31000, "end": 31099}, {"begin": 31101, "end": 32000}]},
            "role": "*",
        },
    ]
    assert offer["attributes"] == [
        {"name": "rack", "type": "TEXT", "text": {"value": "r12"}},
        {"name": "ssd", "type": "SCALAR", "scalar": {"value": 1.0}},
    ]
    assert offer["executor_ids"] == [{"value": "MinimalExecutor"}]
    assert "allocation_info" not in offer  # stripped for non-MULTI_ROLE frameworks (MESOS-8237)


def test_a_multi_role_offer_carries_its_role() -> None:
    offer = make_offer().to_json(multi_role=True)
    assert offer["allocation_info"] == {"role": "eng"}
    resources = offer["resources"]
    assert isinstance(resources, list)
    assert all(isinstance(r, dict) and r["allocation_info"] == {"role": "eng"} for r in resources)


@pytest.mark.parametrize(
    ("filters", "refuse_seconds"),
    [
        (None, 5.0),  # ACCEPT/DECLINE without filters still gets the default 5 s filter
        ({}, 5.0),
        ({"refuse_seconds": 120.0}, 120.0),
        ({"refuse_seconds": "0"}, 0.0),
        ({"refuse_seconds": -1}, 5.0),  # negative means the default
        ({"refuse_seconds": "NaN"}, 5.0),
        ({"refuse_seconds": 10**9}, 31536000.0),  # capped at 365 days
    ],
)
def test_filters(filters: JsonObject | None, refuse_seconds: float) -> None:
    # mesos.md a.9 "Filters"
    assert decode_filters(None if filters is None else Reader(filters)) == refuse_seconds

"""The v1 scheduler API as the master sees it: every call example of mesos.md a.6 decodes (bodies copied from
the doc), the call validation of mesos.md a.3 (upstream `validation::scheduler::call::validate`) rejects what
it must, and events are encoded in the nested shapes of mesos.md a.7 (not the flat ones of the upstream docs,
mesos.md a.8 errata 1-2).
"""

from __future__ import annotations

import pytest

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, FrameworkId, OfferId, TaskId
from corral.core.resources import Resources, parse_resources
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject, JsonValue, loads, loads_object
from corral.protocol.mesos import MasterInfo, Offer, Source, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Decline,
    Error,
    Failure,
    FrameworkMessage,
    Heartbeat,
    Ignored,
    Kill,
    Launch,
    LaunchGroup,
    Message,
    Offers,
    Reconcile,
    Request,
    Rescind,
    Revive,
    Shutdown,
    Subscribe,
    Subscribed,
    Suppress,
    Teardown,
    UnknownCall,
    UnsupportedOperation,
    Update,
    UpdateFramework,
    decode_call,
)
from corral.protocol.scheduler import encode_event as encode

M = FrameworkId("M-0000")
UUID = bytes.fromhex("755a920aa2944d0f832793717a42fb65")  # "dVqSCqKUTQ+DJ5NxekL7ZQ==" in mesos.md a.4

# ---------------------------------------------------------------- mesos.md a.6, verbatim

SUBSCRIBE = """
{"type":"SUBSCRIBE",
 "subscribe":{
   "framework_info":{
     "user":"alice","name":"my-fw","failover_timeout":604800,"checkpoint":true,
     "roles":["eng"],
     "capabilities":[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"},{"type":"TASK_KILLING_STATE"}],
     "hostname":"sched-host","webui_url":"http://sched-host:8080",
     "labels":{"labels":[{"key":"team","value":"infra"}]}},
   "suppressed_roles":[]}}
"""

ACCEPT_LAUNCH = """
{"framework_id":{"value":"M-0000"},"type":"ACCEPT",
 "accept":{
  "offer_ids":[{"value":"M-O17"}],
  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{
     "name":"web-1","task_id":{"value":"web-1"},"agent_id":{"value":"M-S3"},
     "resources":[
       {"name":"cpus","type":"SCALAR","scalar":{"value":0.5},"role":"*"},
       {"name":"mem","type":"SCALAR","scalar":{"value":128},"role":"*"},
       {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31000}]},"role":"*"}],
     "command":{"shell":true,"value":"python3 -m http.server $PORT0",
                "environment":{"variables":[{"name":"PORT0","value":"31000"}]},
                "uris":[{"value":"https://example.com/site.tgz","extract":true,"executable":false}]},
     "kill_policy":{"grace_period":{"nanoseconds":10000000000}},
     "health_check":{"type":"HTTP","http":{"port":31000,"path":"/"},
                     "delay_seconds":15,"interval_seconds":10,"timeout_seconds":20,
                     "consecutive_failures":3,"grace_period_seconds":10},
     "labels":{"labels":[{"key":"app","value":"web"}]}}]}}],
  "filters":{"refuse_seconds":5.0}}}
"""

# The doc gives only the operation; it is wrapped here in the ACCEPT it belongs to.
LAUNCH_CUSTOM_EXECUTOR = """
{"type":"LAUNCH","launch":{"task_infos":[{
  "name":"t1","task_id":{"value":"t1"},"agent_id":{"value":"M-S3"},
  "executor":{"executor_id":{"value":"MinimalExecutor"},"name":"MinimalExecutor",
              "command":{"value":"/usr/bin/python3 /opt/fw/executor.py"},
              "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},
                           {"name":"mem","type":"SCALAR","scalar":{"value":32}}]},
  "data":"SGVsbG8gZnJvbSB0YXNrIHQxIQ==",
  "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},
               {"name":"mem","type":"SCALAR","scalar":{"value":32}}]}]}}
"""

ACCEPT_LAUNCH_GROUP = """
{"framework_id":{"value":"M-0000"},"type":"ACCEPT",
 "accept":{"offer_ids":[{"value":"M-O12"}],
  "operations":[{"type":"LAUNCH_GROUP","launch_group":{
    "executor":{"type":"DEFAULT","executor_id":{"value":"pod-1-exec"},"framework_id":{"value":"M-0000"},
                "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}},
                             {"name":"mem","type":"SCALAR","scalar":{"value":32}},
                             {"name":"disk","type":"SCALAR","scalar":{"value":32}}]},
    "task_group":{"tasks":[
      {"name":"main","task_id":{"value":"pod-1.main"},"agent_id":{"value":"M-S3"},
       "resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},
                    {"name":"mem","type":"SCALAR","scalar":{"value":512}},
                    {"name":"disk","type":"SCALAR","scalar":{"value":1024}}],
       "limits":{"cpus":"Infinity","mem":4096},
       "command":{"value":"./my-artifact/run.sh","uris":[{"value":"https://my-server/my-artifact.tar.gz"}]},
       "container":{"type":"MESOS","linux_info":{"share_cgroups":false}}}]}}}],
  "filters":{"refuse_seconds":5.0}}}
"""

DECLINE = """{"framework_id":{"value":"M-0000"},"type":"DECLINE","decline":{"offer_ids":[{"value":"M-O12"},{"value":"M-O13"}],"filters":{"refuse_seconds":120.0}}}"""  # noqa: E501
REVIVE_ROLES = """{"framework_id":{"value":"M-0000"},"type":"REVIVE","revive":{"roles":["eng"]}}"""
REVIVE = """{"framework_id":{"value":"M-0000"},"type":"REVIVE"}"""
SUPPRESS = """{"framework_id":{"value":"M-0000"},"type":"SUPPRESS","suppress":{"roles":["eng"]}}"""
KILL = """{"framework_id":{"value":"M-0000"},"type":"KILL","kill":{"task_id":{"value":"web-1"},"agent_id":{"value":"M-S3"},"kill_policy":{"grace_period":{"nanoseconds":30000000000}}}}"""  # noqa: E501
SHUTDOWN = """{"framework_id":{"value":"M-0000"},"type":"SHUTDOWN","shutdown":{"executor_id":{"value":"MinimalExecutor"},"agent_id":{"value":"M-S3"}}}"""  # noqa: E501
ACKNOWLEDGE = """{"framework_id":{"value":"M-0000"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"M-S3"},"task_id":{"value":"web-1"},"uuid":"dVqSCqKUTQ+DJ5NxekL7ZQ=="}}"""  # noqa: E501
RECONCILE = """{"framework_id":{"value":"M-0000"},"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"web-1"},"agent_id":{"value":"M-S3"}}]}}"""  # noqa: E501
RECONCILE_ALL = """{"framework_id":{"value":"M-0000"},"type":"RECONCILE","reconcile":{"tasks":[]}}"""
MESSAGE = """{"framework_id":{"value":"M-0000"},"type":"MESSAGE","message":{"agent_id":{"value":"M-S3"},"executor_id":{"value":"MinimalExecutor"},"data":"aGVsbG8="}}"""  # noqa: E501
REQUEST = """{"framework_id":{"value":"M-0000"},"type":"REQUEST","request":{"requests":[{"agent_id":{"value":"M-S3"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]}]}}"""  # noqa: E501
TEARDOWN = """{"framework_id":{"value":"M-0000"},"type":"TEARDOWN"}"""
UPDATE_FRAMEWORK = """{"type":"UPDATE_FRAMEWORK","update_framework":{"framework_info":{"id":{"value":"M-0000"},"user":"alice","name":"my-fw","roles":["eng","ops"],"capabilities":[{"type":"MULTI_ROLE"}]},"suppressed_roles":["ops"]}}"""  # noqa: E501


def call(text: str, **top: JsonValue) -> JsonObject:
    return {**loads_object(text), **top}


def at(value: JsonValue, *path: str | int) -> JsonObject:
    """The object at `path` inside a decoded call, for editing a doc example into a bad one."""
    for key in path:
        if isinstance(key, int):
            assert isinstance(value, list)
            value = value[key]
        else:
            assert isinstance(value, dict)
            value = value[key]
    assert isinstance(value, dict)
    return value


# ---------------------------------------------------------------- decoding the doc's calls


def test_subscribe_a_new_framework() -> None:
    framework_id, subscribe = decode_call(call(SUBSCRIBE))
    assert framework_id is None
    assert isinstance(subscribe, Subscribe)
    assert subscribe.suppressed_roles == ()
    info = subscribe.framework_info
    assert (info.user, info.name, info.failover_timeout, info.checkpoint) == (
        "alice",
        "my-fw",
        604800.0,
        True,
    )
    assert info.roles == ("eng",)
    assert info.is_multi_role and info.is_partition_aware and info.has_task_killing_state


def test_resubscribe_sets_the_id_in_both_places() -> None:
    # mesos.md a.6: "the same body plus framework_id at the top level and framework_info.id"
    body = call(SUBSCRIBE, framework_id={"value": "M-0000"})
    at(body, "subscribe", "framework_info")["id"] = {"value": "M-0000"}
    framework_id, subscribe = decode_call(body)
    assert framework_id == M
    assert isinstance(subscribe, Subscribe)
    assert subscribe.framework_info.id == M


def test_accept_with_a_command_task() -> None:
    framework_id, accept = decode_call(call(ACCEPT_LAUNCH))
    assert framework_id == M
    assert isinstance(accept, Accept)
    assert accept.offer_ids == (OfferId("M-O17"),)
    assert accept.refuse_seconds == 5.0
    [launch] = accept.operations
    assert isinstance(launch, Launch)
    [task] = launch.tasks
    assert (task.task_id, task.agent_id, task.kill_grace_period) == ("web-1", "M-S3", 10.0)
    assert task.resources == Resources.of(cpus=0.5, mem=128, ranges={"ports": [(31000, 31000)]})
    assert task.command is not None
    assert task.command.environment == (("PORT0", "31000"),)


def test_accept_with_a_custom_executor() -> None:
    body: JsonObject = {"framework_id": {"value": "M-0000"}, "type": "ACCEPT"}
    body["accept"] = {"offer_ids": [{"value": "M-O17"}], "operations": [loads(LAUNCH_CUSTOM_EXECUTOR)]}
    _, accept = decode_call(body)
    assert isinstance(accept, Accept)
    assert accept.refuse_seconds == 5.0  # no filters: the default 5 s filter still applies (mesos.md a.9)
    [launch] = accept.operations
    assert isinstance(launch, Launch)
    [task] = launch.tasks
    assert task.executor is not None
    assert task.executor.executor_id == "MinimalExecutor"
    assert task.data == b"Hello from task t1!"


def test_accept_with_a_task_group() -> None:
    _, accept = decode_call(call(ACCEPT_LAUNCH_GROUP))
    assert isinstance(accept, Accept)
    [group] = accept.operations
    assert isinstance(group, LaunchGroup)
    assert (group.executor.type, group.executor.framework_id) == ("DEFAULT", "M-0000")
    assert group.executor.resources == Resources.of(cpus=0.1, mem=32, disk=32)
    [main] = group.tasks
    assert main.task_id == "pod-1.main"
    assert main.resources == Resources.of(cpus=1, mem=512, disk=1024)
    assert main.raw["limits"] == {"cpus": "Infinity", "mem": 4096}  # relayed as sent


def test_other_offer_operations_are_carried_for_an_operation_error() -> None:
    ops: JsonValue = [{"type": "DESTROY", "id": {"value": "op-1"}, "destroy": {}}, {"type": "CREATE"}]
    _, accept = decode_call(call(ACCEPT_LAUNCH, accept={"offer_ids": [], "operations": ops}))
    assert isinstance(accept, Accept)
    assert accept.operations == (
        UnsupportedOperation(type="DESTROY", operation_id="op-1"),
        UnsupportedOperation(type="CREATE", operation_id=None),
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (DECLINE, Decline(offer_ids=(OfferId("M-O12"), OfferId("M-O13")), refuse_seconds=120.0)),
        (REVIVE_ROLES, Revive(roles=("eng",))),
        (REVIVE, Revive(roles=())),
        (SUPPRESS, Suppress(roles=("eng",))),
        (KILL, Kill(task_id=TaskId("web-1"), agent_id=AgentId("M-S3"), grace_period=30.0)),
        (SHUTDOWN, Shutdown(executor_id=ExecutorId("MinimalExecutor"), agent_id=AgentId("M-S3"))),
        (ACKNOWLEDGE, Acknowledge(agent_id=AgentId("M-S3"), task_id=TaskId("web-1"), uuid=UUID)),
        (RECONCILE, Reconcile(tasks=((TaskId("web-1"), AgentId("M-S3")),))),
        (RECONCILE_ALL, Reconcile(tasks=())),
        (
            MESSAGE,
            Message(agent_id=AgentId("M-S3"), executor_id=ExecutorId("MinimalExecutor"), data=b"hello"),
        ),
        (TEARDOWN, Teardown()),
    ],
)
def test_the_remaining_calls(text: str, expected: object) -> None:
    assert decode_call(call(text)) == (M, expected)


def test_request_is_nested_under_request() -> None:
    # mesos.md a.8 erratum 3: `"request":{"requests":[...]}`, which is also what pymesos sends
    _, request = decode_call(call(REQUEST))
    assert isinstance(request, Request)
    assert request.requests == (
        {
            "agent_id": {"value": "M-S3"},
            "resources": [{"name": "cpus", "type": "SCALAR", "scalar": {"value": 2}}],
        },
    )


def test_update_framework() -> None:
    # The doc's example omits the top-level framework_id, which upstream requires of every call but SUBSCRIBE
    # and checks against `update_framework.framework_info.id`.
    framework_id, update = decode_call(call(UPDATE_FRAMEWORK, framework_id={"value": "M-0000"}))
    assert framework_id == M
    assert isinstance(update, UpdateFramework)
    assert update.framework_info.id == M
    assert update.framework_info.roles == ("eng", "ops")
    assert update.suppressed_roles == ("ops",)


def test_kill_without_agent_or_policy() -> None:
    assert decode_call(call(KILL, kill={"task_id": {"value": "web-1"}})) == (M, Kill(task_id=TaskId("web-1")))


@pytest.mark.parametrize("kind", ["ACCEPT_INVERSE_OFFERS", "DECLINE_INVERSE_OFFERS", "RECONCILE_OPERATIONS"])
def test_calls_without_work_for_corral_are_ignored(kind: str) -> None:
    body: JsonObject = {"framework_id": {"value": "M-0000"}, "type": kind, kind.lower(): {}}
    assert decode_call(body) == (M, Ignored(type=kind))


def test_acknowledge_operation_status_is_ignored_once_valid() -> None:
    body: JsonObject = {
        "framework_id": {"value": "M-0000"},
        "type": "ACKNOWLEDGE_OPERATION_STATUS",
        "acknowledge_operation_status": {
            "agent_id": {"value": "M-S3"},
            "uuid": "dVqSCqKUTQ+DJ5NxekL7ZQ==",
            "operation_id": {"value": "op-1"},
        },
    }
    assert decode_call(body) == (M, Ignored(type="ACKNOWLEDGE_OPERATION_STATUS"))


# ---------------------------------------------------------------- validation failures (mesos.md a.3)


def rejected(body: JsonValue) -> DecodeError:
    with pytest.raises(DecodeError) as e:
        decode_call(body)
    return e.value


@pytest.mark.parametrize(
    "text", [ACCEPT_LAUNCH, DECLINE, REVIVE, KILL, ACKNOWLEDGE, TEARDOWN, UPDATE_FRAMEWORK]
)
def test_every_call_but_subscribe_needs_a_framework_id(text: str) -> None:
    body = call(text)
    body.pop("framework_id", None)
    error = rejected(body)
    assert (error.path, error.problem) == ("framework_id", "is required for every call but SUBSCRIBE")


@pytest.mark.parametrize(
    ("kind", "body_key"),
    [
        ("ACCEPT", "accept"),
        ("DECLINE", "decline"),
        ("ACCEPT_INVERSE_OFFERS", "accept_inverse_offers"),
        ("DECLINE_INVERSE_OFFERS", "decline_inverse_offers"),
        ("KILL", "kill"),
        ("SHUTDOWN", "shutdown"),
        ("ACKNOWLEDGE", "acknowledge"),
        ("ACKNOWLEDGE_OPERATION_STATUS", "acknowledge_operation_status"),
        ("RECONCILE", "reconcile"),
        ("RECONCILE_OPERATIONS", "reconcile_operations"),
        ("MESSAGE", "message"),
        ("REQUEST", "request"),
        ("UPDATE_FRAMEWORK", "update_framework"),
    ],
)
def test_a_call_type_without_its_body_is_rejected(kind: str, body_key: str) -> None:
    error = rejected({"framework_id": {"value": "M-0000"}, "type": kind, body_key: None})
    assert (error.path, error.problem) == (body_key, f"is required for {kind}")


@pytest.mark.parametrize(
    ("kind", "expected"), [("TEARDOWN", Teardown()), ("REVIVE", Revive()), ("SUPPRESS", Suppress())]
)
def test_teardown_revive_and_suppress_need_no_body(kind: str, expected: object) -> None:
    assert decode_call({"framework_id": {"value": "M-0000"}, "type": kind}) == (M, expected)


def test_subscribe_needs_its_body() -> None:
    assert rejected({"type": "SUBSCRIBE"}).path == "subscribe"


@pytest.mark.parametrize("uuid", ["aGVsbG8=", "", "dVqSCqKUTQ+DJ5NxekL7ZQdVqSCqKUTQ+DJ5NxekL7ZQ=="])
def test_acknowledge_needs_a_16_byte_uuid(uuid: str) -> None:
    error = rejected(
        call(ACKNOWLEDGE, acknowledge={"agent_id": {"value": "a"}, "task_id": {"value": "t"}, "uuid": uuid})
    )
    assert (error.path, error.problem) == ("acknowledge.uuid", "must be a base64-encoded 16-byte UUID")


def test_acknowledge_needs_a_uuid_at_all() -> None:
    error = rejected(call(ACKNOWLEDGE, acknowledge={"agent_id": {"value": "a"}, "task_id": {"value": "t"}}))
    assert error.path == "acknowledge.uuid"


def test_acknowledge_operation_status_needs_an_agent_id() -> None:
    body: JsonObject = {"framework_id": {"value": "M-0000"}, "type": "ACKNOWLEDGE_OPERATION_STATUS"}
    body["acknowledge_operation_status"] = {
        "uuid": "dVqSCqKUTQ+DJ5NxekL7ZQ==",
        "operation_id": {"value": "op"},
    }
    error = rejected(body)
    assert (error.path, error.problem) == ("acknowledge_operation_status.agent_id", "is required")


def test_subscribe_ids_must_agree() -> None:
    only_top = call(SUBSCRIBE, framework_id={"value": "M-0000"})
    error = rejected(only_top)
    assert (error.path, error.problem) == (
        "framework_id",
        "'framework_id' differs from 'subscribe.framework_info.id'",
    )
    only_info = call(SUBSCRIBE)
    at(only_info, "subscribe", "framework_info")["id"] = {"value": "M-0000"}
    assert rejected(only_info).problem == "'framework_id' differs from 'subscribe.framework_info.id'"


def test_update_framework_ids_must_agree() -> None:
    error = rejected(call(UPDATE_FRAMEWORK, framework_id={"value": "M-0001"}))
    assert error.problem == "'framework_id' differs from 'update_framework.framework_info.id'"


@pytest.mark.parametrize("kind", ["UNKNOWN", "LAUNCH", "subscribe"])
def test_unknown_call_types(kind: str) -> None:
    # UNKNOWN is answered 501, other unknown names 400; both surface as UnknownCall
    with pytest.raises(UnknownCall) as e:
        decode_call({"framework_id": {"value": "M-0000"}, "type": kind})
    assert e.value.path == "type"
    assert e.value.problem == f"unknown call type {kind!r}"


def test_malformed_calls_name_the_bad_field() -> None:
    assert rejected(["not", "an", "object"]).problem == "expected an object, got an array"
    assert rejected({"subscribe": {}}).path == "type"
    launch = call(ACCEPT_LAUNCH)
    task = at(launch, "accept", "operations", 0, "launch", "task_infos", 0)
    at(task, "resources", 1, "scalar")["value"] = "lots"
    error = rejected(launch)
    assert error.path == "accept.operations[0].launch.task_infos[0].resources[1].scalar.value"
    assert error.problem == "expected a number, got a string"


# ---------------------------------------------------------------- events (mesos.md a.7)

MASTER = MasterInfo(id="8a7c", ip="10.0.0.5", port=5050, hostname="master1.example.com")


def test_subscribed() -> None:
    event = encode(Subscribed(framework_id=M, master_info=MASTER))
    assert event == {
        "type": "SUBSCRIBED",
        "subscribed": {
            "framework_id": {"value": "M-0000"},
            "heartbeat_interval_seconds": 15.0,
            "master_info": MASTER.to_json(),
        },
    }


def make_offer() -> Offer:
    return Offer(
        id=OfferId("M-O17"),
        framework_id=M,
        agent_id=AgentId("M-S3"),
        hostname="agent3.example.com",
        resources=parse_resources("cpus:7.5"),
        role="eng",
    )


def test_offers_are_nested_twice() -> None:
    # mesos.md a.8 erratum 1: the flat `"offers":[...]` of the upstream docs crashes pymesos
    offer = make_offer()
    event = encode(Offers(offers=(offer, offer)))
    assert event == {"type": "OFFERS", "offers": {"offers": [offer.to_json(multi_role=False)] * 2}}
    multi = encode(Offers(offers=(offer,)), multi_role=True)
    assert multi == {"type": "OFFERS", "offers": {"offers": [offer.to_json(multi_role=True)]}}


def test_rescind() -> None:
    assert encode(Rescind(offer_id=OfferId("M-O17"))) == {
        "type": "RESCIND",
        "rescind": {"offer_id": {"value": "M-O17"}},
    }


def test_an_update_from_an_executor_carries_agent_id_and_uuid() -> None:
    # pymesos acknowledges only updates that carry both (mesos.md key fact 8)
    status = TaskStatus(
        task_id=TaskId("web-1"),
        state=TaskState.TASK_RUNNING,
        source=Source.SOURCE_EXECUTOR,
        agent_id=AgentId("M-S3"),
        executor_id=ExecutorId("web-1"),
        timestamp=1700000123.456,
        uuid=UUID,
        healthy=True,
    )
    assert encode(Update(status=status)) == {
        "type": "UPDATE",
        "update": {
            "status": {
                "task_id": {"value": "web-1"},
                "state": "TASK_RUNNING",
                "source": "SOURCE_EXECUTOR",
                "agent_id": {"value": "M-S3"},
                "executor_id": {"value": "web-1"},
                "timestamp": 1700000123.456,
                "uuid": "dVqSCqKUTQ+DJ5NxekL7ZQ==",
                "healthy": True,
            }
        },
    }


def test_a_reconciliation_update_has_no_uuid() -> None:
    status = TaskStatus(
        task_id=TaskId("x"),
        state=TaskState.TASK_LOST,
        source=Source.SOURCE_MASTER,
        reason="REASON_RECONCILIATION",
        message="Reconciliation: Task is unknown",
        timestamp=1700000200.0,
    )
    assert encode(Update(status=status)) == loads(
        """{"type":"UPDATE","update":{"status":{"task_id":{"value":"x"},"state":"TASK_LOST","source":"SOURCE_MASTER","reason":"REASON_RECONCILIATION","message":"Reconciliation: Task is unknown","timestamp":1700000200.0}}}"""  # noqa: E501
    )


def test_message_failure_error_and_heartbeat() -> None:
    message = FrameworkMessage(
        agent_id=AgentId("M-S3"), executor_id=ExecutorId("MinimalExecutor"), data=b"hi-from-executor"
    )
    assert encode(message) == loads(
        """{"type":"MESSAGE","message":{"agent_id":{"value":"M-S3"},"executor_id":{"value":"MinimalExecutor"},"data":"aGktZnJvbS1leGVjdXRvcg=="}}"""
    )
    failure = Failure(agent_id=AgentId("M-S3"), executor_id=ExecutorId("MinimalExecutor"), status=9)
    assert encode(failure) == loads(
        """{"type":"FAILURE","failure":{"agent_id":{"value":"M-S3"},"executor_id":{"value":"MinimalExecutor"},"status":9}}"""
    )
    assert encode(Failure(agent_id=AgentId("M-S3"))) == {
        "type": "FAILURE",
        "failure": {"agent_id": {"value": "M-S3"}},
    }
    # mesos.md a.8 erratum 2: nested under `error`, or pymesos ignores it
    assert encode(Error(message="Framework has been removed")) == {
        "type": "ERROR",
        "error": {"message": "Framework has been removed"},
    }
    assert encode(Heartbeat()) == {"type": "HEARTBEAT"}

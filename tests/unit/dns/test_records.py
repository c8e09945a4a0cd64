"""records.py: Mesos-DNS's names from `/master/state` (mesos-dns docs/naming.md, records/generator.go)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from corral.core.errors import DecodeError
from corral.dns.records import (
    RecordTable,
    Srv,
    agent_tail,
    build_table,
    domain_fragment,
    hosts_to_resolve,
    label,
    parse_state,
    task_hash,
)
from corral.protocol.json import JsonObject, JsonValue

LEADER = "master@10.0.0.5:5050"


def make_task(
    task_id: str,
    name: str,
    *,
    agent: str = "M-S0",
    state: str = "TASK_RUNNING",
    ports: str | None = None,
    discovery: JsonObject | None = None,
    statuses: Sequence[JsonValue] | None = None,
) -> JsonObject:
    task: JsonObject = {
        "id": task_id,
        "name": name,
        "framework_id": "F-1",
        "slave_id": agent,
        "state": state,
        "resources": {"cpus": 0.1, "mem": 16.0, **({"ports": ports} if ports else {})},
        "statuses": list(statuses) if statuses is not None else [{"state": state, "timestamp": 1.0}],
    }
    if discovery is not None:
        task["discovery"] = discovery
    return task


def make_state(
    tasks: Sequence[JsonValue],
    *,
    framework: str = "marathon",
    framework_hostname: str = "10.0.0.5",
    framework_pid: str | None = None,
    agents: tuple[tuple[str, str], ...] = (("M-S0", "10.0.0.10"),),
    leader: str | None = LEADER,
) -> JsonObject:
    state: JsonObject = {
        "slaves": [
            {"id": agent_id, "hostname": f"agent-{agent_id}", "port": 5051, "pid": f"slave(1)@{ip}:5051"}
            for agent_id, ip in agents
        ],
        "frameworks": [
            {
                "id": "F-1",
                "name": framework,
                "hostname": framework_hostname,
                "tasks": list(tasks),
                **({"pid": framework_pid} if framework_pid else {}),
            }
        ],
    }
    if leader is not None:
        state["leader"] = leader
    return state


def table_of(state: JsonObject, **kwargs: object) -> RecordTable:
    return build_table(parse_state(state), domain="mesos", serial=7, **kwargs)  # type: ignore[arg-type]


def canonical(task_id: str, name: str, agent: str = "M-S0") -> str:
    return f"{name}-{task_hash(task_id)}-{agent_tail(agent)}"


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("web", "web"),
        ("apiserver.myservice", "apiserver-myservice"),  # naming.md's own example
        ("My_App", "my-app"),
        ("-lead-and-trail-", "lead-and-trail"),
        ("sp ace&sym$bols", "spacesymbols"),
        ("ünïcode", "ncode"),
        ("...", ""),
        ("a" * 70, "a" * 63),
        ("a" * 62 + "-b", "a" * 62),  # cut at 63 leaves a trailing '-': trimmed
    ],
)
def test_a_task_name_becomes_one_rfc1123_label(name: str, expected: str) -> None:
    assert label(name) == expected


def test_a_framework_name_keeps_its_dots_and_drops_empty_parts() -> None:
    assert domain_fragment("marathon.prod") == "marathon.prod"
    assert domain_fragment("Chronos With A Space.") == "chronoswithaspace"
    assert domain_fragment("a..b") == "a.b"


def test_the_task_hash_is_mesos_dns_z_base_32() -> None:
    # mesos-dns records/generator_test.go: hashString("test") == "iffe9"
    assert task_hash("test") == "iffe9"
    assert agent_tail("20150101-0000-1111-S12") == "s12"


# ---------------------------------------------------------------- task records


def test_a_running_task_gets_a_records_on_its_agent_ip() -> None:
    table = table_of(make_state([make_task("web.1", "web")]))
    assert table.a["web.marathon.mesos"] == ("10.0.0.10",)
    assert table.a["web.marathon.slave.mesos"] == ("10.0.0.10",)
    assert table.a[f"{canonical('web.1', 'web')}.marathon.mesos"] == ("10.0.0.10",)


def test_only_task_running_counts() -> None:
    tasks = [make_task(f"t{i}", f"app{i}", state=s) for i, s in enumerate(["TASK_STAGING", "TASK_KILLED"])]
    table = table_of(make_state([*tasks, make_task("t9", "live")]))
    assert "app0.marathon.mesos" not in table.a
    assert "app1.marathon.mesos" not in table.a
    assert not table.exists("app0.marathon.mesos")
    assert table.a["live.marathon.mesos"] == ("10.0.0.10",)


def test_a_task_on_an_unknown_agent_is_skipped() -> None:
    table = table_of(make_state([make_task("t1", "ghost", agent="M-S9")]))
    assert "ghost.marathon.mesos" not in table.a


def test_tasks_sharing_a_name_share_its_a_records_and_keep_canonical_names_apart() -> None:
    agents = (("M-S0", "10.0.0.10"), ("M-S1", "10.0.0.11"))
    tasks = [make_task("web.1", "web"), make_task("web.2", "web", agent="M-S1"), make_task("web.3", "web")]
    table = table_of(make_state(tasks, agents=agents))
    assert table.a["web.marathon.mesos"] == ("10.0.0.10", "10.0.0.11")  # one record per address
    names = {canonical("web.1", "web"), canonical("web.2", "web", "M-S1"), canonical("web.3", "web")}
    assert len(names) == 3
    assert all(f"{n}.marathon.mesos" in table.a for n in names)


def test_a_container_ip_wins_over_the_agent_ip_for_the_plain_name() -> None:
    status: JsonObject = {
        "state": "TASK_RUNNING",
        "timestamp": 2.0,
        "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "172.17.0.3"}]}]},
    }
    old: JsonObject = {
        "state": "TASK_RUNNING",
        "timestamp": 1.0,
        "container_status": {"network_infos": [{"ip_addresses": [{"ip_address": "172.17.0.2"}]}]},
    }
    table = table_of(make_state([make_task("c.1", "c", statuses=[status, old])]))
    assert table.a["c.marathon.mesos"] == ("172.17.0.3",)  # the newest TASK_RUNNING status
    assert table.a["c.marathon.slave.mesos"] == ("10.0.0.10",)


def test_the_mesos_containerizer_label_is_the_second_ip_source() -> None:
    status: JsonObject = {
        "state": "TASK_RUNNING",
        "timestamp": 1.0,
        "labels": [{"key": "MesosContainerizer.NetworkSettings.IPAddress", "value": "10.9.0.1"}],
    }
    table = table_of(make_state([make_task("c.1", "c", statuses=[status])]))
    assert table.a["c.marathon.mesos"] == ("10.9.0.1",)


def test_ipv6_addresses_become_aaaa_records() -> None:
    table = table_of(make_state([make_task("t", "toy")], agents=(("M-S0", "2001:db8::1"),)))
    assert table.aaaa["toy.marathon.mesos"] == ("2001:db8::1",)
    assert "toy.marathon.mesos" not in table.a


def test_a_framework_name_is_sanitised_in_every_name() -> None:
    table = table_of(make_state([make_task("t", "Some_Box")], framework="Chronos With Mixed.Case"))
    assert table.a["some-box.chronoswithmixed.case.mesos"] == ("10.0.0.10",)


# ---------------------------------------------------------------- SRV


def test_host_ports_give_tcp_and_udp_srv_records_without_discovery_info() -> None:
    table = table_of(make_state([make_task("car.1", "car", ports="[31364-31365]")]))
    target = f"{canonical('car.1', 'car')}.marathon.slave.mesos"
    expected = (Srv(target, 31364), Srv(target, 31365))
    for name in ("_car._tcp.marathon.mesos", "_car._udp.marathon.mesos", "_car._tcp.marathon.slave.mesos"):
        assert table.srv[name] == expected


def test_discovery_info_names_the_task_and_gives_the_srv_ports() -> None:
    discovery: JsonObject = {
        "visibility": "FRAMEWORK",
        "name": "store.prod",
        "ports": {
            "ports": [
                {"number": 80, "protocol": "tcp", "name": "http"},
                {"number": 443, "protocol": "tcp", "name": "https"},
            ]
        },
    }
    table = table_of(make_state([make_task("s.1", "ignored", ports="[31000-31001]", discovery=discovery)]))
    target = f"{canonical('s.1', 'store-prod')}.marathon.mesos"
    assert table.srv["_store-prod._tcp.marathon.mesos"] == (Srv(target, 80), Srv(target, 443))
    assert table.srv["_http._store-prod._tcp.marathon.mesos"] == (Srv(target, 80),)
    assert "_store-prod._udp.marathon.mesos" not in table.srv  # only the protocols declared
    slave_target = f"{canonical('s.1', 'store-prod')}.marathon.slave.mesos"
    assert table.srv["_store-prod._udp.marathon.slave.mesos"] == (
        Srv(slave_target, 31000),
        Srv(slave_target, 31001),
    )
    assert "ignored.marathon.mesos" not in table.a


def test_a_discovery_port_without_a_protocol_is_both() -> None:
    discovery: JsonObject = {"name": "d", "ports": {"ports": [{"number": 9000}]}}
    table = table_of(make_state([make_task("d.1", "d", discovery=discovery)]))
    assert "_d._tcp.marathon.mesos" in table.srv
    assert "_d._udp.marathon.mesos" in table.srv


# ---------------------------------------------------------------- cluster records


def test_leader_master_and_agents() -> None:
    table = table_of(make_state([], agents=(("M-S0", "10.0.0.10"), ("M-S1", "10.0.0.11"))))
    for name in ("leader.mesos", "master.mesos", "master0.mesos"):
        assert table.a[name] == ("10.0.0.5",)
    assert table.srv["_leader._tcp.mesos"] == (Srv("leader.mesos", 5050),)
    assert table.srv["_leader._udp.mesos"] == (Srv("leader.mesos", 5050),)
    assert table.a["slave.mesos"] == ("10.0.0.10", "10.0.0.11")
    assert table.srv["_slave._tcp.mesos"] == (Srv("slave.mesos", 5051),)


def test_no_leader_no_leader_records() -> None:
    table = table_of(make_state([], leader=None))
    assert "leader.mesos" not in table.a


def test_framework_records_and_a_listener_record() -> None:
    state = make_state([], framework_pid="scheduler(1)@10.0.0.7:25501")
    table = table_of(state, listen_ips=("127.0.0.1",))
    assert table.a["marathon.mesos"] == ("10.0.0.7",)
    assert table.srv["_framework._tcp.marathon.mesos"] == (Srv("marathon.mesos", 25501),)
    assert table.a["ns1.mesos"] == ("127.0.0.1",)
    assert "ns1.mesos" not in table_of(state, listen_ips=("0.0.0.0",)).a


def test_host_names_are_resolved_by_the_caller() -> None:
    state = make_state(
        [make_task("t", "web")], framework_hostname="sched.example", agents=(("M-S0", "10.0.0.10"),)
    )
    view = parse_state(state)
    assert hosts_to_resolve(view) == {"sched.example"}
    unresolved = build_table(view, domain="mesos", serial=1)
    assert "marathon.mesos" not in unresolved.a
    resolved = build_table(view, domain="mesos", serial=1, resolved={"sched.example": ("10.0.0.8",)})
    assert resolved.a["marathon.mesos"] == ("10.0.0.8",)


def test_names_include_empty_non_terminals_and_the_domain() -> None:
    table = table_of(make_state([make_task("car.1", "car", ports="[31000-31000]")]))
    assert table.exists("mesos")
    assert table.exists("_tcp.marathon.mesos")
    assert table.exists("slave.mesos")
    assert not table.exists("nope.marathon.mesos")


def test_another_domain() -> None:
    table = build_table(parse_state(make_state([make_task("t", "web")])), domain="Corp.Example.", serial=1)
    assert table.domain == "corp.example"
    assert table.a["web.marathon.corp.example"] == ("10.0.0.10",)


def test_a_malformed_state_names_the_field() -> None:
    with pytest.raises(DecodeError, match=r"frameworks\[0\].tasks\[0\].slave_id"):
        parse_state({"frameworks": [{"name": "m", "tasks": [{"id": "t", "state": "TASK_RUNNING"}]}]})
    with pytest.raises(DecodeError, match="ports"):
        parse_state(make_state([make_task("t", "web", ports="[9-1]")]))

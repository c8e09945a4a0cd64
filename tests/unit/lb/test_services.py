"""Apps -> services (marathon.md e.2, e.3): groups, healthy servers only, binds, clashes, a stable order."""

from __future__ import annotations

import itertools
import zlib

from corral.lb.labels import Mode
from corral.lb.model import decode_apps
from corral.lb.services import (
    MAX_SERVER_ID,
    Options,
    Plan,
    hosts_to_resolve,
    listeners,
    plan_services,
    server_name,
)
from corral.protocol.json import JsonObject

from .apps import app, decode, http_check, task

OPTIONS = Options(bind_address="127.0.0.1")


def names(plan: Plan) -> list[str]:
    return [s.name for s in plan.services]


def test_one_service_per_service_port_named_after_the_app_and_port() -> None:
    apps = decode(app("/shop/web", ports=(10000, 10001), tasks=[task("t1", ports=(31000, 31001))]))
    plan = plan_services(apps, OPTIONS, {})
    assert names(plan) == ["shop_web_10000", "shop_web_10001"]
    web = plan.services[0]
    assert (web.bind_address, web.bind_port, web.settings.mode) == ("127.0.0.1", 10000, Mode.TCP)
    assert [(s.address, s.port) for s in web.servers] == [("127.0.0.1", 31000)]
    assert [(s.address, s.port) for s in plan.services[1].servers] == [("127.0.0.1", 31001)]


def test_only_apps_of_the_load_balancers_groups_are_served() -> None:
    apps = decode(
        app("/ext", ports=(10000,)),
        app("/int", ports=(10001,), labels={"HAPROXY_GROUP": "internal"}),
        app(
            "/both", ports=(10002, 10003), labels={"HAPROXY_GROUP": "internal", "HAPROXY_1_GROUP": "external"}
        ),
        app("/unlabelled", ports=(10004,), labels={}),
    )
    assert names(plan_services(apps, OPTIONS, {})) == ["both_10003", "ext_10000"]
    internal = Options(groups=frozenset({"internal"}))
    assert names(plan_services(apps, internal, {})) == ["both_10002", "int_10001"]
    everything = Options(groups=frozenset({"*"}))
    assert len(plan_services(apps, everything, {}).services) == 5


def test_servers_are_the_healthy_tasks_only() -> None:
    tasks = [
        task("web.healthy", ports=(31000,), alive=(True,)),
        task("web.failing", ports=(31001,), alive=(False,)),
        task("web.unchecked", ports=(31002,)),
        task("web.staging", ports=(31003,), state="TASK_STAGING", alive=(True,)),
    ]
    apps = decode(app("/web", tasks=tasks, checks=[http_check()]))
    [web] = plan_services(apps, OPTIONS, {}).services
    assert [s.port for s in web.servers] == [31000]
    assert web.settings.mode is Mode.HTTP  # an HTTP health check makes the port HTTP


def test_host_names_are_resolved_through_the_given_addresses() -> None:
    tasks = [task("a", host="agent-1", ports=(31000,)), task("b", host="gone", ports=(31001,))]
    apps = decode(app("/web", tasks=tasks))
    assert hosts_to_resolve(apps) == {"agent-1", "gone"}
    plan = plan_services(apps, OPTIONS, {"agent-1": "10.0.0.7"})
    assert [(s.name, s.address, s.port) for s in plan.services[0].servers] == [
        ("10_0_0_7_31000", "10.0.0.7", 31000)
    ]
    assert plan.problems == ("task b: host 'gone' does not resolve",)


def test_ip_per_task_apps_use_the_task_ip_and_the_container_port() -> None:
    mapping: JsonObject = {"containerPort": 8080, "servicePort": 10050}
    doc: JsonObject = {
        "id": "/c",
        "labels": {"HAPROXY_GROUP": "external"},
        "networks": [{"mode": "container", "name": "overlay"}],
        "container": {"portMappings": [mapping]},
        "tasks": [task("c.1", host="agent-1", ports=(), ip="9.0.0.3")],
    }
    plan = plan_services(decode_apps({"apps": [doc]}).apps, OPTIONS, {})
    assert [(s.address, s.port) for s in plan.services[0].servers] == [("9.0.0.3", 8080)]


def test_labels_choose_the_bind_address_and_port() -> None:
    labels = {"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "8081", "HAPROXY_0_BIND_ADDR": "127.0.0.2"}
    [web] = plan_services(decode(app("/web", labels=labels)), OPTIONS, {}).services
    assert (web.name, web.bind_address, web.bind_port) == ("web_10000", "127.0.0.2", 8081)


def test_disabled_ports_and_bad_labels_are_left_out_with_the_app_named() -> None:
    labels = {"HAPROXY_GROUP": "external", "HAPROXY_0_ENABLED": "false", "HAPROXY_1_MODE": "udp"}
    plan = plan_services(decode(app("/web", ports=(10000, 10001, 10002), labels=labels)), OPTIONS, {})
    assert names(plan) == ["web_10002"]
    assert plan.problems == ("app /web service port 1: HAPROXY_1_MODE='udp': expected one of tcp, http",)


def test_a_port_is_bound_once_the_first_app_in_id_order_keeps_it() -> None:
    apps = decode(
        app("/b", ports=(10000,)),
        app("/a", ports=(10000,)),
        app("/c", ports=(10001,), labels={"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "9090"}),
    )
    plan = plan_services(apps, OPTIONS, {})
    assert names(plan) == ["a_10000"]
    assert plan.problems == (
        "b_10000: port 10000 is already bound by app /a",
        "c_10001: port 9090 is already bound by the stats page",
    )


def test_vhosts_reserve_the_http_port() -> None:
    labels = {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "a.example.com"}
    apps = decode(
        app("/a", labels=labels), app("/b", labels={"HAPROXY_GROUP": "external", "HAPROXY_0_PORT": "80"})
    )
    assert plan_services(apps, OPTIONS, {}).problems == (
        "b_10000: port 80 is already bound by the HTTP vhost frontend",
    )


def test_the_plan_does_not_depend_on_the_order_marathon_lists_apps_and_tasks() -> None:
    tasks = [task(f"web.{i}", ports=(31000 + i,)) for i in range(4)]
    listed = [app("/web", tasks=tasks), app("/api", ports=(10001,)), app("/db", ports=(10002,))]
    reversed_tasks = [app("/web", tasks=tasks[::-1]), *listed[1:]]
    plans = {
        plan_services(decode(*order), OPTIONS, {})
        for docs in (listed, reversed_tasks)
        for order in itertools.permutations(docs)
    }
    assert len(plans) == 1


def test_server_ids_are_stable_hashes_that_never_collide() -> None:
    assert server_name("10.0.0.7", 31000) == "10_0_0_7_31000"
    # Two ports whose hashes collide: the second gets the next free id.
    seen: dict[int, int] = {}
    for port in range(1, 65536):
        wanted = zlib.crc32(f"127.0.0.1:{port}".encode()) % MAX_SERVER_ID + 1
        if wanted in seen:
            first, second = seen[wanted], port
            break
        seen[wanted] = port
    tasks = [task("a", ports=(first,)), task("b", ports=(second,))]
    [web] = plan_services(decode(app("/web", tasks=tasks)), OPTIONS, {}).services
    ids = {s.port: s.id for s in web.servers}
    assert ids[first] == wanted and ids[second] == wanted % MAX_SERVER_ID + 1


def test_without_drops_frontends_and_says_why() -> None:
    labels = {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "a.example.com"}
    plan = plan_services(decode(app("/a", labels=labels), app("/b", ports=(10001,))), OPTIONS, {})
    assert plan.has_vhosts
    smaller = plan.without({"b_10001", "marathon_http_in"}, "cannot bind its port")
    assert names(smaller) == ["a_10000"] and not smaller.has_vhosts
    assert smaller.problems == ("b_10001: cannot bind its port", "marathon_http_in: cannot bind its port")


def test_listeners_are_what_each_frontend_binds() -> None:
    vhost = {"HAPROXY_GROUP": "external", "HAPROXY_0_VHOST": "a.example.com"}
    plan = plan_services(decode(app("/a", labels=vhost), app("/b", ports=(10001,))), OPTIONS, {})
    assert listeners(plan, OPTIONS) == {
        "a_10000": ("127.0.0.1", 10000),
        "b_10001": ("127.0.0.1", 10001),
        "marathon_http_in": ("127.0.0.1", 80),
    }
    with_tls = Options(bind_address="127.0.0.1", ssl_certs=("/etc/ssl/a.pem",))
    assert listeners(plan, with_tls)["marathon_https_in"] == ("127.0.0.1", 443)
    assert "marathon_http_in" not in listeners(plan.without(["a_10000"], "gone"), OPTIONS)

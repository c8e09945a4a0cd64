"""DNS inside a real `corral dev`: Mesos-DNS names for a Marathon app over UDP and TCP, following scale and
kill, the cluster's own names, and nothing outside the domain (mesos-dns docs/naming.md)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import dns.asyncquery
import dns.exception
import dns.message
import dns.query
import dns.rcode
import dns.resolver
import httpx
import pytest
from support.marathon_dev import marathon_http, stopping

from corral.dns.server import bind_dns, serve_dns
from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"
APP: dict[str, Any] = {
    "id": "/dnsweb",
    "cmd": "sleep 1000",
    "cpus": 0.1,
    "mem": 16,
    "instances": 2,
    "portDefinitions": [{"port": 0, "name": "http"}, {"port": 0}],
}
JSON = {"Content-type": "application/json"}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    marathon_port, dns_port = free_ports(2)
    with stopping(
        start_dev(
            tmp_path_factory.mktemp("dns"),
            resources=RESOURCES,
            marathon_port=marathon_port,
            dns_port=dns_port,
        )
    ) as process:
        # Until its first read of /master/state, the DNS server answers SERVFAIL.
        wait_for(
            lambda: lookup(process, "leader.mesos", "A"), timeout=10, what="the DNS server's first table"
        )
        yield process


@pytest.fixture
def http(dev: DevProcess) -> Iterator[httpx.Client]:
    with marathon_http(dev) as client:
        yield client


def resolver(dev: DevProcess) -> dns.resolver.Resolver:
    host, port = dev.dns.rsplit(":", 1)
    out = dns.resolver.Resolver(configure=False)
    out.nameservers = [host]
    out.port = int(port)
    out.lifetime = 3.0
    return out


def lookup(dev: DevProcess, name: str, kind: str, *, tcp: bool = False) -> list[str] | None:
    """The records' text, or None for NXDOMAIN, no answer or SERVFAIL."""
    try:
        return sorted(str(r) for r in resolver(dev).resolve(name, kind, tcp=tcp))
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer, dns.resolver.NoNameservers):
        return None


def srv_ports(dev: DevProcess, name: str) -> set[int]:
    records = lookup(dev, name, "SRV", tcp=True) or []
    return {int(r.split()[2]) for r in records}


def running_ports(http: httpx.Client) -> dict[str, list[int]]:
    tasks = http.get("/v2/apps/dnsweb/tasks").json()["tasks"]
    return {t["id"]: t["ports"] for t in tasks if t["state"] == "TASK_RUNNING"}


def wait_tasks(http: httpx.Client, count: int) -> dict[str, list[int]]:
    return wait_for(
        lambda: tasks if len(tasks := running_ports(http)) == count else None,
        timeout=20,
        what=f"{count} running dnsweb task(s)",
    )


def wait_srv(dev: DevProcess, ports: set[int], name: str = "_dnsweb._tcp.marathon.mesos") -> None:
    wait_for(lambda: srv_ports(dev, name) == ports, timeout=5, what=f"{name} to list ports {sorted(ports)}")


def test_a_marathon_app_resolves_and_follows_scale_and_kill(dev: DevProcess, http: httpx.Client) -> None:
    assert http.post("/v2/apps", json=APP, headers=JSON).status_code == 201
    tasks = wait_tasks(http, 2)
    ports = {p for task_ports in tasks.values() for p in task_ports}
    assert len(ports) == 4

    wait_for(lambda: lookup(dev, "dnsweb.marathon.mesos", "A"), timeout=5, what="dnsweb's A record over UDP")
    assert lookup(dev, "dnsweb.marathon.mesos", "A") == ["127.0.0.1"]
    assert lookup(dev, "dnsweb.marathon.mesos", "A", tcp=True) == ["127.0.0.1"]
    wait_srv(dev, ports)
    first_ports = {task_ports[0] for task_ports in tasks.values()}  # the port named `http`
    wait_srv(dev, first_ports, "_http._dnsweb._tcp.marathon.mesos")

    wait_for(lambda: http.get("/v2/deployments").json() == [], timeout=10, what="the deployment to finish")
    assert http.put("/v2/apps/dnsweb", json={"instances": 1}, headers=JSON).status_code == 200
    [(survivor, survivor_ports)] = wait_tasks(http, 1).items()
    wait_srv(dev, set(survivor_ports))

    assert http.delete(f"/v2/apps/dnsweb/tasks/{survivor}").status_code == 200  # Marathon starts another
    replacement = wait_for(
        lambda: t if (t := running_ports(http)) and survivor not in t else None,
        timeout=20,
        what="the killed task's replacement",
    )
    [new_ports] = replacement.values()
    wait_srv(dev, set(new_ports))

    assert http.delete("/v2/apps/dnsweb").status_code == 200
    wait_for(
        lambda: lookup(dev, "dnsweb.marathon.mesos", "A") is None, timeout=20, what="dnsweb's name to go"
    )


def test_the_cluster_names(dev: DevProcess) -> None:
    master_host, master_port = dev.master.rsplit(":", 1)
    assert lookup(dev, "leader.mesos", "A") == [master_host]
    assert lookup(dev, "master.mesos", "A") == [master_host]
    assert lookup(dev, "slave.mesos", "A") == [master_host]
    assert lookup(dev, "_leader._tcp.mesos", "SRV") == [f"0 1 {master_port} leader.mesos."]
    assert lookup(dev, "marathon.mesos", "A") == [master_host]  # the framework scheduler's host


@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_only_its_domain_is_answered(dev: DevProcess, tcp: bool) -> None:
    host, port = dev.dns.rsplit(":", 1)
    ask = dns.query.tcp if tcp else dns.query.udp
    outside = ask(dns.message.make_query("example.com", "A"), host, port=int(port), timeout=3)
    assert outside.rcode() == dns.rcode.REFUSED and not outside.answer
    unknown = ask(dns.message.make_query("nothing-here.marathon.mesos", "A"), host, port=int(port), timeout=3)
    assert unknown.rcode() == dns.rcode.NXDOMAIN


# ---------------------------------------------------------------- the server alone, with a stand-in responder


async def test_the_server_answers_udp_and_tcp_and_survives_a_failing_responder() -> None:
    seen: list[bool] = []

    def respond(wire: bytes, over_udp: bool) -> bytes | None:
        seen.append(over_udp)
        query = dns.message.from_wire(wire)
        if query.question[0].name.to_text() == "boom.mesos.":
            raise RuntimeError("a bug in the responder")
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.NXDOMAIN)
        return reply.to_wire()

    sockets = bind_dns("127.0.0.1", 0)
    server = asyncio.create_task(serve_dns(sockets, respond))
    try:
        query = dns.message.make_query("a.mesos", "A")
        reply = await dns.asyncquery.udp(query, "127.0.0.1", port=sockets.port, timeout=3)
        assert reply.rcode() == dns.rcode.NXDOMAIN
        with pytest.raises(dns.exception.Timeout):  # the failing query is dropped, not answered
            await dns.asyncquery.udp(
                dns.message.make_query("boom.mesos", "A"), "127.0.0.1", port=sockets.port, timeout=0.5
            )
        reader, writer = await asyncio.open_connection("127.0.0.1", sockets.port)
        for name in ("b.mesos", "c.mesos"):  # several queries on one connection
            writer.write(dns.message.make_query(name, "A").to_wire(prepend_length=True))
            length = int.from_bytes(await reader.readexactly(2), "big")
            answer = dns.message.from_wire(await reader.readexactly(length))
            assert answer.question[0].name.to_text() == f"{name}."
        writer.close()
        assert seen == [True, True, False, False]
    finally:
        server.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await server


def test_port_zero_finds_a_port_free_for_udp_and_tcp() -> None:
    sockets = bind_dns("127.0.0.1", 0)
    try:
        assert sockets.udp.getsockname()[1] == sockets.tcp.getsockname()[1] == sockets.port
        with pytest.raises(OSError):
            bind_dns("127.0.0.1", sockets.port)
    finally:
        sockets.close()

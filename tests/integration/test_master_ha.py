"""The tutorial's layout on one machine: three masters and three Marathons elect leaders in a real ZooKeeper.

A 3-server ZooKeeper ensemble, masters and Marathons on 127.0.0.11-13, agents on 127.0.0.21-23: every daemon
is its own process and finds the leaders through `zk://`. Running tasks must survive the death of the leading
master and then of the leading Marathon: the same task ids keep running, and every Marathon keeps answering.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import httpx
import pytest
from zk import ZkEnsemble, ensemble_fixture

from corral.testing.daemons import Daemon, start_daemon
from corral.testing.ha import Cluster, leader_named_by, marathon_tasks, running_tasks
from corral.testing.procs import free_ports, wait_for

pytestmark = pytest.mark.integration

zk3 = ensemble_fixture("zk3", size=3)
MASTER_IPS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
AGENT_IPS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
AGENTS = len(AGENT_IPS)
DNS_IP = "127.0.0.31"
SESSION = "2secs"


@pytest.fixture
def cluster(zk3: ZkEnsemble, tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(zk3.hosts, tmp_path, session=SESSION)
    try:
        yield cluster
    except BaseException:
        for daemon in [*cluster.masters, *cluster.others]:
            print(f"--- {daemon.name} ---\n{daemon.log_tail(60)}")
        raise
    finally:
        cluster.stop()


def test_kill_9_of_the_leading_master_keeps_every_running_task(cluster: Cluster) -> None:
    for ip in MASTER_IPS:
        cluster.start_master(ip)
    leader = wait_for(cluster.leader, timeout=30, what="the masters to agree on a leader")
    followers = [m for m in cluster.masters if m is not leader]
    # A follower sends frameworks to the leader and serves what any master serves.
    scheduler = followers[0].get("/api/v1/scheduler")
    assert scheduler.status_code == 307
    assert scheduler.headers["location"] == f"//{leader.address}/api/v1/scheduler"
    assert followers[0].get("/master/health").status_code == 200

    for ip in AGENT_IPS:
        agent_args = ["--master", cluster.url, "--zk_session_timeout", SESSION]
        cluster.start(f"agent-{ip}", "agent", ip, agent_args)
    [dns_port] = free_ports(1, host=DNS_IP)
    dns_args = ["--master", cluster.url, "--address", DNS_IP, "--port", str(dns_port), "--refresh", "100ms"]
    cluster.others.append(
        start_daemon("dns", "dns", dns_args, address=f"{DNS_IP}:{dns_port}", log_dir=cluster.root)
    )
    wait_for(lambda: leader_by_dns(dns_port) == leader.address.split(":")[0], timeout=30, what="leader.mesos")
    marathon_zk = ["--master", cluster.url, "--zk", cluster.marathon_zk]
    marathons = [
        cluster.start(f"marathon-{ip}", "marathon", ip, [*marathon_zk, "--zk_session_timeout", "2000"])
        for ip in MASTER_IPS
    ]
    for marathon in marathons:
        marathon.wait_answering("/ping")
    app = {"id": "/sleepy", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32, "instances": 2}

    def post_app() -> httpx.Response | None:
        response = httpx.post(f"{marathons[1].url}/v2/apps", json=app)
        return None if response.status_code == 503 else response

    created = wait_for(post_app, timeout=30, what="a Marathon leader to take the app (through a proxy)")
    assert created.status_code == 201, created.text
    before = wait_for(
        lambda: (
            ((tasks := running_tasks(leader, len(AGENT_IPS))) is not None and len(tasks) == 2 and tasks)
            or None
        ),
        timeout=30,
        what="two running tasks",
    )

    leader.kill()
    new_leader = wait_for(cluster.leader, timeout=30, what="a new leader")
    assert new_leader is not leader
    new_ip = new_leader.address.split(":")[0]
    wait_for(lambda: leader_by_dns(dns_port) == new_ip, timeout=30, what="leader.mesos to follow")
    after = wait_for(
        lambda: running_tasks(new_leader, AGENTS) == before or None,
        timeout=30,
        what="the agent and Marathon to come back to the new leader with the same tasks",
    )
    assert after
    assert marathon_tasks(marathons[2]) == before

    marathon_leader = wait_for(
        lambda: leader_named_by(marathons), timeout=10, what="every Marathon to name one leader"
    )
    marathon_leader.kill()
    survivors = [m for m in marathons if m is not marathon_leader]
    new_marathon = wait_for(lambda: leader_named_by(survivors), timeout=30, what="a new Marathon leader")
    wait_for(
        lambda: running_tasks(new_leader, AGENTS) == before and marathon_tasks(new_marathon) == before,
        timeout=30,
        what="the new Marathon leader to re-subscribe and report the same tasks",
    )
    assert all(marathon_tasks(m) == before for m in survivors)


def test_a_paused_leader_loses_its_lease_and_steps_down(cluster: Cluster) -> None:
    for ip in MASTER_IPS[:2]:
        cluster.start_master(ip)
    leader = wait_for(cluster.leader, timeout=30, what="a leader")
    leader.signal(signal.SIGSTOP)
    survivor = next(m for m in cluster.masters if m is not leader)
    wait_for(lambda: cluster_leader_is(survivor), timeout=30, what="the other master to lead")
    leader.signal(signal.SIGCONT)
    # Its session expired while it was stopped: it must exit rather than act as a second leader.
    wait_for(lambda: not leader.alive, timeout=30, what="the old leader to exit")
    assert leader.proc.returncode == 1
    assert "lost leadership" in leader.log_tail()


def leader_by_dns(port: int) -> str | None:
    """The address `leader.mesos` resolves to at the `corral dns` following the cluster through ZooKeeper."""
    try:
        answer = dns.query.udp(dns.message.make_query("leader.mesos", "A"), DNS_IP, port=port, timeout=1)
    except (OSError, dns.exception.DNSException):
        return None
    return next((item.address for rrset in answer.answer for item in rrset), None)


def cluster_leader_is(master: Daemon) -> bool:
    try:
        response = master.get("/master/redirect")
    except httpx.HTTPError:
        return False
    return response.status_code == 307 and response.headers["location"] == f"//{master.address}"

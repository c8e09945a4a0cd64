"""Failover: seconds from kill -9 of the leader to a working cluster again, for masters and for Marathon.

The tutorial's layout on loopback: a 3-server ZooKeeper ensemble, masters on 127.0.0.11-13, agents on
127.0.0.21-23, a Marathon on every master with its state in ZooKeeper, and one app with 3 running tasks.
`--zk_session_timeout` is 2 s for every daemon (the issue's setting; the Mesos paper reports 4-8 s).

- master: kill -9 the leading master; done when the surviving masters agree on a new leader, every agent is
  registered with it and Marathon is subscribed, with the same 3 tasks running (target <= 3 s).
- marathon: kill -9 the leading Marathon; done when the surviving instances agree on a new leader that is
  subscribed to the master and reports the same tasks.
- baseline, measured in the same run: the bare election. Before any agent or framework exists, kill -9 the
  leading master and time until the others agree on a new leader. The ratio says what re-registration adds
  on top of ZooKeeper noticing the death (which is bounded below by the session timeout).

Every figure is the median of `--rounds` kills (the killed daemon is restarted between rounds).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from corral.testing.daemons import Daemon
from corral.testing.ha import Cluster, leader_named_by, marathon_tasks, running_tasks
from corral.testing.procs import wait_for
from corral.testing.zookeeper import ZkEnsemble, zookeeper_missing

MASTER_IPS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
AGENT_IPS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
APP = {"id": "/steady", "cmd": "sleep 3600", "cpus": 0.1, "mem": 32, "instances": 3}


def timed(action: Callable[[], object], done: Callable[[], object], what: str) -> float:
    """Seconds from `action` until `done` returns something truthy (polled every 10 ms)."""
    start = time.monotonic()
    action()
    wait_for(lambda: bool(done()) or None, timeout=60, interval=0.01, what=what)
    return time.monotonic() - start


def restart_master(cluster: Cluster, dead: Daemon) -> None:
    cluster.masters.remove(dead)
    ip = dead.address.split(":")[0]
    cluster.start_master(ip).wait_answering("/master/health")


def bare_election(cluster: Cluster, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        leader = wait_for(cluster.leader, timeout=30, what="a leader")

        def elected(old: Daemon = leader) -> bool:
            new = cluster.leader()
            return new is not None and new is not old

        out.append(timed(leader.kill, elected, "a new leader"))
        restart_master(cluster, leader)
    return out


def master_failover(cluster: Cluster, tasks: set[str], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        leader = wait_for(cluster.leader, timeout=30, what="a leader")

        def recovered(old: Daemon = leader) -> bool:
            new = cluster.leader()
            return new is not None and new is not old and running_tasks(new, len(AGENT_IPS)) == tasks

        out.append(timed(leader.kill, recovered, "agents and Marathon back with the same tasks"))
        restart_master(cluster, leader)
    return out


def marathon_failover(cluster: Cluster, marathons: list[Daemon], tasks: set[str], rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        leader = wait_for(lambda: leader_named_by(marathons), timeout=30, what="a Marathon leader")
        master = wait_for(cluster.leader, timeout=30, what="a leading master")
        survivors = [m for m in marathons if m is not leader]

        def recovered(master: Daemon = master, survivors: list[Daemon] = survivors) -> bool:
            new = leader_named_by(survivors)
            return (
                new is not None
                and marathon_tasks(new, "steady") == tasks
                and running_tasks(master, len(AGENT_IPS)) == tasks
            )

        out.append(timed(leader.kill, recovered, "a new Marathon leader with the same tasks"))
        marathons.remove(leader)
        ip = leader.address.split(":")[0]
        restarted = start_marathon(cluster, ip)
        restarted.wait_answering("/ping")
        marathons.append(restarted)
    return out


def start_marathon(cluster: Cluster, ip: str) -> Daemon:
    args = ["--master", cluster.url, "--zk", cluster.marathon_zk, "--zk_session_timeout", "2000"]
    return cluster.start(f"marathon-{ip}-{time.monotonic_ns()}", "marathon", ip, args)


def report(name: str, samples: list[float], baseline: float, target: float | None) -> None:
    median = statistics.median(samples)
    goal = f", target <= {target:g} s" if target is not None else ""
    runs = ", ".join(f"{s:.2f}" for s in samples)
    ratio = median / baseline
    print(f"{name:<18} median {median:6.2f} s   ratio to bare election {ratio:5.2f}{goal}   [{runs}]")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the daemons' logs (printed on failure)")
    args = parser.parse_args()
    if (missing := zookeeper_missing()) is not None:
        print(f"failover: skipped: {missing}", file=sys.stderr)
        return 1
    root = Path(tempfile.mkdtemp(prefix="corral-failover-"))
    try:
        with ZkEnsemble(root / "zk", size=3) as zk:
            cluster = Cluster(zk.hosts, root, session="2secs")
            try:
                for ip in MASTER_IPS:
                    cluster.start_master(ip)
                baseline = bare_election(cluster, args.rounds)
                for ip in AGENT_IPS:
                    cluster.start(
                        f"agent-{ip}", "agent", ip, ["--master", cluster.url, "--zk_session_timeout", "2secs"]
                    )
                marathons = [start_marathon(cluster, ip) for ip in MASTER_IPS]
                for marathon in marathons:
                    marathon.wait_answering("/ping")
                wait_for(
                    lambda: httpx.post(f"{marathons[0].url}/v2/apps", json=APP).status_code == 201 or None,
                    timeout=30,
                    what="the app to be created",
                )
                leader = wait_for(cluster.leader, timeout=30, what="a leader")

                def three_running(leader: Daemon = leader) -> set[str] | None:
                    tasks = running_tasks(leader, len(AGENT_IPS))
                    return tasks if tasks is not None and len(tasks) == 3 else None

                tasks = wait_for(three_running, timeout=60, what="3 running tasks")
                masters = master_failover(cluster, tasks, args.rounds)
                marathon_times = marathon_failover(cluster, marathons, tasks, args.rounds)
            finally:
                cluster.stop()
    finally:
        if args.keep:
            print(f"logs kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    bare = statistics.median(baseline)
    print("failover at --zk_session_timeout=2secs, 3 ZooKeeper servers, 3 masters, 3 agents, 3 Marathons")
    report("bare election", baseline, bare, None)
    report("master failover", masters, bare, 3.0)
    report("marathon failover", marathon_times, bare, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

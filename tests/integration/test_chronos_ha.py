"""Two Chronos instances share their state in a real ZooKeeper: one leads, the other proxies, and after a
kill -9 of the leader the survivor takes over the jobs without losing or doubling a due run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from zk import ZkEnsemble, ensemble_fixture

from corral.testing.daemons import Daemon, start_daemon
from corral.testing.ha import leader_named_by
from corral.testing.procs import DevProcess, free_ports, json_list, start_dev, wait_for

pytestmark = pytest.mark.integration

zk1 = ensemble_fixture("zk1", size=1)
IPS = ("127.0.0.11", "127.0.0.12")
FRAMEWORK = "chronos-ha"
PERIOD = 2  # seconds between due runs


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[DevProcess]:
    with start_dev(tmp_path, resources="cpus:8;mem:8192") as process:
        yield process


def start_chronos(zk: ZkEnsemble, dev: DevProcess, ip: str, root: Path) -> Daemon:
    [port] = free_ports(1, host=ip)
    args = ["--master", dev.master, "--http_address", ip, "--http_port", str(port)]
    args += ["--framework_name", FRAMEWORK, "--work_dir", str(root / f"chronos-{ip}")]
    args += ["--zk_hosts", zk.hosts, "--zk_path", "/chronos/state", "--zk_timeout", "2000"]
    return start_daemon(f"chronos-{ip}", "chronos", args, address=f"{ip}:{port}", log_dir=root)


def due_slots(dev: DevProcess) -> Counter[str]:
    """How many tasks each due slot of the job got, from the master's view of Chronos's tasks
    (task ids are `ct:<due ms>:<attempt>:<job>:`; a retry is another attempt of the same slot)."""
    response = httpx.get(f"{dev.url}/master/tasks?limit=1000", timeout=5)
    slots: Counter[str] = Counter()
    for task in json_list(response.json()["tasks"]):
        if isinstance(task, dict) and str(task["id"]).startswith("ct:") and ":tick:" in str(task["id"]):
            _, due, attempt, _rest = str(task["id"]).split(":", 3)
            if attempt == "0":
                slots[due] += 1
    return slots


def test_a_chronos_leader_dies_and_the_other_keeps_the_schedule(
    zk1: ZkEnsemble, dev: DevProcess, tmp_path: Path
) -> None:
    instances = [start_chronos(zk1, dev, ip, tmp_path) for ip in IPS]
    try:
        for chronos in instances:
            chronos.wait_answering("/ping")
        leader = wait_for(
            lambda: leader_named_by(instances, "/scheduler/leader"), timeout=30, what="a Chronos leader"
        )
        follower = next(c for c in instances if c is not leader)
        start = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
        job = {
            "name": "tick",
            "command": "true",
            "schedule": f"R/{start}/PT{PERIOD}S",
            "epsilon": "PT30S",
            "cpus": 0.1,
            "mem": 16,
            "owner": "ops@example.com",
        }
        posted = httpx.post(f"{follower.url}/scheduler/iso8601", json=job, timeout=10)  # through the proxy
        assert posted.status_code == 204, posted.text
        wait_for(lambda: len(due_slots(dev)) >= 2 or None, timeout=30, what="two runs under the first leader")

        leader.kill()
        wait_for(
            lambda: leader_named_by([follower], "/scheduler/leader") is follower or None,
            timeout=30,
            what="the follower to lead",
        )
        jobs = httpx.get(f"{follower.url}/scheduler/jobs", timeout=10).json()
        assert [j["name"] for j in jobs] == ["tick"]
        before = len(due_slots(dev))
        wait_for(
            lambda: len(due_slots(dev)) >= before + 2 or None, timeout=30, what="runs under the new leader"
        )
        slots = due_slots(dev)
        assert all(count == 1 for count in slots.values()), f"a due run was launched twice: {slots}"
        # Every slot between the first and the last launched one either ran or was counted as skipped
        # (slots missed during the failover run once, the latest of them; the older ones are skipped).
        dues = sorted(int(d) for d in slots)
        missing = set(range(dues[0], dues[-1] + 1, PERIOD * 1000)) - set(dues)
        stat = httpx.get(f"{follower.url}/scheduler/job/stat/tick", timeout=10).json()
        assert len(missing) <= stat["skippedCount"], (missing, stat)
    except BaseException:
        for chronos in instances:
            print(f"--- {chronos.name} ---\n{chronos.log_tail(60)}")
        raise
    finally:
        for chronos in instances:
            chronos.stop()

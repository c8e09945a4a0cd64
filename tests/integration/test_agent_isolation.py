"""Isolation with real cgroups and real processes, through `corral dev` and a pymesos framework.

`mesos.md` f.2: cgroups/cpu (shares, CFS quota), cgroups/mem (a hard limit; an OOM kill ends the task
TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY), namespaces/pid, disk/du with
--enforce_container_disk_quota; `/monitor/statistics` on the agent. A test skips only where the machine
cannot provide the feature, and says what is missing.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cgroups import (
    MB,
    cgroup_dirs,
    cgroups_or_skip,
    cpu_weight,
    cpu_weight_of,
    memory_limit,
    wait_removed,
)
from support.schedulers import RecordingScheduler, resources, running_driver

from corral.agent.isolation.layout import CgroupChoice
from corral.testing.procs import DevProcess, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:4;mem:2048;disk:4096;ports:[31000-31100]"


def _stop(process: DevProcess) -> None:
    code = process.stop()
    assert code == 0, process.fail(f"corral dev exited with {code} after SIGTERM")


@pytest.fixture(scope="module")
def cgroups() -> CgroupChoice:
    return cgroups_or_skip()


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, cgroups: CgroupChoice) -> Iterator[DevProcess]:
    """`corral dev` with the default isolation (the best available: cgroups here) and CFS quotas."""
    process = start_dev(
        tmp_path_factory.mktemp("isolation"), resources=RESOURCES, extra_args=["--cgroups_enable_cfs"]
    )
    try:
        yield process
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def ns_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    """`corral dev` without cgroups: posix accounting, a PID namespace per task, disk/du enforced."""
    if os.geteuid() != 0:
        pytest.skip("namespaces/pid needs root to create PID namespaces")
    isolation = "posix/cpu,posix/mem,namespaces/pid,disk/du"
    args = [
        "--isolation",
        isolation,
        "--enforce_container_disk_quota",
        "--container_disk_watch_interval",
        "100ms",
    ]
    process = start_dev(tmp_path_factory.mktemp("namespaces"), resources=RESOURCES, extra_args=args)
    try:
        yield process
    finally:
        _stop(process)


@pytest.fixture
def framework(dev: DevProcess) -> Iterator[tuple[RecordingScheduler, Any]]:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "isolation") as driver:
        yield scheduler, driver


def task(
    task_id: str, command: str, *, cpus: float = 0.1, mem: float = 32, disk: float = 0
) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {"name": name, "type": "SCALAR", "scalar": {"value": value}}
        for name, value in (("cpus", cpus), ("mem", mem), ("disk", disk))
        if value
    ]
    return {
        "task_id": {"value": task_id},
        "name": task_id,
        "command": {"value": command},
        "resources": resources,
    }


def container_id(update: Any) -> str:
    return str(update.status.container_status.container_id.value)


def agent_url(dev: DevProcess) -> str:
    [address] = dev.agent_addresses()
    return f"http://{address}"


def statistics(dev: DevProcess, executor_id: str) -> dict[str, Any] | None:
    entries = httpx.get(agent_url(dev) + "/monitor/statistics", timeout=5.0).json()
    entry = next((e for e in entries if e["executor_id"] == executor_id), None)
    return entry["statistics"] if entry is not None else None


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_the_banner_names_the_isolation_chosen(dev: DevProcess, cgroups: CgroupChoice) -> None:
    line = next(line for line in dev.log_path.read_text().splitlines() if line.startswith("  isolation "))
    assert f"cgroups/cpu,cgroups/mem,cgroups/pids (cgroup v{cgroups.version}" in line


def test_a_task_over_its_memory_limit_fails_with_the_memory_limitation(
    framework: tuple[RecordingScheduler, Any], cgroups: CgroupChoice
) -> None:
    scheduler, driver = framework
    # mem 32 + the command executor's 32 MB: a 64 MB limit, which 200 MB of written bytes exceed.
    scheduler.launch(driver, task("hog", "python3 -c \"b = b'x' * (200 << 20)\"", mem=32))
    running = scheduler.wait_state("hog", "TASK_RUNNING")
    failed = scheduler.wait_terminal("hog")

    assert failed.state == "TASK_FAILED"
    assert failed.status.reason == "REASON_CONTAINER_LIMITATION_MEMORY"
    assert failed.status.source == "SOURCE_AGENT"
    assert failed.status.message.startswith("Memory limit exceeded: Requested: 64MB Maximum Used: 64MB")
    wait_removed(cgroup_dirs(cgroups, container_id(running)).values())


def test_limits_usage_and_cleanup_of_a_running_task(
    dev: DevProcess, framework: tuple[RecordingScheduler, Any], cgroups: CgroupChoice
) -> None:
    scheduler, driver = framework
    command = "python3 -c \"import time; b = b'x' * (24 << 20); print('ready', flush=True); time.sleep(60)\""
    scheduler.launch(driver, task("limited", command, cpus=0.5, mem=96))
    container = container_id(scheduler.wait_state("limited", "TASK_RUNNING"))
    dirs = cgroup_dirs(cgroups, container)

    # cpus 0.5 + 0.1 overhead = 0.6: 614 shares (1024 per cpu), a 60 ms quota per 100 ms period.
    if cgroups.version == 1:
        assert (dirs["cpu"] / "cpu.shares").read_text().strip() == "614"
        assert (dirs["cpu"] / "cpu.cfs_quota_us").read_text().strip() == "60000"
        assert (dirs["cpu"] / "cpu.cfs_period_us").read_text().strip() == "100000"
        assert int((dirs["memory"] / "memory.limit_in_bytes").read_text()) == 128 * MB
    else:
        assert (dirs["cpu"] / "cpu.weight").read_text().strip() == "24"
        assert (dirs["cpu"] / "cpu.max").read_text().strip() == "60000 100000"
        assert int((dirs["memory"] / "memory.max").read_text()) == 128 * MB

    stats = wait_for(
        lambda: (s := statistics(dev, "limited")) and s.get("mem_rss_bytes", 0) >= 24 * MB and s,
        timeout=10.0,
        what="the task's memory in /monitor/statistics",
    )
    assert stats["cpus_limit"] == pytest.approx(0.6)
    assert stats["mem_limit_bytes"] == 128 * MB
    assert stats["cpus_user_time_secs"] + stats["cpus_system_time_secs"] > 0
    assert stats["processes"] >= 1

    driver.killTask({"value": "limited"})
    scheduler.wait_state("limited", "TASK_KILLED")
    wait_removed(dirs.values())
    assert statistics(dev, "limited") is None


def test_killing_a_task_kills_what_it_forked_even_in_another_session(
    framework: tuple[RecordingScheduler, Any],
) -> None:
    scheduler, driver = framework
    marker = f"{secrets.randbelow(10**6) + 10**6}"
    # setsid: the grandchild leaves the task's process group, so only the cgroup can find it.
    scheduler.launch(driver, task("forker", f"setsid sleep {marker} & sleep 600"))
    scheduler.wait_state("forker", "TASK_RUNNING")
    wait_for(lambda: processes_with(f"sleep\0{marker}"), timeout=5.0, what="the grandchild to start")

    driver.killTask({"value": "forker"})
    scheduler.wait_state("forker", "TASK_KILLED")
    wait_for(lambda: not processes_with(f"sleep\0{marker}"), timeout=5.0, what="the grandchild to die")


def test_a_pid_namespace_holds_the_task_and_dies_with_it(ns_dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    marker = f"{secrets.randbelow(10**6) + 10**6}"
    with running_driver(scheduler, ns_dev.master, "namespaces") as driver:
        command = f"setsid sleep {marker} & echo $$ > pid; ls /proc | grep -c '^[0-9]' > seen; sleep 600"
        scheduler.launch(driver, task("init", command))
        running = scheduler.wait_state("init", "TASK_RUNNING")
        wait_for(lambda: processes_with(f"sleep\0{marker}"), timeout=5.0, what="the grandchild to start")
        sandbox = Path(
            next(
                e["directory"]
                for f in httpx.get(agent_url(ns_dev) + "/state", timeout=5.0).json()["frameworks"]
                for e in f["executors"]
                if e["id"] == "init"
            )
        )
        wait_for((sandbox / "seen").exists, timeout=5.0, what="the task to look at /proc")
        assert (sandbox / "pid").read_text().strip() == "1"  # the task is its namespace's init
        assert int((sandbox / "seen").read_text()) < 10  # ... and its /proc shows only its own processes

        stats = wait_for(lambda: statistics(ns_dev, "init"), timeout=5.0, what="statistics")
        # unshare, the shell and `sleep 600`; the setsid'd sleep has a session of its own
        assert stats["mem_rss_bytes"] > 0 and stats["processes"] >= 3
        assert container_id(running)

        driver.killTask({"value": "init"})
        scheduler.wait_state("init", "TASK_KILLED")
        wait_for(lambda: not processes_with(f"sleep\0{marker}"), timeout=5.0, what="the grandchild to die")


def test_a_sandbox_over_its_disk_quota_fails_the_task(ns_dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, ns_dev.master, "disk") as driver:
        command = "head -c 3000000 /dev/zero > blob && sleep 600"
        scheduler.launch(driver, task("filler", command, disk=1))
        failed = scheduler.wait_terminal("filler")
    assert failed.state == "TASK_FAILED"
    assert failed.status.reason == "REASON_CONTAINER_LIMITATION_DISK"
    assert failed.status.message.startswith("Disk usage (")
    assert failed.status.message.endswith(") exceeds quota (1MB)")


def master_task(dev: DevProcess, task_id: str) -> dict[str, Any] | None:
    """The task as `/master/state` shows it, live or completed."""
    for framework in dev.state()["frameworks"]:  # type: ignore[union-attr]
        assert isinstance(framework, dict)
        for task in [*framework["tasks"], *framework["completed_tasks"]]:  # type: ignore[misc]
            if isinstance(task, dict) and task["id"] == task_id:
                return task
    return None


def test_the_masters_state_shows_each_running_tasks_usage(
    dev: DevProcess, framework: tuple[RecordingScheduler, Any]
) -> None:
    scheduler, driver = framework
    command = "python3 -c \"import time; b = b'x' * (24 << 20); time.sleep(60)\""
    scheduler.launch(driver, task("measured", command, cpus=0.5, mem=96))
    scheduler.wait_state("measured", "TASK_RUNNING")

    # The agent reports every 5 s (AgentConfig.usage_interval).
    statistics = wait_for(
        lambda: (
            (t := master_task(dev, "measured"))
            and t.get("statistics", {}).get("mem_rss_bytes", 0) >= 24 * MB
            and t["statistics"]
        ),
        timeout=20.0,
        what="the task's usage in /master/state",
    )
    assert set(statistics) == {
        "timestamp",
        "cpus_user_time_secs",
        "cpus_system_time_secs",
        "cpus_limit",
        "mem_rss_bytes",
        "mem_limit_bytes",
    }
    assert (statistics["cpus_limit"], statistics["mem_limit_bytes"]) == (pytest.approx(0.6), 128 * MB)
    assert statistics["cpus_user_time_secs"] + statistics["cpus_system_time_secs"] > 0

    driver.killTask({"value": "measured"})
    scheduler.wait_state("measured", "TASK_KILLED")
    ended = wait_for(
        lambda: (t := master_task(dev, "measured")) and t["state"] == "TASK_KILLED" and t,
        timeout=10.0,
        what="the task to end in /master/state",
    )
    assert "statistics" not in ended


HOLDER = """
from pymesos import Executor, MesosExecutorDriver


class Holder(Executor):
    def launchTask(self, driver, task):
        driver.sendStatusUpdate({"task_id": task["task_id"], "state": "TASK_RUNNING"})

    def killTask(self, driver, task_id):
        driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_KILLED"})


MesosExecutorDriver(Holder(), use_addict=True).run()
"""


def test_a_custom_executors_container_holds_it_and_its_tasks_as_they_come_and_go(
    framework: tuple[RecordingScheduler, Any], cgroups: CgroupChoice, tmp_path: Path
) -> None:
    scheduler, driver = framework
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)

    def on_holder(task_id: str) -> dict[str, Any]:
        executor = {
            "executor_id": {"value": "holder"},
            "command": {"value": f"{sys.executable} {script}"},
            "resources": resources(cpus=0.1, mem=64),
        }
        info = task(task_id, "", cpus=0.2, mem=64)
        del info["command"]
        return {**info, "executor": executor}

    scheduler.launch(driver, on_holder("first"))
    container = container_id(scheduler.wait_state("first", "TASK_RUNNING", timeout=20))
    # mesos.md f.2 with upstream's sum: the executor's 0.1 cpus and 64 MB, plus the task's 0.2 and 64.
    assert (cpu_weight_of(cgroups, container), memory_limit(cgroups, container)) == (
        cpu_weight(cgroups, 0.3),
        128 * MB,
    )
    scheduler.launch(driver, on_holder("second"))
    scheduler.wait_state("second", "TASK_RUNNING")
    grown = (cpu_weight(cgroups, 0.5), 192 * MB)
    wait_for(
        lambda: (cpu_weight_of(cgroups, container), memory_limit(cgroups, container)) == grown,
        timeout=5.0,
        what=f"the container to grow to {grown}",
    )

    driver.killTask({"value": "second"})
    scheduler.wait_state("second", "TASK_KILLED")
    wait_for(
        lambda: cpu_weight_of(cgroups, container) == cpu_weight(cgroups, 0.3),
        timeout=5.0,
        what="the cpu weight to shrink back",
    )
    assert memory_limit(cgroups, container) == 192 * MB  # the hard limit only rises, as upstream's
    if cgroups.version == 1:
        soft = cgroup_dirs(cgroups, container)["memory"] / "memory.soft_limit_in_bytes"
        assert int(soft.read_text()) == 128 * MB
    driver.killTask({"value": "first"})
    scheduler.wait_state("first", "TASK_KILLED")


class GroupScheduler(RecordingScheduler):
    """Launches each queued task group (LAUNCH_GROUP, on a DEFAULT executor) on the next offer."""

    def __init__(self) -> None:
        super().__init__()
        self.groups: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            with self.changed:
                groups, self.groups = self.groups, []
            operations = [
                {
                    "type": "LAUNCH_GROUP",
                    "launch_group": {
                        "executor": {**executor, "framework_id": {"value": self.framework_id}},
                        "task_group": {
                            "tasks": [{**t, "agent_id": {"value": offer.agent_id.value}} for t in tasks]
                        },
                    },
                }
                for executor, tasks in groups
            ]
            if operations:
                driver.acceptOffers([offer.id], operations, filters={"refuse_seconds": 1})
            else:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 1})


def test_a_task_group_shares_its_executors_limits_and_an_oom_ends_the_group(
    dev: DevProcess, cgroups: CgroupChoice, tmp_path: Path
) -> None:
    gate = tmp_path / "grow"
    scheduler = GroupScheduler()
    disk = {"name": "disk", "type": "SCALAR", "scalar": {"value": 32}}
    pod = {
        "type": "DEFAULT",
        "executor_id": {"value": "pod"},
        "resources": [*resources(cpus=0.1, mem=32), disk],
    }
    grower = f"while [ ! -e {gate} ]; do sleep 0.05; done; python3 -c \"b = b'x' * (300 << 20)\""
    tasks = [task("keeper", "sleep 600", cpus=0.5, mem=64), task("grower", grower, cpus=0.5, mem=64)]
    with running_driver(scheduler, dev.master, "groups") as driver:
        with scheduler.changed:
            scheduler.groups.append((pod, tasks))
        driver.reviveOffers()
        keeper = scheduler.wait_state("keeper", "TASK_RUNNING").status.container_status.container_id
        scheduler.wait_state("grower", "TASK_RUNNING")
        executor, nested = str(keeper.parent.value), str(keeper.value)

        # Upstream's sum: the executor's 0.1 cpus and 32 MB, and each task's 0.5 and 64 MB.
        assert (cpu_weight_of(cgroups, executor), memory_limit(cgroups, executor)) == (
            cpu_weight(cgroups, 1.1),
            160 * MB,
        )
        assert all(d.is_dir() for d in cgroup_dirs(cgroups, executor, nested).values())  # nested in it
        stats = wait_for(lambda: statistics(dev, "pod"), timeout=5.0, what="the pod's statistics")
        assert (stats["cpus_limit"], stats["mem_limit_bytes"]) == (pytest.approx(1.1), 160 * MB)
        shown = wait_for(
            lambda: (t := master_task(dev, "keeper")) and t.get("statistics"),
            timeout=20.0,
            what="the keeper's usage in /master/state",
        )
        assert shown["mem_limit_bytes"] == 160 * MB  # the limit it shares with its group

        gate.touch()  # 300 MB in a group limited to 160 MB
        failed = scheduler.wait_terminal("grower")
        assert (failed.state, failed.status.reason) == ("TASK_FAILED", "REASON_CONTAINER_LIMITATION_MEMORY")
        assert failed.status.message.startswith("Memory limit exceeded: Requested: 160MB Maximum Used: ")
        assert scheduler.wait_terminal("keeper").state == "TASK_KILLED"  # the group goes with it
        wait_removed(cgroup_dirs(cgroups, executor).values())

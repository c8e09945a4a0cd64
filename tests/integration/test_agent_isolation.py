"""Isolation with real cgroups and real processes, through `corral dev` and a pymesos framework.

`mesos.md` f.2: cgroups/cpu (shares, CFS quota), cgroups/mem (a hard limit; an OOM kill ends the task
TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY), namespaces/pid, disk/du with
--enforce_container_disk_quota; `/monitor/statistics` on the agent. A test skips only where the machine
cannot provide the feature, and says what is missing.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.schedulers import RecordingScheduler, running_driver

from corral.agent.isolation.cgroups import discover, writable_choice
from corral.agent.isolation.isolators import CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS, needed_controllers
from corral.agent.isolation.layout import CgroupChoice
from corral.testing.procs import DevProcess, start_dev, wait_for

pytestmark = pytest.mark.integration

CGROUPS = (CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS)
RESOURCES = "cpus:4;mem:2048;disk:4096;ports:[31000-31100]"
MB = 1024 * 1024


def _cgroups() -> CgroupChoice:
    """The cgroups the agent will use, or a skip naming what the machine lacks."""
    layout = discover()
    if layout.choose(CGROUPS) is None:
        mounted = {c for h in layout.hierarchies for c in h.controllers}
        missing = sorted(set(needed_controllers(CGROUPS, 1)) - mounted)
        pytest.skip(f"no cgroup hierarchy has the controllers {missing or needed_controllers(CGROUPS, 2)}")
    choice = writable_choice(layout, CGROUPS)
    if choice is None:
        pytest.skip("the cgroup hierarchies are not writable by this user (cgroups need root)")
    return choice


def _stop(process: DevProcess) -> None:
    code = process.stop()
    assert code == 0, process.fail(f"corral dev exited with {code} after SIGTERM")


@pytest.fixture(scope="module")
def cgroups() -> CgroupChoice:
    return _cgroups()


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


def cgroup_dirs(cgroups: CgroupChoice, container: str) -> dict[str, Path]:
    return {c: Path(base, "corral", container) for c, base in cgroups.bases.items()}


def wait_removed(directories: Iterable[Path]) -> None:
    left = list(directories)
    wait_for(lambda: not any(d.exists() for d in left), timeout=5.0, what=f"{left} to be removed")


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

"""`/monitor/statistics`: one entry per live executor, its usage beside its limits (upstream's example in
`docs/endpoints/slave/monitor/statistics.md`)."""

from __future__ import annotations

import os
from pathlib import Path

from corral.agent.effects import Launch, ProcessExited, ProcessStarted
from corral.agent.isolation.limits import MB, ContainerLimits
from corral.agent.isolation.posix import sessions_usage
from corral.agent.isolation.statistics import Usage, monitor_statistics, usage_report
from corral.core.ids import ContainerId
from corral.protocol.agent import ResourceStatistics, RunTask, RunTaskGroup
from corral.protocol.json import Reader
from corral.protocol.mesos import ExecutorInfo
from corral.testing.clock import FakeClock

from ..builders import (
    FRAMEWORK,
    command_task,
    executor_task,
    framework_info,
    make_core,
    registered,
    subscribe,
)

C0, C1, C2, C4, C5 = (ContainerId(f"c{i}") for i in (0, 1, 2, 4, 5))


def test_usage_adds_up_and_leaves_out_what_no_source_told() -> None:
    a = Usage(cpus_user_time_secs=1.5, mem_rss_bytes=100, processes=1)
    b = Usage(cpus_user_time_secs=0.5, processes=2, disk_used_bytes=7)
    assert (a + b).to_json() == {
        "cpus_user_time_secs": 2.0,
        "mem_rss_bytes": 100,
        "processes": 3,
        "disk_used_bytes": 7,
    }
    assert Usage().to_json() == {}


def test_a_command_task_is_listed_under_its_executor_while_it_runs() -> None:
    clock, core = FakeClock(1_700_000_000.0), make_core()
    registered(core, clock.now())
    effects = core.handle(
        RunTask(framework_info=framework_info(), task=command_task("web", "sleep 60")), clock.now()
    )
    assert any(isinstance(e, Launch) for e in effects)
    core.handle(ProcessStarted(container_id=C0, pid=4242), clock.now())
    usage = {C0: Usage(cpus_user_time_secs=1.25, cpus_system_time_secs=0.5, mem_rss_bytes=5 * MB)}
    limits = {C0: ContainerLimits(cpus=0.2, mem_limit_bytes=32 * MB)}

    [entry] = monitor_statistics(core.state, usage, limits, clock.now())
    assert entry == {
        "executor_id": "web",
        "executor_name": "Command Executor (Task: web) (Command: sh -c 'sleep 60...')",
        "framework_id": FRAMEWORK,
        "source": "web",
        "container_id": "c0",
        "statistics": {
            "timestamp": 1_700_000_000.0,
            "cpus_user_time_secs": 1.25,
            "cpus_system_time_secs": 0.5,
            "mem_rss_bytes": 5 * MB,
            "cpus_limit": 0.2,
            "mem_limit_bytes": 32 * MB,
        },
    }

    core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())
    assert monitor_statistics(core.state, usage, limits, clock.now()) == []


def test_posix_usage_sums_each_session_from_proc(tmp_path: Path) -> None:
    def process(pid: int, session: int, *, utime: int, stime: int, rss: int, name: str = "sleep") -> None:
        # pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ... rss
        fields = [
            "S",
            "1",
            str(session),
            str(session),
            "0",
            "-1",
            "0",
            "0",
            "0",
            "0",
            "0",
            str(utime),
            str(stime),
        ]
        fields += ["0"] * 8 + [str(rss)]
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({name}) " + " ".join(fields) + " 0 0\n")

    process(100, 100, utime=200, stime=100, rss=10)
    process(101, 100, utime=100, stime=0, rss=5, name="a (tricky) name")
    process(200, 200, utime=1, stime=1, rss=1)
    (tmp_path / "self").mkdir()
    usage = sessions_usage({100, 300}, proc=tmp_path)
    ticks, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    assert usage == {
        100: Usage(
            cpus_user_time_secs=300 / ticks,
            cpus_system_time_secs=100 / ticks,
            mem_rss_bytes=15 * page,
            processes=2,
        )
    }


def test_the_usage_report_has_each_running_task_whose_usage_can_be_told_apart() -> None:
    """For the master's `/master/state`: a command task's container, a DEFAULT executor's task's own (with
    its executor's limits, which it shares), a custom executor's when it runs a single task."""
    clock, core = FakeClock(1_700_000_000.0), make_core()
    registered(core, clock.now())
    info = framework_info()
    core.handle(RunTask(framework_info=info, task=command_task("web", "sleep 60")), clock.now())  # c0
    core.handle(ProcessStarted(container_id=C0, pid=100), clock.now())
    pod = ExecutorInfo.from_json(Reader({"type": "DEFAULT", "executor_id": {"value": "pod"}}))
    group = (command_task("a", "sleep 60"), command_task("b", "sleep 60"))
    core.handle(RunTaskGroup(framework_info=info, executor=pod, tasks=group), clock.now())  # c1: c2, c3
    core.handle(ProcessStarted(container_id=C2, pid=102), clock.now())  # b (c3) not started yet
    core.handle(RunTask(framework_info=info, task=executor_task("one", "solo")), clock.now())  # c4
    core.handle(RunTask(framework_info=info, task=executor_task("x", "pair")), clock.now())  # c5
    core.handle(RunTask(framework_info=info, task=executor_task("y", "pair")), clock.now())
    for executor, container in (("solo", C4), ("pair", C5)):
        core.handle(ProcessStarted(container_id=container, pid=200), clock.now())
        core.handle(subscribe(executor), clock.now())
    used = Usage(cpus_user_time_secs=1.0, cpus_system_time_secs=0.5, mem_rss_bytes=MB, processes=1)
    usage = {c: used for c in (C0, C2, C4, C5)}
    limits = {
        C0: ContainerLimits(cpus=0.2, mem_limit_bytes=32 * MB),
        C1: ContainerLimits(cpus=0.4, mem_limit_bytes=64 * MB),
    }

    report = usage_report(core.state, usage, limits, clock.now())
    assert report.timestamp == clock.now()
    assert {u.task_id: u.statistics for u in report.tasks} == {
        "web": ResourceStatistics(
            timestamp=clock.now(),
            cpus_user_time_secs=1.0,
            cpus_system_time_secs=0.5,
            cpus_limit=0.2,
            mem_rss_bytes=MB,
            mem_limit_bytes=32 * MB,
        ),
        "a": ResourceStatistics(
            timestamp=clock.now(),
            cpus_user_time_secs=1.0,
            cpus_system_time_secs=0.5,
            cpus_limit=0.4,
            mem_rss_bytes=MB,
            mem_limit_bytes=64 * MB,
        ),
        "one": ResourceStatistics(
            timestamp=clock.now(), cpus_user_time_secs=1.0, cpus_system_time_secs=0.5, mem_rss_bytes=MB
        ),
    }  # not b (not started), nor x and y (one container for both)
    core.handle(ProcessExited(container_id=C0, wait_status=0), clock.now())
    assert "web" not in {u.task_id for u in usage_report(core.state, usage, limits, clock.now()).tasks}

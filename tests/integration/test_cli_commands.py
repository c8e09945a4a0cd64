"""The `corral` client commands against a real `corral dev`, and their errors."""

from __future__ import annotations

import json
import socket

import pytest
from support.cli import run_corral
from support.schedulers import RecordingScheduler, command_task, running_driver

from corral.testing.procs import DevProcess

pytestmark = pytest.mark.integration


def test_cluster_status_json(dev: DevProcess) -> None:
    result = run_corral("cluster", "status", "-o", "json", master=dev.master)
    assert result.code == 0, result.stderr
    doc = json.loads(result.stdout)
    [agent] = doc["agents"]
    assert agent["resources"]["cpus"] == 8
    assert agent["resources"]["ports"] == "[31000-32000]"
    assert isinstance(doc["tasks"], dict)
    assert doc["master"]["version"]


def test_cluster_status_table(dev: DevProcess) -> None:
    result = run_corral("cluster", "status", "--master", dev.master)
    assert result.code == 0, result.stderr
    assert "Agents" in result.stdout
    assert "cpus " in result.stdout and "/8" in result.stdout


def test_task_list_json_and_table(dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "listing") as driver:
        scheduler.launch(driver, command_task("listed-1", "sleep 1000"), command_task("listed-2", "true"))
        scheduler.wait_state("listed-1", "TASK_RUNNING")
        scheduler.wait_state("listed-2", "TASK_FINISHED")

        live = run_corral("task", "list", "-o", "json", master=dev.master)
        assert live.code == 0, live.stderr
        rows = {row["id"]: row for row in json.loads(live.stdout)}
        assert rows["listed-1"]["state"] == "TASK_RUNNING"
        assert rows["listed-1"]["framework"] == "listing"
        assert "listed-2" not in rows

        every = run_corral("task", "list", "--all", "--output", "json", master=dev.master)
        assert {r["id"]: r["state"] for r in json.loads(every.stdout)}["listed-2"] == "TASK_FINISHED"

        table = run_corral("task", "list", master=dev.master)
        assert table.code == 0, table.stderr
        assert table.stdout.splitlines()[0].split() == ["ID", "NAME", "FRAMEWORK", "STATE", "AGENT"]
        assert any(line.split()[:1] == ["listed-1"] for line in table.stdout.splitlines())
        driver.killTask({"value": "listed-1"})
        scheduler.wait_state("listed-1", "TASK_KILLED")


def test_logs_of_an_unknown_task(dev: DevProcess) -> None:
    result = run_corral("task", "logs", "no-such-task", master=dev.master)
    assert result.code == 1
    assert result.stderr.strip() == f"corral: error: no task 'no-such-task' on the master at {dev.master}"


def one_line_error(result_stderr: str) -> str:
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    assert "Traceback" not in result_stderr
    return lines[0]


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    "args",
    [
        ["cluster", "status"],
        ["task", "list", "-o", "json"],
        ["task", "logs", "x"],
    ],
)
def test_unreachable_master_is_one_line(args: list[str]) -> None:
    port = unused_port()
    result = run_corral(*args, "--master", f"127.0.0.1:{port}")
    assert result.code == 1
    line = one_line_error(result.stderr)
    assert line == f"corral: error: cannot reach the master at 127.0.0.1:{port}: connection refused"


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["task", "list", "-o", "yaml"], 2, "Invalid value for '-o' / '--output'"),
        (["task", "list", "--master", "nohost:port"], 2, "is not host:port"),
        (["dev", "--resources", "cpus:many"], 2, "cpus: 'many' is not a number"),
        (["dev", "--allocation_interval", "soon"], 2, "'soon' is not a duration"),
        (["dev", "--agents", "3", "--resources", "ports:[1-2]"], 2, "cannot be split among 3 agents"),
        (["dev", "--master_port", "99999"], 2, "99999 is not in the range"),
        (["master", "--zk", "zk://h:2181/mesos"], 2, "--quorum is required with --zk"),
        (["agent", "--master", "zk://"], 2, "no ZooKeeper servers"),
        (["no-such-command"], 2, "No such command"),
    ],
)
def test_bad_input_is_one_line_without_traceback(args: list[str], code: int, fragment: str) -> None:
    result = run_corral(*args)
    assert result.code == code, result.stderr
    assert fragment in one_line_error(result.stderr)

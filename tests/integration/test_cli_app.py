"""`corral app` against Marathon inside a real `corral dev`: the tutorial's hello2 added from a file, listed,
scaled to 2, shown running, removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.cli import CliResult, run_corral

from corral.testing.procs import free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"
HELLO2 = {
    "id": "hello2",
    "cmd": "echo hello; sleep 10",
    "mem": 16,
    "cpus": 0.1,
    "instances": 1,
    "disk": 0,
    "ports": [0],
}


def test_app_lifecycle(tmp_path: Path) -> None:
    [port] = free_ports(1)
    dev = start_dev(tmp_path, resources=RESOURCES, marathon_port=port)
    try:

        def app(*args: str) -> CliResult:
            return run_corral("app", *args, "--marathon", dev.marathon)

        wait_for(lambda: app("list").code == 0, timeout=30, interval=0.5, what="marathon to answer")
        definition = tmp_path / "hello2.json"
        definition.write_text(json.dumps(HELLO2))
        added = app("add", str(definition))
        assert added.code == 0, added.stderr
        assert added.stdout.startswith("created /hello2")

        listed = app("list")
        assert listed.code == 0, listed.stderr
        assert any(line.split()[:1] == ["/hello2"] for line in listed.stdout.splitlines()), listed.stdout

        scaled = app("scale", "hello2", "2")
        assert scaled.code == 0, scaled.stderr

        def two_running() -> list[Any] | None:
            shown = app("show", "hello2", "-o", "json")
            assert shown.code == 0, shown.stderr
            tasks = [t for t in json.loads(shown.stdout).get("tasks", []) if t["state"] == "TASK_RUNNING"]
            return tasks if len(tasks) == 2 else None

        wait_for(two_running, timeout=30, interval=0.5, what="2 hello2 tasks running")
        table = app("show", "hello2")
        assert "instances  2/2 running" in table.stdout, table.stdout

        removed = app("remove", "hello2", "--wait", "--timeout", "30")
        assert removed.code == 0, removed.stderr
        gone = app("show", "hello2")
        assert gone.code == 1 and "404" in gone.stderr and "Traceback" not in gone.stderr
    finally:
        code = dev.stop()
        assert code == 0, dev.fail(f"corral dev exited with {code} after SIGTERM")

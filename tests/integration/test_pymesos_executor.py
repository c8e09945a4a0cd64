"""An unmodified pymesos scheduler with a custom pymesos executor (support/hello_executor.py) on `corral dev`.

Checks the exchange of clients.md 2.5: TASK_RUNNING, a framework MESSAGE both ways, TASK_FINISHED, then
`driver.stop()` tears the framework down (TEARDOWN -> executor SHUTDOWN).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from pymesos import encode_data
from support.schedulers import RecordingScheduler, resources, running_driver

from corral.testing.procs import DevProcess, wait_for

pytestmark = pytest.mark.integration


def executor_task(task_id: str, executor: Path, data: bytes) -> dict[str, Any]:
    return {
        "task_id": {"value": task_id},
        "name": task_id,
        "data": encode_data(data),
        "resources": resources(cpus=0.1, mem=32),
        "executor": {
            "executor_id": {"value": "hello-executor"},
            "name": "hello executor",
            "command": {"value": f"{sys.executable} {executor}"},
            "resources": resources(cpus=0.1, mem=32),
        },
    }


def frameworks(dev: DevProcess, key: str) -> list[str]:
    value = dev.state().get(key)
    return [str(f.get("name")) for f in value if isinstance(f, dict)] if isinstance(value, list) else []


def test_custom_executor_runs_tasks_and_exchanges_messages(dev: DevProcess, support_dir: Path) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "custom-executor") as driver:
        scheduler.launch(driver, executor_task("exec-1", support_dir / "hello_executor.py", b"payload"))
        scheduler.wait_state("exec-1", "TASK_RUNNING", timeout=20)
        assert scheduler.wait_message(lambda m: m == b"hello from exec-1") == b"hello from exec-1"

        finished = scheduler.wait_state("exec-1", "TASK_FINISHED")
        assert finished.status.get("message") == "done: payload"
        assert finished.status.executor_id.value == "hello-executor"

        where = scheduler.launched_on["exec-1"]
        driver.sendFrameworkMessage(
            {"value": "hello-executor"}, {"value": where["agent_id"]}, encode_data(b"ping")
        )
        assert scheduler.wait_message(lambda m: m == b"echo: ping") == b"echo: ping"
        assert "custom-executor" in frameworks(dev, "frameworks")

    # driver.stop() sent TEARDOWN: the framework is gone from the active list.
    wait_for(lambda: "custom-executor" not in frameworks(dev, "frameworks"), timeout=15, what="teardown")
    assert "custom-executor" in frameworks(dev, "completed_frameworks")

"""An unmodified pymesos scheduler against `corral dev`: command tasks, KILL, RECONCILE, `corral task logs`.

Upstream behaviour checked: mesos.md h (checklist), a.10 (reconciliation: SOURCE_MASTER,
REASON_RECONCILIATION, no uuid), b.6 (command executor: TASK_RUNNING before TASK_FINISHED; KILL gives
TASK_KILLED).
"""

from __future__ import annotations

import pytest
from support.cli import run_corral
from support.schedulers import RecordingScheduler, command_task, running_driver

from corral.testing.procs import DevProcess

pytestmark = pytest.mark.integration


def test_command_task_runs_finishes_and_its_stdout_is_readable(dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "echo") as driver:
        scheduler.launch(driver, command_task("echo-1", "echo hello; echo oops >&2"))
        scheduler.wait_state("echo-1", "TASK_FINISHED")
        states = scheduler.states("echo-1")
        assert "TASK_RUNNING" in states
        assert states.index("TASK_RUNNING") < states.index("TASK_FINISHED")

        logs = run_corral("task", "logs", "echo-1", master=dev.master)
        assert logs.code == 0, logs.stderr
        assert "hello" in logs.stdout.splitlines()

        errors = run_corral("task", "logs", "echo-1", "--stderr", master=dev.master)
        assert errors.code == 0, errors.stderr
        assert "oops" in errors.stdout.splitlines()

        # --follow on a finished task prints the file and returns at once.
        followed = run_corral("task", "logs", "--follow", "echo-1", master=dev.master, timeout=15)
        assert followed.code == 0, followed.stderr
        assert "hello" in followed.stdout.splitlines()


def test_follow_prints_output_as_it_is_written_until_the_task_ends(dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "follow") as driver:
        scheduler.launch(driver, command_task("count-1", "for i in 1 2 3; do echo line$i; sleep 0.3; done"))
        scheduler.wait_state("count-1", "TASK_RUNNING")
        followed = run_corral("task", "logs", "-f", "count-1", master=dev.master, timeout=20)
        assert followed.code == 0, followed.stderr
        assert followed.stdout.splitlines()[-3:] == ["line1", "line2", "line3"]
        scheduler.wait_state("count-1", "TASK_FINISHED")


def test_kill_of_a_long_task_gives_task_killed(dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "kill") as driver:
        scheduler.launch(driver, command_task("sleeper-1", "sleep 1000"))
        scheduler.wait_state("sleeper-1", "TASK_RUNNING")
        driver.killTask({"value": "sleeper-1"})  # pymesos sends KILL with only the task id
        killed = scheduler.wait_state("sleeper-1", "TASK_KILLED", timeout=15)
        assert killed.status.agent_id.value  # reliably delivered: it carried a uuid, so an agent_id


def test_reconcile_with_only_a_task_id_answers_the_latest_state(dev: DevProcess) -> None:
    scheduler = RecordingScheduler()
    with running_driver(scheduler, dev.master, "reconcile") as driver:
        scheduler.launch(driver, command_task("steady-1", "sleep 1000"))
        scheduler.wait_state("steady-1", "TASK_RUNNING")
        seen = len(scheduler.updates)
        driver.reconcileTasks([{"task_id": {"value": "steady-1"}}])  # no agent_id, as pymesos sends it
        answer = scheduler.wait_state("steady-1", "TASK_RUNNING", after=seen)
        assert answer.status.get("reason") == "REASON_RECONCILIATION"
        assert answer.status.get("source") == "SOURCE_MASTER"
        assert "uuid" not in answer.status

        seen = len(scheduler.updates)
        driver.reconcileTasks([{"task_id": {"value": "never-launched"}}])
        unknown = scheduler.wait_state("never-launched", "TASK_LOST", after=seen)
        assert unknown.status.get("reason") == "REASON_RECONCILIATION"

        driver.killTask({"value": "steady-1"})
        scheduler.wait_state("steady-1", "TASK_KILLED")


def test_the_readme_example_scheduler_works(dev: DevProcess) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parents[2] / "docs" / "examples" / "hello_scheduler.py"
    done = subprocess.run(
        [sys.executable, str(example), dev.master, "echo hello from the example"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is TASK_FINISHED" in done.stdout
    task_id = done.stdout.split("try: corral task logs ", 1)[1].strip()
    logs = run_corral("task", "logs", task_id, master=dev.master)
    assert logs.code == 0, logs.stderr
    assert "hello from the example" in logs.stdout

"""What processes the agent starts find in their environment (`mesos.md` b.4; the issue's task variables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.agent.environment import DEFAULT_PATH, executor_environment, format_duration, task_environment
from corral.core.ids import AgentId, FrameworkId
from corral.protocol.json import Reader
from corral.protocol.mesos import ExecutorInfo

from .builders import command_task, framework_info

SANDBOX = Path("/w/slaves/S0/frameworks/F/executors/e1/runs/c0")


def test_a_command_task_gets_its_sandbox_ids_host_and_ports_and_its_own_variables_win() -> None:
    task = command_task(
        "web.1",
        resources=[
            {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31005, "end": 31005}]}},
            {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 31001, "end": 31002}]}},
        ],
        discovery={
            "visibility": "FRAMEWORK",
            "ports": {"ports": [{"number": 31005, "name": "http-api"}, {"name": "admin"}]},
        },
        command={"value": "run", "environment": {"variables": [{"name": "PORT1", "value": "80"}]}},
    )
    env = task_environment(
        base={"HOME": "/root", "LANG": "C.UTF-8", "PATH": "/opt/bin"},
        framework_id=FrameworkId("F"),
        task=task,
        endpoint="10.0.0.7:5051",
        hostname="agent7",
        directory=SANDBOX,
    )
    assert env == {
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PATH": "/opt/bin",
        "MESOS_SANDBOX": str(SANDBOX),
        "MESOS_DIRECTORY": str(SANDBOX),
        "MESOS_TASK_ID": "web.1",
        "MESOS_EXECUTOR_ID": "web.1",
        "MESOS_FRAMEWORK_ID": "F",
        "MESOS_AGENT_ENDPOINT": "10.0.0.7:5051",
        "HOST": "agent7",
        "PORT0": "31005",  # in the order the task asked for them, not sorted
        "PORT1": "80",  # the command's own environment wins
        "PORT2": "31002",
        "PORTS": "31005,31001,31002",
        "PORT": "31005",
        "PORT_HTTP_API": "31005",
        "PORT_ADMIN": "31001",  # no number: the port at the same index
    }


def test_a_task_without_ports_gets_none_and_a_default_path() -> None:
    env = task_environment(
        base={},
        framework_id=FrameworkId("F"),
        task=command_task(),
        endpoint="e:1",
        hostname="h",
        directory=SANDBOX,
    )
    assert env["PATH"] == DEFAULT_PATH
    assert not {k for k in env if k.startswith("PORT")}


def test_an_executor_finds_its_agent_ids_and_grace_period() -> None:
    executor = ExecutorInfo.from_json(
        Reader(
            {
                "executor_id": {"value": "e1"},
                "command": {"value": "x", "environment": {"variables": [{"name": "A", "value": "1"}]}},
            }
        )
    )
    env = executor_environment(
        base={"HOME": "/root"},
        framework=framework_info(checkpoint=True),
        executor=executor,
        agent_id=AgentId("M-S0"),
        endpoint="10.0.0.7:5051",
        directory=SANDBOX,
        shutdown_grace=5.0,
        reregistration_timeout=2.0,
    )
    assert env == {
        "HOME": "/root",
        "MESOS_FRAMEWORK_ID": "M-0000",
        "MESOS_EXECUTOR_ID": "e1",
        "MESOS_AGENT_ENDPOINT": "10.0.0.7:5051",
        "MESOS_SLAVE_ID": "M-S0",
        "MESOS_SLAVE_PID": "slave(1)@10.0.0.7:5051",
        "MESOS_DIRECTORY": str(SANDBOX),
        "MESOS_SANDBOX": str(SANDBOX),
        "MESOS_CHECKPOINT": "1",
        "MESOS_HTTP_COMMAND_EXECUTOR": "0",
        "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "5secs",
        "MESOS_RECOVERY_TIMEOUT": "15mins",
        "MESOS_SUBSCRIPTION_BACKOFF_MAX": "2secs",
        "LIBPROCESS_PORT": "0",
        "A": "1",
        "PATH": DEFAULT_PATH,
    }


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(5.0, "5secs"), (0.5, "500ms"), (90.0, "1.5mins"), (60.0, "1mins"), (7200.0, "2hrs"), (1e-9, "1ns")],
)
def test_durations_are_written_as_stout_writes_them(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text

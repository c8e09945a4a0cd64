"""Reading `/master/state` (mesos.md c.2) and agent `/state` (c.6), and rendering them."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from corral.cli.render import cluster_tables, make_console, print_json, task_table
from corral.cli.views import ClusterView, cluster_json, find_sandbox, read_master_state, task_json
from corral.core.errors import DecodeError
from corral.protocol.json import JsonValue

STATE: JsonValue = json.loads((Path(__file__).parent / "master_state.json").read_text())


@pytest.fixture
def view() -> ClusterView:
    return read_master_state(STATE)


def render(renderable: object) -> str:
    out = io.StringIO()
    make_console(out, width=200).print(renderable)
    return out.getvalue()


def test_agents(view: ClusterView) -> None:
    a, b = view.agents
    assert (a.id, a.hostname, a.address) == ("3f0d-S0", "127.0.0.1", "127.0.0.1:5051")
    assert a.usage() == "cpus 0.5/4  mem 128/4096  disk 0/10000"
    assert b.ports() == "[31501-32000]"


def test_tasks_of_live_and_completed_frameworks(view: ClusterView) -> None:
    assert [(t.id, t.state, t.framework, t.agent) for t in view.tasks] == [
        ("web-1", "TASK_RUNNING", "hello", "127.0.0.1"),
        ("web-2", "TASK_STAGING", "hello", "agent-b"),
        ("once", "TASK_FINISHED", "hello", "127.0.0.1"),
        ("gone", "TASK_KILLED", "old", "agent-b"),
    ]
    assert [t.id for t in view.live_tasks()] == ["web-1", "web-2"]
    assert view.task_counts() == {"TASK_FINISHED": 1, "TASK_KILLED": 1, "TASK_RUNNING": 1, "TASK_STAGING": 1}


def test_frameworks(view: ClusterView) -> None:
    assert [(f.name, f.active, f.completed, f.tasks) for f in view.frameworks] == [
        ("hello", True, False, 2),
        ("old", False, True, 0),
    ]


def test_find_task_prefers_a_live_task(view: ClusterView) -> None:
    task = view.find_task("once")
    assert task is not None and task.agent_id == "3f0d-S0"
    assert view.find_task("nope") is None


def test_missing_sections_are_empty() -> None:
    view = read_master_state({"id": "m", "hostname": "h"})
    assert (view.agents, view.frameworks, view.tasks) == ((), (), ())


def test_wrong_types_name_the_field() -> None:
    with pytest.raises(DecodeError, match=r"/master/state.slaves\[0\].id"):
        read_master_state({"slaves": [{"id": 7}]})


def test_cluster_status_table(view: ClusterView) -> None:
    text = render(cluster_tables(view))
    assert "master 127.0.0.1 3f0d1c2e-0000-4000-8000-000000000001  version 1.11.0" in text
    assert "cpus 0.5/4  mem 128/4096  disk 0/10000" in text
    assert "[31000-31500]" in text
    assert "completed" in text  # the old framework
    for state in ("TASK_RUNNING", "TASK_STAGING", "TASK_FINISHED", "TASK_KILLED"):
        assert state in text


def test_task_table_shows_whole_ids(view: ClusterView) -> None:
    lines = render(task_table(view.live_tasks())).splitlines()
    assert lines[0].split() == ["ID", "NAME", "FRAMEWORK", "STATE", "AGENT"]
    assert lines[1].split() == ["web-1", "web", "hello", "TASK_RUNNING", "127.0.0.1"]
    assert lines[2].split() == ["web-2", "web", "hello", "TASK_STAGING", "agent-b"]


def test_json_documents(view: ClusterView) -> None:
    out = io.StringIO()
    print_json(cluster_json(view), out)
    doc = json.loads(out.getvalue())
    assert [a["id"] for a in doc["agents"]] == ["3f0d-S0", "3f0d-S1"]
    assert doc["tasks"]["TASK_RUNNING"] == 1
    assert doc["agents"][0]["used_resources"]["cpus"] == 0.5
    assert task_json(view.tasks[0]) == {
        "id": "web-1",
        "name": "web",
        "framework_id": "3f0d-0000",
        "framework": "hello",
        "state": "TASK_RUNNING",
        "agent_id": "3f0d-S0",
        "agent": "127.0.0.1",
    }


AGENT_STATE: JsonValue = {
    "id": "3f0d-S0",
    "frameworks": [
        {
            "id": "3f0d-0000",
            "executors": [
                {"id": "web-1", "directory": "/w/agent-0/sandboxes/web-1", "tasks": [{"id": "web-1"}]},
                {"id": "custom", "directory": "/w/agent-0/sandboxes/custom", "tasks": [], "queued_tasks": []},
            ],
            "completed_executors": [
                {"id": "x", "directory": "/w/agent-0/sandboxes/x", "completed_tasks": [{"id": "once"}]}
            ],
        }
    ],
    "completed_frameworks": [],
}


@pytest.mark.parametrize(
    ("task_id", "executor_id", "directory"),
    [
        ("web-1", "", "/w/agent-0/sandboxes/web-1"),  # a command task, listed under its executor
        ("t9", "custom", "/w/agent-0/sandboxes/custom"),  # a custom executor, by its id
        ("once", "", "/w/agent-0/sandboxes/x"),  # completed
        ("nope", "", None),
    ],
)
def test_find_sandbox(task_id: str, executor_id: str, directory: str | None) -> None:
    found = find_sandbox(AGENT_STATE, framework_id="3f0d-0000", task_id=task_id, executor_id=executor_id)
    assert found == directory


def test_find_sandbox_ignores_other_frameworks() -> None:
    assert find_sandbox(AGENT_STATE, framework_id="other", task_id="web-1", executor_id="") is None

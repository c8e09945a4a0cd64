"""Per-task usage in the master's state: what agents report (`UsageReport`) shows as each running task's
`statistics` in `/master/state`, `/master/frameworks` and `/master/tasks`, in upstream's ResourceStatistics
names; tasks that ended show none, so a completed task's cached JSON never changes."""

from __future__ import annotations

from typing import Any

from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.core.task_state import TaskState
from corral.master.messages import AgentMessage
from corral.master.state_json import state_json, tasks_json
from corral.protocol.agent import ResourceStatistics, TaskUsage, UsageReport
from corral.protocol.json import dumps, loads
from corral.protocol.scheduler import Acknowledge

from .harness import Harness, command_task

MB = 1024 * 1024


def sample(framework_id: FrameworkId, task_id: str, *, at: float, user: float) -> TaskUsage:
    statistics = ResourceStatistics(
        timestamp=at,
        cpus_user_time_secs=user,
        cpus_system_time_secs=0.25,
        cpus_limit=1.1,
        mem_rss_bytes=40 * MB,
        mem_limit_bytes=160 * MB,
    )
    return TaskUsage(framework_id=framework_id, task_id=TaskId(task_id), statistics=statistics)


def running(master: Harness, *task_ids: str) -> tuple[AgentId, FrameworkId]:
    agent_id = master.add_agent("a1")
    framework_id = master.subscribe()
    master.tick(1.0)
    [offer] = master.offers_to(framework_id)
    master.launch(framework_id, offer, *(command_task(t, agent_id, cpus=1, mem=128) for t in task_ids))
    for task_id in task_ids:
        master.status_update(
            agent_id, framework_id, task_id, TaskState.TASK_RUNNING, uuid=task_id.encode() * 16
        )
    return agent_id, framework_id


def tasks_in_state(master: Harness) -> dict[str, Any]:
    document: Any = loads(dumps(state_json(master.state, master.config)))
    [framework] = document["frameworks"]
    return {t["id"]: t for t in framework["tasks"] + framework["completed_tasks"]}


def test_a_running_task_shows_what_its_agent_last_reported() -> None:
    master = Harness()
    agent_id, framework_id = running(master, "web", "db")
    version = master.state.version

    report = UsageReport(timestamp=1.0, tasks=(sample(framework_id, "web", at=1.0, user=2.5),))
    effects = master.send(AgentMessage(agent_id=agent_id, message=report))
    assert master.to_agent(agent_id, effects) == [] and master.events_of(framework_id, effects) == []
    assert master.state.version > version  # /master/state is rendered again
    tasks = tasks_in_state(master)
    assert tasks["web"]["statistics"] == {
        "timestamp": 1.0,
        "cpus_user_time_secs": 2.5,
        "cpus_system_time_secs": 0.25,
        "cpus_limit": 1.1,
        "mem_rss_bytes": 40 * MB,
        "mem_limit_bytes": 160 * MB,
    }
    assert "statistics" not in tasks["db"]  # not in the report: nothing to show
    listed: Any = tasks_json(
        master.state, limit=10, offset=0, descending=True, framework_id=None, task_id="web"
    )
    assert listed["tasks"][0]["statistics"]["cpus_user_time_secs"] == 2.5

    later = UsageReport(timestamp=6.0, tasks=(sample(framework_id, "db", at=6.0, user=0.5),))
    master.send(AgentMessage(agent_id=agent_id, message=later))
    tasks = tasks_in_state(master)
    assert "statistics" not in tasks["web"]  # a report is complete: left out, it shows nothing any more
    assert tasks["db"]["statistics"]["timestamp"] == 6.0


def test_a_task_that_ended_shows_no_statistics_and_its_cached_json_has_none() -> None:
    master = Harness()
    agent_id, framework_id = running(master, "web")
    report = UsageReport(timestamp=1.0, tasks=(sample(framework_id, "web", at=1.0, user=2.5),))
    master.send(AgentMessage(agent_id=agent_id, message=report))

    master.status_update(agent_id, framework_id, "web", TaskState.TASK_FINISHED, uuid=b"f" * 16)
    assert "statistics" not in tasks_in_state(master)["web"]  # terminal, awaiting acknowledgement
    master.send(AgentMessage(agent_id=agent_id, message=report))  # a late report changes nothing
    assert "statistics" not in tasks_in_state(master)["web"]
    master.call(framework_id, Acknowledge(agent_id=agent_id, task_id=TaskId("web"), uuid=b"f" * 16))
    [completed] = master.state.frameworks[framework_id].completed_tasks
    assert tasks_in_state(master)["web"]["state"] == "TASK_FINISHED"
    assert completed.completed_json is not None and b"statistics" not in completed.completed_json


def test_a_report_cannot_speak_for_tasks_of_another_agent_or_unknown_ones() -> None:
    master = Harness()
    agent_id, framework_id = running(master, "web")
    other = master.add_agent("a2")
    stranger = UsageReport(
        timestamp=1.0,
        tasks=(
            sample(framework_id, "web", at=1.0, user=9.0),
            sample(framework_id, "ghost", at=1.0, user=1.0),
        ),
    )
    master.send(AgentMessage(agent_id=other, message=stranger))
    assert "statistics" not in tasks_in_state(master)["web"]
    master.send(AgentMessage(agent_id=agent_id, message=stranger))
    assert tasks_in_state(master)["web"]["statistics"]["cpus_user_time_secs"] == 9.0
    assert "ghost" not in tasks_in_state(master)

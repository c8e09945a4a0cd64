"""A restarted agent recovers what its last run left (`mesos.md` f.4, b.5; `docs/agent-recovery.md`).

Each test runs an agent core whose checkpoints go to a real work dir (as the runtime's writer would write
them), "kills" it, and hands a new core those checkpoints, read back, with what the task supervisor reports.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field, replace
from pathlib import Path

from corral.agent.checkpoint import Checkpointer, read_agent_id, read_checkpoints
from corral.agent.core import AgentCore
from corral.agent.effects import (
    Checkpoint,
    Checkpointed,
    CollectGarbage,
    Effect,
    Inbound,
    Launch,
    ProcessExited,
    ProcessStarted,
    Recover,
    SendToMaster,
    Signal,
    SupervisorReport,
    Tick,
)
from corral.agent.recovery import GONE_MESSAGE
from corral.agent.sandbox import find_runs, meta_run_directory, run_directory
from corral.agent.state import ExecutorPhase
from corral.core.ids import ContainerId, ExecutorId, TaskId
from corral.core.task_state import TaskState
from corral.protocol import executor as ex
from corral.protocol.agent import ExecutorExited, KillTask, RunTask, RunTaskGroup
from corral.protocol.json import Reader
from corral.protocol.mesos import ExecutorInfo, TaskStatus
from corral.testing.clock import FakeClock

from .builders import (
    AGENT,
    CONFIG,
    FRAMEWORK,
    ack,
    command_task,
    executor_events,
    executor_task,
    executor_update,
    framework_info,
    make_core,
    registered,
    sent_updates,
    signals,
    subscribe,
)

C0, C1, C2 = (ContainerId(f"c{i}") for i in range(3))


def exited_with(code: int) -> int:
    return code << 8


@dataclass
class Agent:
    """An agent core and its work dir; `restart` starts a new core on the same work dir."""

    work_dir: Path
    clock: FakeClock = field(default_factory=FakeClock)
    core: AgentCore = field(init=False)

    def __post_init__(self) -> None:
        self.config = replace(CONFIG, work_dir=self.work_dir)
        self.core = make_core(self.config)
        self.checkpointer = Checkpointer(self.work_dir)
        self.handle(registered(self.core, self.clock.now()))

    def handle(self, effects_or_message: list[Effect] | Inbound) -> list[Effect]:
        effects = (
            effects_or_message
            if isinstance(effects_or_message, list)
            else self.core.handle(effects_or_message, self.clock.now())
        )
        for effect in effects:
            if isinstance(effect, Checkpoint):
                self.checkpointer.write(self.core.agent_id, effect.record)
        return effects

    def run(self, *tasks: str, checkpoint: bool = True, capabilities: tuple[str, ...] = ()) -> None:
        """Launch a command task per id, in containers c0, c1, ...: started (pids 100, 101, ...), and every
        update acknowledged."""
        for task_id in tasks:
            info = framework_info(checkpoint=checkpoint, capabilities=capabilities)
            launched = self.handle(RunTask(framework_info=info, task=command_task(task_id, "sleep 60")))
            container_id = self.core.state.frameworks[FRAMEWORK].executors[ExecutorId(task_id)].container_id
            started = self.handle(ProcessStarted(container_id=container_id, pid=100 + int(container_id[1:])))
            self.acknowledge(sent_updates(launched) + sent_updates(started))

    def acknowledge(self, sent: list[TaskStatus]) -> None:
        """Acknowledge every update sent, and those each acknowledgement lets out, as a framework would."""
        while sent:
            sent += sent_updates(self.handle(ack(sent.pop(0))))

    def restart(
        self,
        running: dict[ContainerId, int] | None = None,
        exited: dict[ContainerId, int] | None = None,
        *,
        cleanup: bool = False,
    ) -> list[Effect]:
        """Start a new core on the work dir, and recover; the old core is gone (kill -9)."""
        agent_id = read_agent_id(self.work_dir)
        assert agent_id == AGENT
        self.core = make_core(self.config, agent_id=agent_id, restarted=True)
        self.checkpointer = Checkpointer(self.work_dir)
        assert self.core.executor_call_problem(subscribe()) == (503, "Agent has not finished recovery")
        frameworks = () if cleanup else read_checkpoints(self.work_dir, agent_id)
        checkpointed = Checkpointed(frameworks=frameworks, run_directories=tuple(find_runs(self.work_dir)))
        report = SupervisorReport(running=running or {}, exited=exited or {})
        return self.handle(Recover(checkpointed=checkpointed, report=report))

    def reregister(self) -> list[TaskStatus]:
        return sent_updates(self.handle(registered(self.core, self.clock.now())))

    def states(self, task_id: str, executor_id: str | None = None) -> list[TaskState]:
        executor = self.core.state.frameworks[FRAMEWORK].executors[ExecutorId(executor_id or task_id)]
        task = executor.task(TaskId(task_id))
        assert task is not None
        return [s.state for s in task.statuses]


def signalled(effects: list[Effect]) -> list[tuple[int, int]]:
    return [(e.pid, e.signal) for e in effects if isinstance(e, Signal)]


def registered_tasks(core: AgentCore) -> dict[str, TaskState]:
    return {t.task.task_id: t.state for t in core.registration().tasks}


def test_running_tasks_are_adopted_and_an_unacknowledged_update_is_sent_again(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.run("a")
    info = framework_info(checkpoint=True)
    starting = sent_updates(agent.handle(RunTask(framework_info=info, task=command_task("b", "sleep 60"))))
    agent.handle(ack(starting[0]))
    [running_b] = sent_updates(agent.handle(ProcessStarted(container_id=C1, pid=101)))  # never acknowledged

    effects = agent.restart(running={C0: 100, C1: 101})
    assert signals(effects) == [] and not any(isinstance(e, Launch) for e in effects)  # same processes
    assert sent_updates(effects) == []  # the master is not connected yet
    assert not agent.core.is_recovering
    executors = agent.core.state.frameworks[FRAMEWORK].executors.values()
    assert sorted((e.pid, e.phase) for e in executors) == [
        (100, ExecutorPhase.RUNNING),
        (101, ExecutorPhase.RUNNING),
    ]
    assert registered_tasks(agent.core) == {"a": TaskState.TASK_RUNNING, "b": TaskState.TASK_RUNNING}

    [resent] = agent.reregister()
    assert resent == running_b  # the same update, uuid and all: the framework may see it twice, never lose it
    agent.handle(ack(resent))
    [finished] = sent_updates(agent.handle(ProcessExited(container_id=C0, wait_status=0)))
    assert (finished.task_id, finished.state) == ("a", TaskState.TASK_FINISHED)


def test_a_task_that_ended_meanwhile_is_reported_with_its_real_exit_status(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.run("sleeper", "ender")

    effects = agent.restart(running={C0: 100}, exited={C1: exited_with(3)})
    assert signals(effects) == []
    assert registered_tasks(agent.core) == {"sleeper": TaskState.TASK_RUNNING, "ender": TaskState.TASK_FAILED}
    [failed] = agent.reregister()
    assert (failed.task_id, failed.state, failed.message) == (
        "ender",
        TaskState.TASK_FAILED,
        "Command exited with status 3",
    )
    agent.handle(ack(failed))
    assert ExecutorId("ender") not in agent.core.state.frameworks[FRAMEWORK].executors  # retired


def test_a_task_whose_process_vanished_fails_as_an_unknown_container(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.run("t1")
    agent.restart()  # the supervisor knows nothing of it: it was gone too (a reboot, a crash)
    [failed] = agent.reregister()
    assert (failed.state, failed.reason, failed.message, failed.source) == (
        TaskState.TASK_FAILED,
        "REASON_EXECUTOR_TERMINATED",
        GONE_MESSAGE,
        "SOURCE_AGENT",
    )


def test_a_task_started_just_before_the_crash_reports_running_once_its_process_is_found(
    tmp_path: Path,
) -> None:
    agent = Agent(tmp_path)
    launched = agent.handle(RunTask(framework_info=framework_info(checkpoint=True), task=command_task("t1")))
    agent.handle(ack(sent_updates(launched)[0]))  # TASK_STARTING; the process started after the agent died

    agent.restart(running={C0: 4242})
    assert [s.state for s in agent.reregister()] == [TaskState.TASK_RUNNING]
    assert agent.core.state.frameworks[FRAMEWORK].executors[ExecutorId("t1")].pid == 4242


def test_a_task_that_was_being_killed_is_killed_again(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.run("t1", capabilities=("TASK_KILLING_STATE",))
    agent.handle(KillTask(framework_id=FRAMEWORK, task_id=TaskId("t1")))  # TASK_KILLING, SIGTERM

    effects = agent.restart(running={C0: 100})
    assert signals(effects) == [signal.SIGTERM]
    agent.clock.advance(3.0)  # the default kill grace
    assert signals(agent.handle(Tick())) == [signal.SIGKILL]
    agent.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL))
    assert agent.states("t1")[-2:] == [TaskState.TASK_KILLING, TaskState.TASK_KILLED]


def test_containers_nobody_claims_are_killed_and_cleanup_kills_everything(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.run("kept")
    agent.run("forgotten", checkpoint=False)  # its framework does not checkpoint: nothing to recover it from
    stray = ContainerId("stray")
    effects = agent.restart(running={C0: 100, C1: 101, stray: 999})
    assert sorted(signalled(effects)) == [
        (101, signal.SIGKILL),
        (999, signal.SIGKILL),
    ]
    assert registered_tasks(agent.core) == {"kept": TaskState.TASK_RUNNING}

    effects = agent.restart(running={C0: 100}, cleanup=True)
    assert signals(effects) == [signal.SIGKILL]
    assert registered_tasks(agent.core) == {}
    assert agent.core.registration().agent_info.id == AGENT  # the same agent, with nothing on it


def executor_running_t1_and_staging_t2(agent: Agent) -> None:
    """Custom executor e1 (container c0, pid 300) subscribed; t1 TASK_RUNNING (acknowledged); t2 launched
    to it but not yet reported on."""
    info = framework_info(checkpoint=True)
    agent.handle(RunTask(framework_info=info, task=executor_task("t1")))
    agent.handle(ProcessStarted(container_id=C0, pid=300))
    agent.handle(subscribe())
    [running] = sent_updates(agent.handle(executor_update("t1", "TASK_RUNNING", b"r" * 16)))
    agent.handle(ack(running))
    assert ex.Launch in map(
        type, executor_events(agent.handle(RunTask(framework_info=info, task=executor_task("t2"))))
    )


def test_a_custom_executor_subscribes_again_and_tasks_it_never_got_are_lost(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    executor_running_t1_and_staging_t2(agent)

    agent.restart(running={C0: 300})
    assert agent.core.is_recovering  # no registration with the master before the executor is back
    assert agent.core.executor_call_problem(executor_update("t1", "TASK_FINISHED", b"f" * 16)) == (
        403,
        "Executor is not subscribed",
    )
    effects = agent.handle(subscribe())  # with no unacknowledged tasks: t2 never reached it
    [subscribed] = executor_events(effects)
    assert isinstance(subscribed, ex.Subscribed) and subscribed.container_id == C0
    assert not agent.core.is_recovering
    assert agent.states("t2", "e1") == [TaskState.TASK_LOST]
    [lost] = agent.reregister()
    assert (lost.task_id, lost.reason) == ("t2", "REASON_AGENT_RESTARTED")
    assert registered_tasks(agent.core)["t1"] == TaskState.TASK_RUNNING


def test_a_custom_executor_that_does_not_come_back_is_killed_and_its_tasks_are_lost(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    executor_running_t1_and_staging_t2(agent)
    agent.restart(running={C0: 300})

    agent.clock.advance(CONFIG.executor_reregistration_timeout)
    effects = agent.handle(Tick())
    assert signals(effects) == [signal.SIGKILL]
    assert not agent.core.is_recovering
    assert {t: s[-1] for t in ("t1", "t2") if (s := agent.states(t, "e1"))} == {
        "t1": TaskState.TASK_LOST,
        "t2": TaskState.TASK_LOST,
    }
    assert [(s.task_id, s.source, s.reason, s.message) for s in agent.reregister()] == [
        (
            t,
            "SOURCE_AGENT",
            "REASON_EXECUTOR_REREGISTRATION_TIMEOUT",
            "Executor did not re-register within 15secs",
        )
        for t in ("t1", "t2")
    ]
    exited = agent.handle(ProcessExited(container_id=C0, wait_status=signal.SIGKILL))
    assert ExecutorExited(framework_id=FRAMEWORK, executor_id=ExecutorId("e1"), status=9) in [
        e.message for e in exited if isinstance(e, SendToMaster)
    ]


def test_a_default_executor_task_that_failed_meanwhile_takes_its_running_sibling_down(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    pod = ExecutorInfo.from_json(Reader({"type": "DEFAULT", "executor_id": {"value": "pod"}}))
    group = RunTaskGroup(
        framework_info=framework_info(checkpoint=True),
        executor=pod,
        tasks=(command_task("a", "sleep 60"), command_task("b", "exit 1")),
    )
    sent = sent_updates(agent.handle(group))
    sent += sent_updates(agent.handle(ProcessStarted(container_id=C1, pid=201)))
    sent += sent_updates(agent.handle(ProcessStarted(container_id=C2, pid=202)))
    agent.acknowledge(sent)

    effects = agent.restart(running={C1: 201}, exited={C2: exited_with(1)})
    assert signalled(effects) == [(201, signal.SIGTERM)]
    agent.handle(ProcessExited(container_id=C1, wait_status=signal.SIGTERM))
    assert (agent.states("a", "pod")[-1], agent.states("b", "pod")[-1]) == (
        TaskState.TASK_KILLED,
        TaskState.TASK_FAILED,
    )


def test_directories_nothing_owns_any_more_are_collected_gc_delay_after_their_mtime(tmp_path: Path) -> None:
    agent = Agent(tmp_path)
    agent.run("done", "live")
    [finished] = sent_updates(agent.handle(ProcessExited(container_id=C0, wait_status=0)))
    agent.handle(ack(finished))  # retired: its directories are garbage from now on
    done = (AGENT, FRAMEWORK, ExecutorId("done"), C0)
    live = (AGENT, FRAMEWORK, ExecutorId("live"), C1)
    for ids in (done, live):
        run_directory(tmp_path, *ids).mkdir(parents=True)  # the supervisor made the sandboxes

    agent.restart(running={C1: 101})
    gc = agent.core.ledger.gc
    assert gc.is_scheduled(run_directory(tmp_path, *done))
    assert gc.is_scheduled(meta_run_directory(tmp_path, *done))
    assert not gc.is_scheduled(run_directory(tmp_path, *live))
    assert not gc.is_scheduled(meta_run_directory(tmp_path, *live))
    garbage = {run_directory(tmp_path, *done), meta_run_directory(tmp_path, *done)}
    latest = max(path.stat().st_mtime for path in garbage)
    agent.clock.advance(latest + CONFIG.gc_delay - agent.clock.now())
    [collect] = [e for e in agent.handle(Tick()) if isinstance(e, CollectGarbage)]
    assert set(collect.paths) == garbage
    assert len(gc) == 0

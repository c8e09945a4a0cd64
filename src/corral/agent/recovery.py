"""What a restarted agent makes of what its last run left (`mesos.md` f.4, upstream's `Slave::recover`):
`Recovery.recover(Recover, now) -> effects`, with no I/O.

It is given the checkpoints of its agent id (the frameworks that checkpoint, their executors' latest runs,
every task's updates and acknowledgements; `checkpoint.py`) and the task supervisor's report (containers
still running, and the raw wait status of each container that exited while no agent was connected).

Rules:
1. A task's state is that of its latest update. Its status update stream is rebuilt; what was not
   acknowledged goes to the master again once it is connected.
2. A container still running is adopted: the same process, supervised again, and known to the isolator
   again (its limits rebuilt from its resources: usage, OOM and disk limitations, cleanup). A task that
   had not reported TASK_RUNNING does so now; health checks and max_completion_time start again; a task
   that was being killed (TASK_KILLING) is killed again. A DEFAULT executor's own container (which its
   tasks' nest in) is adopted with them, or destroyed if none of them is left.
3. A container that exited meanwhile ends as if the agent had watched it: its tasks get their real exit
   status ("Command exited with status 3"); a custom executor's unfinished tasks end TASK_FAILED.
4. A container that neither runs nor left an exit status (the supervisor itself was gone) ends its
   unfinished tasks TASK_FAILED, REASON_EXECUTOR_TERMINATED, as upstream's "unknown container".
5. A custom executor still running must subscribe again within `executor_reregistration_timeout`
   (`executors.py`). Until every one has, or has run out of time, `AgentCore.is_recovering` holds, and the
   agent does not register with the master: it re-registers with what it then runs.
6. Running containers that nothing claims (frameworks that do not checkpoint, checkpoints that cannot be
   read, and everything under `--recover=cleanup`, which passes no checkpoints) are SIGKILLed.
7. An executor whose tasks are all terminal and acknowledged had been retired: only its directories are
   left. Every run directory no recovered executor owns is garbage, due `gc_delay` after its mtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from signal import SIGKILL

from corral.agent.command_tasks import CommandTasks, describe_exit, is_synthesized
from corral.agent.effects import (
    AdoptContainer,
    CheckpointedExecutor,
    CheckpointedFramework,
    CheckpointedTask,
    DestroyContainer,
    Effect,
    ProcessExited,
    Recover,
    Signal,
    SupervisorReport,
    Transition,
)
from corral.agent.executors import CustomExecutors
from corral.agent.ledger import (
    REASON_EXECUTOR_TERMINATED,
    REGISTRATION,
    Ledger,
    container_resources,
    executor_name,
)
from corral.agent.sandbox import meta_run_directory, run_directory, task_directory
from corral.agent.state import Executor, ExecutorPhase, Framework, Task, TaskContainer
from corral.agent.task_groups import EXITED_NORMALLY, DefaultExecutors, Found
from corral.core.ids import ContainerId
from corral.core.resources import Resources

GONE_MESSAGE = "Abnormal executor termination: unknown container"


@dataclass(slots=True)
class _Containers:
    """The supervisor's report, and the containers in it that recovered executors and tasks claim."""

    report: SupervisorReport
    claimed: set[ContainerId] = field(default_factory=set)

    def running(self, container_id: ContainerId) -> int | None:
        """The pid of the container if it runs (it is claimed then)."""
        return self._claim(container_id, self.report.running.get(container_id))

    def exited(self, container_id: ContainerId) -> int | None:
        """The wait status of the container if it exited meanwhile (it is claimed then)."""
        return self._claim(container_id, self.report.exited.get(container_id))

    def unclaimed(self) -> list[tuple[ContainerId, int]]:
        return sorted((c, pid) for c, pid in self.report.running.items() if c not in self.claimed)

    def _claim(self, container_id: ContainerId, found: int | None) -> int | None:
        if found is not None:
            self.claimed.add(container_id)
        return found


class Recovery:
    def __init__(
        self, ledger: Ledger, commands: CommandTasks, executors: CustomExecutors, groups: DefaultExecutors
    ) -> None:
        self.ledger = ledger
        self.commands = commands
        self.executors = executors
        self.groups = groups

    def recover(self, msg: Recover, now: float) -> list[Effect]:
        state = self.ledger.state
        state.awaiting_recovery = False
        containers = _Containers(msg.report)
        effects: list[Effect] = []
        if state.agent_id is not None:  # without an id this agent never registered: nothing is its own
            for checkpointed in msg.checkpointed.frameworks:
                effects += self._framework(checkpointed, containers, now)
        killed = containers.unclaimed()
        effects += [Signal(container_id=c, pid=pid, signal=SIGKILL) for c, pid in killed]
        self._collect_garbage(msg.checkpointed.run_directories)
        tasks = sum(len(e.tasks) for e in state.executors())
        summary = f"{tasks} tasks, {len(containers.claimed)} containers found, {len(killed)} killed"
        ident = state.agent_id or "(unregistered)"
        recovered = Transition(kind="agent", ident=ident, old="RECOVERING", new="RECOVERED", reason=summary)
        return [recovered, *effects]

    # ------------------------------------------------------------ frameworks and executors

    def _framework(
        self, checkpointed: CheckpointedFramework, containers: _Containers, now: float
    ) -> list[Effect]:
        info = checkpointed.info
        frameworks = self.ledger.state.frameworks
        if info.id is None or info.id in frameworks:
            return []
        framework = Framework(info=info)
        frameworks[info.id] = framework
        effects: list[Effect] = []
        for executor in checkpointed.executors:
            effects += self._executor(framework, executor, containers, now)
        if not framework.executors and frameworks.get(info.id) is framework:
            del frameworks[info.id]  # nothing of it is left but directories
            return effects
        recovered = Transition(kind="framework", ident=info.id, old="", new="ACTIVE", reason="recovered")
        return [recovered, *effects]

    def _executor(
        self, framework: Framework, checkpointed: CheckpointedExecutor, containers: _Containers, now: float
    ) -> list[Effect]:
        container_id = checkpointed.container_id
        is_command = is_synthesized(checkpointed.info)
        is_default = checkpointed.info.type == "DEFAULT"
        runs = not is_command and not is_default and container_id in containers.report.running
        if not runs and not any(_is_unfinished(t) for t in checkpointed.tasks):
            return []  # retired before the restart
        assert self.ledger.state.agent_id is not None
        ids = (self.ledger.state.agent_id, framework.id, checkpointed.info.executor_id, container_id)
        executor = Executor(
            info=checkpointed.info,
            framework_id=framework.id,
            container_id=container_id,
            directory=run_directory(self.ledger.config.work_dir, *ids),
            is_command=is_command,
            is_default=is_default,
        )
        framework.executors[executor.id] = executor
        self.ledger.state.containers[container_id] = executor
        for task in checkpointed.tasks:
            self._task(framework, executor, task)
        if is_default:
            return self._default_executor(framework, executor, checkpointed, containers, now)
        if is_command and not executor.live_tasks():
            # It ended before the restart; its terminal update awaits acknowledgement.
            self.ledger.finish(executor, containers.exited(container_id))
            return []
        if (pid := containers.running(container_id)) is not None:
            return self._adopt(framework, executor, pid, now)
        if (status := containers.exited(container_id)) is not None:
            if is_command:
                return self.commands.exited(framework, executor, status, now)
            _, how = describe_exit(status)
            return self.executors.exited(framework, executor, status, how, now)
        return self.ledger.container_gone(
            framework, executor, now, new="GONE", reason=REASON_EXECUTOR_TERMINATED, message=GONE_MESSAGE
        )

    def _task(self, framework: Framework, executor: Executor, checkpointed: CheckpointedTask) -> None:
        task = Task(info=checkpointed.info, framework_id=framework.id, executor_id=executor.id)
        task.statuses = list(checkpointed.updates)
        if checkpointed.updates:
            task.state = checkpointed.updates[-1].state
        pending = self.ledger.updates.recover(
            framework_id=framework.id,
            executor_id=executor.id,
            container_id=executor.container_id,
            updates=checkpointed.updates,
            acknowledged=checkpointed.acknowledged,
        )
        if task.state.is_terminal and not pending:
            executor.completed.append(task)
            return
        executor.tasks[task.id] = task
        framework.executor_of_task[task.id] = executor.id

    def _adopt(self, framework: Framework, executor: Executor, pid: int, now: float) -> list[Effect]:
        transition = Transition(
            kind="executor",
            ident=executor_name(framework, executor),
            old="",
            new=ExecutorPhase.RUNNING if executor.is_command else ExecutorPhase.REGISTERING,
            reason=f"recovered: container {executor.container_id}, pid {pid}",
        )
        adopted = _adopted(executor, pid)
        if executor.is_command:
            return [transition, adopted, *self.commands.adopt(framework, executor, pid, now)]
        executor.pid, executor.recovered = pid, True
        executor.registration_deadline = now + self.ledger.config.executor_reregistration_timeout
        self.ledger.schedule(executor.registration_deadline, REGISTRATION, executor)
        return [transition, adopted]

    def _default_executor(
        self,
        framework: Framework,
        executor: Executor,
        checkpointed: CheckpointedExecutor,
        containers: _Containers,
        now: float,
    ) -> list[Effect]:
        """Each unfinished task has a container of its own. Every container exists, and every running one is
        adopted, before any task's end can take the rest of its group down."""
        executor.phase = ExecutorPhase.RUNNING
        live = executor.live_tasks()
        if not live:
            self.ledger.finish(executor, EXITED_NORMALLY)  # its tasks' terminal updates await acknowledgement
            return [DestroyContainer(container_id=executor.container_id)]  # if the last run left it
        saved = {t.info.task_id: t for t in checkpointed.tasks}
        found: list[Found] = []
        for task in live:
            container_id, group = saved[task.id].container_id, saved[task.id].group
            task.container = TaskContainer(
                container_id=container_id or self.ledger.new_container_id(),  # none: it never launched
                directory=task_directory(executor.directory, task.id),
                group=group or (task.id,),
            )
            self.ledger.state.task_containers[task.container.container_id] = task
            found.append((framework, executor, task, task.container))
        effects: list[Effect] = [_adopted(executor, None)]
        ended: list[Found] = []
        for each in found:
            if (pid := containers.running(each[3].container_id)) is not None:
                effects += [_adopted_task(executor, each[3], pid), *self.groups.adopt(each, pid, now)]
            else:
                ended.append(each)
        for each in ended:
            container_id, task = each[3].container_id, each[2]
            if task.state.is_terminal:
                continue  # killed with its group meanwhile
            if (status := containers.exited(container_id)) is not None:
                exited = ProcessExited(container_id=container_id, wait_status=status)
                effects += self.groups.exited(exited, now)
            else:
                effects += self.groups.container_gone(
                    each, now, reason=REASON_EXECUTOR_TERMINATED, message=GONE_MESSAGE
                )
        return effects

    # ------------------------------------------------------------ directories

    def _collect_garbage(self, run_directories: tuple[tuple[Path, float], ...]) -> None:
        state, work_dir = self.ledger.state, self.ledger.config.work_dir
        owned: set[Path] = set()
        for executor in state.executors():
            owned.add(executor.directory)
            if state.agent_id is not None:
                ids = (state.agent_id, executor.framework_id, executor.id, executor.container_id)
                owned.add(meta_run_directory(work_dir, *ids))
        gc = self.ledger.gc
        for path, modified in run_directories:
            if path not in owned and not gc.is_scheduled(path):
                gc.schedule(path, modified)


def _adopted(executor: Executor, pid: int | None) -> AdoptContainer:
    """The executor's container; `pid` None for a DEFAULT executor's, which runs no process."""
    return AdoptContainer(
        container_id=executor.container_id,
        pid=pid,
        sandbox=executor.directory,
        resources=container_resources(executor),
    )


def _adopted_task(executor: Executor, container: TaskContainer, pid: int) -> AdoptContainer:
    """The container of a DEFAULT executor's task, nested in the executor's (which holds the limits)."""
    return AdoptContainer(
        container_id=container.container_id,
        pid=pid,
        sandbox=container.directory,
        resources=Resources(),
        parent=executor.container_id,
    )


def _is_unfinished(task: CheckpointedTask) -> bool:
    """Live, or ended with an update the master has not acknowledged."""
    if not task.updates or not task.updates[-1].state.is_terminal:
        return True
    return len(task.acknowledged) < len(task.updates)

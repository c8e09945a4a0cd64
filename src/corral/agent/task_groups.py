"""The agent as the DEFAULT executor (`mesos.md` a.6; upstream's `src/launcher/default_executor.cpp`).

A LAUNCH_GROUP whose executor is DEFAULT starts no executor process: the agent runs each task of the group
as a process of its own, supervised as a command task's is (`command_tasks.py`), in a nested container
with its own sandbox `<executor run dir>/tasks/<task_id>/` (stdout, stderr; MESOS_SANDBOX points there).
Frameworks see what upstream's default executor reports, every update carrying the group's executor id:

    RunTaskGroup -> TASK_STARTING (each task) -> Launch -> ProcessStarted -> TASK_RUNNING
                 -> ProcessExited -> TASK_FINISHED / TASK_FAILED / TASK_KILLED

Rules (upstream's `waited`, `killTask` and `shutdown`):
- The executor's container holds the group's limits (its resources and its live tasks'); each task's
  container nests in it. A task whose container is stopped for a limit (the OOM killer picked it) ends
  TASK_FAILED with the limitation's reason, reported by the agent, as a command task does.
- A task that ends TASK_FAILED or TASK_KILLED kills the live rest of its group, which end TASK_KILLED,
  unless it was itself killed for that reason or the executor is shutting down. A task that finishes kills
  nothing. So a KILL of one task kills its whole group: that task first, then the others.
- SHUTDOWN kills every task of every group; a KILL during it is ignored.
- A task that fails its health check too often is killed as by a KILL (`health_checks.py`): it ends
  TASK_KILLED with `healthy: false`, and so takes its group down.
- Once every task of the executor is terminal, the executor is TERMINATED and the master hears
  ExecutorExited (status 0); until then a later LAUNCH_GROUP adds a group to it, after that its tasks are
  dropped as any terminating executor's are. It is forgotten once their terminal updates are acknowledged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from signal import SIGKILL, SIGTERM

from corral.agent.command_tasks import BEFORE_RUNNING, KILLED_BY, kill_grace, outcome, unhealthy_end
from corral.agent.effects import (
    DestroyContainer,
    Effect,
    Ignored,
    Launch,
    LaunchFailed,
    ProcessExited,
    ProcessStarted,
    SendToMaster,
    Signal,
    Transition,
    UpdateContainer,
)
from corral.agent.environment import task_environment
from corral.agent.health_checks import HealthChecker
from corral.agent.ledger import (
    COMPLETION,
    ESCALATION,
    EXECUTOR_GONE,
    REASON_CONTAINER_LAUNCH_FAILED,
    REASON_TASK_KILLED_DURING_LAUNCH,
    UNKNOWN_EXIT_STATUS,
    Ledger,
    begin_shutdown,
    container_resources,
    executor_name,
)
from corral.agent.sandbox import task_directory
from corral.agent.state import Executor, ExecutorPhase, Framework, KillCause, Task, TaskContainer
from corral.core.ids import ContainerId, TaskId
from corral.core.task_state import TaskState
from corral.protocol.agent import ExecutorExited
from corral.protocol.mesos import ExecutorInfo, Source, TaskInfo
from corral.security.acls import command_user

EXITED_NORMALLY = 0  # the wait status upstream's default executor leaves when it terminates by itself

_KILLS_THE_GROUP = (TaskState.TASK_FAILED, TaskState.TASK_KILLED)

Found = tuple[Framework, Executor, Task, TaskContainer]


class DefaultExecutors:
    def __init__(self, ledger: Ledger, base_environment: Mapping[str, str]) -> None:
        self.ledger = ledger
        self._base_environment = base_environment

    # ------------------------------------------------------------ launching

    def deliver(
        self, framework: Framework, info: ExecutorInfo, tasks: tuple[TaskInfo, ...], now: float
    ) -> list[Effect]:
        """Run a task group on the DEFAULT executor `info`, starting the executor if it is new."""
        ledger = self.ledger
        if not tasks:
            return [Ignored(text=f"an empty task group for executor {info.executor_id}")]
        if info.framework_id is None:
            info = replace(info, framework_id=framework.id)
        executor = framework.executors.get(info.executor_id)
        if executor is not None and not executor.is_default:
            kind = "a command task" if executor.is_command else "a CUSTOM executor"
            return [Ignored(text=f"executor id {info.executor_id} is taken by {kind}")]
        if executor is not None and executor.phase in EXECUTOR_GONE:
            return ledger.drop(framework, executor, tasks, now)
        effects: list[Effect] = []
        start = executor is None
        if executor is None:
            executor = ledger.new_executor(framework, info, is_command=False, is_default=True)
            executor.phase = ExecutorPhase.RUNNING  # nothing to wait for: the agent is the executor
            effects.append(
                Transition(
                    kind="executor",
                    ident=executor_name(framework, executor),
                    old="",
                    new=executor.phase,
                    reason=f"DEFAULT executor, container {executor.container_id}",
                )
            )
        members = [ledger.adopt(framework, executor, task, queued=False) for task in tasks]
        if unrunnable := [t.id for t in members if t.info.command is None]:
            effects += ledger.checkpoint_launch(framework, executor, tasks, new_executor=start)
            return effects + self._reject(framework, executor, members, unrunnable[0], now)
        group = tuple(t.id for t in members)
        for task in members:  # every member has its container before any can fail and kill the others
            task.container = TaskContainer(
                container_id=ledger.new_container_id(),
                directory=task_directory(executor.directory, task.id),
                group=group,
            )
            ledger.state.task_containers[task.container.container_id] = task
        nested = tuple(members)
        effects += ledger.checkpoint_launch(framework, executor, tasks, new_executor=start, nested=nested)
        # The executor's container holds the group's limits (its own resources and its tasks'), as upstream's
        # does; each task's container nests in it.
        effects.append(
            UpdateContainer(container_id=executor.container_id, resources=container_resources(executor))
        )
        for task in members:
            effects += self._launch(framework, executor, task, now)
        return effects

    def _launch(self, framework: Framework, executor: Executor, task: Task, now: float) -> list[Effect]:
        """TASK_STARTING, then the task's process (fetch into its sandbox, spawn)."""
        ledger, container, command = self.ledger, task.container, task.info.command
        assert container is not None and command is not None
        effects = ledger.report(
            framework, executor, task, TaskState.TASK_STARTING, now, source=Source.SOURCE_EXECUTOR
        )
        environment = self.environment(framework, executor, task)
        launch = Launch(
            container_id=container.container_id,
            sandbox=container.directory,
            argv=tuple(command.argv()),
            environment=environment,
            uris=command.uris,
            user=command_user(framework.info, command),
            parent=executor.container_id,
        )
        task.health = HealthChecker.for_task(task.info, framework.id, launch.sandbox, environment)
        return [*effects, launch]

    def environment(
        self, framework: Framework, executor: Executor, task: Task
    ) -> tuple[tuple[str, str], ...]:
        """The environment of a task's process (and of its COMMAND health checks)."""
        assert task.container is not None
        environment = task_environment(
            base=self._base_environment,
            framework_id=framework.id,
            task=task.info,
            endpoint=self.ledger.endpoint,
            hostname=self.ledger.config.advertised_hostname,
            directory=task.container.directory,
            executor_id=executor.id,
            container_ip=self.ledger.config.ip,
        )
        return tuple(environment.items())

    def _reject(
        self, framework: Framework, executor: Executor, members: list[Task], culprit: TaskId, now: float
    ) -> list[Effect]:
        """A group with a task Corral cannot run (no command: container images are not supported) fails
        as a whole, before anything is launched. If that ends the executor, it never ran anything."""
        effects: list[Effect] = []
        for task in members:
            effects += self.ledger.report(
                framework,
                executor,
                task,
                TaskState.TASK_FAILED,
                now,
                source=Source.SOURCE_AGENT,
                reason=REASON_CONTAINER_LAUNCH_FAILED,
                message=f"Task '{culprit}' of the task group has no command to run",
            )
        return effects + self._maybe_terminated(framework, executor, now, status=UNKNOWN_EXIT_STATUS)

    # ------------------------------------------------------------ the tasks' processes

    def find(self, container_id: ContainerId) -> Found | None:
        task = self.ledger.state.task_containers.get(container_id)
        if task is None or task.container is None:
            return None
        framework, executor = self.ledger.lookup(task.framework_id, task.executor_id)
        if framework is None or executor is None:
            return None
        return framework, executor, task, task.container

    def started(self, msg: ProcessStarted, now: float) -> list[Effect]:
        found = self.find(msg.container_id)
        if found is None:
            return [Ignored(text=f"container {msg.container_id} started but is unknown")]
        framework, executor, task, container = found
        container.pid = msg.pid
        if container.kill_cause is not None:  # killed while launching: never TASK_RUNNING
            return self._terminate(task, container, container.kill_grace or 0.0, now)
        effects = self.ledger.report(
            framework, executor, task, TaskState.TASK_RUNNING, now, source=Source.SOURCE_EXECUTOR
        )
        self.ledger.start_health_check(task, now)
        if (limit := task.info.max_completion_time) is not None:
            container.completion_deadline = now + limit
            self.ledger.schedule_task(container.completion_deadline, COMPLETION, task)
        return effects

    def adopt(self, found: Found, pid: int, now: float) -> list[Effect]:
        """A restarted agent found the task's process running (`recovery.py`): supervise it again, as
        `CommandTasks.adopt` does."""
        framework, executor, task, container = found
        environment = self.environment(framework, executor, task)
        task.health = HealthChecker.for_task(task.info, framework.id, container.directory, environment)
        if task.state in BEFORE_RUNNING:
            return self.started(ProcessStarted(container_id=container.container_id, pid=pid), now)
        container.pid = pid
        if task.state is TaskState.TASK_KILLING:
            container.kill_cause, task.kill_requested = KillCause.FRAMEWORK, True
            return self._terminate(task, container, kill_grace(None, task.info), now)
        self.ledger.resume_health_check(task, now)
        if (limit := task.info.max_completion_time) is not None:
            container.completion_deadline = self.ledger.running_since(task, now) + limit
            self.ledger.schedule_task(container.completion_deadline, COMPLETION, task)
        return []

    def exited(self, msg: ProcessExited, now: float) -> list[Effect]:
        found = self.find(msg.container_id)
        if found is None:
            return [Ignored(text=f"container {msg.container_id} exited but is unknown")]
        framework, executor, task, container = found
        self._forget(container)
        cause = container.kill_cause
        state, message, reason = outcome(
            msg.wait_status,
            killed=cause in KILLED_BY,
            timed_out=cause is KillCause.MAX_COMPLETION_TIME,
            limitation=msg.limitation,
        )
        effects = self.ledger.report(
            framework,
            executor,
            task,
            state,
            now,
            source=Source.SOURCE_EXECUTOR if msg.limitation is None else Source.SOURCE_AGENT,
            message=message,
            reason=reason,
            healthy=unhealthy_end(cause),
        )
        return effects + self._ended(framework, executor, task, container, now)

    def launch_failed(self, msg: LaunchFailed, now: float) -> list[Effect]:
        found = self.find(msg.container_id)
        if found is None:
            return [Ignored(text=f"container {msg.container_id} failed to launch but is unknown")]
        self.ledger.state.count("container_launch_errors")
        return self.container_gone(
            found,
            now,
            reason=REASON_CONTAINER_LAUNCH_FAILED,
            message=msg.message,
            killed_reason=REASON_TASK_KILLED_DURING_LAUNCH,
        )

    def container_gone(
        self, found: Found, now: float, *, reason: str, message: str, killed_reason: str | None = None
    ) -> list[Effect]:
        """The task's process failed to launch, or vanished with its exit status (`recovery.py`): it ends
        TASK_FAILED with `reason` (TASK_KILLED if it was being killed)."""
        framework, executor, task, container = found
        self._forget(container)
        killed = container.kill_cause is not None
        effects = self.ledger.report(
            framework,
            executor,
            task,
            TaskState.TASK_KILLED if killed else TaskState.TASK_FAILED,
            now,
            source=Source.SOURCE_AGENT,
            reason=(killed_reason or reason) if killed else reason,
            message=message,
        )
        return effects + self._ended(framework, executor, task, container, now)

    def _forget(self, container: TaskContainer) -> None:
        self.ledger.state.task_containers.pop(container.container_id, None)
        container.pid = None  # gone: never signal a pid that may be reused
        container.escalation_deadline = container.completion_deadline = None

    def _ended(
        self, framework: Framework, executor: Executor, task: Task, container: TaskContainer, now: float
    ) -> list[Effect]:
        """After a task's terminal update: maybe kill the rest of its group, maybe end the executor."""
        effects: list[Effect] = []
        if (
            task.state in _KILLS_THE_GROUP
            and not executor.shut_down
            and container.kill_cause is not KillCause.TASK_GROUP
        ):
            effects += self._kill_group(framework, executor, task, container, now)
        return effects + self._maybe_terminated(framework, executor, now)

    def _kill_group(
        self, framework: Framework, executor: Executor, task: Task, container: TaskContainer, now: float
    ) -> list[Effect]:
        siblings = [executor.tasks.get(task_id) for task_id in container.group if task_id != task.id]
        live = [
            s
            for s in siblings
            if s is not None
            and not s.state.is_terminal
            and s.container is not None
            and s.container.kill_cause is None
        ]
        if not live:
            return []
        effects: list[Effect] = [
            Transition(
                kind="task group",
                ident=f"{list(container.group)} of framework {framework.id}",
                old="",
                new="KILLING",
                reason=f"task {task.id} is {task.state}",
            )
        ]
        for sibling in live:
            grace = kill_grace(None, sibling.info)
            effects += self._kill(framework, executor, sibling, now, grace=grace, cause=KillCause.TASK_GROUP)
        return effects

    def _maybe_terminated(
        self, framework: Framework, executor: Executor, now: float, *, status: int = EXITED_NORMALLY
    ) -> list[Effect]:
        """Upstream's default executor terminates by itself once none of its tasks is live. It is retired once
        their terminal updates are acknowledged, or at once if its framework is shutting down."""
        if executor.phase is ExecutorPhase.TERMINATED or executor.live_tasks():
            return []
        old = self.ledger.finish(executor, status)
        exited = ExecutorExited(framework_id=framework.id, executor_id=executor.id, status=status)
        return [
            Transition(
                kind="executor",
                ident=executor_name(framework, executor),
                old=old,
                new=executor.phase,
                reason="all its tasks are terminal",
            ),
            DestroyContainer(container_id=executor.container_id),
            SendToMaster(message=exited),
            *self.ledger.retire(framework, executor, now),
        ]

    # ------------------------------------------------------------ killing and shutting down

    def kill(
        self,
        framework: Framework,
        executor: Executor,
        task: Task,
        requested: float | None,
        now: float,
        *,
        cause: KillCause = KillCause.FRAMEWORK,
    ) -> list[Effect]:
        """KILL (or a failed health check): this task now (with KILL's grace, else its kill policy's, else
        3 s); the rest of its group once it has ended."""
        if executor.phase is not ExecutorPhase.RUNNING:
            return []  # shutting down: every task is being killed already
        grace = kill_grace(requested, task.info)
        return self._kill(framework, executor, task, now, grace=grace, cause=cause)

    def shutdown(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        """SHUTDOWN: kill every task not being killed yet, each with its own kill policy."""
        begun = begin_shutdown(framework, executor)
        if begun is None:
            return []
        _, transition = begun
        effects: list[Effect] = [transition]
        for task in executor.live_tasks():
            if task.container is not None and task.container.kill_cause is None:
                grace = kill_grace(None, task.info)
                effects += self._kill(framework, executor, task, now, grace=grace, cause=KillCause.FRAMEWORK)
        return effects + self._maybe_terminated(framework, executor, now)

    def timer(
        self, kind: str, framework: Framework, executor: Executor, task_id: TaskId, now: float
    ) -> list[Effect]:
        """A task's own deadline: the end of its kill grace (ESCALATION) or its max_completion_time."""
        task = executor.tasks.get(task_id)
        container = task.container if task is not None else None
        if task is None or container is None or container.pid is None:
            return []
        if kind == ESCALATION:
            deadline = container.escalation_deadline
            if deadline is None or deadline > now:
                return []
            container.escalation_deadline = None
            return [Signal(container_id=container.container_id, pid=container.pid, signal=SIGKILL)]
        deadline = container.completion_deadline
        if kind != COMPLETION or deadline is None or deadline > now:
            return []
        container.completion_deadline = None
        # Zero grace, as for command tasks, so that the task's kill policy cannot stretch the limit.
        return self._kill(framework, executor, task, now, grace=0.0, cause=KillCause.MAX_COMPLETION_TIME)

    def _kill(
        self,
        framework: Framework,
        executor: Executor,
        task: Task,
        now: float,
        *,
        grace: float,
        cause: KillCause,
    ) -> list[Effect]:
        """SIGTERM the task's process now, SIGKILL it after `grace`; a repeated kill only shortens that."""
        container = task.container
        if container is None or task.state.is_terminal:
            return []
        effects: list[Effect] = []
        first = container.kill_cause is None
        if first:
            container.kill_cause = cause
            task.kill_requested = True
            effects += self.ledger.stop_health_check(task)
            if cause in KILLED_BY and framework.info.has_task_killing_state:
                effects += self.ledger.report(
                    framework, executor, task, TaskState.TASK_KILLING, now, source=Source.SOURCE_EXECUTOR
                )
        if container.pid is None:  # still launching: `started` begins the kill
            if container.kill_grace is None or grace < container.kill_grace:
                container.kill_grace = grace
            return effects
        if first:
            return effects + self._terminate(task, container, grace, now)
        deadline = now + grace
        if container.escalation_deadline is not None and deadline < container.escalation_deadline:
            container.escalation_deadline = deadline
            self.ledger.schedule_task(deadline, ESCALATION, task)
        return effects

    def _terminate(self, task: Task, container: TaskContainer, grace: float, now: float) -> list[Effect]:
        assert container.pid is not None
        container.escalation_deadline = now + grace
        self.ledger.schedule_task(container.escalation_deadline, ESCALATION, task)
        return [Signal(container_id=container.container_id, pid=container.pid, signal=SIGTERM)]

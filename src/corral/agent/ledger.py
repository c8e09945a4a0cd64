"""The agent core's shared bookkeeping: records, status updates, timers, and the ids it is given.

Both lifecycles (command tasks and custom executors) change state only through these methods, so the
invariants of `state.py` hold in one place: a task's update is recorded on the task before it enters the
status update manager; an executor is retired (and its framework with it) only when nothing is pending, unless
its framework is shutting down: then nothing is sent, and its streams are closed when it is retired.
"""

from __future__ import annotations

from collections.abc import Callable

from corral.agent.config import AgentConfig
from corral.agent.effects import (
    Checkpoint,
    Effect,
    ExecutorRecord,
    Ignored,
    LaunchFailed,
    SendToMaster,
    TaskRecord,
    Transition,
    UpdateContainer,
)
from corral.agent.gc import GarbageCollector
from corral.agent.isolation.limits import COMMAND_EXECUTOR_OVERHEAD
from corral.agent.sandbox import meta_run_directory, run_directory
from corral.agent.state import AgentState, Deadlines, Executor, ExecutorPhase, Framework, Task
from corral.agent.status_updates import StatusUpdateManager
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol.agent import ExecutorExited
from corral.protocol.json import JsonObject, ident
from corral.protocol.mesos import AgentInfo, ExecutorInfo, Source, TaskInfo, TaskStatus

REGISTRATION, ESCALATION, COMPLETION = "registration", "escalation", "completion"
HEALTH_CHECK = "health check"
REASON_CONTAINER_LAUNCH_FAILED = "REASON_CONTAINER_LAUNCH_FAILED"
REASON_TASK_KILLED_DURING_LAUNCH = "REASON_TASK_KILLED_DURING_LAUNCH"
REASON_EXECUTOR_TERMINATED = "REASON_EXECUTOR_TERMINATED"
UNKNOWN_EXIT_STATUS = -1  # upstream's ExitedExecutorMessage status when no process ever ran
TimerKey = tuple[str, FrameworkId, ExecutorId, TaskId | None]  # a task's own timer names its task
EXECUTOR_GONE = (ExecutorPhase.TERMINATING, ExecutorPhase.TERMINATED)


def executor_name(framework: Framework, executor: Executor) -> str:
    return f"{executor.id} of framework {framework.id}"


def container_resources(executor: Executor) -> Resources:
    """What the executor's container may use (upstream's `Executor::allocatedResources`): a command task's
    resources with the command executor's overhead; for any other executor its own resources and those of
    its live tasks, queued ones included, so that they fit once they launch."""
    if executor.is_command:
        return executor.info.resources + COMMAND_EXECUTOR_OVERHEAD
    total = executor.info.resources
    for task in executor.live_tasks():
        total = total + task.info.resources
    return total


def begin_shutdown(framework: Framework, executor: Executor) -> tuple[ExecutorPhase, Transition] | None:
    """Mark `executor` shut down and TERMINATING; its previous phase and the transition to log, or None if it
    was already going. What shutting down then takes is the executor kind's business."""
    if executor.phase in EXECUTOR_GONE:
        return None
    executor.shut_down = True
    old, executor.phase = executor.phase, ExecutorPhase.TERMINATING
    return old, Transition(
        kind="executor", ident=executor_name(framework, executor), old=old, new=executor.phase
    )


class Ledger:
    def __init__(
        self,
        config: AgentConfig,
        *,
        resources: Resources,
        new_container_id: Callable[[], ContainerId],
        new_uuid: Callable[[], bytes],
        agent_id: AgentId | None,
        start_time: float,
    ) -> None:
        self.config = config
        self.state = AgentState(resources=resources, start_time=start_time, agent_id=agent_id)
        self.updates = StatusUpdateManager(
            retry_min=config.status_update_retry_min, retry_max=config.status_update_retry_max
        )
        self.timers: Deadlines[TimerKey] = Deadlines()
        self.gc = GarbageCollector(delay=config.gc_delay, headroom=config.gc_disk_headroom)
        self._new_container_id = new_container_id
        self._new_uuid = new_uuid

    @property
    def endpoint(self) -> str:
        """`MESOS_AGENT_ENDPOINT`: where executors reach the agent."""
        return f"{self.config.ip}:{self.config.port}"

    def agent_info(self) -> AgentInfo:
        return AgentInfo(
            hostname=self.config.advertised_hostname,
            port=self.config.port,
            id=self.state.agent_id,
            resources=self.state.resources,
            attributes=self.config.attributes,
            reservations=self.config.reservations,
        )

    def lookup(
        self, framework_id: FrameworkId, executor_id: ExecutorId
    ) -> tuple[Framework | None, Executor | None]:
        framework = self.state.frameworks.get(framework_id)
        return framework, (framework.executors.get(executor_id) if framework else None)

    def new_container_id(self) -> ContainerId:
        return self._new_container_id()

    def schedule(self, deadline: float, kind: str, executor: Executor) -> None:
        self.timers.add(deadline, (kind, executor.framework_id, executor.id, None))

    def schedule_task(self, deadline: float, kind: str, task: Task) -> None:
        self.timers.add(deadline, (kind, task.framework_id, task.executor_id, task.id))

    # ------------------------------------------------------------ health checks (health_checks.py)

    def start_health_check(self, task: Task, now: float) -> None:
        """The task is TASK_RUNNING: its health check (if it has one) begins."""
        if task.health is not None:
            self.schedule_task(task.health.start(now), HEALTH_CHECK, task)

    def resume_health_check(self, task: Task, now: float) -> None:
        """A restarted agent supervises a running task again (`recovery.py`): its health check starts over,
        knowing whether it was reported healthy, so that the same success is not reported twice."""
        if task.health is not None:
            latest = next((s.healthy for s in reversed(task.statuses) if s.healthy is not None), None)
            task.health.has_succeeded = latest is True
            self.start_health_check(task, now)

    @staticmethod
    def running_since(task: Task, default: float) -> float:
        """When the task first reported TASK_RUNNING: its max_completion_time counts from then."""
        started = (s.timestamp for s in task.statuses if s.state is TaskState.TASK_RUNNING)
        return next((t for t in started if t is not None), default)

    @staticmethod
    def stop_health_check(task: Task) -> list[Effect]:
        """The task is being killed or has ended: no more probes (upstream pauses the checker on a kill)."""
        cancel = task.health.stop() if task.health is not None else None
        return [] if cancel is None else [cancel]

    # ------------------------------------------------------------ records

    def new_executor(
        self, framework: Framework, info: ExecutorInfo, *, is_command: bool, is_default: bool = False
    ) -> Executor:
        assert self.state.agent_id is not None
        container_id = self.new_container_id()
        directory = run_directory(
            self.config.work_dir, self.state.agent_id, framework.id, info.executor_id, container_id
        )
        executor = Executor(
            info=info,
            framework_id=framework.id,
            container_id=container_id,
            directory=directory,
            is_command=is_command,
            is_default=is_default,
        )
        framework.executors[executor.id] = executor
        self.state.containers[container_id] = executor
        return executor

    def adopt(self, framework: Framework, executor: Executor, info: TaskInfo, *, queued: bool) -> Task:
        task = Task(info=info, framework_id=framework.id, executor_id=executor.id)
        (executor.queued if queued else executor.tasks)[info.task_id] = task
        framework.executor_of_task[info.task_id] = executor.id
        return task

    def checkpoint_launch(
        self,
        framework: Framework,
        executor: Executor,
        tasks: tuple[TaskInfo, ...],
        *,
        new_executor: bool,
        nested: tuple[Task, ...] = (),
    ) -> list[Effect]:
        """The executor (if new) and its new tasks; `nested` are tasks of a DEFAULT executor, each with its
        own container, which a restarted agent needs to find their processes."""
        if not framework.info.checkpoint:
            return []
        containers = {t.id: t.container for t in nested}
        effects: list[Effect] = []
        if new_executor:
            record = ExecutorRecord(
                framework_id=framework.id, info=executor.info, container_id=executor.container_id
            )
            effects.append(Checkpoint(record=record))
        for task in tasks:
            container = containers.get(task.task_id)
            task_record = TaskRecord(
                framework_id=framework.id,
                executor_id=executor.id,
                container_id=executor.container_id,
                task=task,
                nested_container_id=container.container_id if container is not None else None,
                group=container.group if container is not None else (),
            )
            effects.append(Checkpoint(record=task_record))
        return effects

    @staticmethod
    def unqueue(executor: Executor, task: Task) -> None:
        if executor.queued.pop(task.id, None) is not None:
            executor.tasks[task.id] = task

    def finish(self, executor: Executor, wait_status: int | None) -> ExecutorPhase:
        """Mark the executor's process gone; returns the phase it was in."""
        if not executor.is_command:
            self.state.count("executors_terminated")
        old, executor.phase = executor.phase, ExecutorPhase.TERMINATED
        executor.exit_status = wait_status
        executor.registration_deadline = executor.escalation_deadline = executor.completion_deadline = None
        return old

    def retire(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        """Forget a terminated executor whose tasks are all completed, or at once if its framework is shutting
        down (upstream's `removeExecutor`: no acknowledgement will come); then maybe its framework. Its
        sandbox and checkpoints are garbage from now on (`gc.py`)."""
        if executor.phase is not ExecutorPhase.TERMINATED:
            return []
        if framework.terminating:
            for task in list(executor.all_tasks()):
                framework.executor_of_task.pop(task.id, None)
                executor.completed.append(task)
            executor.tasks.clear()
            executor.queued.clear()
            executor.groups.clear()
        elif executor.tasks or executor.queued:
            return []
        del framework.executors[executor.id]
        self.state.containers.pop(executor.container_id, None)
        framework.completed_executors.append(executor)
        self.gc.schedule(executor.directory, now)
        if framework.info.checkpoint and self.state.agent_id is not None:
            ids = (self.state.agent_id, framework.id, executor.id, executor.container_id)
            self.gc.schedule(meta_run_directory(self.config.work_dir, *ids), now)
        return self.retire_framework(framework)

    def retire_framework(self, framework: Framework) -> list[Effect]:
        """Forget a framework with no executors left (upstream's `removeFramework`): close its status update
        streams, so that nothing of it is resent, and keep it for `/state` among the completed ones."""
        if framework.executors or self.state.frameworks.get(framework.id) is not framework:
            return []
        del self.state.frameworks[framework.id]
        dropped = self.updates.cleanup(framework.id)
        self.state.completed_frameworks.append(framework)
        old = "TERMINATING" if framework.terminating else "ACTIVE"
        reason = f"{dropped} unacknowledged status updates dropped" if dropped else ""
        return [Transition(kind="framework", ident=framework.id, old=old, new="COMPLETED", reason=reason)]

    # ------------------------------------------------------------ status updates

    @staticmethod
    def lost_state(framework: Framework) -> TaskState:
        return TaskState.TASK_DROPPED if framework.info.is_partition_aware else TaskState.TASK_LOST

    def container_status(self, executor: Executor, task: Task | None = None) -> JsonObject:
        """The executor's container, or the task's own (nested, with the executor's as parent) if it has one,
        as upstream's default executor names it."""
        network_infos: JsonObject = {"ip_addresses": [{"ip_address": self.config.ip}]}
        if task is not None and task.container is not None:
            nested = {**ident(task.container.container_id), "parent": ident(executor.container_id)}
            return {"container_id": nested, "network_infos": [network_infos]}
        status: JsonObject = {"container_id": ident(executor.container_id), "network_infos": [network_infos]}
        if executor.pid is not None:
            status["executor_pid"] = executor.pid
        return status

    def report(
        self,
        framework: Framework,
        executor: Executor,
        task: Task,
        state: TaskState,
        now: float,
        *,
        source: Source,
        message: str | None = None,
        reason: str | None = None,
        healthy: bool | None = None,
    ) -> list[Effect]:
        """An update the agent writes itself (for command tasks, on the command executor's behalf). A
        terminal one ends the task's health check."""
        status = TaskStatus(
            task_id=task.id,
            state=state,
            message=message,
            source=source,
            reason=reason,
            agent_id=self.state.agent_id,
            executor_id=executor.id,
            timestamp=now,
            uuid=self._new_uuid(),
            healthy=healthy,
            extra={"container_status": self.container_status(executor, task)},
        )
        effects = self.record_update(framework, executor, task, status, now)
        if state.is_terminal:
            effects += self.stop_health_check(task)
        return effects

    def record_update(
        self, framework: Framework, executor: Executor, task: Task | None, status: TaskStatus, now: float
    ) -> list[Effect]:
        if framework.terminating:
            return self._record_unsent(framework, task, status)
        queued = self.updates.update(
            status,
            framework_id=framework.id,
            executor_id=executor.id,
            container_id=executor.container_id,
            checkpoint=framework.info.checkpoint,
            now=now,
        )
        if queued is None:
            self.state.count("invalid_status_updates")
            return [
                Ignored(text=f"dropped a duplicate or late {status.state} update of task {status.task_id}")
            ]
        self.state.count("valid_status_updates")
        if task is None:
            return queued
        was_live = not task.state.is_terminal
        effects: list[Effect] = [self._record_on(framework, task, status), *queued]
        if was_live and task.state.is_terminal:
            effects += self._shrink(executor)
        return effects

    @staticmethod
    def _shrink(executor: Executor) -> list[Effect]:
        """A task ended: its executor's container shrinks to what is left, as upstream updates it on a
        terminal update. Not a command task's (it ends with its task), nor one on its way out."""
        if executor.is_command or executor.phase in EXECUTOR_GONE:
            return []
        if executor.is_default and not executor.live_tasks():
            return []  # it terminates: DestroyContainer follows
        return [UpdateContainer(container_id=executor.container_id, resources=container_resources(executor))]

    def _record_unsent(self, framework: Framework, task: Task | None, status: TaskStatus) -> list[Effect]:
        """An update of a framework being shut down is not sent (upstream's `Slave::statusUpdate`: it could
        never be acknowledged); the task still ends, for its executor's lifecycle and `/state`."""
        self.state.count("invalid_status_updates")
        if task is None or task.state.is_terminal:
            text = (
                f"{status.state} update of task {status.task_id}: framework {framework.id} is shutting down"
            )
            return [Ignored(text=text)]
        return [self._record_on(framework, task, status)]

    def _record_on(self, framework: Framework, task: Task, status: TaskStatus) -> Transition:
        old, task.state = task.state, status.state
        task.statuses.append(status)
        if status.state.is_terminal:
            self.state.count(f"tasks_{status.state.metric_name}")
        return Transition(
            kind="task",
            ident=f"{task.id} of framework {framework.id}",
            old=old,
            new=status.state,
            reason=status.message or status.reason or "",
        )

    def drop(
        self, framework: Framework, executor: Executor, tasks: tuple[TaskInfo, ...], now: float
    ) -> list[Effect]:
        """Tasks sent to an executor on its way out: upstream drops them (TASK_LOST, or TASK_DROPPED for a
        partition-aware framework)."""
        effects: list[Effect] = []
        for info in tasks:
            task = self.adopt(framework, executor, info, queued=False)
            effects += self.report(
                framework,
                executor,
                task,
                self.lost_state(framework),
                now,
                source=Source.SOURCE_AGENT,
                reason=REASON_EXECUTOR_TERMINATED,
                message="Executor is terminating",
            )
        return effects

    def end_tasks(
        self,
        framework: Framework,
        executor: Executor,
        now: float,
        *,
        reason: str,
        message: str,
        killed_reason: str | None = None,
    ) -> list[Effect]:
        """Terminal updates from the agent for every task of `executor` not yet terminal: TASK_KILLED for
        those being killed (with `killed_reason` if given), TASK_FAILED for the others."""
        effects: list[Effect] = []
        for task in executor.live_tasks():
            self.unqueue(executor, task)
            killed = task.kill_requested or executor.shut_down
            effects += self.report(
                framework,
                executor,
                task,
                TaskState.TASK_KILLED if killed else TaskState.TASK_FAILED,
                now,
                source=Source.SOURCE_AGENT,
                reason=(killed_reason or reason) if killed else reason,
                message=message,
            )
        executor.groups.clear()
        return effects

    def launch_failed(
        self, framework: Framework, executor: Executor, msg: LaunchFailed, now: float
    ) -> list[Effect]:
        return self.container_gone(
            framework,
            executor,
            now,
            new="LAUNCH_FAILED",
            reason=REASON_CONTAINER_LAUNCH_FAILED,
            message=msg.message,
            killed_reason=REASON_TASK_KILLED_DURING_LAUNCH,
        )

    def container_gone(
        self,
        framework: Framework,
        executor: Executor,
        now: float,
        *,
        new: str,
        reason: str,
        message: str,
        killed_reason: str | None = None,
    ) -> list[Effect]:
        """The executor's container failed to launch, or vanished with its exit status (`recovery.py`): no
        process runs, and its live tasks end TASK_FAILED (TASK_KILLED if being killed) with `reason`."""
        old = self.finish(executor, None)
        effects: list[Effect] = [
            Transition(kind="container", ident=executor.container_id, old=old, new=new, reason=message)
        ]
        if not executor.is_command:
            exited = ExecutorExited(
                framework_id=framework.id, executor_id=executor.id, status=UNKNOWN_EXIT_STATUS
            )
            effects.append(SendToMaster(message=exited))
        effects += self.end_tasks(
            framework, executor, now, reason=reason, message=message, killed_reason=killed_reason
        )
        return effects + self.retire(framework, executor, now)

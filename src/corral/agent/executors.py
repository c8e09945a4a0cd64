"""The lifecycle of custom executors (TaskInfo.executor, LAUNCH_GROUP's executor): pymesos executors and
the like, which speak the v1 executor API to the agent.

REGISTERING (launched; tasks queued; registration timer) -> SUBSCRIBE -> RUNNING (SUBSCRIBED, then
LAUNCH_GROUP for queued groups and LAUNCH for the other queued tasks) -> SHUTDOWN -> TERMINATING (SIGKILL
after the shutdown grace period) -> its process exits -> TERMINATED: ExecutorExited to the master, and
TASK_FAILED / TASK_KILLED (REASON_EXECUTOR_TERMINATED) for the tasks it left unfinished.

An executor a restarted agent found running (`recovery.py`) is REGISTERING again, `recovered`, with its
tasks launched: it must subscribe within `executor_reregistration_timeout`, with the tasks it has not
acknowledged, or it is killed and its tasks are lost (b.3, b.5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from signal import SIGKILL

from corral.agent.effects import (
    DisconnectExecutor,
    Effect,
    Ignored,
    Launch,
    LaunchFailed,
    SendToExecutor,
    SendToMaster,
    Signal,
    Transition,
    UpdateContainer,
)
from corral.agent.environment import executor_environment, format_duration
from corral.agent.ledger import (
    ESCALATION,
    EXECUTOR_GONE,
    REASON_EXECUTOR_TERMINATED,
    REASON_TASK_KILLED_DURING_LAUNCH,
    REGISTRATION,
    Ledger,
    begin_shutdown,
    container_resources,
    executor_name,
)
from corral.agent.state import Executor, ExecutorPhase, Framework, Task
from corral.core.task_state import TaskState
from corral.protocol import executor as ex
from corral.protocol.agent import ExecutorExited, FrameworkToExecutor
from corral.protocol.mesos import ExecutorInfo, Source, TaskInfo, TaskStatus
from corral.security.acls import command_user

REASON_EXECUTOR_REGISTRATION_TIMEOUT = "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
REASON_EXECUTOR_REREGISTRATION_TIMEOUT = "REASON_EXECUTOR_REREGISTRATION_TIMEOUT"
REASON_AGENT_RESTARTED = "REASON_AGENT_RESTARTED"


def _send(executor: Executor, event: ex.Event) -> SendToExecutor:
    return SendToExecutor(framework_id=executor.framework_id, executor_id=executor.id, event=event)


class CustomExecutors:
    def __init__(self, ledger: Ledger, base_environment: Mapping[str, str]) -> None:
        self.ledger = ledger
        self._base_environment = base_environment

    # ------------------------------------------------------------ launching

    def deliver(
        self,
        framework: Framework,
        info: ExecutorInfo,
        tasks: tuple[TaskInfo, ...],
        now: float,
        *,
        group: bool,
    ) -> list[Effect]:
        """Hand tasks to the executor, starting it first if it is not running."""
        ledger = self.ledger
        if info.framework_id is None:
            info = replace(info, framework_id=framework.id)
        executor = framework.executors.get(info.executor_id)
        if executor is not None and (executor.is_command or executor.is_default):
            kind = "a command task" if executor.is_command else "a DEFAULT executor"
            return [Ignored(text=f"executor id {info.executor_id} is taken by {kind}")]
        if executor is not None and executor.phase in EXECUTOR_GONE:
            return ledger.drop(framework, executor, tasks, now)
        start = executor is None
        if executor is None:
            executor = ledger.new_executor(framework, info, is_command=False)
        queued = executor.phase is ExecutorPhase.REGISTERING
        for task_info in tasks:
            ledger.adopt(framework, executor, task_info, queued=queued)
        effects: list[Effect] = ledger.checkpoint_launch(framework, executor, tasks, new_executor=start)
        if queued and group:
            executor.groups.append(tuple(t.task_id for t in tasks))
        if start:
            return effects + self._start(framework, executor, now)
        # Room for the new tasks before the executor hears of them, as upstream updates the container.
        effects.append(
            UpdateContainer(container_id=executor.container_id, resources=container_resources(executor))
        )
        if queued:
            return effects
        event: ex.Event = ex.LaunchGroup(tasks=tasks) if group else ex.Launch(task=tasks[0])
        return [*effects, _send(executor, event)]

    def _start(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        transition = Transition(
            kind="executor",
            ident=executor_name(framework, executor),
            old="",
            new=executor.phase,
            reason=f"container {executor.container_id}",
        )
        command = executor.info.command
        if command is None:
            message = "A CUSTOM executor needs a command"
            failed = LaunchFailed(container_id=executor.container_id, message=message)
            return [transition, *self.ledger.launch_failed(framework, executor, failed, now)]
        assert self.ledger.state.agent_id is not None
        environment = executor_environment(
            base=self._base_environment,
            framework=framework.info,
            executor=executor.info,
            agent_id=self.ledger.state.agent_id,
            endpoint=self.ledger.endpoint,
            directory=executor.directory,
            shutdown_grace=self.shutdown_grace(executor),
            reregistration_timeout=self.ledger.config.executor_reregistration_timeout,
        )
        launch = Launch(
            container_id=executor.container_id,
            sandbox=executor.directory,
            argv=tuple(command.argv()),
            environment=tuple(environment.items()),
            uris=command.uris,
            user=command_user(framework.info, command),
            resources=container_resources(executor),
        )
        return [transition, launch]

    def shutdown_grace(self, executor: Executor) -> float:
        grace = executor.info.shutdown_grace_period
        return self.ledger.config.executor_shutdown_grace_period if grace is None else grace

    def started(self, executor: Executor, now: float) -> list[Effect]:
        assert executor.pid is not None
        if executor.phase is ExecutorPhase.TERMINATING:  # shut down before it started
            return [Signal(container_id=executor.container_id, pid=executor.pid, signal=SIGKILL)]
        executor.registration_deadline = now + self.ledger.config.executor_registration_timeout
        self.ledger.schedule(executor.registration_deadline, REGISTRATION, executor)
        return []

    # ------------------------------------------------------------ the executor's calls

    def subscribe(
        self, framework: Framework, executor: Executor, call: ex.Subscribe, now: float
    ) -> list[Effect]:
        """`Slave::subscribe`: replay the executor's unacknowledged updates, SUBSCRIBED, then queued tasks."""
        ledger = self.ledger
        if executor.phase in EXECUTOR_GONE:
            return [
                _send(executor, ex.Shutdown()),
                DisconnectExecutor(framework_id=framework.id, executor_id=executor.id),
            ]
        effects: list[Effect] = []
        for status in call.unacknowledged_updates:
            effects += self.update(framework, executor, status, now)
        # LAUNCHes sent on the stream that broke (or before the agent restarted) may be lost.
        if executor.phase is ExecutorPhase.RUNNING or executor.recovered:
            received = {t.task_id for t in call.unacknowledged_tasks}
            for task in list(executor.tasks.values()):
                if task.state is TaskState.TASK_STAGING and task.id not in received:
                    effects += ledger.report(
                        framework,
                        executor,
                        task,
                        ledger.lost_state(framework),
                        now,
                        source=Source.SOURCE_AGENT,
                        reason=REASON_AGENT_RESTARTED,
                        message="Task launched during agent restart",
                    )
        old, executor.phase = executor.phase, ExecutorPhase.RUNNING
        executor.registration_deadline = None
        executor.recovered = False
        effects.append(
            Transition(kind="executor", ident=executor_name(framework, executor), old=old, new=executor.phase)
        )
        subscribed = ex.Subscribed(
            executor_info=executor.info,
            framework_info=framework.info,
            agent_info=ledger.agent_info(),
            container_id=executor.container_id,
        )
        effects.append(_send(executor, subscribed))
        return effects + self._launch_queued(executor)

    def _launch_queued(self, executor: Executor) -> list[Effect]:
        events: list[ex.Event] = []
        for group in executor.groups:
            members = [executor.queued.pop(task_id) for task_id in group if task_id in executor.queued]
            executor.tasks.update((t.id, t) for t in members)
            if members:
                events.append(ex.LaunchGroup(tasks=tuple(t.info for t in members)))
        executor.groups.clear()
        for task in executor.queued.values():
            executor.tasks[task.id] = task
            events.append(ex.Launch(task=task.info))
        executor.queued.clear()
        return [_send(executor, event) for event in events]

    def update(
        self, framework: Framework, executor: Executor, status: TaskStatus, now: float
    ) -> list[Effect]:
        """An executor's UPDATE, completed with the agent's and the container's ids before it is queued."""
        status = replace(
            status,
            agent_id=self.ledger.state.agent_id,
            executor_id=executor.id,
            timestamp=now if status.timestamp is None else status.timestamp,
            extra={**status.extra, "container_status": self.ledger.container_status(executor)},
        )
        return self.ledger.record_update(framework, executor, executor.tasks.get(status.task_id), status, now)

    def framework_message(self, msg: FrameworkToExecutor) -> list[Effect]:
        framework, executor = self.ledger.lookup(msg.framework_id, msg.executor_id)
        counters = self.ledger.state
        if (
            framework is None
            or executor is None
            or executor.is_command
            or executor.is_default  # upstream's default executor ignores MESSAGE events
            or executor.phase is not ExecutorPhase.RUNNING
        ):
            counters.count("invalid_framework_messages")
            return [Ignored(text=f"message for executor {msg.executor_id}, which is not running")]
        counters.count("valid_framework_messages")
        return [_send(executor, ex.FrameworkMessage(data=msg.data))]

    def acknowledged(self, executor: Executor, acked: TaskStatus) -> list[Effect]:
        """ACKNOWLEDGED goes back to the executor that wrote the update, if it can still hear it."""
        if acked.source is not Source.SOURCE_EXECUTOR or executor.phase not in (
            ExecutorPhase.RUNNING,
            ExecutorPhase.TERMINATING,
        ):
            return []
        assert acked.uuid is not None
        return [_send(executor, ex.Acknowledged(task_id=acked.task_id, uuid=acked.uuid))]

    # ------------------------------------------------------------ killing and shutting down

    def kill(
        self, framework: Framework, executor: Executor, task: Task, grace: float | None, now: float
    ) -> list[Effect]:
        task.kill_requested = True
        if task.id in executor.queued:
            return self._kill_queued(framework, executor, task, now)
        if executor.phase is not ExecutorPhase.RUNNING:
            return []  # on its way out: the task ends TASK_KILLED when the executor exits
        return [_send(executor, ex.Kill(task_id=task.id, grace_period=grace))]

    def _kill_queued(self, framework: Framework, executor: Executor, task: Task, now: float) -> list[Effect]:
        """A task not yet given to its executor ends at once, with the rest of its task group."""
        group = next((g for g in executor.groups if task.id in g), (task.id,))
        executor.groups = [g for g in executor.groups if g != group]
        effects: list[Effect] = []
        for task_id in group:
            member = executor.queued.pop(task_id, None)
            if member is None:
                continue
            executor.tasks[task_id] = member
            effects += self.ledger.report(
                framework,
                executor,
                member,
                TaskState.TASK_KILLED,
                now,
                source=Source.SOURCE_AGENT,
                reason=REASON_TASK_KILLED_DURING_LAUNCH,
                message="Killed before delivery to the executor",
            )
        return effects

    def shutdown(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        begun = begin_shutdown(framework, executor)
        if begun is None:
            return []
        old, transition = begun
        effects: list[Effect] = [transition]
        if old is ExecutorPhase.RUNNING:
            effects.append(_send(executor, ex.Shutdown()))
            executor.escalation_deadline = now + self.shutdown_grace(executor)
            self.ledger.schedule(executor.escalation_deadline, ESCALATION, executor)
        elif executor.pid is not None:  # it never subscribed, so there is no one to ask
            effects.append(Signal(container_id=executor.container_id, pid=executor.pid, signal=SIGKILL))
        return effects

    def registration_timeout(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        """It did not subscribe in time: SIGKILL. Its tasks end TASK_FAILED, or, if it was running before
        the agent restarted, TASK_LOST (TASK_DROPPED if partition-aware), as in upstream's
        `reregisterExecutorTimeout`."""
        deadline = executor.registration_deadline
        if executor.phase is not ExecutorPhase.REGISTERING or deadline is None or deadline > now:
            return []
        executor.registration_deadline = None
        executor.phase = ExecutorPhase.TERMINATING
        config = self.ledger.config
        again = " again" if executor.recovered else ""
        timeout = format_duration(
            config.executor_reregistration_timeout
            if executor.recovered
            else config.executor_registration_timeout
        )
        effects: list[Effect] = [
            Transition(
                kind="executor",
                ident=executor_name(framework, executor),
                old=ExecutorPhase.REGISTERING,
                new=executor.phase,
                reason=f"did not subscribe{again} within {timeout}",
            )
        ]
        if executor.recovered:
            for task in executor.live_tasks():
                effects += self.ledger.report(
                    framework,
                    executor,
                    task,
                    self.ledger.lost_state(framework),
                    now,
                    source=Source.SOURCE_AGENT,
                    reason=REASON_EXECUTOR_REREGISTRATION_TIMEOUT,
                    message=f"Executor did not re-register within {timeout}",
                )
        else:
            effects += self.ledger.end_tasks(
                framework,
                executor,
                now,
                reason=REASON_EXECUTOR_REGISTRATION_TIMEOUT,
                message=f"Executor did not register within {timeout}",
            )
        if executor.pid is not None:
            effects.append(Signal(container_id=executor.container_id, pid=executor.pid, signal=SIGKILL))
        return effects

    def exited(
        self, framework: Framework, executor: Executor, wait_status: int, how: str, now: float
    ) -> list[Effect]:
        old = self.ledger.finish(executor, wait_status)
        exited = ExecutorExited(framework_id=framework.id, executor_id=executor.id, status=wait_status)
        effects: list[Effect] = [
            Transition(
                kind="executor",
                ident=executor_name(framework, executor),
                old=old,
                new=executor.phase,
                reason=how,
            ),
            SendToMaster(message=exited),
            DisconnectExecutor(framework_id=framework.id, executor_id=executor.id),
        ]
        effects += self.ledger.end_tasks(
            framework, executor, now, reason=REASON_EXECUTOR_TERMINATED, message="Executor terminated"
        )
        return effects + self.ledger.retire(framework, executor, now)

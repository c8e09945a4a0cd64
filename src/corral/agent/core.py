"""The agent's decisions: `AgentCore.handle(message, now) -> effects`, with no I/O.

It hears the master (`MasterToAgent`, `MasterDisconnected`), its executors (v1 executor calls), its processes
(`ProcessStarted`, `ProcessExited`, `LaunchFailed`), its tasks' health probes (`HealthProbed`) and the clock
(`Tick`, at the deadline of the latest `WakeAt` it returned). Ids are injected: `new_container_id` for
containers, `new_uuid` for status update uuids. The three lifecycles live beside it:
`command_tasks.CommandTasks` (tasks the agent supervises itself, `mesos.md` b.6),
`task_groups.DefaultExecutors` (task groups of DEFAULT executors, whose tasks the agent supervises itself too,
a.6) and `executors.CustomExecutors` (executors speaking the v1 executor API, b.1-b.5); `ledger.Ledger` keeps
the records and the status update streams they share. The agent runs the health checks of the first two
(`health_checks.py`); custom executors run their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from signal import SIGKILL
from typing import assert_never

from corral.agent.command_tasks import CommandTasks, describe_exit, kill_grace
from corral.agent.config import AgentConfig
from corral.agent.effects import (
    AgentRecord,
    Checkpoint,
    CollectGarbage,
    DiskUsage,
    Effect,
    ExecutorCall,
    FrameworkRecord,
    HealthProbed,
    Ignored,
    Inbound,
    LaunchFailed,
    MasterDisconnected,
    PidRecord,
    ProcessExited,
    ProcessStarted,
    Recover,
    SendToMaster,
    Signal,
    Tick,
    Transition,
    WakeAt,
)
from corral.agent.executors import CustomExecutors
from corral.agent.health_checks import REASON_TASK_HEALTH_CHECK_STATUS_UPDATED
from corral.agent.ledger import ESCALATION, HEALTH_CHECK, REGISTRATION, Ledger
from corral.agent.recovery import Recovery
from corral.agent.state import AgentState, Executor, ExecutorPhase, Framework, KillCause, Task
from corral.agent.task_groups import DefaultExecutors
from corral.core.ids import AgentId, ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.core.task_state import TaskState
from corral.protocol import executor as ex
from corral.protocol.agent import (
    AcknowledgeUpdate,
    AgentTask,
    ExecutorToFramework,
    FrameworkToExecutor,
    KillTask,
    Ping,
    Pong,
    Register,
    Registered,
    RunTask,
    RunTaskGroup,
    ShutdownExecutor,
    ShutdownFramework,
    UpdateFrameworkInfo,
)
from corral.protocol.mesos import AgentInfo, ExecutorInfo, FrameworkInfo, Source, TaskInfo

CallProblem = tuple[int, str]
_HEALTH = {None: "unknown", True: "healthy", False: "unhealthy"}


def _shutting_down(framework: Framework) -> str:
    return f"framework {framework.id} is shutting down"


def _collect(paths: list[Path]) -> list[Effect]:
    return [CollectGarbage(paths=tuple(paths))] if paths else []


class AgentCore:
    def __init__(
        self,
        config: AgentConfig,
        *,
        resources: Resources,
        new_container_id: Callable[[], ContainerId],
        new_uuid: Callable[[], bytes],
        base_environment: Mapping[str, str] | None = None,
        agent_id: AgentId | None = None,
        start_time: float = 0.0,
        awaiting_recovery: bool = False,
        gpus: tuple[int, ...] = (),
    ) -> None:
        """`awaiting_recovery`: the agent is starting; the executor API answers 503 until `Recover`.
        `gpus`: the NVIDIA devices command tasks share out (`isolation/gpus.py`)."""
        self.ledger = Ledger(
            config,
            resources=resources,
            new_container_id=new_container_id,
            new_uuid=new_uuid,
            agent_id=agent_id,
            start_time=start_time,
        )
        environment = dict(base_environment or {})
        self.commands = CommandTasks(self.ledger, environment, gpus)
        self.executors = CustomExecutors(self.ledger, environment)
        self.groups = DefaultExecutors(self.ledger, environment)
        self.recovery = Recovery(self.ledger, self.commands, self.executors, self.groups)
        self.ledger.state.awaiting_recovery = awaiting_recovery
        self._announced: float | None = None

    # ------------------------------------------------------------ queries

    @property
    def config(self) -> AgentConfig:
        return self.ledger.config

    @property
    def state(self) -> AgentState:
        return self.ledger.state

    @property
    def agent_id(self) -> AgentId | None:
        return self.ledger.state.agent_id

    @property
    def is_recovering(self) -> bool:
        """Until `Recover`, and then until every executor found running has subscribed again or run out of
        time: the agent registers with the master only after that (`recovery.py`)."""
        state = self.state
        return state.awaiting_recovery or any(
            e.recovered and e.phase is ExecutorPhase.REGISTERING for e in state.executors()
        )

    def agent_info(self) -> AgentInfo:
        return self.ledger.agent_info()

    def registration(self) -> Register:
        """Everything this agent runs, so that a master that lost its state can rebuild it."""
        executors: list[tuple[FrameworkId, ExecutorInfo]] = []
        tasks: list[AgentTask] = []
        for framework in self.state.frameworks.values():
            for executor in framework.executors.values():
                if not executor.is_command and executor.phase is not ExecutorPhase.TERMINATED:
                    executors.append((framework.id, executor.info))
                tasks.extend(
                    AgentTask(
                        framework_id=framework.id,
                        executor_id=None if executor.is_command else executor.id,
                        task=task.info,
                        state=task.state,
                        latest_status=task.statuses[-1] if task.statuses else None,
                    )
                    for task in executor.all_tasks()
                )
        return Register(
            agent_info=self.agent_info(),
            ip=self.config.ip,
            frameworks=tuple(f.info for f in self.state.frameworks.values()),
            executors=tuple(executors),
            tasks=tuple(tasks),
        )

    def executor_call_problem(self, call: ExecutorCall) -> CallProblem | None:
        """Why the executor API refuses `call` (HTTP status, message), as upstream's `Http::executor` does."""
        if self.state.awaiting_recovery:
            return 503, "Agent has not finished recovery"
        framework, executor = self.ledger.lookup(call.framework_id, call.executor_id)
        if framework is None:
            return 400, "Framework cannot be found"
        if executor is None or executor.is_command or executor.is_default:
            return 400, "Executor cannot be found"
        if not isinstance(call, ex.Subscribe) and executor.phase is ExecutorPhase.REGISTERING:
            return 403, "Executor is not subscribed"
        return None

    # ------------------------------------------------------------ the one entry point

    def handle(self, msg: Inbound, now: float) -> list[Effect]:
        effects = self._dispatch(msg, now)
        ledger = self.ledger
        candidates = (ledger.timers.next(), ledger.updates.next_deadline(), ledger.gc.next_deadline())
        deadlines = [d for d in candidates if d is not None]
        if deadlines and min(deadlines) != self._announced:
            self._announced = min(deadlines)
            effects.append(WakeAt(deadline=self._announced))
        return effects

    def _dispatch(self, msg: Inbound, now: float) -> list[Effect]:
        match msg:
            case Registered():
                return self._registered(msg, now)
            case MasterDisconnected():
                return self._disconnected(msg)
            case RunTask():
                return self._run(msg.framework_info, (msg.task,), None, now)
            case RunTaskGroup():
                return self._run(msg.framework_info, msg.tasks, msg.executor, now)
            case KillTask():
                return self._kill_task(msg, now)
            case ShutdownExecutor():
                framework, executor = self.ledger.lookup(msg.framework_id, msg.executor_id)
                if framework is None or executor is None:
                    return [
                        Ignored(text=f"shutdown of executor {msg.executor_id}, which this agent does not run")
                    ]
                if framework.terminating:
                    return [Ignored(text=f"shutdown of executor {executor.id}: {_shutting_down(framework)}")]
                return self._shutdown(framework, executor, now)
            case ShutdownFramework():
                return self._shutdown_framework(msg, now)
            case AcknowledgeUpdate():
                return self._acknowledge(msg, now)
            case FrameworkToExecutor():
                return self.executors.framework_message(msg)
            case UpdateFrameworkInfo():
                return self._update_framework(msg.framework_info)
            case Ping():
                return [SendToMaster(message=Pong())]
            case ex.Subscribe() | ex.Update() | ex.Message():
                return self._executor_call(msg, now)
            case ProcessStarted() if msg.container_id in self.state.task_containers:
                return self.groups.started(msg, now)
            case ProcessStarted():
                return self._process_started(msg, now)
            case ProcessExited() if msg.container_id in self.state.task_containers:
                return self.groups.exited(msg, now)
            case ProcessExited():
                return self._process_exited(msg, now)
            case LaunchFailed() if msg.container_id in self.state.task_containers:
                return self.groups.launch_failed(msg, now)
            case LaunchFailed():
                executor = self.state.containers.get(msg.container_id)
                if executor is None or executor.phase is ExecutorPhase.TERMINATED:
                    return [Ignored(text=f"container {msg.container_id} failed to launch but is unknown")]
                self.state.count("container_launch_errors")
                framework = self.state.frameworks[executor.framework_id]
                return self.ledger.launch_failed(framework, executor, msg, now)
            case HealthProbed():
                return self._health_probed(msg, now)
            case Tick():
                return self._tick(now)
            case DiskUsage():
                return _collect(self.ledger.gc.prune(msg.fraction, now))
            case Recover():
                return self.recovery.recover(msg, now)
            case _:
                assert_never(msg)

    # ------------------------------------------------------------ the master

    def _registered(self, msg: Registered, now: float) -> list[Effect]:
        previous = self.state.agent_id
        self.state.agent_id = msg.agent_id
        self.state.master = msg.master_info
        self.state.connected = True
        effects: list[Effect] = [
            Transition(
                kind="agent",
                ident=msg.agent_id,
                old="DISCONNECTED",
                new="REGISTERED",
                reason=msg.master_info.pid,
            )
        ]
        if previous != msg.agent_id:
            if previous is not None:
                effects.append(Ignored(text=f"the master replaced agent id {previous} with {msg.agent_id}"))
            effects.append(Checkpoint(record=AgentRecord(info=self.agent_info())))
        return effects + self.ledger.updates.resume(now)

    def _disconnected(self, msg: MasterDisconnected) -> list[Effect]:
        was_connected, self.state.connected = self.state.connected, False
        self.ledger.updates.pause()
        if not was_connected:
            return []
        name = self.state.agent_id or "(unregistered)"
        return [Transition(kind="agent", ident=name, old="REGISTERED", new="DISCONNECTED", reason=msg.reason)]

    def _framework(self, info: FrameworkInfo) -> tuple[Framework | None, list[Effect]]:
        if info.id is None:
            return None, [Ignored(text=f"framework {info.name!r} came without an id")]
        framework = self.state.frameworks.get(info.id)
        if framework is None:
            framework = Framework(info=info)
            self.state.frameworks[info.id] = framework
            effects: list[Effect] = [
                Transition(kind="framework", ident=info.id, old="", new="ACTIVE", reason=info.name)
            ]
            if info.checkpoint:
                effects.append(Checkpoint(record=FrameworkRecord(info=info)))
            return framework, effects
        if framework.terminating:
            return None, [Ignored(text=_shutting_down(framework))]
        framework.info = info
        return framework, []

    def _update_framework(self, info: FrameworkInfo) -> list[Effect]:
        framework = self.state.frameworks.get(info.id) if info.id else None
        if framework is None:
            return []
        if framework.terminating:
            return [Ignored(text=f"update of framework info: {_shutting_down(framework)}")]
        framework.info = info
        return [Checkpoint(record=FrameworkRecord(info=info))] if info.checkpoint else []

    def _run(
        self,
        info: FrameworkInfo,
        tasks: tuple[TaskInfo, ...],
        group_executor: ExecutorInfo | None,
        now: float,
    ) -> list[Effect]:
        framework, effects = self._framework(info)
        if framework is None or self.state.agent_id is None:
            return [*effects, Ignored(text=f"tasks {[t.task_id for t in tasks]} cannot run here")]
        for task in tasks:
            if task.task_id in framework.executor_of_task:
                return [
                    *effects,
                    Ignored(text=f"task {task.task_id} of framework {framework.id} already exists"),
                ]
        if group_executor is not None and group_executor.type == "DEFAULT":
            return effects + self.groups.deliver(framework, group_executor, tasks, now)
        if group_executor is not None:
            return effects + self.executors.deliver(framework, group_executor, tasks, now, group=True)
        [task] = tasks
        if task.executor is not None and task.executor.type == "DEFAULT":  # a LAUNCH: a group of one
            return effects + self.groups.deliver(framework, task.executor, tasks, now)
        if task.executor is not None:
            return effects + self.executors.deliver(framework, task.executor, tasks, now, group=False)
        if task.command is None:
            return [*effects, Ignored(text=f"task {task.task_id} has neither a command nor an executor")]
        if ExecutorId(task.task_id) in framework.executors:
            return [
                *effects,
                Ignored(text=f"executor {task.task_id} of framework {framework.id} already exists"),
            ]
        return effects + self.commands.launch(framework, task, now)

    def _kill_task(self, msg: KillTask, now: float) -> list[Effect]:
        framework = self.state.frameworks.get(msg.framework_id)
        executor = framework.executor_for(msg.task_id) if framework else None
        task = executor.task(msg.task_id) if executor else None
        if framework is None or executor is None or task is None:
            return [Ignored(text=f"kill of task {msg.task_id}, which this agent does not run")]
        if framework.terminating:
            return [Ignored(text=f"kill of task {task.id}: {_shutting_down(framework)}")]
        if task.state.is_terminal:
            return []
        if executor.is_command:
            grace = kill_grace(msg.grace_period, task.info)
            return self.commands.kill(framework, executor, grace, KillCause.FRAMEWORK, now)
        if executor.is_default:
            return self.groups.kill(framework, executor, task, msg.grace_period, now)
        return self.executors.kill(framework, executor, task, msg.grace_period, now)

    def _shutdown(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        if executor.is_command:
            return self.commands.shutdown(framework, executor, now)
        if executor.is_default:
            return self.groups.shutdown(framework, executor, now)
        return self.executors.shutdown(framework, executor, now)

    def _shutdown_framework(self, msg: ShutdownFramework, now: float) -> list[Effect]:
        """`Slave::shutdownFramework`: shut down its executors and forget those already terminated; it is
        retired (`Ledger.retire_framework`) once the last one is gone. Until then its updates are not sent."""
        framework = self.state.frameworks.get(msg.framework_id)
        if framework is None:
            return []  # unknown, or retired already: the master repeats itself
        if framework.terminating:
            return [Ignored(text=f"shutdown of framework {framework.id}, which is shutting down already")]
        framework.terminating = True
        effects: list[Effect] = [
            Transition(kind="framework", ident=framework.id, old="ACTIVE", new="TERMINATING")
        ]
        for executor in list(framework.executors.values()):
            if executor.phase is ExecutorPhase.TERMINATED:  # waiting for acknowledgements that cannot come
                effects += self.ledger.retire(framework, executor, now)
            else:
                effects += self._shutdown(framework, executor, now)
        return effects + self.ledger.retire_framework(framework)

    def _acknowledge(self, msg: AcknowledgeUpdate, now: float) -> list[Effect]:
        result = self.ledger.updates.acknowledge(msg.framework_id, msg.task_id, msg.uuid, now)
        if result is None:
            return []  # an unknown uuid: a duplicate ack, or one for an update already superseded
        acked, effects = result
        framework = self.state.frameworks.get(msg.framework_id)
        executor = framework.executor_for(msg.task_id) if framework else None
        if framework is None or executor is None:
            return effects
        if not executor.is_command and not executor.is_default:
            effects += self.executors.acknowledged(executor, acked)
        task = executor.tasks.get(msg.task_id)
        if (
            task is not None
            and task.state.is_terminal
            and not self.ledger.updates.has_pending(framework.id, task.id)
        ):
            del executor.tasks[task.id]
            del framework.executor_of_task[task.id]
            executor.completed.append(task)
            effects += self.ledger.retire(framework, executor, now)
        return effects

    # ------------------------------------------------------------ executors and processes

    def _executor_call(self, call: ExecutorCall, now: float) -> list[Effect]:
        framework, executor = self.ledger.lookup(call.framework_id, call.executor_id)
        if framework is None or executor is None or self.executor_call_problem(call) is not None:
            return [Ignored(text=f"{type(call).__name__} from executor {call.executor_id} refused")]
        match call:
            case ex.Subscribe():
                return self.executors.subscribe(framework, executor, call, now)
            case ex.Update():
                return self.executors.update(framework, executor, call.status, now)
            case ex.Message():
                forward = ExecutorToFramework(
                    framework_id=framework.id, executor_id=executor.id, data=call.data
                )
                return [SendToMaster(message=forward)]

    def _process_started(self, msg: ProcessStarted, now: float) -> list[Effect]:
        executor = self.state.containers.get(msg.container_id)
        if executor is None or executor.phase is ExecutorPhase.TERMINATED:
            return [Ignored(text=f"container {msg.container_id} started but is unknown")]
        framework = self.state.frameworks[executor.framework_id]
        executor.pid = msg.pid
        effects: list[Effect] = []
        if framework.info.checkpoint:
            record = PidRecord(
                framework_id=framework.id,
                executor_id=executor.id,
                container_id=executor.container_id,
                pid=msg.pid,
            )
            effects.append(Checkpoint(record=record))
        if executor.is_command:
            return effects + self.commands.started(framework, executor, now)
        return effects + self.executors.started(executor, now)

    def _process_exited(self, msg: ProcessExited, now: float) -> list[Effect]:
        executor = self.state.containers.get(msg.container_id)
        if executor is None or executor.phase is ExecutorPhase.TERMINATED:
            return [Ignored(text=f"container {msg.container_id} exited but is unknown")]
        framework = self.state.frameworks[executor.framework_id]
        if executor.is_command:
            return self.commands.exited(framework, executor, msg.wait_status, now, msg.limitation)
        _, how = describe_exit(msg.wait_status)
        return self.executors.exited(framework, executor, msg.wait_status, how, now)

    def _tick(self, now: float) -> list[Effect]:
        self._announced = None
        effects = self.ledger.updates.retry(now) + _collect(self.ledger.gc.due(now))
        for kind, framework_id, executor_id, task_id in self.ledger.timers.pop_due(now):
            framework, executor = self.ledger.lookup(framework_id, executor_id)
            if framework is None or executor is None:
                continue
            if kind == HEALTH_CHECK:
                assert task_id is not None
                effects += self._health_check_due(executor, task_id, now)
            elif task_id is not None:
                effects += self.groups.timer(kind, framework, executor, task_id, now)
            elif kind == REGISTRATION:
                effects += self.executors.registration_timeout(framework, executor, now)
            elif kind == ESCALATION:
                effects += self._escalate(executor, now)
            else:
                effects += self.commands.completion_timeout(framework, executor, now)
        return effects

    # ------------------------------------------------------------ health checks

    @staticmethod
    def _health_check_due(executor: Executor, task_id: TaskId, now: float) -> list[Effect]:
        task = executor.tasks.get(task_id)
        checker = task.health if task is not None else None
        if checker is None or not checker.is_due(now):
            return []
        return [checker.probe()]

    def _health_probed(self, msg: HealthProbed, now: float) -> list[Effect]:
        """Report a change of health (TASK_RUNNING with `healthy`), and kill a task that failed too often."""
        framework = self.state.frameworks.get(msg.framework_id)
        executor = framework.executor_for(msg.task_id) if framework else None
        task = executor.tasks.get(msg.task_id) if executor else None
        checker = task.health if task is not None else None
        if framework is None or executor is None or task is None or checker is None:
            return []
        was = checker.healthy
        outcome = checker.record(msg.attempt, msg.healthy, now)
        if checker.next_due is not None:
            self.ledger.schedule_task(checker.next_due, HEALTH_CHECK, task)
        if outcome is None:
            return []
        failures = f"{outcome.consecutive_failures} of {checker.check.consecutive_failures} failures"
        effects: list[Effect] = [
            Transition(
                kind="task health",
                ident=f"{task.id} of framework {framework.id}",
                old=_HEALTH[was],
                new=_HEALTH[outcome.healthy],
                reason=f"{msg.message}; {failures}" if not outcome.healthy else msg.message,
            )
        ]
        effects += self.ledger.report(
            framework,
            executor,
            task,
            TaskState.TASK_RUNNING,
            now,
            source=Source.SOURCE_EXECUTOR,
            reason=REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
            healthy=outcome.healthy,
        )
        if outcome.kill:
            effects += self._kill_unhealthy(framework, executor, task, now)
        return effects

    def _kill_unhealthy(
        self, framework: Framework, executor: Executor, task: Task, now: float
    ) -> list[Effect]:
        """With the task's own kill policy, as upstream's executors kill an unhealthy task."""
        if executor.is_command:
            grace = kill_grace(None, task.info)
            return self.commands.kill(framework, executor, grace, KillCause.HEALTH_CHECK, now)
        return self.groups.kill(framework, executor, task, None, now, cause=KillCause.HEALTH_CHECK)

    @staticmethod
    def _escalate(executor: Executor, now: float) -> list[Effect]:
        """The grace period is over: SIGKILL the container's process group."""
        deadline = executor.escalation_deadline
        if (
            deadline is None
            or deadline > now
            or executor.pid is None
            or executor.phase is ExecutorPhase.TERMINATED
        ):
            return []
        executor.escalation_deadline = None
        return [Signal(container_id=executor.container_id, pid=executor.pid, signal=SIGKILL)]

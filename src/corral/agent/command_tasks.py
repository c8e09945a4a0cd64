"""The built-in command executor's rules (`src/launcher/executor.cpp`), applied by the agent itself.

Corral runs a command task's process directly instead of through a `mesos-executor` process, but keeps
what frameworks observe: the synthesized ExecutorInfo, TASK_STARTING then TASK_RUNNING, the exit status
mapping and its messages, the kill policy (SIGTERM, grace, SIGKILL), and the health check it runs
(`health_checks.py`), whose kill ends the task TASK_KILLED with `healthy: false`. Its container holds the
task's resources plus the command executor's overhead, and a container stopped for exceeding a limit
(`isolation/limitations.py`) ends the task TASK_FAILED with the limitation's reason, as the agent reports it.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from signal import SIGTERM

from corral.agent.effects import Effect, Launch, Signal
from corral.agent.environment import task_environment
from corral.agent.health_checks import HealthChecker
from corral.agent.isolation.gpus import CUDA_VISIBLE_DEVICES, GpuAllocator
from corral.agent.isolation.limitations import Limitation
from corral.agent.ledger import COMPLETION, ESCALATION, Ledger, container_resources
from corral.agent.state import Executor, ExecutorPhase, Framework, KillCause
from corral.core.ids import ContainerId, ExecutorId, FrameworkId
from corral.core.task_state import TaskState
from corral.protocol.json import JsonObject
from corral.protocol.mesos import ExecutorInfo, Source, TaskInfo
from corral.security.acls import command_user

DEFAULT_KILL_GRACE = 3.0

REASON_MAX_COMPLETION_TIME_REACHED = "REASON_MAX_COMPLETION_TIME_REACHED"
# The kills that end a task TASK_KILLED (and that frameworks hear TASK_KILLING for).
KILLED_BY = (KillCause.FRAMEWORK, KillCause.TASK_GROUP, KillCause.HEALTH_CHECK)


_NAME = "Command Executor (Task: "
# Not yet TASK_RUNNING: the process may have started while the agent was away (`adopt`).
BEFORE_RUNNING = (TaskState.TASK_STAGING, TaskState.TASK_STARTING)


def synthesize_executor(framework_id: FrameworkId, task: TaskInfo) -> ExecutorInfo:
    """`Slave::getExecutorInfo`: executor id = task id, named after the task and its command."""
    assert task.command is not None
    executor_id = ExecutorId(task.task_id)
    name = f"{_NAME}{task.task_id}) (Command: {task.command.describe()})"
    raw: JsonObject = {"name": name, "source": task.task_id}
    if (command := task.raw.get("command")) is not None:
        raw["command"] = command
    return ExecutorInfo(
        executor_id=executor_id,
        framework_id=framework_id,
        name=name,
        command=task.command,
        resources=task.resources,
        raw=raw,
    )


def is_synthesized(info: ExecutorInfo) -> bool:
    """Whether `info` is a command task's executor (`synthesize_executor`), as a restarted agent tells."""
    return info.raw.get("source") == info.executor_id and (info.name or "").startswith(_NAME)


def kill_grace(requested: float | None, task: TaskInfo) -> float:
    """KILL's kill_policy, else the task's kill_policy, else 3 s."""
    if requested is not None:
        return max(requested, 0.0)
    if task.kill_grace_period is not None:
        return max(task.kill_grace_period, 0.0)
    return DEFAULT_KILL_GRACE


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_exit(wait_status: int) -> tuple[int | None, str]:
    """(exit code, or None if signalled; "exited with status N" or "terminated with signal SIGX") for a raw
    wait status (decoded by hand: the core does not import `os`)."""
    termsig = wait_status & 0x7F
    if termsig == 0:
        code = (wait_status >> 8) & 0xFF
        return code, f"exited with status {code}"
    return None, f"terminated with signal {signal_name(termsig)}"


def unhealthy_end(cause: KillCause | None) -> bool | None:
    """A task killed for failing its health check says so in its terminal update (`healthy: false`)."""
    return False if cause is KillCause.HEALTH_CHECK else None


def outcome(
    wait_status: int, *, killed: bool, timed_out: bool, limitation: Limitation | None = None
) -> tuple[TaskState, str, str | None]:
    """The terminal (state, message, reason) of a command task whose process ended with `wait_status`; a
    limitation wins, since it is what actually ended the process."""
    if limitation is not None:
        return TaskState.TASK_FAILED, limitation.message, limitation.reason
    code, how = describe_exit(wait_status)
    message = f"Command {how}"
    if timed_out:
        return TaskState.TASK_FAILED, message, REASON_MAX_COMPLETION_TIME_REACHED
    if killed:
        return TaskState.TASK_KILLED, message, None
    if code == 0:
        return TaskState.TASK_FINISHED, message, None
    return TaskState.TASK_FAILED, message, None


class CommandTasks:
    """The lifecycle of command tasks: one process each, supervised by the agent."""

    def __init__(
        self, ledger: Ledger, base_environment: Mapping[str, str], gpus: tuple[int, ...] = ()
    ) -> None:
        self.ledger = ledger
        self._base_environment = base_environment
        self._gpus = GpuAllocator(gpus)

    def launch(self, framework: Framework, info: TaskInfo, now: float) -> list[Effect]:
        """TASK_STARTING, then the process (fetch, spawn); ProcessStarted brings TASK_RUNNING."""
        assert info.command is not None
        ledger = self.ledger
        executor = ledger.new_executor(framework, synthesize_executor(framework.id, info), is_command=True)
        task = ledger.adopt(framework, executor, info, queued=False)
        effects = ledger.checkpoint_launch(framework, executor, (info,), new_executor=True)
        effects += ledger.report(
            framework, executor, task, TaskState.TASK_STARTING, now, source=Source.SOURCE_EXECUTOR
        )
        environment = self.environment(framework, executor, info)
        if self._gpus.devices and CUDA_VISIBLE_DEVICES not in dict(environment):  # the task's own value wins
            count = int(info.resources.scalar("gpus"))
            devices = self._gpus.allocate(executor.container_id, count, self._is_live)
            environment += ((CUDA_VISIBLE_DEVICES, devices),)
        launch = Launch(
            container_id=executor.container_id,
            sandbox=executor.directory,
            argv=tuple(info.command.argv()),
            environment=environment,
            uris=info.command.uris,
            user=command_user(framework.info, info.command),
            resources=container_resources(executor),
        )
        task.health = HealthChecker.for_task(info, framework.id, launch.sandbox, environment)
        return [*effects, launch]

    def environment(
        self, framework: Framework, executor: Executor, info: TaskInfo
    ) -> tuple[tuple[str, str], ...]:
        """The environment of the task's process (and of its COMMAND health checks)."""
        environment = task_environment(
            base=self._base_environment,
            framework_id=framework.id,
            task=info,
            endpoint=self.ledger.endpoint,
            hostname=self.ledger.config.advertised_hostname,
            directory=executor.directory,
        )
        return tuple(environment.items())

    def started(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        if executor.kill_cause is not None:  # killed while launching
            return self._terminate(executor, executor.kill_grace or 0.0, now)
        executor.phase = ExecutorPhase.RUNNING
        effects: list[Effect] = []
        for task in executor.live_tasks():
            effects += self.ledger.report(
                framework, executor, task, TaskState.TASK_RUNNING, now, source=Source.SOURCE_EXECUTOR
            )
            self.ledger.start_health_check(task, now)
            if task.info.max_completion_time is not None:
                executor.completion_deadline = now + task.info.max_completion_time
                self.ledger.schedule(executor.completion_deadline, COMPLETION, executor)
        return effects

    def adopt(self, framework: Framework, executor: Executor, pid: int, now: float) -> list[Effect]:
        """A restarted agent found the task's process running (`recovery.py`): supervise it again. A task not
        yet TASK_RUNNING reports it now; one that was being killed (TASK_KILLING) is killed again."""
        executor.pid = pid
        tasks = executor.live_tasks()
        for task in tasks:
            environment = self.environment(framework, executor, task.info)
            task.health = HealthChecker.for_task(task.info, framework.id, executor.directory, environment)
        if any(t.state in BEFORE_RUNNING for t in tasks):
            return self.started(framework, executor, now)
        executor.phase = ExecutorPhase.RUNNING
        effects: list[Effect] = []
        for task in tasks:
            if task.state is TaskState.TASK_KILLING:
                executor.kill_cause, task.kill_requested = KillCause.FRAMEWORK, True
                effects += self._terminate(executor, kill_grace(None, task.info), now)
                continue
            self.ledger.resume_health_check(task, now)
            if (limit := task.info.max_completion_time) is not None:
                executor.completion_deadline = self.ledger.running_since(task, now) + limit
                self.ledger.schedule(executor.completion_deadline, COMPLETION, executor)
        return effects

    def _is_live(self, container_id: ContainerId) -> bool:
        executor = self.ledger.state.containers.get(container_id)
        return executor is not None and executor.phase is not ExecutorPhase.TERMINATED

    def exited(
        self,
        framework: Framework,
        executor: Executor,
        wait_status: int,
        now: float,
        limitation: Limitation | None = None,
    ) -> list[Effect]:
        self.ledger.finish(executor, wait_status)
        killed = executor.kill_cause in KILLED_BY
        timed_out = executor.kill_cause is KillCause.MAX_COMPLETION_TIME
        state, message, reason = outcome(
            wait_status, killed=killed, timed_out=timed_out, limitation=limitation
        )
        effects: list[Effect] = []
        for task in executor.live_tasks():
            effects += self.ledger.report(
                framework,
                executor,
                task,
                state,
                now,
                source=Source.SOURCE_EXECUTOR if limitation is None else Source.SOURCE_AGENT,
                message=message,
                reason=reason,
                healthy=unhealthy_end(executor.kill_cause),
            )
        return effects + self.ledger.retire(framework, executor, now)

    def kill(
        self, framework: Framework, executor: Executor, grace: float, cause: KillCause, now: float
    ) -> list[Effect]:
        """SIGTERM the process group now, SIGKILL it after `grace`; a repeated kill only shortens that."""
        tasks = executor.live_tasks()
        if not tasks:
            return []
        effects: list[Effect] = []
        first = executor.kill_cause is None
        if first:
            executor.kill_cause = cause
            for task in tasks:
                task.kill_requested = True
                effects += self.ledger.stop_health_check(task)
                if cause in KILLED_BY and framework.info.has_task_killing_state:
                    effects += self.ledger.report(
                        framework, executor, task, TaskState.TASK_KILLING, now, source=Source.SOURCE_EXECUTOR
                    )
        if executor.pid is None:  # still launching: `started` begins the kill
            executor.kill_grace = grace if executor.kill_grace is None else min(executor.kill_grace, grace)
            return effects
        if first:
            return effects + self._terminate(executor, grace, now)
        deadline = now + grace
        if executor.escalation_deadline is not None and deadline < executor.escalation_deadline:
            executor.escalation_deadline = deadline
            self.ledger.schedule(deadline, ESCALATION, executor)
        return effects

    def shutdown(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        """SHUTDOWN of a command executor kills its task with the task's kill grace (upstream: the shutdown
        grace minus its reaping margins, which comes to the same 3 s by default)."""
        tasks = executor.live_tasks()
        if not tasks:
            return []
        return self.kill(framework, executor, kill_grace(None, tasks[0].info), KillCause.FRAMEWORK, now)

    def completion_timeout(self, framework: Framework, executor: Executor, now: float) -> list[Effect]:
        deadline = executor.completion_deadline
        if deadline is None or deadline > now:
            return []
        executor.completion_deadline = None
        # Zero grace, as upstream does, so that the task's own kill policy cannot stretch the limit.
        return self.kill(framework, executor, 0.0, KillCause.MAX_COMPLETION_TIME, now)

    def _terminate(self, executor: Executor, grace: float, now: float) -> list[Effect]:
        assert executor.pid is not None
        executor.escalation_deadline = now + grace
        self.ledger.schedule(executor.escalation_deadline, ESCALATION, executor)
        return [Signal(container_id=executor.container_id, pid=executor.pid, signal=SIGTERM)]

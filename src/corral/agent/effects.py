"""What the agent core hears (`Inbound`) and what it asks its runtime to do (`Effect`).

The core never performs I/O: it returns effects in the order they must happen. Two orderings matter:
a status update's `Checkpoint` comes before its `SendToMaster`, and a container's `Launch` comes after the
updates that precede it (TASK_STARTING before TASK_RUNNING).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corral.agent.isolation.limitations import Limitation
from corral.core.ids import ContainerId, ExecutorId, FrameworkId, TaskId
from corral.core.resources import Resources
from corral.protocol import executor as ex
from corral.protocol.agent import AgentToMaster, MasterToAgent
from corral.protocol.mesos import (
    AgentInfo,
    ExecutorInfo,
    FrameworkInfo,
    HealthCheck,
    TaskInfo,
    TaskStatus,
    Uri,
)

# ---------------------------------------------------------------- inbound


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterDisconnected:
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessStarted:
    container_id: ContainerId
    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProcessExited:
    container_id: ContainerId
    wait_status: int  # raw, as os.waitpid returns it
    limitation: Limitation | None = None  # the container was stopped for exceeding a limit (isolation/)


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchFailed:
    """The sandbox, the fetch or the spawn failed; nothing runs for this container."""

    container_id: ContainerId
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """A deadline announced with `WakeAt` has passed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthProbed:
    """The answer to `HealthProbe` number `attempt` of a task; `message` says why it failed, for the log."""

    framework_id: FrameworkId
    task_id: TaskId
    attempt: int
    healthy: bool
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DiskUsage:
    """The share of the work dir's filesystem in use (0 to 1), measured every `disk_watch_interval`."""

    fraction: float


# ---------------------------------------------------------------- recovery: what a restarted agent finds


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointedTask:
    info: TaskInfo
    updates: tuple[TaskStatus, ...] = ()  # every update recorded, in order
    acknowledged: tuple[bytes, ...] = ()  # the uuids acknowledged, in order
    container_id: ContainerId | None = None  # a DEFAULT executor's task: its own (nested) container
    group: tuple[TaskId, ...] = ()  # ... and the task group it was launched with


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointedExecutor:
    """An executor's latest run."""

    info: ExecutorInfo
    container_id: ContainerId
    tasks: tuple[CheckpointedTask, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointedFramework:
    info: FrameworkInfo
    executors: tuple[CheckpointedExecutor, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpointed:
    """What `meta/` holds for the agent id, and every run directory found on disk (sandboxes and their
    checkpoints, with their mtimes), live or not: the ones no live executor claims are garbage."""

    frameworks: tuple[CheckpointedFramework, ...] = ()
    run_directories: tuple[tuple[Path, float], ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SupervisorReport:
    """What the task supervisor held when the agent connected: containers still running (their pids) and
    containers that exited while no agent was connected (their raw wait statuses)."""

    running: Mapping[ContainerId, int] = field(default_factory=dict)
    exited: Mapping[ContainerId, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Recover:
    """The first message a started agent handles: adopt what its last run left (`--recover=reconnect`) or
    kill it (`cleanup`, which passes no checkpoints)."""

    checkpointed: Checkpointed
    report: SupervisorReport


ExecutorCall = ex.Subscribe | ex.Update | ex.Message
Inbound = (
    MasterToAgent
    | MasterDisconnected
    | ExecutorCall
    | ProcessStarted
    | ProcessExited
    | LaunchFailed
    | Tick
    | HealthProbed
    | DiskUsage
    | Recover
)

# ---------------------------------------------------------------- checkpoint records (see checkpoint.py)


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentRecord:
    info: AgentInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class FrameworkRecord:
    info: FrameworkInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutorRecord:
    framework_id: FrameworkId
    info: ExecutorInfo
    container_id: ContainerId


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRecord:
    framework_id: FrameworkId
    executor_id: ExecutorId
    container_id: ContainerId
    task: TaskInfo
    nested_container_id: ContainerId | None = None  # a DEFAULT executor's task: its own container
    group: tuple[TaskId, ...] = ()  # ... and its task group


@dataclass(frozen=True, slots=True, kw_only=True)
class PidRecord:
    framework_id: FrameworkId
    executor_id: ExecutorId
    container_id: ContainerId
    pid: int


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateRecord:
    """One line of `task.updates`: an update (`status`) or the acknowledgement of one (`ack`)."""

    framework_id: FrameworkId
    executor_id: ExecutorId
    container_id: ContainerId
    task_id: TaskId
    status: TaskStatus | None = None
    ack: bytes | None = None


Record = AgentRecord | FrameworkRecord | ExecutorRecord | TaskRecord | PidRecord | UpdateRecord

# ---------------------------------------------------------------- effects


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToMaster:
    message: AgentToMaster


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToExecutor:
    framework_id: FrameworkId
    executor_id: ExecutorId
    event: ex.Event


@dataclass(frozen=True, slots=True, kw_only=True)
class DisconnectExecutor:
    """End the executor's SUBSCRIBE stream (after its last event)."""

    framework_id: FrameworkId
    executor_id: ExecutorId


@dataclass(frozen=True, slots=True, kw_only=True)
class Launch:
    """Prepare `sandbox`, fetch `uris` into it, then spawn `argv` in its own session with cwd = sandbox and
    stdout/stderr in sandbox files. Answered by ProcessStarted or LaunchFailed."""

    container_id: ContainerId
    sandbox: Path
    argv: tuple[str, ...]
    environment: tuple[tuple[str, str], ...]
    uris: tuple[Uri, ...] = ()
    resources: Resources = field(default_factory=Resources)  # the container's limits (isolation/), if any
    # The UNIX user to run as (the command's `user`, else the framework's); honoured by a root agent with
    # `--switch_user` (runtime.py), ignored otherwise.
    user: str | None = None
    # A DEFAULT executor's task: the executor's container, which it nests in and whose limits it shares.
    parent: ContainerId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateContainer:
    """The container's resources changed (upstream's `containerizer->update`): a task was added to its
    executor, or one ended. Its limits follow: cpu both ways, the memory hard limit only upwards. The
    first one for a DEFAULT executor makes its container, which runs no process: its tasks' containers
    nest in it."""

    container_id: ContainerId
    resources: Resources


@dataclass(frozen=True, slots=True, kw_only=True)
class DestroyContainer:
    """A DEFAULT executor has terminated: its container goes (its tasks' containers went as they exited)."""

    container_id: ContainerId


@dataclass(frozen=True, slots=True, kw_only=True)
class AdoptContainer:
    """A restarted agent supervises again a container its last run started (`recovery.py`): its exit, its
    usage and the limitation that may end it are the agent's again. `pid` None: a DEFAULT executor's
    container, which runs no process of its own."""

    container_id: ContainerId
    pid: int | None
    sandbox: Path
    resources: Resources
    parent: ContainerId | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Signal:
    """Send `signal` to the process group led by `pid` (every container is its own session)."""

    container_id: ContainerId
    pid: int
    signal: int


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthProbe:
    """Run one probe of a task's health check (a COMMAND in `sandbox` with `environment`, an HTTP GET or a TCP
    connect to the loopback address) within its timeout. Answered by HealthProbed."""

    framework_id: FrameworkId
    task_id: TaskId
    attempt: int
    check: HealthCheck
    sandbox: Path
    environment: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelProbe:
    """Stop the task's running probe (killing a COMMAND check's process group); no HealthProbed follows."""

    framework_id: FrameworkId
    task_id: TaskId


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    record: Record


@dataclass(frozen=True, slots=True, kw_only=True)
class CollectGarbage:
    """Delete these directories (off the event loop); the ones already gone do not matter."""

    paths: tuple[Path, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class WakeAt:
    """Deliver a Tick at `deadline` (epoch seconds). Only the latest WakeAt counts."""

    deadline: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Transition:
    """A state change worth one INFO line: `<kind> <ident> <old> -> <new> (<reason>)`."""

    kind: str
    ident: str
    old: str
    new: str
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Ignored:
    """A message the core could not act on; the runtime logs `text` as a warning."""

    text: str


Effect = (
    SendToMaster
    | SendToExecutor
    | DisconnectExecutor
    | Launch
    | UpdateContainer
    | DestroyContainer
    | AdoptContainer
    | Signal
    | HealthProbe
    | CancelProbe
    | Checkpoint
    | CollectGarbage
    | WakeAt
    | Transition
    | Ignored
)

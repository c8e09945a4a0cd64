"""Health checks of the tasks the agent runs itself: command tasks and tasks of DEFAULT executors
(`mesos.md` b.6 "Health checks"; upstream's `src/checks/health_checker.cpp`). Custom executors run their own.

One `HealthChecker` per task whose TaskInfo has a `health_check`. It decides; the runtime probes
(`health_probes.py`) and hands the result back. Rules:
1. Checking starts when the task is TASK_RUNNING. The first probe is due `delay_seconds` later, each next one
   `interval_seconds` after the previous one completed: one probe at a time per task.
2. A failure within `grace_period_seconds` of the start is ignored while no probe has succeeded yet.
3. Every counted failure is reported (`healthy: false`); a success is reported when it is the first one, or
   the first after failures. Reports are TASK_RUNNING updates with REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.
4. A failure that makes `consecutive_failures` in a row kills the task (upstream compares with `>=`, so a
   limit of 0 kills on the first counted failure).
5. Once stopped (the task is being killed, or it ended) nothing is due, and late results are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from corral.agent.effects import CancelProbe, HealthProbe
from corral.core.ids import FrameworkId, TaskId
from corral.protocol.mesos import HealthCheck, TaskInfo

REASON_TASK_HEALTH_CHECK_STATUS_UPDATED = "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """A result worth reporting: the task's health, its failures in a row, and whether to kill it now."""

    healthy: bool
    consecutive_failures: int = 0
    kill: bool = False


@dataclass(slots=True, eq=False, kw_only=True)
class HealthChecker:
    check: HealthCheck
    framework_id: FrameworkId
    task_id: TaskId
    sandbox: Path  # where a COMMAND check runs, with the task's environment
    environment: tuple[tuple[str, str], ...] = ()
    started_at: float | None = None
    next_due: float | None = None  # None: not started, a probe is running, or stopped
    attempt: int = 0  # numbers probes, so that a result is matched to the probe still awaited
    probing: bool = False
    consecutive_failures: int = 0
    has_succeeded: bool = False
    stopped: bool = False

    @staticmethod
    def for_task(
        info: TaskInfo, framework_id: FrameworkId, sandbox: Path, environment: tuple[tuple[str, str], ...]
    ) -> HealthChecker | None:
        if info.health_check is None:
            return None
        return HealthChecker(
            check=info.health_check,
            framework_id=framework_id,
            task_id=info.task_id,
            sandbox=sandbox,
            environment=environment,
        )

    @property
    def healthy(self) -> bool | None:
        """The health last reported: None before any report."""
        if self.consecutive_failures:
            return False
        return True if self.has_succeeded else None

    def start(self, now: float) -> float:
        """The task is running: returns when the first probe is due."""
        assert self.started_at is None and not self.stopped
        self.started_at = now
        self.next_due = now + self.check.delay_seconds
        return self.next_due

    def is_due(self, now: float) -> bool:
        return self.next_due is not None and self.next_due <= now

    def probe(self) -> HealthProbe:
        """Begin the probe that is due."""
        assert self.next_due is not None and not self.probing
        self.attempt += 1
        self.probing, self.next_due = True, None
        environment = self.environment
        if self.check.command is not None and self.check.command.environment:
            environment = tuple({**dict(environment), **dict(self.check.command.environment)}.items())
        return HealthProbe(
            framework_id=self.framework_id,
            task_id=self.task_id,
            attempt=self.attempt,
            check=self.check,
            sandbox=self.sandbox,
            environment=environment,
        )

    def record(self, attempt: int, healthy: bool, now: float) -> Outcome | None:
        """The result of probe `attempt`; what to report, or None (nothing to report, or a stale result).
        Unless it kills the task, the next probe is then due (`next_due`)."""
        if self.stopped or not self.probing or attempt != self.attempt:
            return None
        assert self.started_at is not None
        self.probing = False
        self.next_due = now + self.check.interval_seconds
        if healthy:
            report = not self.has_succeeded or self.consecutive_failures > 0
            self.has_succeeded, self.consecutive_failures = True, 0
            return Outcome(healthy=True) if report else None
        grace = self.check.grace_period_seconds
        if not self.has_succeeded and grace > 0 and now - self.started_at <= grace:
            return None
        self.consecutive_failures += 1
        kill = self.consecutive_failures >= self.check.consecutive_failures
        if kill:
            self.stopped, self.next_due = True, None
        return Outcome(healthy=False, consecutive_failures=self.consecutive_failures, kill=kill)

    def stop(self) -> CancelProbe | None:
        """No more probes; the one running, if any, is to be cancelled."""
        running = self.probing and not self.stopped
        self.stopped, self.probing, self.next_due = True, False, None
        return CancelProbe(framework_id=self.framework_id, task_id=self.task_id) if running else None

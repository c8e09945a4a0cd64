"""Per-instance health from check results (marathon.md b.2), as upstream's `HealthCheckActor` and `Health`.

One `Health` per (instance, health check). Rules:

- A success sets `firstSuccess` once, `lastSuccess`, and clears the consecutive failures.
- A failure is ignored (not recorded at all) while the instance is not running, and while it is within
  `gracePeriodSeconds` of becoming running and has never succeeded.
- Otherwise it is recorded; if the failures counted *before* it already reached `maxConsecutiveFailures`
  (so on failure max+1, upstream's `checkConsecutiveFailures`), the instance is to be killed, unless
  `maxConsecutiveFailures` is 0 or the instance is unreachable. Such a kill counts toward launch backoff.
- `alive` is "the last success is later than the last failure", what `healthCheckResults[].alive` shows.
- HTTP, HTTPS and TCP checks are run by Marathon (the runtime probes, with `timeoutSeconds`; a timeout is a
  failure) at `next_check_at`; COMMAND and MESOS_* checks run on the agent, their verdict arrives as
  `healthy` in status updates (`record_mesos_health`), and the executor kills by itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from corral.marathon.checks import MARATHON_PROTOCOLS, HealthCheck
from corral.marathon.instance import Instance, InstanceId, format_timestamp
from corral.marathon.matching import port_requests
from corral.marathon.model import AppDefinition
from corral.protocol.json import JsonObject

FIRST_CHECK_AFTER_SECONDS = 5.0  # upstream HealthCheck.DefaultFirstHealthCheckAfter


@dataclass(frozen=True, slots=True, kw_only=True)
class Health:
    instance_id: InstanceId
    first_success: float | None = None
    last_success: float | None = None
    last_failure: float | None = None
    last_failure_cause: str | None = None
    consecutive_failures: int = 0

    @property
    def alive(self) -> bool:
        if self.last_success is None:
            return False
        return self.last_failure is None or self.last_success > self.last_failure

    def succeeded(self, now: float) -> Health:
        first = self.first_success if self.first_success is not None else now
        return replace(self, first_success=first, last_success=now, consecutive_failures=0)

    def failed(self, now: float, cause: str) -> Health:
        return replace(
            self,
            last_failure=now,
            last_failure_cause=cause,
            consecutive_failures=self.consecutive_failures + 1,
        )

    def to_json(self) -> JsonObject:
        """One entry of a task's `healthCheckResults`."""

        def ts(value: float | None) -> str | None:
            return None if value is None else format_timestamp(value)

        return {
            "alive": self.alive,
            "consecutiveFailures": self.consecutive_failures,
            "firstSuccess": ts(self.first_success),
            "lastFailure": ts(self.last_failure),
            "lastSuccess": ts(self.last_success),
            "lastFailureCause": self.last_failure_cause,
            "instanceId": self.instance_id,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthOutcome:
    health: Health
    kill: bool = False  # kill the instance (unhealthy_instance_kill_event), and count it as a failure
    ignored: bool = False  # a failure within the grace period or before running: nothing was recorded

    def alive_changed(self, before: Health) -> bool:
        """Whether to publish `health_status_changed_event`."""
        return before.alive != self.health.alive


def is_marathon_check(check: HealthCheck) -> bool:
    return check.protocol in MARATHON_PROTOCOLS


def ignores_failure(health: Health, check: HealthCheck, instance: Instance, now: float) -> bool:
    if not instance.is_running:
        return True
    return health.first_success is None and instance.since + check.grace_period_seconds > now


def record_result(
    health: Health, check: HealthCheck, instance: Instance, *, healthy: bool, now: float, cause: str = ""
) -> HealthOutcome:
    """A Marathon-side probe's result (HTTP status 200-399, TCP connect, or a failure with its cause)."""
    if healthy:
        return HealthOutcome(health=health.succeeded(now))
    if ignores_failure(health, check, instance, now):
        return HealthOutcome(health=health, ignored=True)
    limit = check.max_consecutive_failures
    kill = limit > 0 and health.consecutive_failures >= limit and not instance.is_unreachable
    return HealthOutcome(health=health.failed(now, cause or "unhealthy"), kill=kill)


def record_mesos_health(health: Health, *, healthy: bool, now: float, cause: str = "") -> Health:
    """`healthy` from a status update of a task with a COMMAND or MESOS_* check."""
    return health.succeeded(now) if healthy else health.failed(now, cause or "Mesos health check failed")


def instance_healthy(results: Sequence[Health]) -> bool | None:
    """What `tasksHealthy`/`tasksUnhealthy` count: None until there are results, then all alive."""
    if not results:
        return None
    return all(h.alive for h in results)


def next_check_at(check: HealthCheck, instance: Instance, last_run_at: float | None) -> float | None:
    """When the runtime should probe next (Marathon-side checks of running, reachable instances only)."""
    if not is_marathon_check(check) or not instance.is_running:
        return None
    if last_run_at is None or last_run_at < instance.since:
        return instance.since + min(float(check.interval_seconds), FIRST_CHECK_AFTER_SECONDS)
    return last_run_at + check.interval_seconds


def probe_port(check: HealthCheck, app: AppDefinition, instance: Instance) -> int | None:
    """The host port a Marathon-side check probes: `port`, else the host port at `portIndex` (default 0)."""
    if check.port is not None:
        return check.port
    index = check.port_index or 0
    ports = iter(instance.host_ports)
    for i, request in enumerate(port_requests(app)):
        port = next(ports, None) if request is not None else None
        if i == index:
            return port
    return None

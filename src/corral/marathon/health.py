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

`HealthTracker` holds all of it in memory, as upstream does: a restarted Marathon probes afresh, and the
health of an instance is dropped when the instance goes away.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from corral.marathon.checks import MARATHON_PROTOCOLS, HealthCheck
from corral.marathon.instance import Instance, InstanceId, format_timestamp
from corral.marathon.matching import port_requests
from corral.marathon.model import AppDefinition
from corral.protocol.json import JsonObject

FIRST_CHECK_AFTER_SECONDS = 5.0  # upstream HealthCheck.DefaultFirstHealthCheckAfter
NO_PORT_CAUSE = "Health check failed: unable to get the task's effectivePort"


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
    previous: Health
    kill: bool = False  # kill the instance (unhealthy_instance_kill_event), and count it as a failure
    ignored: bool = False  # a failure within the grace period or before running: nothing was recorded

    @property
    def alive_changed(self) -> bool:
        """Whether to publish `health_status_changed_event`."""
        return self.previous.alive != self.health.alive

    @property
    def failed(self) -> bool:
        """A failure was recorded (`failed_health_check_event`)."""
        return self.health.consecutive_failures > self.previous.consecutive_failures


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthVerdict:
    """What one Marathon-side probe found."""

    healthy: bool
    cause: str = ""  # why it failed: "500 Internal Server Error", "ConnectionRefusedError: ..."


def http_verdict(status: int, reason: str, *, ignore_http1xx: bool) -> HealthVerdict | None:
    """An HTTP(S) check's answer: healthy on 200-399; None (no result at all) for 1xx with `ignoreHttp1xx`."""
    if 200 <= status < 400:
        return HealthVerdict(healthy=True)
    if ignore_http1xx and 100 <= status < 200:
        return None
    return HealthVerdict(healthy=False, cause=f"{status} {reason}".strip())


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
        return HealthOutcome(health=health.succeeded(now), previous=health)
    if ignores_failure(health, check, instance, now):
        return HealthOutcome(health=health, previous=health, ignored=True)
    limit = check.max_consecutive_failures
    kill = limit > 0 and health.consecutive_failures >= limit and not instance.is_unreachable
    return HealthOutcome(health=health.failed(now, cause or "unhealthy"), previous=health, kill=kill)


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


def host_port_at(app: AppDefinition, instance: Instance, index: int) -> int | None:
    """The host port of the app's port `index` (portDefinitions or portMappings), None if it has none."""
    ports = iter(instance.host_ports)
    for i, request in enumerate(port_requests(app)):
        port = next(ports, None) if request is not None else None
        if i == index:
            return port
    return None


def probe_port(check: HealthCheck, app: AppDefinition, instance: Instance) -> int | None:
    """The host port a Marathon-side check probes: `port`, else the host port at `portIndex` (default 0)."""
    if check.port is not None:
        return check.port
    return host_port_at(app, instance, check.port_index or 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthProbe:
    """One Marathon-side check of one instance, for the runtime's prober; `port` None: nothing to probe."""

    instance_id: InstanceId
    check: HealthCheck
    host: str
    port: int | None


class HealthTracker:
    """The health of every (instance, check) and when each Marathon-side check last started.

    `due` hands out the probes to start now and marks them in flight until `record` gets their verdict, so a
    probe slower than its interval is never doubled; it also forgets instances that are gone.
    """

    def __init__(self) -> None:
        self._health: dict[InstanceId, dict[HealthCheck, Health]] = {}
        self._started: dict[tuple[InstanceId, HealthCheck], float] = {}
        self._in_flight: set[tuple[InstanceId, HealthCheck]] = set()

    def due(
        self,
        instances: Iterable[Instance],
        app_of: Callable[[Instance], AppDefinition | None],
        now: float,
    ) -> tuple[list[HealthProbe], float | None]:
        """The probes to start now and when the next one is due (probes in flight wake no one)."""
        probes: list[HealthProbe] = []
        wake: float | None = None
        live: set[InstanceId] = set()
        for instance in instances:
            live.add(instance.instance_id)
            app = app_of(instance)
            if app is None or instance.is_kill_requested:
                continue
            for check in app.health_checks:
                key = (instance.instance_id, check)
                if key in self._in_flight:
                    continue
                at = next_check_at(check, instance, self._started.get(key))
                if at is None:
                    continue
                if at > now:
                    wake = at if wake is None else min(wake, at)
                    continue
                self._in_flight.add(key)
                self._started[key] = now
                port = probe_port(check, app, instance)
                probes.append(
                    HealthProbe(
                        instance_id=instance.instance_id, check=check, host=instance.agent.hostname, port=port
                    )
                )
        self._forget_all_but(live)
        return probes, wake

    def record(
        self, probe: HealthProbe, verdict: HealthVerdict | None, instance: Instance | None, now: float
    ) -> HealthOutcome | None:
        """A probe's verdict; None when nothing was recorded (an ignored 1xx, or the instance is gone)."""
        self._in_flight.discard((probe.instance_id, probe.check))
        if verdict is None or instance is None or instance.instance_id != probe.instance_id:
            return None
        checks = self._health.setdefault(instance.instance_id, {})
        before = checks.get(probe.check, Health(instance_id=instance.instance_id))
        outcome = record_result(
            before, probe.check, instance, healthy=verdict.healthy, now=now, cause=verdict.cause
        )
        checks[probe.check] = outcome.health
        return outcome

    def record_mesos(
        self, instance: Instance, check: HealthCheck, *, healthy: bool, now: float
    ) -> HealthOutcome:
        checks = self._health.setdefault(instance.instance_id, {})
        before = checks.get(check, Health(instance_id=instance.instance_id))
        checks[check] = record_mesos_health(before, healthy=healthy, now=now)
        return HealthOutcome(health=checks[check], previous=before)

    def results(self, instance_id: InstanceId) -> list[Health]:
        return list(self._health.get(instance_id, {}).values())

    def healthy(self, instance_id: InstanceId) -> bool | None:
        return instance_healthy(self.results(instance_id))

    def forget(self, instance_id: InstanceId) -> None:
        self._health.pop(instance_id, None)
        self._forget_keys(lambda key: key[0] == instance_id)

    def _forget_all_but(self, live: set[InstanceId]) -> None:
        for instance_id in [i for i in self._health if i not in live]:
            del self._health[instance_id]
        self._forget_keys(lambda key: key[0] not in live)

    def _forget_keys(self, gone: Callable[[tuple[InstanceId, HealthCheck]], bool]) -> None:
        for key in [k for k in self._started if gone(k)]:
            del self._started[key]
        self._in_flight = {k for k in self._in_flight if not gone(k)}

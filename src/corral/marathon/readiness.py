"""Readiness checks during deployments (marathon.md b.2, a.5), as upstream's `ReadinessBehavior`.

Rules:

- Only while a deployment's current step scales or restarts an app with a readiness check: each of the
  app's running instances of the target configuration that is not ready yet is probed (HTTP or HTTPS GET of
  `path` on the port named `portName`) at once, then `intervalSeconds` after each answer, until it answers
  one of `httpStatusCodesForReady`. Once ready it stays ready while it lives (upstream stops probing it).
- A probe that gets no answer within `timeoutSeconds` is not ready, shown as upstream shows it: a 504
  `text/plain` response "Marathon could not query <url>: <error>".
- Results are kept per deployment and shown in `/v2/deployments` `currentActions[].readinessCheckResults`:
  `{name, taskId, ready, lastResponse}`, `lastResponse` only with `preserveLastResponse`.
- Validation allows one readiness check per app; an instance is ready when it passes.

The runtime feeds `ready` to the scheduler and to `deployment.is_step_done`, which gate on it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from corral.core.ids import TaskId
from corral.marathon.checks import ReadinessCheck
from corral.marathon.health import host_port_at
from corral.marathon.instance import Instance, InstanceId
from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.protocol.json import JsonObject, JsonValue

GATEWAY_TIMEOUT = 504


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpResponse:
    status: int
    content_type: str  # the media type alone: "text/plain"
    body: str

    def to_json(self) -> JsonObject:
        return {"status": self.status, "contentType": self.content_type, "body": self.body}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeFailure:
    """No answer: refused, reset, timed out."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessResult:
    name: str
    task_id: TaskId
    ready: bool
    last_response: HttpResponse | None = None

    def to_json(self) -> JsonObject:
        out: JsonObject = {"name": self.name, "taskId": self.task_id, "ready": self.ready}
        if self.last_response is not None:
            out["lastResponse"] = self.last_response.to_json()
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessProbe:
    deployment_id: str
    app_id: PathId
    instance_id: InstanceId
    task_id: TaskId
    check: ReadinessCheck
    url: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadinessTarget:
    """An app whose instances must become ready: its deployment, definition and configuration version."""

    deployment_id: str
    app: AppDefinition
    config_version: str


def readiness_url(check: ReadinessCheck, app: AppDefinition, instance: Instance) -> str | None:
    """`<scheme>://<host>:<host port of portName><path>`; None if the name has no host port."""
    if check.port_name not in app.port_names:
        return None
    port = host_port_at(app, instance, app.port_names.index(check.port_name))
    if port is None:
        return None
    return f"{check.protocol.value.lower()}://{instance.agent.hostname}:{port}{check.path}"


def readiness_result(probe: ReadinessProbe, answer: HttpResponse | ProbeFailure) -> ReadinessResult:
    check = probe.check
    if isinstance(answer, ProbeFailure):
        body = f"Marathon could not query {probe.url}: {answer.message}"
        response = HttpResponse(status=GATEWAY_TIMEOUT, content_type="text/plain", body=body)
        ready = False
    else:
        response, ready = answer, answer.status in check.http_status_codes_for_ready
    return ReadinessResult(
        name=check.name,
        task_id=probe.task_id,
        ready=ready,
        last_response=response if check.preserve_last_response else None,
    )


class ReadinessTracker:
    """Which instances are ready, the latest result of each per deployment, and the probes in flight."""

    def __init__(self) -> None:
        self._ready: set[InstanceId] = set()
        self._answered_at: dict[InstanceId, float] = {}
        self._in_flight: set[InstanceId] = set()
        self._results: dict[str, dict[PathId, dict[InstanceId, ReadinessResult]]] = {}

    @property
    def ready(self) -> frozenset[InstanceId]:
        return frozenset(self._ready)

    def due(
        self,
        targets: Mapping[PathId, ReadinessTarget],
        instances: Iterable[Instance],
        deployments: Collection[str],
        now: float,
    ) -> tuple[list[ReadinessProbe], float | None]:
        """The probes to start now and when the next is due; forgets gone instances and deployments."""
        probes: list[ReadinessProbe] = []
        wake: float | None = None
        live: set[InstanceId] = set()
        for instance in instances:
            live.add(instance.instance_id)
            target = targets.get(instance.app_id)
            if target is None or not self._needs_probe(instance, target):
                continue
            check = target.app.readiness_checks[0]
            answered = self._answered_at.get(instance.instance_id)
            at = now if answered is None else answered + check.interval_seconds
            if at > now:
                wake = at if wake is None else min(wake, at)
                continue
            url = readiness_url(check, target.app, instance)
            if url is None:  # validation makes portName name a port: nothing to probe otherwise
                continue
            self._in_flight.add(instance.instance_id)
            probes.append(
                ReadinessProbe(
                    deployment_id=target.deployment_id,
                    app_id=instance.app_id,
                    instance_id=instance.instance_id,
                    task_id=instance.task_id,
                    check=check,
                    url=url,
                )
            )
        self._forget_all_but(live, deployments)
        return probes, wake

    def _needs_probe(self, instance: Instance, target: ReadinessTarget) -> bool:
        return (
            bool(target.app.readiness_checks)
            and instance.instance_id not in self._ready
            and instance.instance_id not in self._in_flight
            and instance.is_running
            and not instance.is_kill_requested
            and instance.is_launched_with(target.config_version)
        )

    def record(
        self, probe: ReadinessProbe, answer: HttpResponse | ProbeFailure, *, alive: bool, now: float
    ) -> ReadinessResult | None:
        """A probe's answer; None if its instance is gone meanwhile."""
        self._in_flight.discard(probe.instance_id)
        if not alive:
            return None
        result = readiness_result(probe, answer)
        self._answered_at[probe.instance_id] = now
        by_app = self._results.setdefault(probe.deployment_id, {})
        by_app.setdefault(probe.app_id, {})[probe.instance_id] = result
        if result.ready:
            self._ready.add(probe.instance_id)
        return result

    def results(self, deployment_id: str) -> dict[PathId, list[JsonObject]]:
        """`readinessCheckResults` of each app of a deployment."""
        by_app = self._results.get(deployment_id, {})
        return {app_id: [r.to_json() for r in results.values()] for app_id, results in by_app.items()}

    def app_results(self, app_id: PathId, deployments: Iterable[str]) -> list[JsonValue]:
        """An app's `readinessCheckResults` (`?embed=app.readiness`) in the running `deployments`."""
        return [r.to_json() for d in deployments for r in self._results.get(d, {}).get(app_id, {}).values()]

    def forget(self, instance_id: InstanceId) -> None:
        self._ready.discard(instance_id)
        self._answered_at.pop(instance_id, None)
        self._in_flight.discard(instance_id)
        for by_app in self._results.values():
            for results in by_app.values():
                results.pop(instance_id, None)

    def _forget_all_but(self, live: set[InstanceId], deployments: Collection[str]) -> None:
        for deployment_id in [d for d in self._results if d not in deployments]:
            del self._results[deployment_id]
        for instance_id in {*self._ready, *self._answered_at, *self._in_flight} - live:
            self.forget(instance_id)

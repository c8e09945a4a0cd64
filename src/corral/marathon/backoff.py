"""Launch backoff: how long an app waits before launching again after its tasks fail (marathon.md c.3).

Upstream's `RateLimiter` (1.9), keyed like it by app id and config version (`lastConfigChangeAt`), so a new
configuration starts without delay while a mere scale keeps it:

- the first failure delays launches by `backoffSeconds` (capped at `maxLaunchDelaySeconds`); each further
  failure multiplies the delay by `backoffFactor`, capped likewise: 1, 1.15, 1.3225 s with the defaults;
- the deadline counts from the latest failure;
- a failure more than `maxLaunchDelaySeconds` after the previous one starts again at `backoffSeconds` (the
  app ran long enough: upstream's `cleanUpOverdueDelays`);
- `reset` is `DELETE /v2/queue/{app}/delay`, and what a RestartApplication step does when it starts.

Which updates count as failures is `instance.LIMIT_WORTHY` (FAILED, FINISHED, ERROR, DROPPED, GONE), and a
kill for failed health checks; TASK_KILLED does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from corral.marathon.model import AppDefinition
from corral.marathon.paths import PathId
from corral.protocol.json import JsonObject


@dataclass(frozen=True, slots=True, kw_only=True)
class LaunchDelay:
    config_version: str
    delay_seconds: float
    reference: float  # when the latest failure happened
    max_launch_delay_seconds: float

    @property
    def deadline(self) -> float:
        return self.reference + self.delay_seconds

    def time_left(self, now: float) -> float:
        return max(0.0, self.deadline - now)

    def is_overdue(self, now: float) -> bool:
        """So long without a failure that the next one starts over."""
        return now > self.reference + self.max_launch_delay_seconds


@dataclass(frozen=True, slots=True)
class LaunchDelays:
    delays: Mapping[PathId, LaunchDelay] = field(default_factory=dict)

    def get(self, app_id: PathId, config_version: str) -> LaunchDelay | None:
        delay = self.delays.get(app_id)
        return delay if delay is not None and delay.config_version == config_version else None

    def add_failure(self, app: AppDefinition, config_version: str, now: float) -> LaunchDelays:
        cap = float(app.max_launch_delay_seconds)
        current = self.get(app.id, config_version)
        if current is None or current.is_overdue(now):
            seconds = min(float(app.backoff_seconds), cap)
        else:
            seconds = min(current.delay_seconds * app.backoff_factor, cap)
        delay = LaunchDelay(
            config_version=config_version, delay_seconds=seconds, reference=now, max_launch_delay_seconds=cap
        )
        return replace(self, delays={**self.delays, app.id: delay})

    def reset(self, app_id: PathId) -> LaunchDelays:
        if app_id not in self.delays:
            return self
        return replace(self, delays={k: v for k, v in self.delays.items() if k != app_id})

    def without_overdue(self, now: float) -> LaunchDelays:
        """Forget delays that can no longer matter (upstream cleans them up periodically)."""
        kept = {k: v for k, v in self.delays.items() if not v.is_overdue(now)}
        return self if len(kept) == len(self.delays) else replace(self, delays=kept)

    def launch_allowed_at(self, app_id: PathId, config_version: str) -> float | None:
        """The deadline before which the app must not launch, or None if it is not delayed."""
        delay = self.get(app_id, config_version)
        return None if delay is None else delay.deadline

    def is_delayed(self, app_id: PathId, config_version: str, now: float) -> bool:
        deadline = self.launch_allowed_at(app_id, config_version)
        return deadline is not None and now < deadline


def queue_delay_json(delay: LaunchDelay | None, now: float) -> JsonObject:
    """The queue item's `delay` (marathon.md a.6): whole seconds left, and `overdue` once none are."""
    if delay is None:
        return {"timeLeftSeconds": 0, "overdue": True}
    left = delay.deadline - now
    return {"timeLeftSeconds": max(0, int(left)), "overdue": left <= 0}

"""Which of Marathon's `/v2/events` (marathon.md a.7) make the load balancer re-read the apps, and the
Server-Sent Events framing they arrive in.

Events are cache invalidation, not state: Marathon neither orders nor replays them, so any relevant event
(and every reconnect) triggers a full `GET /v2/apps?embed=apps.tasks`. Relevant are the events that can
change a task's state or health, an app's labels or ports, or the set of apps: marathon-lb's three
(`api_post_event`, `status_update_event`, `health_status_changed_event`) and the ones that cover what a
Marathon may publish instead (instance and deployment events, health check changes, app termination).
"""

from __future__ import annotations

from corral.core.errors import DecodeError
from corral.protocol.json import loads

EVENT_TYPES = (
    "api_post_event",
    "status_update_event",
    "health_status_changed_event",
    "instance_health_changed_event",
    "instance_changed_event",
    "unhealthy_instance_kill_event",
    "add_health_check_event",
    "remove_health_check_event",
    "app_terminated_event",
    "deployment_info",
    "deployment_success",
    "deployment_failed",
    "deployment_step_success",
    "deployment_step_failure",
    "group_change_success",
)
RELEVANT = frozenset(EVENT_TYPES)


class EventParser:
    """Feed it the stream's lines (without their line endings); a blank line ends an event and `feed`
    returns its type: the `event:` field, else the `eventType` of its JSON `data:`. Heartbeats (bare blank
    lines) and comments return None."""

    def __init__(self) -> None:
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        if line:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                self._event = value
            elif name == "data":
                self._data.append(value)
            return None
        event, data = self._event, "\n".join(self._data)
        self._event, self._data = None, []
        return event or _event_type(data)


def _event_type(data: str) -> str | None:
    if not data:
        return None
    try:
        value = loads(data)
    except DecodeError:
        return None
    kind = value.get("eventType") if isinstance(value, dict) else None
    return kind if isinstance(kind, str) else None


def is_relevant(event_type: str) -> bool:
    return event_type in RELEVANT

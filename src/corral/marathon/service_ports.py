"""Service ports (marathon.md c.8, upstream `AssignDynamicServiceLogic`): before an app is stored, every
`portDefinitions[].port == 0` (host networking) or `portMappings[].servicePort == 0` gets the next free port
of [local_port_min, local_port_max] (10000-20000), in ascending order, skipping ports any other app uses.
An update gets the app's previously assigned ports back, index for index, where it asks for 0 again.
User-chosen ports are not checked for uniqueness (upstream issue #3122).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

from corral.marathon.model import AppDefinition

LOCAL_PORT_MIN = 10000
LOCAL_PORT_MAX = 20000


class NoServicePortLeft(Exception):
    """Every port of the service port range is taken."""


def service_ports(app: AppDefinition) -> tuple[int, ...]:
    """The app's service ports, per port index (0 where none is assigned)."""
    if app.is_host_networking:
        return tuple(d.port for d in app.port_definitions)
    if app.container is not None:
        return tuple(m.service_port for m in app.container.port_mappings)
    return ()


def _free(used: set[int], low: int, high: int) -> Iterator[int]:
    for port in range(low, high + 1):
        if port not in used:
            used.add(port)
            yield port


def assign_service_ports(
    app: AppDefinition,
    others: Iterable[AppDefinition],
    previous: AppDefinition | None = None,
    *,
    low: int = LOCAL_PORT_MIN,
    high: int = LOCAL_PORT_MAX,
    taken: set[int] | None = None,
) -> AppDefinition:
    """`taken`, if given, holds ports `others` use (a caller placing many apps keeps it up to date)."""
    used = {p for other in others if other.id != app.id for p in service_ports(other) if p}
    used |= (taken or set()) | {p for p in service_ports(app) if p}
    before = service_ports(previous) if previous is not None else ()
    free = _free(used, low, high)

    def pick(index: int, port: int) -> int:
        if port:
            return port
        if index < len(before) and before[index] and before[index] not in used:
            used.add(before[index])
            return before[index]
        chosen = next(free, None)
        if chosen is None:
            raise NoServicePortLeft(f"no service port left in [{low}, {high}]")
        return chosen

    if app.is_host_networking:
        definitions = tuple(replace(d, port=pick(i, d.port)) for i, d in enumerate(app.port_definitions))
        return replace(app, port_definitions=definitions)
    if app.container is not None and app.container.port_mappings:
        mappings = tuple(
            replace(m, service_port=pick(i, m.service_port))
            for i, m in enumerate(app.container.port_mappings)
        )
        return replace(app, container=replace(app.container, port_mappings=mappings))
    return app

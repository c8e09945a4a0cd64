"""The agent's settings, as its flags name them (`--resources`, `--attributes`, `--work_dir`, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corral.core.attributes import Attribute
from corral.core.reservations import Reservation
from corral.core.resources import Resources


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    ip: str = "127.0.0.1"
    port: int = 5051
    hostname: str | None = None  # defaults to ip
    work_dir: Path = Path(".corral/agent")
    master: str = "127.0.0.1:5050"
    # Only the resources named here are fixed; the rest are detected (cpus, mem, disk, ports 31000-32000).
    resources: Resources | None = None
    # The part of `resources` statically reserved (`--resources 'cpus(eng):2'`), advertised to the master.
    reservations: Mapping[Reservation, Resources] = field(default_factory=dict)
    attributes: tuple[Attribute, ...] = ()
    executor_registration_timeout: float = 60.0
    executor_shutdown_grace_period: float = 5.0
    # Status updates are resent from 10 s doubling to 10 min, as upstream; tests may shorten the first.
    status_update_retry_min: float = 10.0
    status_update_retry_max: float = 600.0
    registration_backoff_factor: float = 1.0

    @property
    def advertised_hostname(self) -> str:
        return self.hostname or self.ip

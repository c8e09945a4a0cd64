"""The master's settings, as its flags name them (`--allocation_interval`, `--offer_timeout`, ...)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class MasterConfig:
    ip: str = "127.0.0.1"
    port: int = 5050
    hostname: str | None = None  # defaults to ip
    work_dir: Path = Path(".corral/master")
    cluster: str | None = None
    allocation_interval: float = 1.0
    offer_timeout: float | None = None
    # How long a disconnected agent may stay away before its tasks are reported lost.
    agent_reregister_timeout: float = 600.0
    agent_ping_timeout: float = 15.0
    max_agent_ping_timeouts: int = 5
    max_completed_frameworks: int = 50
    max_completed_tasks_per_framework: int = 1000

    @property
    def advertised_hostname(self) -> str:
        return self.hostname or self.ip

"""The master's settings, as its flags name them (`--allocation_interval`, `--offer_timeout`, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from corral.net.tls import PLAIN, TlsConfig
from corral.security.acls import Acls


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
    # `--allocator`: HierarchicalDRF or random.
    allocator: str = "HierarchicalDRF"
    # `--roles` (deprecated upstream): the only roles frameworks may use, `*` included; None: any role.
    roles: frozenset[str] | None = None
    # `--weights eng=2,ops=1` (deprecated upstream in favour of UPDATE_WEIGHTS): the initial weights.
    weights: Mapping[str, float] = field(default_factory=dict)
    # `--min_allocatable_resources`: offers smaller than every `|`-separated set are withheld.
    min_allocatable_resources: str = "cpus:0.01|mem:32"
    # `--zk` (password masked) and `--quorum`, shown in the master's flags; None: this master leads alone.
    zk: str | None = None
    quorum: int | None = None
    # `--acls` (`corral.security.acls`): None, everything is allowed; given, what no rule allows is denied.
    acls: Acls | None = None
    # The authentication flags as `/flags` shows them (`cli/mesos_auth_flags.py`): values, paths, no secrets.
    auth_flags: Mapping[str, str] = field(default_factory=dict)
    # `--ssl_cert` and co.: also how the master reaches its agents (the whole cluster uses one setting).
    tls: TlsConfig = PLAIN

    @property
    def advertised_hostname(self) -> str:
        return self.hostname or self.ip

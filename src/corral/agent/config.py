"""The agent's settings, as its flags name them (`--resources`, `--attributes`, `--work_dir`, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from corral.core.attributes import Attribute
from corral.core.reservations import Reservation
from corral.core.resources import Resources
from corral.security.acls import Acls


class RecoverMode(StrEnum):
    """`--recover`: what a restarted agent does with the tasks an earlier run left running."""

    RECONNECT = "reconnect"  # adopt them: same processes, same status update streams
    CLEANUP = "cleanup"  # kill them all and start with nothing


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
    recover: RecoverMode = RecoverMode.RECONNECT
    # Upstream waits 2 s; pymesos executors back off up to 15 s between reconnections (upstream's cap here).
    executor_reregistration_timeout: float = 15.0
    gc_delay: float = 7 * 86400.0  # sandboxes of terminated executors are deleted this long after they end
    gc_disk_headroom: float = 0.1  # ... or sooner, the fuller the disk is (sandbox.md)
    disk_watch_interval: float = 60.0
    # Status updates are resent from 10 s doubling to 10 min, as upstream; tests may shorten the first.
    status_update_retry_min: float = 10.0
    status_update_retry_max: float = 600.0
    registration_backoff_factor: float = 1.0
    # Isolation (`isolation/`): upstream's default here; the `corral agent` and `corral dev` commands
    # default to the best the machine offers (cgroups when they are writable).
    isolation: tuple[str, ...] = ("posix/cpu", "posix/mem")
    cgroups_root: str = "corral"
    cgroups_enable_cfs: bool = False
    enforce_container_disk_quota: bool = False
    container_disk_watch_interval: float = 15.0
    # How often the running tasks' usage goes to the master (`UsageReport`, for `/master/state`): often
    # enough for a cpu rate, rare enough that sampling 500 tasks' cgroups (about 30 ms of cpu) costs the
    # agent under 1% of a core.
    usage_interval: float = 5.0
    # `--switch_user` (upstream's default): an agent running as root runs each task as its user (the
    # command's `user`, else `FrameworkInfo.user`); otherwise, or when false, tasks run as the agent's user.
    switch_user: bool = True
    # `--acls` (`corral.security.acls`): who may read which sandboxes and GET the guarded endpoints.
    acls: Acls | None = None
    # The authentication flags as the state's `flags` show them (`cli/mesos_auth_flags.py`): no secrets.
    auth_flags: Mapping[str, str] = field(default_factory=dict)

    @property
    def advertised_hostname(self) -> str:
        return self.hostname or self.ip

"""The limit arithmetic of the cgroup isolators (`mesos.md` f.2), from a container's resources to file values.

    cpu.shares          1024 per cpu, at least 2                        (cgroup v1)
    cpu.weight          the shares mapped onto 1..10000, as runc and systemd map them   (cgroup v2)
    cpu.cfs_quota_us    cpus x the 100 ms period, at least 1 ms; only with --cgroups_enable_cfs
    memory limit        mem in bytes, at least 32 MB

A command task's container holds the task plus upstream's command executor overhead (0.1 cpus, 32 MB,
`mesos.md` b.6), so a task asking for mem 32 gets a 64 MB limit, as it would under Mesos.

Resources are multiples of 0.001 (Mesos' fixed point), so cpus x 100,000 us is a whole number: `round`
removes the float noise (0.57 x 100000 = 56999.99...) that upstream's integer nanoseconds never see.
Shares truncate, as upstream's cast does; 1024 x cpus is exact whenever it is whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.core.resources import Resources

CPU_SHARES_PER_CPU = 1024
MIN_CPU_SHARES = 2
MAX_CPU_SHARES = 262144  # the kernel's ceiling; also where cgroup v2's weight reaches its own
CPU_CFS_PERIOD_US = 100_000
MIN_CPU_CFS_QUOTA_US = 1_000
MIN_CPU_WEIGHT, MAX_CPU_WEIGHT = 1, 10_000
MB = 1024 * 1024
MIN_MEMORY_BYTES = 32 * MB
COMMAND_EXECUTOR_OVERHEAD = Resources.of(cpus=0.1, mem=32)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerLimits:
    """What the cgroups of one container enforce; None where its resources do not name the resource."""

    cpus: float | None = None
    cpu_shares: int | None = None
    cfs_quota_us: int | None = None  # only with --cgroups_enable_cfs
    mem_limit_bytes: int | None = None
    disk_limit_bytes: int | None = None  # enforced by disk/du, not by a cgroup


def cpu_shares(cpus: float) -> int:
    return min(max(int(CPU_SHARES_PER_CPU * cpus), MIN_CPU_SHARES), MAX_CPU_SHARES)


def cfs_quota_us(cpus: float) -> int:
    return max(round(CPU_CFS_PERIOD_US * cpus), MIN_CPU_CFS_QUOTA_US)


def cpu_weight(shares: int) -> int:
    """cgroup v2's cpu.weight for cgroup v1's cpu.shares: the linear map of [2, 262144] onto [1, 10000]
    (runc's and systemd's conversion), so 1024 shares (1 cpu) is weight 39."""
    shares = min(max(shares, MIN_CPU_SHARES), MAX_CPU_SHARES)
    return MIN_CPU_WEIGHT + (shares - MIN_CPU_SHARES) * (MAX_CPU_WEIGHT - 1) // (
        MAX_CPU_SHARES - MIN_CPU_SHARES
    )


def cpu_max(quota_us: int | None) -> str:
    """cgroup v2's cpu.max: "<quota> <period>", or "max <period>" for no cap."""
    return f"{quota_us if quota_us is not None else 'max'} {CPU_CFS_PERIOD_US}"


def memory_limit_bytes(mem_mb: float) -> int:
    return max(int(mem_mb * MB), MIN_MEMORY_BYTES)


def container_limits(resources: Resources, *, enable_cfs: bool) -> ContainerLimits:
    cpus = resources.scalars.get("cpus")
    mem = resources.scalars.get("mem")
    disk = resources.scalars.get("disk")
    return ContainerLimits(
        cpus=cpus,
        cpu_shares=cpu_shares(cpus) if cpus is not None else None,
        cfs_quota_us=cfs_quota_us(cpus) if cpus is not None and enable_cfs else None,
        mem_limit_bytes=memory_limit_bytes(mem) if mem is not None else None,
        disk_limit_bytes=int(disk * MB) if disk is not None else None,
    )


def format_bytes(count: int) -> str:
    """Bytes as upstream prints them (stout's `Bytes`): the largest of B, KB, MB, GB, TB that loses nothing,
    so 67108864 is "64MB" and 67108865 is "67108865B"."""
    value, unit = count, "B"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value == 0 or value % 1024:
            break
        value, unit = value // 1024, bigger
    return f"{value}{unit}"

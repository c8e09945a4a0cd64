"""The isolators `--isolation` names (`mesos.md` f.2), which of them a machine supports, and the best default.

Upstream's default is `posix/cpu,posix/mem`: usage accounting only. Corral's agent picks the cgroup isolators
when it can write to the cgroup hierarchies (as root on Linux): limits, accounting, and a container whose
every process dies with it. The posix pair remains the fallback, and is what an unprivileged agent gets.

`namespaces/pid` is never chosen by default. It makes the task PID 1 of its namespace, and the kernel drops
signals that PID 1 has no handler for: a task started as argv (not through a shell) would never see the
SIGTERM of a kill and would wait out its grace period for SIGKILL. cgroups already kill the whole tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from corral.core.errors import CorralError

CGROUPS_CPU = "cgroups/cpu"
CGROUPS_MEM = "cgroups/mem"
CGROUPS_PIDS = "cgroups/pids"
NAMESPACES_PID = "namespaces/pid"
POSIX_CPU = "posix/cpu"
POSIX_MEM = "posix/mem"
DISK_DU = "disk/du"
GPU_NVIDIA = "gpu/nvidia"

POSIX = (POSIX_CPU, POSIX_MEM)
ALIASES = {"posix/disk": DISK_DU}  # upstream's older name for disk/du
KNOWN = (CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS, NAMESPACES_PID, POSIX_CPU, POSIX_MEM, DISK_DU, GPU_NVIDIA)

# The cgroup controllers each isolator needs. cgroups/cpu reads its usage from cpuacct, which cgroup v1 may
# mount apart from cpu; cgroup v2's cpu controller does both.
V1_CONTROLLERS = {CGROUPS_CPU: ("cpu", "cpuacct"), CGROUPS_MEM: ("memory",), CGROUPS_PIDS: ("pids",)}
V2_CONTROLLERS = {CGROUPS_CPU: ("cpu",), CGROUPS_MEM: ("memory",), CGROUPS_PIDS: ("pids",)}


class IsolationError(CorralError):
    """`--isolation` names an unknown isolator, or one this machine cannot provide."""


def parse_isolation(text: str) -> tuple[str, ...]:
    """`cgroups/cpu,cgroups/mem` -> the isolators in the order given, aliases resolved, duplicates dropped."""
    names: list[str] = []
    for part in text.split(","):
        name = ALIASES.get(part.strip(), part.strip())
        if not name:
            continue
        if name not in KNOWN:
            raise IsolationError(f"unknown isolator {name!r} (known: {', '.join(KNOWN)})")
        if name not in names:
            names.append(name)
    if not names:
        raise IsolationError("no isolator named")
    return tuple(names)


def cgroup_isolators(isolation: Iterable[str]) -> tuple[str, ...]:
    return tuple(name for name in isolation if name in V1_CONTROLLERS)


def needed_controllers(isolation: Iterable[str], version: int) -> tuple[str, ...]:
    table = V1_CONTROLLERS if version == 1 else V2_CONTROLLERS
    out: list[str] = []
    for name in isolation:
        out += [c for c in table.get(name, ()) if c not in out]
    return tuple(out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Capabilities:
    """What the machine offers, as the agent found it at start."""

    cgroup_version: int | None  # 1 or 2 when every controller the cgroup isolators need is writable
    has_unshare: bool  # util-linux's unshare, and the right to make PID namespaces
    has_gpus: bool = False


def best_available(capabilities: Capabilities) -> tuple[str, ...]:
    """The default of `--isolation`: the cgroup isolators where the machine allows them, else upstream's
    posix accounting; `gpu/nvidia` where there are NVIDIA GPUs."""
    chosen = [CGROUPS_CPU, CGROUPS_MEM, CGROUPS_PIDS] if capabilities.cgroup_version else list(POSIX)
    if capabilities.has_gpus:
        chosen.append(GPU_NVIDIA)
    return tuple(chosen)


def unsupported(isolation: Iterable[str], capabilities: Capabilities) -> str | None:
    """Why the machine cannot provide `isolation`, or None."""
    names = tuple(isolation)
    if cgroup_isolators(names) and capabilities.cgroup_version is None:
        wanted = ", ".join(cgroup_isolators(names))
        return f"{wanted}: no writable cgroup hierarchy with the needed controllers (run as root?)"
    if NAMESPACES_PID in names and not capabilities.has_unshare:
        return f"{NAMESPACES_PID}: cannot create PID namespaces here (util-linux unshare, as root)"
    return None

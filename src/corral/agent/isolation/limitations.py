"""Why a container was stopped for exceeding a limit, in upstream's words (`ContainerLimitation`).

A limitation ends a command task TASK_FAILED with the limitation's reason and message, reported by the
agent (SOURCE_AGENT), whatever exit status the kill left behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.agent.isolation.limits import format_bytes

REASON_CONTAINER_LIMITATION_MEMORY = "REASON_CONTAINER_LIMITATION_MEMORY"
REASON_CONTAINER_LIMITATION_DISK = "REASON_CONTAINER_LIMITATION_DISK"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limitation:
    reason: str
    message: str


def memory_limitation(limit_bytes: int | None, max_used_bytes: int | None) -> Limitation:
    """The kernel's OOM killer struck inside the container's memory cgroup."""
    message = "Memory limit exceeded:"
    if limit_bytes is not None:
        message += f" Requested: {format_bytes(limit_bytes)}"
    if max_used_bytes is not None:
        message += f" Maximum Used: {format_bytes(max_used_bytes)}"
    return Limitation(reason=REASON_CONTAINER_LIMITATION_MEMORY, message=message)


def disk_limitation(used_bytes: int, quota_bytes: int) -> Limitation | None:
    """disk/du's verdict on one measurement of the sandbox: over quota is strictly more than it."""
    if used_bytes <= quota_bytes:
        return None
    message = f"Disk usage ({format_bytes(used_bytes)}) exceeds quota ({format_bytes(quota_bytes)})"
    return Limitation(reason=REASON_CONTAINER_LIMITATION_DISK, message=message)

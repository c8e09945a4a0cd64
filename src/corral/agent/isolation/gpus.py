"""NVIDIA GPUs (`gpu/nvidia`): which devices the agent has, and which of them each container may use.

The agent advertises `gpus` as the number of devices `nvidia-smi -L` lists, and tells each command task
which ones are its own through `CUDA_VISIBLE_DEVICES` (a task asking for none gets the empty string, so
CUDA shows it no device). Devices go back to the pool when their container has ended; the master never
offers more `gpus` than are free, so an allocation finds enough of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from corral.core.ids import ContainerId

CUDA_VISIBLE_DEVICES = "CUDA_VISIBLE_DEVICES"
_GPU_LINE = re.compile(r"^GPU (\d+):")


def parse_nvidia_smi(output: str) -> tuple[int, ...]:
    """Device indices from `nvidia-smi -L` ("GPU 0: Tesla T4 (UUID: GPU-...)", one line each)."""
    found = (_GPU_LINE.match(line.strip()) for line in output.splitlines())
    return tuple(sorted({int(m.group(1)) for m in found if m is not None}))


class GpuAllocator:
    def __init__(self, devices: tuple[int, ...]) -> None:
        self.devices = devices
        self._owners: dict[int, ContainerId] = {}

    def allocate(self, container_id: ContainerId, count: int, is_live: Callable[[ContainerId], bool]) -> str:
        """`count` free devices for the container, as CUDA_VISIBLE_DEVICES lists them. Devices of containers
        that are no longer live are free again."""
        self._owners = {d: c for d, c in self._owners.items() if is_live(c)}
        free = [d for d in self.devices if d not in self._owners]
        chosen = free[: max(count, 0)]
        for device in chosen:
            self._owners[device] = container_id
        return ",".join(str(d) for d in chosen)

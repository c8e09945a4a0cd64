"""What the agent offers: `--resources`, with every name it leaves out detected (`mesos.md` f.1).

    cpus   the number of CPUs (1 if unknown)
    mem    total RAM - 1 GB if that is at least 2 GB, else half of it (1 GB if unknown); whole MB
    disk   the size of the filesystem holding the work dir - 5 GB if at least 10 GB, else half (10 GB if
           unknown); whole MB
    ports  [31000-32000]
    gpus   the NVIDIA GPUs `nvidia-smi -L` lists, with the gpu/nvidia isolator (none without it)

`detect` is the arithmetic; `probe` asks the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corral.agent.isolation.gpus import parse_nvidia_smi
from corral.core.resources import Resources

MB = 1024 * 1024
GB = 1024 * MB
DEFAULT_PORTS = (31000, 32000)
NVIDIA_SMI_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Machine:
    """What `probe` found; None where it could not tell."""

    cpus: int | None
    mem_bytes: int | None
    disk_bytes: int | None
    gpus: tuple[int, ...] = ()  # NVIDIA device indices


def _mem_mb(total: int | None) -> float:
    if total is None:
        return 1024.0
    usable = total - GB if total >= 2 * GB else total // 2
    return float(usable // MB)


def _disk_mb(total: int | None) -> float:
    if total is None:
        return 10240.0
    usable = total - 5 * GB if total >= 10 * GB else total // 2
    return float(usable // MB)


def detect(configured: Resources | None, machine: Machine) -> Resources:
    """`configured` plus a detected value for each of cpus, mem, disk and ports it does not name."""
    given = configured or Resources()
    named = set(given.scalars) | set(given.ranges) | set(given.sets)
    scalars: dict[str, float] = {}
    if "cpus" not in named:
        scalars["cpus"] = float(machine.cpus or 1)
    if "mem" not in named:
        scalars["mem"] = _mem_mb(machine.mem_bytes)
    if "disk" not in named:
        scalars["disk"] = _disk_mb(machine.disk_bytes)
    if "gpus" not in named and machine.gpus:
        scalars["gpus"] = float(len(machine.gpus))
    ranges = {} if "ports" in named else {"ports": (DEFAULT_PORTS,)}
    return given + Resources(scalars={k: v for k, v in scalars.items() if v > 0}, ranges=ranges)


def _existing(path: Path) -> Path:
    """The path itself or its nearest existing ancestor (the work dir may not exist yet)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _nvidia_smi() -> str | None:
    try:
        done = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=NVIDIA_SMI_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None  # no NVIDIA driver here
    return done.stdout if done.returncode == 0 else None


def nvidia_gpus(run: Callable[[], str | None] = _nvidia_smi) -> tuple[int, ...]:
    """The NVIDIA devices of this machine (none where `nvidia-smi` is missing or fails)."""
    output = run()
    return parse_nvidia_smi(output) if output is not None else ()


def probe(work_dir: Path, *, gpus: bool = False) -> Machine:
    try:
        mem: int | None = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        mem = None
    try:
        disk: int | None = shutil.disk_usage(_existing(work_dir)).total
    except OSError:
        disk = None
    devices = nvidia_gpus() if gpus else ()
    return Machine(cpus=os.cpu_count(), mem_bytes=mem, disk_bytes=disk, gpus=devices)

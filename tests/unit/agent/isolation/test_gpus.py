"""gpu/nvidia: devices from `nvidia-smi -L`, advertised as `gpus`, shared out one container at a time."""

from __future__ import annotations

from corral.agent.isolation.gpus import GpuAllocator, parse_nvidia_smi
from corral.agent.resources import GB, Machine, detect, nvidia_gpus
from corral.core.ids import ContainerId
from corral.core.resources import parse_resources

NVIDIA_SMI = """\
GPU 0: Tesla T4 (UUID: GPU-6e3a2c1f-0000-1111-2222-333344445555)
GPU 1: Tesla T4 (UUID: GPU-7f4b3d20-0000-1111-2222-333344445555)
  MIG 1g.5gb Device 0: (UUID: MIG-0a1b2c3d-0000-1111-2222-333344445555)
"""
MACHINE = Machine(cpus=8, mem_bytes=16 * GB, disk_bytes=100 * GB)


def test_devices_come_from_nvidia_smi_and_none_without_it() -> None:
    assert parse_nvidia_smi(NVIDIA_SMI) == (0, 1)
    assert nvidia_gpus(lambda: NVIDIA_SMI) == (0, 1)
    assert nvidia_gpus(lambda: None) == ()  # not installed, or no driver
    assert nvidia_gpus(lambda: "No devices were found\n") == ()


def test_gpus_are_advertised_where_there_are_some_unless_configured() -> None:
    with_gpus = Machine(cpus=8, mem_bytes=16 * GB, disk_bytes=100 * GB, gpus=(0, 1))
    assert detect(None, with_gpus).scalar("gpus") == 2
    assert "gpus" not in detect(None, MACHINE).scalars
    assert detect(parse_resources("gpus:1"), with_gpus).scalar("gpus") == 1


def test_devices_go_to_one_container_at_a_time() -> None:
    gpus = GpuAllocator((0, 1, 2))
    live = {ContainerId("a"), ContainerId("b")}
    assert gpus.allocate(ContainerId("a"), 2, live.__contains__) == "0,1"
    assert gpus.allocate(ContainerId("b"), 2, live.__contains__) == "2"  # the master offered no more
    live.discard(ContainerId("a"))
    assert gpus.allocate(ContainerId("c"), 1, live.__contains__) == "0"
    assert gpus.allocate(ContainerId("d"), 0, live.__contains__) == ""

"""Resource detection (`mesos.md` f.1): only what `--resources` leaves out is detected."""

from __future__ import annotations

from pathlib import Path

from corral.agent.resources import GB, MB, Machine, detect, probe
from corral.core.resources import Resources, parse_resources


def test_a_big_machine_keeps_1_gb_of_memory_and_5_gb_of_disk() -> None:
    machine = Machine(cpus=8, mem_bytes=16 * GB, disk_bytes=100 * GB)
    assert detect(None, machine) == Resources.of(
        cpus=8, mem=15 * 1024, disk=95 * 1024, ranges={"ports": [(31000, 32000)]}
    )


def test_a_small_machine_offers_half() -> None:
    machine = Machine(cpus=1, mem_bytes=1 * GB + 3 * MB, disk_bytes=9 * GB)
    resources = detect(None, machine)
    assert resources.mem == 513  # (1 GB + 3 MB) / 2 = 513.5 MB, truncated to whole MB
    assert resources.disk == 9 * 1024 / 2


def test_what_cannot_be_probed_gets_upstreams_fallbacks() -> None:
    assert detect(None, Machine(cpus=None, mem_bytes=None, disk_bytes=None)) == Resources.of(
        cpus=1, mem=1024, disk=10240, ranges={"ports": [(31000, 32000)]}
    )


def test_configured_names_win_and_are_not_detected() -> None:
    configured = parse_resources("cpus:2;ports:[8000-8100];gpus:1")
    resources = detect(configured, Machine(cpus=64, mem_bytes=4 * GB, disk_bytes=20 * GB))
    assert resources == Resources.of(
        cpus=2, gpus=1, mem=3072, disk=15 * 1024, ranges={"ports": [(8000, 8100)]}
    )


def test_probe_reads_this_machine_even_before_the_work_dir_exists(tmp_path: Path) -> None:
    machine = probe(tmp_path / "not" / "yet")
    assert machine.cpus and machine.mem_bytes and machine.disk_bytes

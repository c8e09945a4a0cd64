"""Integration fixtures: a real `corral dev` on free loopback ports, and the `corral` CLI as a subprocess."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.testing.procs import DevProcess, start_dev

# pytest runs with --import-mode=importlib, which leaves sys.path alone: make `support` importable.
sys.path.insert(0, str(Path(__file__).parent))

AGENT_RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    """One `corral dev` (one agent) shared by the tests of a module; each test uses its own framework."""
    process = start_dev(tmp_path_factory.mktemp("dev"), resources=AGENT_RESOURCES)
    try:
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.fail(f"corral dev exited with {code} after SIGTERM")


@pytest.fixture
def support_dir() -> Path:
    return Path(__file__).parent / "support"

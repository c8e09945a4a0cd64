"""Integration fixtures: a real `corral dev` on free loopback ports, and the `corral` CLI as a subprocess."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from corral.testing.procs import DevProcess, start_dev

# pytest runs with --import-mode=importlib, which leaves sys.path alone: make `support` importable.
sys.path.insert(0, str(Path(__file__).parent))

from support.browser import chromium
from support.marathon_dev import stopping

AGENT_RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    """One `corral dev` (one agent) shared by the tests of a module; each test uses its own framework."""
    with stopping(start_dev(tmp_path_factory.mktemp("dev"), resources=AGENT_RESOURCES)) as process:
        yield process


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless chromium, driven by Playwright, shared by the tests of a module."""
    with chromium() as launched:
        yield launched


@pytest.fixture
def support_dir() -> Path:
    return Path(__file__).parent / "support"

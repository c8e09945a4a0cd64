"""One `corral dev` with Marathon and Chronos, shared by the hostile-input tests that need real daemons:
every case is one HTTP request, so one cluster per session keeps them fast. A module uses it with
`from .cluster import cluster` and checks, when it is done, that every daemon still serves."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

AGENT_RESOURCES = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    marathon_port, chronos_port = free_ports(2)
    base: Path = tmp_path_factory.mktemp("hostile")
    dev = start_dev(base, resources=AGENT_RESOURCES, marathon_port=marathon_port, chronos_port=chronos_port)
    try:
        dev.wait_ready()
        for url in (f"http://{dev.marathon}/v2/info", f"http://{dev.chronos}/v1/scheduler/jobs"):
            wait_for(functools.partial(_answers, url), timeout=20, what=f"{url} to answer")
        yield dev
    finally:
        code = dev.stop()
        assert code == 0, dev.fail(f"corral dev exited with {code} after SIGTERM")


def assert_all_serving(dev: DevProcess) -> None:
    """The process is alive and master, agent, Marathon and Chronos each answer their health endpoint."""
    assert dev.proc.poll() is None, dev.fail("corral dev died")
    [agent] = dev.agent_addresses()
    for url in (
        f"{dev.url}/health",
        f"http://{agent}/health",
        f"http://{dev.marathon}/ping",
        f"http://{dev.chronos}/ping",
    ):
        assert _answers(url), url

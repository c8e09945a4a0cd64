"""`corral dev` with Marathon for integration tests: a clean stop, and a client once Marathon subscribed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for


@contextlib.contextmanager
def stopping(process: DevProcess) -> Iterator[DevProcess]:
    """Yield the running `corral dev`; afterwards stop it, requiring a clean exit (0 after SIGTERM)."""
    try:
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.fail(f"corral dev exited with {code} after SIGTERM")


@contextlib.contextmanager
def marathon_dev(work: Path, resources: str, *, marathon_port: int | None = None) -> Iterator[DevProcess]:
    """`corral dev` in `work` with Marathon on `marathon_port` (default: a port free now), stopped cleanly."""
    [port] = free_ports(1) if marathon_port is None else [marathon_port]
    with stopping(start_dev(work, resources=resources, marathon_port=port)) as process:
        yield process


@contextlib.contextmanager
def marathon_http(dev: DevProcess) -> Iterator[httpx.Client]:
    """A client of the dev cluster's Marathon, once Marathon has subscribed to the master."""
    with httpx.Client(base_url=f"http://{dev.marathon}", timeout=5.0, trust_env=False) as client:
        wait_for(lambda: subscribed(client), timeout=15, what="marathon to subscribe")
        yield client


def subscribed(http: httpx.Client) -> bool:
    try:
        return isinstance(http.get("/v2/info").json().get("frameworkId"), str)
    except httpx.HTTPError:
        return False

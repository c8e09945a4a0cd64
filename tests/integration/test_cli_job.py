"""`corral job` against the Chronos of a real `corral dev`: add from a file, list, run, show runs, remove."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from support.cli import CliResult, run_corral

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"


def _ping(dev: DevProcess) -> bool:
    try:
        return httpx.get(f"http://{dev.chronos}/ping", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def job_cli(dev: DevProcess, *args: str) -> CliResult:
    return run_corral("job", *args, "--chronos", dev.chronos)


def test_job_add_list_run_show_remove(tmp_path: Path) -> None:
    [port] = free_ports(1)
    dev = start_dev(tmp_path, resources=RESOURCES, chronos_port=port)
    try:
        wait_for(lambda: _ping(dev), timeout=20, what="chronos /ping")
        start = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        spec = {
            "name": "cli-tick",
            "command": "echo tick",
            "schedule": f"R/{start}/PT2S",
            "cpus": 0.1,
            "mem": 32,
            "owner": "cli@example.com",
        }
        path = tmp_path / "cli-tick.json"
        path.write_text(json.dumps(spec))

        added = job_cli(dev, "add", str(path))
        assert added.code == 0, added.stderr

        listed = job_cli(dev, "list", "-o", "json")
        assert listed.code == 0, listed.stderr
        [row] = [r for r in json.loads(listed.stdout) if r["name"] == "cli-tick"]
        assert row["schedule"] and row["nextDue"] not in ("?", "-")
        table = job_cli(dev, "list")
        assert table.code == 0 and "cli-tick" in table.stdout and "NEXT DUE" in table.stdout

        ran = job_cli(dev, "run", "cli-tick")
        assert ran.code == 0, ran.stderr

        def runs() -> list[object] | None:
            shown = job_cli(dev, "show", "cli-tick", "-o", "json")
            assert shown.code == 0, shown.stderr
            history: list[object] = json.loads(shown.stdout)["stat"]["taskStatHistory"]
            return history or None

        assert wait_for(runs, timeout=30, interval=0.5, what="a run of cli-tick")
        shown = job_cli(dev, "show", "cli-tick")
        assert shown.code == 0 and "Recent runs" in shown.stdout

        removed = job_cli(dev, "remove", "cli-tick")
        assert removed.code == 0, removed.stderr
        gone = job_cli(dev, "show", "cli-tick")
        assert gone.code == 1
        assert gone.stderr.strip() == (
            f"corral: error: GET /scheduler/job/cli-tick on the chronos at {dev.chronos} "
            "answered 400 Bad Request: job 'cli-tick' not found"
        )
    finally:
        code = dev.stop()
        assert code == 0, dev.fail(f"corral dev exited with {code} after SIGTERM")

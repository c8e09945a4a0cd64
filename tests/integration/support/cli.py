"""Run the `corral` CLI as a subprocess, as a user would."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass

from corral.testing.procs import clean_env, corral_command


@dataclass(frozen=True)
class CliResult:
    code: int
    stdout: str
    stderr: str


def run_corral(*args: str, master: str | None = None, timeout: float = 30.0) -> CliResult:
    env = clean_env({"CORRAL_MASTER": master} if master else None)
    done = subprocess.run(
        [*corral_command(), *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    return CliResult(done.returncode, done.stdout, done.stderr)

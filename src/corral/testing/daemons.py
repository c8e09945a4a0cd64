"""One `corral <daemon>` process (master, agent, marathon, ...) for multi-process tests and benchmarks.

`corral dev` (procs.py) is one process; an HA test needs several, each killed or paused on its own. Output
goes to a log file quoted in failures; waiting polls an HTTP endpoint with a deadline.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from corral.testing.procs import ProcessError, clean_env, corral_command, wait_for


@dataclass
class Daemon:
    name: str
    proc: subprocess.Popen[bytes]
    address: str  # host:port of its HTTP API
    log_path: Path
    _http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=2.0, trust_env=False))

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def fail(self, message: str) -> ProcessError:
        return ProcessError(f"{message}\n--- {self.name} log ({self.log_path}) ---\n{self.log_tail()}")

    def get(self, path: str, *, follow: bool = False) -> httpx.Response:
        return self._http.get(self.url + path, follow_redirects=follow)

    def answers(self, path: str, status: int = 200) -> bool:
        """True once `path` answers `status`; a ProcessError if the daemon died meanwhile."""
        if not self.alive:
            raise self.fail(f"{self.name} exited with code {self.proc.returncode}")
        try:
            return self.get(path).status_code == status
        except httpx.HTTPError:
            return False

    def wait_answering(self, path: str, *, status: int = 200, timeout: float = 20.0) -> None:
        try:
            wait_for(lambda: self.answers(path, status), timeout=timeout, what=f"{self.name} {path}")
        except TimeoutError as e:
            raise self.fail(str(e)) from None

    def signal(self, sig: signal.Signals) -> None:
        if self.alive:
            self.proc.send_signal(sig)

    def kill(self) -> None:
        """kill -9, and reap it."""
        if self.alive:
            self.proc.kill()
        self.proc.wait()

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM (after SIGCONT, in case it is paused), then SIGKILL after `grace` seconds."""
        self._http.close()
        if self.alive:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def start_daemon(
    name: str,
    command: str,
    args: Sequence[str],
    *,
    address: str,
    log_dir: Path,
    env: dict[str, str] | None = None,
) -> Daemon:
    """Start `corral <command> <args>`; `address` is where its HTTP API will listen."""
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [*corral_command(), command, *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(env),
        )
    return Daemon(name, proc, address, log_path)

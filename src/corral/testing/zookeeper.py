"""Real ZooKeeper servers for tests and benchmarks: a standalone server or a 3-server ensemble on loopback.

Debian's `zookeeper` package provides the jars (`scripts/install-system-deps.sh` installs it); each server
is started with `java` directly (`QuorumPeerMain`), with its own temp dataDir, `myid` and `zoo.cfg`: free
loopback ports, `tickTime=500` (sessions of 1 to 10 s), no admin server, every four-letter command allowed.
Waiting is polling `srvr` with a deadline; stopping is SIGTERM, then SIGKILL. `pause`/`resume`
(SIGSTOP/SIGCONT) and `kill` inject faults. A server's output goes to `server.log` in its directory; failures
quote its tail.

Tests use `tests/integration/zk.py`'s pytest fixture; benchmarks use `ZkEnsemble` directly, after checking
`zookeeper_missing()`.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from corral.testing.procs import free_ports, wait_for

HOST = "127.0.0.1"
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
REPO = Path(__file__).resolve().parents[3]
INSTALL_SCRIPT = REPO / "scripts" / "install-system-deps.sh"
TICK_MS = 500
SERVING_MODES = ("standalone", "leader", "follower")


def zookeeper_classpath() -> str | None:
    """The server's classpath from Debian's package (its jar's manifest names the dependencies)."""
    debian = Path("/usr/share/java/zookeeper.jar")
    if debian.is_file():
        logger = Path("/usr/share/java/slf4j-simple.jar")  # server logs to stderr; without it slf4j is silent
        return ":".join(str(p) for p in (debian, logger) if p.is_file())
    jars = sorted(glob.glob("/usr/share/zookeeper/lib/*.jar") + glob.glob("/usr/share/zookeeper/*.jar"))
    return ":".join(jars) if any("zookeeper" in Path(j).name for j in jars) else None


@functools.cache
def zookeeper_missing() -> str | None:
    """Why no ZooKeeper server can run here, after trying to install it once; None when it can."""

    def why() -> str | None:
        if shutil.which("java") is None:
            return "no `java` on PATH"
        if zookeeper_classpath() is None:
            return "no ZooKeeper jars (/usr/share/java/zookeeper.jar)"
        return None

    if why() is None:
        return None
    result = subprocess.run([str(INSTALL_SCRIPT)], capture_output=True, text=True, check=False, timeout=600)
    reason = why()
    if reason is None:
        return None
    return f"ZooKeeper cannot run: {reason}; {INSTALL_SCRIPT.name} said: {result.stderr.strip()[-500:]}"


def four_letter(port: int, command: str, timeout: float = 0.5) -> str | None:
    """A four-letter command's answer, or None if the server does not answer in time (down or paused)."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.sendall(command.encode())
            chunks = []
            while chunk := sock.recv(4096):
                chunks.append(chunk)
            return b"".join(chunks).decode(errors="replace")
    except OSError:
        return None


@dataclass
class ZkServer:
    myid: int
    client_port: int
    quorum_port: int
    election_port: int
    directory: Path
    peers: list[ZkServer] = field(default_factory=list, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.client_port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def write_config(self) -> Path:
        data = self.directory / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "myid").write_text(f"{self.myid}\n")
        lines = [
            f"tickTime={TICK_MS}",
            "initLimit=10",
            "syncLimit=5",
            f"dataDir={data}",
            f"clientPort={self.client_port}",
            f"clientPortAddress={HOST}",
            "admin.enableServer=false",
            "4lw.commands.whitelist=*",
            "autopurge.purgeInterval=0",
            "maxClientCnxns=0",
        ]
        if len(self.peers) > 1:
            lines += [f"server.{p.myid}={HOST}:{p.quorum_port}:{p.election_port}" for p in self.peers]
        config = self.directory / "zoo.cfg"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        classpath = zookeeper_classpath()
        assert classpath is not None
        config = self.write_config()
        command = [
            shutil.which("java") or "java",
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",  # starts faster; the servers do little work
            "-Dzookeeper.cnxTimeout=1000",  # election connections: retry a starting peer sooner
            "-Dzookeeper.electionPortBindRetry=10",
            "-cp",
            classpath,
            MAIN_CLASS,
            str(config),
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def mode(self) -> str | None:
        """`standalone`, `leader` or `follower` while serving; None otherwise."""
        answer = four_letter(self.client_port, "srvr")
        for line in (answer or "").splitlines():
            if line.startswith("Mode:"):
                return line.split(":", 1)[1].strip()
        return None

    def is_serving(self) -> bool:
        return self.mode() in SERVING_MODES

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        if self.is_running:
            assert self.process is not None
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM (after SIGCONT, in case it is paused), then SIGKILL after `grace` seconds."""
        if not self.is_running:
            return
        assert self.process is not None
        self.resume()
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def _signal(self, sig: signal.Signals) -> None:
        if self.is_running:
            assert self.process is not None
            os.kill(self.process.pid, sig)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class ZkEnsemble:
    """`size` servers (1: standalone; 3: a quorum) under `root`. A context manager: started, then stopped."""

    def __init__(self, root: Path, size: int = 1) -> None:
        ports = free_ports(3 * size)
        self.servers = [
            ZkServer(i + 1, ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], root / f"server{i + 1}")
            for i in range(size)
        ]
        for server in self.servers:
            server.peers = self.servers

    @property
    def hosts(self) -> str:
        return ",".join(s.address for s in self.servers)

    def url(self, path: str = "/") -> str:
        return f"zk://{self.hosts}{path}"

    def start(self, timeout: float = 30.0) -> None:
        for server in self.servers:
            server.start()
        self.wait_serving(timeout=timeout)

    def wait_serving(self, servers: list[ZkServer] | None = None, timeout: float = 30.0) -> None:
        """Until every server in `servers` (default: all) serves clients."""
        targets = self.servers if servers is None else servers

        def ready() -> bool:
            for server in targets:
                if not server.is_running:
                    raise RuntimeError(f"ZooKeeper {server.myid} exited:\n{server.log_tail()}")
            return all(server.is_serving() for server in targets)

        try:
            wait_for(ready, timeout=timeout, interval=0.1, what="ZooKeeper to serve")
        except TimeoutError as e:
            tails = "\n".join(f"--- server {s.myid}\n{s.log_tail()}" for s in targets)
            raise TimeoutError(f"{e}\n{tails}") from None

    def leader(self) -> ZkServer:
        return next(s for s in self.servers if s.mode() in ("leader", "standalone"))

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> ZkEnsemble:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

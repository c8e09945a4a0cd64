"""The task supervisor: one long-lived process per agent that makes sandboxes, starts tasks and reaps them.

Why a process of its own:
- Its filesystem and fork/exec work runs beside the agent's event loop, on another core, instead of
  stalling it: a sandbox is six metadata writes, and spawning waits while the child opens its files.
- It is the parent of every task and lives in a session of its own, so when the agent is killed or
  restarted the tasks keep running, and their exit statuses are kept until an agent collects them.

Protocol: newline-delimited JSON over a Unix stream socket in the abstract namespace (no path-length
limit, no stale file to clean up). One agent is connected at a time; a newer connection replaces the older.

    agent -> supervisor   {"op":"spawn","id":ID,"argv":[...],"env":{...},"sandbox":DIR,"isolation":{...},
                           "user":NAME?}    NAME: run as this user (`--switch_user`), the sandbox theirs
                          {"op":"collected","pid":PID}    the agent has handled that exit: forget it
                          {"op":"create"|"resize"|"destroy","id":ID,"cgroups":{...}}    see `_change`
    supervisor -> agent   {"op":"hello","running":[{"id","pid"}],"exited":[{"id","pid","status"}]}
                          {"op":"started","id":ID,"pid":PID}
                          {"op":"failed","id":ID,"error":TEXT}
                          {"op":"exited","id":ID,"pid":PID,"status":RAW_WAIT_STATUS,"oom":{...}?}

`isolation` is a `ContainerSpec` (`isolation/layout.py`): the cgroups the task is started in and destroyed
with once it exits, and the PID namespace it runs in. `oom` (the limit and the peak usage) says the kernel's
OOM killer struck in the container's memory cgroup.

It exits when no agent is connected and it has neither a running task nor an uncollected exit, or when no
task runs and no agent has come for `RECOVERY_TIMEOUT` (upstream's `--recovery_timeout`, after which its
executors stop waiting for an agent): the exits nobody collected are dropped then.
Run as `python -m corral.agent.executor.supervisor WORK_DIR`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from corral.agent.executor.processes import signal_group, spawn, switch_user
from corral.agent.isolation.cgroups import CgroupContainer, remove_parents, remove_stale
from corral.agent.isolation.layout import CgroupSpec, ContainerSpec
from corral.agent.sandbox import STDERR, STDOUT, prepare
from corral.core.errors import CorralError
from corral.protocol.json import Reader

log = logging.getLogger("corral.supervisor")

OomReport = dict[str, int | None] | None  # the limit and the peak usage, when the OOM killer struck
LOST_STATUS = 0xFF << 8  # exit code 255: the status could not be collected
# Requests handled between two looks at the selector: replies go out and exits are reaped in between, so a
# burst of launches streams TASK_RUNNING back instead of answering the whole burst at once.
BATCH = 16
FIRST_AGENT_TIMEOUT = 60.0
RECOVERY_TIMEOUT = 15 * 60.0


def socket_name(work_dir: Path) -> str:
    """The abstract socket name of the supervisor serving `work_dir` (one per agent work dir)."""
    digest = hashlib.sha256(str(work_dir.resolve()).encode()).hexdigest()[:24]
    return f"\0corral-supervisor-{digest}"


@dataclass(slots=True)
class _Connection:
    sock: socket.socket
    inbox: bytearray = field(default_factory=bytearray)
    outbox: bytearray = field(default_factory=bytearray)


class Supervisor:
    def __init__(self, listener: socket.socket) -> None:
        self._listener = listener
        self._selector = selectors.DefaultSelector()
        self._selector.register(listener, selectors.EVENT_READ, self._accept)
        self._agent: _Connection | None = None
        self._running: dict[int, tuple[str, int]] = {}  # pidfd -> (id, pid)
        self._exited: dict[int, tuple[str, int, OomReport]] = {}  # pid -> (id, status, oom), until collected
        self._cgroups: dict[int, CgroupContainer] = {}  # pid -> its container's cgroups
        self._oom_watches: dict[int, CgroupContainer] = {}  # eventfd -> the container it watches
        self.cgroup_parents: set[str] = set()  # the --cgroups_root cgroups used, removed at exit
        self._backlog: deque[bytes] = deque()  # request lines read but not handled yet
        self._alone_since = time.monotonic()  # when the last agent left

    def run(self) -> None:
        while self._agent is not None or self._running or self._exited:
            waiting_for_recovery = self._agent is None and not self._running
            if waiting_for_recovery:
                left = self._alone_since + RECOVERY_TIMEOUT - time.monotonic()
                if left <= 0:
                    log.info(
                        "no agent for %g s: dropping %d uncollected exits",
                        RECOVERY_TIMEOUT,
                        len(self._exited),
                    )
                    break
            timeout = 0 if self._backlog else (left if waiting_for_recovery else None)
            for key, events in self._selector.select(timeout):
                key.data(key.fileobj, events)
            self._work()
        log.info("no agent and no tasks left: exiting")

    def wait_for_first_agent(self, timeout: float) -> bool:
        """Whether an agent connected in time (the one that started us may have died meanwhile)."""
        deadline = time.monotonic() + timeout
        while self._agent is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            for key, events in self._selector.select(left):
                key.data(key.fileobj, events)
        return True

    # ------------------------------------------------------------ the agent connection

    def _accept(self, listener: object, events: int) -> None:
        sock, _ = self._listener.accept()
        sock.setblocking(False)
        if self._agent is not None:
            log.info("a new agent connected: dropping the previous connection")
            self._drop()
        self._agent = _Connection(sock)
        self._backlog.clear()  # requests of a connection that is gone are not answered to the new one
        self._selector.register(sock, selectors.EVENT_READ, self._on_agent)
        running = [{"id": i, "pid": pid} for i, pid in self._running.values()]
        exited = [_exit_report(i, pid, s, oom) for pid, (i, s, oom) in self._exited.items()]
        self._send({"op": "hello", "running": running, "exited": exited})
        self._flush()

    def _drop(self) -> None:
        agent, self._agent = self._agent, None
        self._alone_since = time.monotonic()
        if agent is not None:
            self._selector.unregister(agent.sock)
            agent.sock.close()

    def _on_agent(self, sock: object, events: int) -> None:
        agent = self._agent
        assert agent is not None
        if events & selectors.EVENT_WRITE:
            self._flush()
        if not events & selectors.EVENT_READ:
            return
        try:
            data = agent.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            log.info("the agent disconnected")
            self._drop()
            return
        agent.inbox += data
        *lines, rest = agent.inbox.split(b"\n")
        agent.inbox = bytearray(rest)
        self._backlog.extend(bytes(line) for line in lines if line.strip())

    def _work(self) -> None:
        for _ in range(min(BATCH, len(self._backlog))):
            self._handle(self._backlog.popleft())
        self._flush()

    def _handle(self, line: bytes) -> None:
        try:
            request = orjson.loads(line)
            op = request["op"]
            if op == "spawn":
                isolation = ContainerSpec.from_json(request.get("isolation"))
                sandbox = Path(request["sandbox"])
                user = request.get("user")
                self._spawn(request["id"], request["argv"], request["env"], sandbox, isolation, user=user)
            elif op == "collected":
                self._exited.pop(int(request["pid"]), None)
            elif op in ("create", "resize", "destroy"):
                self._change(op, request["id"], CgroupSpec.from_json(Reader(request["cgroups"], "cgroups")))
            else:
                log.warning("unknown request %r", op)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, CorralError) as e:
            log.warning("bad request %r: %s", line[:200], e)

    def _send(self, message: dict[str, object]) -> None:
        if self._agent is not None:
            self._agent.outbox += orjson.dumps(message) + b"\n"

    def _flush(self) -> None:
        agent = self._agent
        if agent is None:
            return
        try:
            sent = agent.sock.send(agent.outbox) if agent.outbox else 0
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop()
            return
        del agent.outbox[:sent]
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if agent.outbox else 0)
        self._selector.modify(agent.sock, wanted, self._on_agent)

    # ------------------------------------------------------------ tasks

    def _spawn(
        self,
        ident: str,
        argv: list[str],
        env: dict[str, str],
        sandbox: Path,
        isolation: ContainerSpec,
        *,
        user: str | None = None,
    ) -> None:
        cgroups = CgroupContainer(isolation.cgroups) if isolation.cgroups is not None else None
        try:
            prepare(sandbox)
            if cgroups is not None:
                if not cgroups.spec.parent:  # a nested container's parent is its DEFAULT executor's
                    self._use_parents({os.path.dirname(d) for d in cgroups.spec.directories})
                cgroups.create()
            join = cgroups.join_files if cgroups is not None else ()
            run_as = switch_user(user, sandbox, (sandbox / STDOUT, sandbox / STDERR)) if user else []
            command = [*isolation.wrapper, *run_as, *argv] if argv else []
            pid, pidfd = spawn(command, env, sandbox, sandbox / STDOUT, sandbox / STDERR, join=join)
        except (OSError, ValueError) as e:
            if cgroups is not None:
                cgroups.destroy()
            self._send(
                {"op": "failed", "id": ident, "error": f"Failed to launch {argv[:1]} in {sandbox}: {e}"}
            )
            return
        self._running[pidfd] = (ident, pid)
        self._selector.register(pidfd, selectors.EVENT_READ, self._reap)
        if cgroups is not None:
            self._cgroups[pid] = cgroups
            if (watch := cgroups.watch_oom()) is not None:
                self._oom_watches[watch] = cgroups
                self._selector.register(watch, selectors.EVENT_READ, self._on_oom)
        self._send({"op": "started", "id": ident, "pid": pid})

    def _change(self, op: str, ident: str, spec: CgroupSpec) -> None:
        """Cgroups outside a spawn: a DEFAULT executor's container, which runs no process (its tasks'
        containers nest in it), is created and destroyed so; any container is resized so, as its executor's
        tasks come and go. A container gone meanwhile has nothing to resize."""
        cgroups = CgroupContainer(spec)
        try:
            if op == "create":
                self._use_parents({os.path.dirname(d) for d in spec.directories})
                cgroups.create()
            elif op == "resize":
                cgroups.resize()
            else:
                cgroups.destroy()
        except OSError as e:
            if e.errno != errno.ENOENT:
                log.warning("container %s: cannot %s its cgroups: %s", ident, op, e)

    def _use_parents(self, parents: set[str]) -> None:
        """The first time a --cgroups_root cgroup is used, sweep it of what a killed supervisor left."""
        for parent in parents - self.cgroup_parents:
            if removed := remove_stale(parent, time.time()):
                log.info("removed %d stale cgroups under %s", removed, parent)
        self.cgroup_parents |= parents

    def _on_oom(self, watch: object, events: int) -> None:
        """The OOM killer struck in a container: whatever it left of the task goes too."""
        assert isinstance(watch, int)
        cgroups = self._oom_watches[watch]
        if cgroups.has_oom_struck():
            cgroups.kill()

    def _reap(self, pidfd: object, events: int) -> None:
        assert isinstance(pidfd, int)
        ident, pid = self._running.pop(pidfd)
        self._selector.unregister(pidfd)
        os.close(pidfd)
        # Whatever the leader left behind in its group goes now, while the leader is an unreaped zombie:
        # its pid, hence the group id, cannot belong to anyone else yet.
        signal_group(pid, signal.SIGKILL)
        cgroups = self._cgroups.pop(pid, None)
        oom = cgroups.oom_report() if cgroups is not None else None
        try:
            _, status = os.waitpid(pid, 0)  # the pidfd is readable: the child has exited
        except ChildProcessError:
            status = LOST_STATUS
        self._exited[pid] = (ident, status, oom)
        self._send({"op": "exited", **_exit_report(ident, pid, status, oom)})
        self._flush()
        # The agent hears of the exit while the container's cgroups go (and with them what is left in them).
        if cgroups is not None:
            if (watch := cgroups.oom_watch) is not None:
                self._selector.unregister(watch)
                del self._oom_watches[watch]
            cgroups.destroy()


def _exit_report(ident: str, pid: int, status: int, oom: OomReport) -> dict[str, object]:
    report: dict[str, object] = {"id": ident, "pid": pid, "status": status}
    if oom is not None:
        report["oom"] = oom
    return report


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s supervisor %(levelname)s %(message)s")
    if len(argv) != 2:
        print("usage: python -m corral.agent.executor.supervisor WORK_DIR", file=sys.stderr)
        return 2
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(socket_name(Path(argv[1])))
    except OSError as e:  # another supervisor already serves this work dir
        log.info("not starting: %s", e)
        return 0
    listener.listen(4)
    supervisor = Supervisor(listener)
    with contextlib.suppress(KeyboardInterrupt):
        if supervisor.wait_for_first_agent(FIRST_AGENT_TIMEOUT):
            supervisor.run()
        else:
            log.info("no agent connected within %g s: exiting", FIRST_AGENT_TIMEOUT)
    remove_parents(supervisor.cgroup_parents)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

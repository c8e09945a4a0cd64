"""A `corral master` and a `corral agent` with every authentication on, as real processes on loopback, for
the authentication tests: fresh random secrets per run, so a test can look for them where they must not be.

Principals (all in the master's and the agent's `--credentials`): `ops` (an operator), `agent` (the
agent's `--credential`), `framework` (for schedulers) and `viewer` (for ACL cases: a valid principal that
`--acls` can allow nothing, the "unauthorized principal" of the matrix). The master's tokens use
a `--jwt_secret_key`; the agent's executors' tokens, the key it generates in its work dir.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from corral.cli.mesos_auth_flags import KEY_FILE, read_key
from corral.protocol.json import JsonObject, loads_object
from corral.security.credentials import Credential
from corral.security.tokens import TokenSigner
from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import free_ports, json_list, wait_for

HOST = "127.0.0.1"
PRINCIPALS = ("ops", "agent", "framework", "viewer")
AGENT_RESOURCES = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"


@dataclass
class SecuredMesos:
    root: Path
    master: Daemon
    agent: Daemon
    credentials: dict[str, Credential]  # principal -> its credential
    master_key: str

    @property
    def agent_work_dir(self) -> Path:
        return self.root / "agent"

    def agent_signer(self) -> TokenSigner:
        """The agent's own key (to forge executors' tokens that are well signed but name someone else)."""
        return read_key(self.agent_work_dir / KEY_FILE)

    @property
    def secrets(self) -> list[str]:
        """Everything secret the daemons know: never in a log, a flag or a state document."""
        key = (self.agent_work_dir / KEY_FILE).read_text().strip()
        return [*(c.secret for c in self.credentials.values()), self.master_key, key]

    def auth(self, principal: str = "ops") -> httpx.BasicAuth:
        credential = self.credentials[principal]
        return httpx.BasicAuth(credential.principal, credential.secret)

    def get_json(self, daemon: Daemon, path: str, principal: str = "ops") -> JsonObject:
        response = httpx.get(daemon.url + path, auth=self.auth(principal), timeout=5.0, trust_env=False)
        response.raise_for_status()
        return loads_object(response.content)

    def registered_agents(self) -> int:
        return len(json_list(self.get_json(self.master, "/master/slaves")["slaves"]))

    def start_agent(self, name: str, *args: str) -> Daemon:
        """Another agent of this master (its own port and work dir), with `args` for its credentials."""
        [port] = free_ports(1)
        flags = ["--ip", HOST, "--port", str(port), "--master", self.master.address]
        flags += ["--work_dir", str(self.root / name), "--resources", AGENT_RESOURCES, *args]
        return start_daemon(name, "agent", flags, address=f"{HOST}:{port}", log_dir=self.root)


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


@contextlib.contextmanager
def secured_mesos(
    root: Path, *, master_args: Sequence[str] = (), agent_args: Sequence[str] = ()
) -> Iterator[SecuredMesos]:
    """Start both daemons with `--credentials` (every surface authenticated), wait until the agent is
    registered, and stop them on exit (printing their logs' tails if the body failed)."""
    credentials = {p: Credential(p, f"{p}-{secrets.token_hex(12)}") for p in PRINCIPALS}
    document = {"credentials": [{"principal": c.principal, "secret": c.secret} for c in credentials.values()]}
    accepted = _write(root / "credentials.json", json.dumps(document))
    agent_credential = credentials["agent"]
    presented = _write(root / "credential", f"{agent_credential.principal} {agent_credential.secret}\n")
    master_key = secrets.token_hex(32)
    key_file = _write(root / "master.key", master_key + "\n")
    master_port, agent_port = free_ports(2)
    master = start_daemon(
        "master",
        "master",
        [
            *("--ip", HOST, "--port", str(master_port), "--work_dir", str(root / "master")),
            *("--credentials", accepted, "--jwt_secret_key", key_file, "--allocation_interval", "100ms"),
            *master_args,
        ],
        address=f"{HOST}:{master_port}",
        log_dir=root,
    )
    agent: Daemon | None = None
    try:
        master.wait_answering("/health")
        agent_flags = ["--ip", HOST, "--port", str(agent_port), "--master", master.address]
        agent_flags += ["--work_dir", str(root / "agent"), "--resources", AGENT_RESOURCES]
        agent_flags += ["--credential", presented, "--credentials", accepted, *agent_args]
        agent = start_daemon("agent", "agent", agent_flags, address=f"{HOST}:{agent_port}", log_dir=root)
        agent.wait_answering("/health")
        cluster = SecuredMesos(root, master, agent, credentials, master_key)
        wait_for(cluster.registered_agents, timeout=20, what="the agent to register with its credential")
        yield cluster
    except BaseException:
        for daemon in (master, agent):
            if daemon is not None:
                print(f"--- {daemon.name} ---\n{daemon.log_tail(60)}")
        raise
    finally:
        if agent is not None:
            agent.stop()
        master.stop()

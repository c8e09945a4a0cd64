"""A whole cluster over TLS, with a CA made for the test (reliability-security.md 4.1; issue 10).

1. `corral master`, `corral agent` and `corral marathon` as processes of their own, every one serving HTTPS
   only and requiring client certificates: the agent registers with the master, Marathon subscribes and
   launches a task, the master reads the task's sandbox from the agent, and the CLI lists the task and
   prints its output over HTTPS. Plain HTTP, a client without a certificate and a client trusting another
   CA get nowhere.
2. `corral dev --ssl_cert ...`: its banner says https, Marathon and Chronos subscribe over HTTPS, the DNS
   server reads the master over HTTPS, and the load balancer reads Marathon over HTTPS (when HAProxy is
   installed).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import httpx
import pytest

from corral.lb.haproxy import find_binary
from corral.net.client import ENV_CA, ENV_CERT, ENV_KEY
from corral.net.tls import load_tls
from corral.protocol.json import dumps
from corral.testing.certs import Pki, pki_fixture
from corral.testing.daemons import Daemon, start_daemon
from corral.testing.procs import clean_env, corral_command, free_ports, wait_for

pytestmark = pytest.mark.integration

HOST = "127.0.0.1"
JSON = {"Content-Type": "application/json"}


pki = pki_fixture()
other = pki_fixture("other")


def tls_args(pki: Pki, *, require: bool = False) -> list[str]:
    args = ["--ssl_cert", str(pki.cert), "--ssl_key", str(pki.key), "--ssl_ca", str(pki.ca)]
    return [*args, "--ssl_require_client_cert"] if require else args


@contextlib.contextmanager
def running(daemons: list[Daemon]) -> Iterator[list[Daemon]]:
    """Stop every daemon at the end; print their logs if the test failed."""
    try:
        yield daemons
    except BaseException:
        for daemon in daemons:
            print(f"--- {daemon.name} ---\n{daemon.log_tail(60)}")
        raise
    finally:
        for daemon in reversed(daemons):
            daemon.stop()


def answer(http: httpx.Client, daemon: Daemon, url: str) -> httpx.Response | None:
    """GET `url`, None while it cannot be reached; a ProcessError if the daemon died."""
    if not daemon.alive:
        raise daemon.fail(f"{daemon.name} exited with code {daemon.proc.returncode}")
    try:
        return http.get(url)
    except httpx.HTTPError:
        return None


def json_of(http: httpx.Client, daemon: Daemon, url: str) -> Any:
    response = answer(http, daemon, url)
    return response.json() if response is not None and response.status_code == 200 else None


def running_task(http: httpx.Client, marathon: Daemon, base: str, app: str) -> dict[str, Any] | None:
    body = json_of(http, marathon, f"{base}/v2/apps/{app}/tasks")
    tasks = body["tasks"] if body else []
    return next((t for t in tasks if t["state"] == "TASK_RUNNING"), None)


def corral(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The CLI, with exactly the TLS settings of `env`."""
    environment = {k: v for k, v in clean_env().items() if not k.startswith("CORRAL_SSL_")}
    command = [*corral_command(), *args]
    env = {**environment, **env}
    return subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=60)


def unreachable(url: str, verify: Any) -> bool:
    with httpx.Client(verify=verify, trust_env=False, timeout=10) as http:
        try:
            http.get(url)
        except httpx.HTTPError:
            return True
    return False


def test_daemons_over_tls_with_client_certificates(pki: Pki, other: Pki, tmp_path: Path) -> None:
    master_port, agent_port, marathon_port = free_ports(3)
    master_at, agent_at, marathon_at = (f"{HOST}:{p}" for p in (master_port, agent_port, marathon_port))
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    master_url, agent_url, marathon_url = (tls.url(a) for a in (master_at, agent_at, marathon_at))
    flags = tls_args(pki, require=True)
    master = start_daemon(
        "master",
        "master",
        ["--ip", HOST, "--port", str(master_port), "--work_dir", str(tmp_path / "master"), *flags],
        address=master_at,
        log_dir=tmp_path,
    )
    with running([master]) as daemons, httpx.Client(verify=tls.verify, trust_env=False, timeout=10) as http:
        agent_args = ["--ip", HOST, "--port", str(agent_port), "--master", master_at]
        agent_args += ["--work_dir", str(tmp_path / "agent"), "--resources", "cpus:2;mem:1024;disk:1000"]
        daemons.append(
            start_daemon("agent", "agent", [*agent_args, *flags], address=agent_at, log_dir=tmp_path)
        )
        marathon_args = ["--http_port", str(marathon_port), "--master", master_at]
        marathon_args += ["--work_dir", str(tmp_path / "marathon")]
        marathon = start_daemon(
            "marathon", "marathon", [*marathon_args, *flags], address=marathon_at, log_dir=tmp_path
        )
        daemons.append(marathon)

        # The agent registers with the master over TLS; Marathon subscribes over TLS.
        wait_for(
            lambda: (json_of(http, master, f"{master_url}/master/state") or {}).get("slaves"),
            timeout=30,
            what="the agent",
        )
        wait_for(
            lambda: (json_of(http, marathon, f"{marathon_url}/v2/info") or {}).get("frameworkId"),
            timeout=30,
            what="Marathon to subscribe",
        )
        app = {"id": "/tls-hello", "cmd": "echo hello over tls; sleep 60", "cpus": 0.1, "mem": 16}
        assert http.post(f"{marathon_url}/v2/apps", content=dumps(app), headers=JSON).status_code == 201
        task = wait_for(
            lambda: running_task(http, marathon, marathon_url, "tls-hello"), timeout=30, what="the task"
        )
        framework_id = json_of(http, marathon, f"{marathon_url}/v2/info")["frameworkId"]
        assert f"Corral master on {master_url}" in master.log_path.read_text()

        # The master reads the sandbox from the agent (HTTPS, presenting its certificate).
        stdout = f"/frameworks/{framework_id}/executors/{task['id']}/runs/latest/stdout"
        read = f"{master_url}/files/read"
        wait_for(
            lambda: (
                "hello over tls"
                in (json_of(http, master, f"{read}?path={stdout}&offset=0") or {}).get("data", "")
            ),
            timeout=30,
            what="the task's stdout through the master",
        )

        # The CLI: https from $CORRAL_SSL_CA, its certificate from $CORRAL_SSL_CERT and $CORRAL_SSL_KEY.
        env = {ENV_CA: str(pki.ca), ENV_CERT: str(pki.cert), ENV_KEY: str(pki.key)}
        listed = corral(["task", "list", "--master", master_at], env)
        assert listed.returncode == 0 and task["id"] in listed.stdout, listed.stderr
        logs = corral(["task", "logs", task["id"], "--master", master_at], env)
        assert logs.returncode == 0 and "hello over tls" in logs.stdout, logs.stderr
        apps = corral(
            ["--ssl_ca", str(pki.ca), "app", "list", "--marathon", marathon_url],
            {ENV_CERT: str(pki.cert), ENV_KEY: str(pki.key)},
        )
        assert apps.returncode == 0 and "/tls-hello" in apps.stdout, apps.stderr
        plain_cli = corral(["task", "list", "--master", master_at], {})
        assert plain_cli.returncode == 1
        assert "if it serves HTTPS" in plain_cli.stderr

        # Nothing answers plain HTTP, a client without a certificate, or one that trusts another CA.
        for url in (master_url, agent_url, marathon_url):
            assert unreachable(url.replace("https://", "http://") + "/health", True)
            assert unreachable(f"{url}/health", load_tls(ca=pki.ca).verify)
            assert unreachable(f"{url}/health", load_tls(cert=pki.cert, key=pki.key, ca=other.ca).verify)
            assert answer(http, master, f"{url}/health") is not None

        assert http.delete(f"{marathon_url}/v2/apps/tls-hello").status_code == 200
        wait_for(
            lambda: (
                not running_task(http, marathon, marathon_url, "tls-hello")
                and not _running_on_master(http, master, master_url)
            ),
            timeout=30,
            what="the task to be killed",
        )


def _running_on_master(http: httpx.Client, master: Daemon, url: str) -> bool:
    state = json_of(http, master, f"{url}/master/state") or {}
    return any(t["state"] == "TASK_RUNNING" for f in state.get("frameworks", []) for t in f.get("tasks", []))


def test_corral_dev_over_tls(pki: Pki, tmp_path: Path) -> None:
    master_port, marathon_port, chronos_port, dns_port = free_ports(4)
    tls = load_tls(cert=pki.cert, key=pki.key, ca=pki.ca)
    args = ["--work_dir", str(tmp_path / "work"), "--ip", HOST, "--master_port", str(master_port)]
    args += ["--agent_port", "0", "--marathon_port", str(marathon_port), "--chronos_port", str(chronos_port)]
    args += ["--dns_port", str(dns_port), "--lb_stats_port", "0", *tls_args(pki)]
    dev = start_daemon("dev", "dev", args, address=f"{HOST}:{master_port}", log_dir=tmp_path)
    master_url, marathon_url, chronos_url = (
        tls.url(f"{HOST}:{p}") for p in (master_port, marathon_port, chronos_port)
    )
    with running([dev]), httpx.Client(verify=tls.verify, trust_env=False, timeout=10) as http:
        state = wait_for(lambda: _frameworks(http, dev, master_url), timeout=30, what="Marathon and Chronos")
        assert {"marathon", "chronos"} <= state
        banner = dev.log_path.read_text()
        for url in (master_url, marathon_url, chronos_url):
            assert url in banner
        assert http.get(f"{chronos_url}/scheduler/jobs").status_code == 200
        assert unreachable(master_url.replace("https://", "http://"), True)

        # DNS follows the master over HTTPS.
        wait_for(lambda: _leader_by_dns(dns_port), timeout=30, what="leader.mesos")

        # A Marathon app launches (Marathon's driver speaks HTTPS to the master) and, with HAProxy, the load
        # balancer (reading Marathon over HTTPS) serves it.
        app = {
            "id": "/tls-web",
            "cmd": "sleep 60",
            "cpus": 0.1,
            "mem": 16,
            "portDefinitions": [{"port": 0}],
            "labels": {"HAPROXY_GROUP": "external"},
        }
        assert http.post(f"{marathon_url}/v2/apps", content=dumps(app), headers=JSON).status_code == 201
        wait_for(lambda: running_task(http, dev, marathon_url, "tls-web"), timeout=30, what="the task")
        if find_binary() is not None:
            config = tmp_path / "work" / "lb" / "haproxy.cfg"
            wait_for(lambda: config.exists() and "tls-web" in config.read_text(), timeout=30, what="the lb")
        assert http.delete(f"{marathon_url}/v2/apps/tls-web").status_code == 200
        wait_for(lambda: not _running_on_master(http, dev, master_url), timeout=30, what="the task to end")
    assert dev.proc.returncode == 0


def _frameworks(http: httpx.Client, dev: Daemon, master_url: str) -> set[str] | None:
    state = json_of(http, dev, f"{master_url}/master/state")
    names = {f["name"] for f in state.get("frameworks", [])} if state else set()
    return names if {"marathon", "chronos"} <= names else None


def _leader_by_dns(port: int) -> bool:
    try:
        reply = dns.query.udp(dns.message.make_query("leader.mesos", "A"), HOST, port=port, timeout=1)
    except (OSError, dns.exception.DNSException):
        return False
    return bool(reply.answer)

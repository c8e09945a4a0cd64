"""`corral dev --credentials FILE` secures the whole stack, and the CLI logs in to it (issue 10): every daemon
refuses anonymous requests and accepts the file's principals, the stack's own clients present the principal
chosen, `corral login` stores one token per daemon that later commands present, and a 401 is one line saying
how to log in. Without credentials the stack stays open on loopback and refuses any other address."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.marathon_dev import stopping

from corral.testing.procs import DevProcess, clean_env, corral_command, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"
OPS, CI = ("ops", "ops-Secret-1"), ("ci", "ci-Secret-2")


@dataclass(frozen=True)
class Cli:
    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class Stack:
    dev: DevProcess
    secret_file: Path  # CI's secret
    config_home: Path  # XDG_CONFIG_HOME of the CLI runs

    def corral(self, *args: str, **env: str) -> Cli:
        extra = {"XDG_CONFIG_HOME": str(self.config_home), **env}
        done = subprocess.run(
            [*corral_command(), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(extra),
            check=False,
        )
        return Cli(done.returncode, done.stdout, done.stderr)

    @property
    def addresses(self) -> list[str]:
        return ["--master", self.dev.master, "--marathon", self.dev.marathon, "--chronos", self.dev.chronos]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("dev-auth")
    credentials = base / "credentials"
    credentials.write_text(f"# principal secret\n{OPS[0]} {OPS[1]}\n{CI[0]} {CI[1]}\n")  # the text format
    secret_file = base / "ci.secret"
    secret_file.write_text(CI[1] + "\n")
    marathon_port, chronos_port = free_ports(2)
    process = start_dev(
        base,
        resources=RESOURCES,
        extra_args=["--credentials", str(credentials), "--principal", "ci", "--no_lb"],
        marathon_port=marathon_port,
        chronos_port=chronos_port,
        basic_auth=OPS,
    )
    with stopping(process):
        yield Stack(process, secret_file, base / "config")


def test_the_banner_says_the_stack_authenticates_and_how_to_log_in(stack: Stack) -> None:
    log = stack.dev.log_path.read_text()
    assert "auth        every daemon authenticates: principals ci, ops" in log
    assert "DNS and the load balancer present 'ci'" in log
    assert f"corral login {' '.join(stack.addresses)}" in log
    assert "ops-Secret-1" not in log and "ci-Secret-2" not in log


def test_every_daemon_refuses_anonymous_and_wrong_credentials_and_accepts_the_principals(
    stack: Stack,
) -> None:
    dev = stack.dev
    [agent] = dev.agent_addresses()
    reads = [f"{dev.url}/master/state", f"http://{agent}/state", f"http://{dev.marathon}/v2/apps"]
    reads.append(f"http://{dev.chronos}/v1/scheduler/jobs")
    with httpx.Client(timeout=5.0, trust_env=False) as http:
        for url in reads:
            assert http.get(url).status_code == 401, url
            assert http.get(url, auth=(OPS[0], "wrong")).status_code == 401, url
            assert http.get(url, auth=OPS).status_code == 200, url
            assert http.get(url, auth=CI).status_code == 200, url
        assert http.get(f"{dev.url}/master/health").status_code == 200  # health stays public


def test_marathon_and_chronos_subscribe_as_the_principal_chosen(stack: Stack) -> None:
    def principals() -> dict[str, Any] | None:
        state: Any = stack.dev.state()
        frameworks = {f["name"]: f.get("principal") for f in state["frameworks"]}
        return frameworks if {"marathon", "chronos"} <= frameworks.keys() else None

    assert wait_for(principals, timeout=20, what="marathon and chronos to subscribe") == {
        "marathon": "ci",
        "chronos": "ci",
    }


def test_a_command_without_login_is_one_line_naming_the_login_command(stack: Stack) -> None:
    result = stack.corral("cluster", "status", "--master", stack.dev.master)
    assert result.code == 1
    assert result.stderr == (
        f"corral: error: GET /master/state on the master at {stack.dev.master} answered 401 Unauthorized: "
        f"authentication required; run `corral login --master {stack.dev.master}`\n"
    )


def test_login_once_then_every_client_command_presents_its_token(stack: Stack) -> None:
    login = stack.corral(
        "login", *stack.addresses, "--principal", "ci", "--secret_file", str(stack.secret_file)
    )
    assert login.code == 0, login.stderr
    assert login.stdout.count("as ci (until") == 3
    tokens = json.loads((stack.config_home / "corral" / "tokens.json").read_text())
    assert len(tokens) == 3 and CI[1] not in json.dumps(tokens)
    assert all(entry["expires"] > time.time() for entry in tokens.values())

    status = stack.corral("cluster", "status", "-o", "json", "--master", stack.dev.master)
    assert status.code == 0, status.stderr
    assert len(json.loads(status.stdout)["agents"]) == 1
    apps = stack.corral("app", "list", "-o", "json", "--marathon", stack.dev.marathon)
    assert apps.code == 0, apps.stderr
    jobs = stack.corral("job", "list", "-o", "json", "--chronos", stack.dev.chronos)
    assert jobs.code == 0, jobs.stderr

    assert stack.corral("logout", "--all").stdout == "forgot 3 token(s)\n"
    again = stack.corral("app", "list", "--marathon", stack.dev.marathon)
    assert again.code == 1 and f"run `corral login --marathon {stack.dev.marathon}`" in again.stderr


def test_a_tasks_log_is_read_from_its_agent_with_a_login_or_the_environment(stack: Stack) -> None:
    """The agent authenticates too: it accepts the principals, and the tokens of the stack's one key."""
    app = {"id": "auth-hello", "cmd": "echo hello-through-auth; sleep 600", "cpus": 0.1, "mem": 16}
    with httpx.Client(
        base_url=f"http://{stack.dev.marathon}", timeout=5.0, trust_env=False, auth=OPS
    ) as http:
        assert http.post("/v2/apps", json=app).status_code == 201

        def running() -> str | None:
            tasks = http.get("/v2/apps/auth-hello/tasks").json()["tasks"]
            return next((t["id"] for t in tasks if t["state"] == "TASK_RUNNING"), None)

        task = wait_for(running, timeout=30, what="auth-hello to run")
        env = {"CORRAL_PRINCIPAL": "ci", "CORRAL_SECRET_FILE": str(stack.secret_file)}

        def printed(**env: str) -> Cli | None:
            result = stack.corral("task", "logs", task, "--master", stack.dev.master, **env)
            return result if result.code == 0 and "hello-through-auth" in result.stdout else None

        assert wait_for(lambda: printed(**env), timeout=20, what="the task's stdout").stderr == ""
        login = ["--master", stack.dev.master, "--principal", "ci", "--secret_file", str(stack.secret_file)]
        assert stack.corral("login", *login).code == 0
        assert printed() is not None
        assert stack.corral("logout", "--master", stack.dev.master).code == 0
        assert http.delete("/v2/apps/auth-hello").status_code == 200


def test_an_open_stack_says_so_and_refuses_an_address_beyond_loopback(
    dev: DevProcess, tmp_path: Path
) -> None:
    assert "auth        open: no credentials (loopback only;" in dev.log_path.read_text()
    # 192.0.2.0/24 is TEST-NET-1: the refusal comes before anything is bound.
    args = ["dev", "--work_dir", str(tmp_path / "work"), "--ip", "192.0.2.10"]
    refused = subprocess.run(
        [*corral_command(), *args], capture_output=True, text=True, timeout=30, check=False
    )
    assert refused.returncode == 1
    assert refused.stderr == (
        "corral: error: refusing to serve the corral dev stack on 192.0.2.10 with unauthenticated APIs "
        "(agent, executor, framework, readonly, readwrite): give --credentials FILE (Mesos JSON or "
        "'principal secret' lines) to secure every daemon, or pass --insecure to serve them open\n"
    )
    assert not (tmp_path / "work").exists()

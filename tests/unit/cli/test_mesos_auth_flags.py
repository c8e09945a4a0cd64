"""`corral master` and `corral agent` authentication flags (`cli/mesos_auth_flags.py`; reliability-security.md
4.1, 4.3 items 1 and 14): tri-state `--authenticate_*` flags, one-line start-up errors for what can never
work, the refusal to serve an open API beyond loopback, and /flags showing values and paths, never secrets.

No daemon starts here: on 10.255.255.1 (not an address of this host) a configuration is either refused, or
reaches the bind, which fails: that failure proves the refusal came first and was lifted.
"""

from __future__ import annotations

import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corral.cli.daemons import agent, master
from corral.cli.mesos_auth_flags import MesosAuth, agent_auth, agent_key, master_auth, read_key
from corral.security.credentials import CredentialsError
from corral.security.policy import Surface

FAR = "10.255.255.1"
SECRET = "pw-that-must-not-show"
CREDENTIALS = f'{{"credentials":[{{"principal":"ops","secret":"{SECRET}"}}]}}'


def run(command: click.Command, args: list[str], tmp_path: Path) -> str:
    result = CliRunner().invoke(command, [*args, "--port", "0", "--work_dir", str(tmp_path / "w")], env={})
    assert result.exit_code in (1, 2), result.output
    [line] = result.output.strip().splitlines()[-1:]
    return line


@pytest.fixture
def credentials(tmp_path: Path) -> str:
    path = tmp_path / "credentials.json"
    path.write_text(CREDENTIALS)
    return str(path)


@pytest.mark.parametrize(
    ("command", "surfaces"),
    [(master, "agent, framework, readonly, readwrite"), (agent, "executor, readonly, readwrite")],
    ids=["master", "agent"],
)
def test_an_open_api_beyond_loopback_is_refused_naming_the_open_surfaces(
    command: click.Command, surfaces: str, tmp_path: Path
) -> None:
    line = run(command, ["--ip", FAR], tmp_path)
    assert f"refusing to serve the {command.name} on {FAR} with unauthenticated APIs ({surfaces})" in line
    assert "give --credentials" in line and "or pass --insecure" in line
    assert not (tmp_path / "w").exists(), "refused before creating anything"


@pytest.mark.parametrize("command", [master, agent], ids=["master", "agent"])
@pytest.mark.parametrize("lift", ["credentials", "insecure"])
def test_credentials_or_insecure_lift_the_refusal(
    command: click.Command, lift: str, credentials: str, tmp_path: Path
) -> None:
    extra = ["--credentials", credentials] if lift == "credentials" else ["--insecure"]
    line = run(command, ["--ip", FAR, *extra], tmp_path)
    assert f"cannot listen on {FAR}" in line and "refusing" not in line


def test_a_surface_turned_off_is_named_with_the_flag_that_turns_it_on(
    credentials: str, tmp_path: Path
) -> None:
    line = run(
        master, ["--ip", FAR, "--credentials", credentials, "--authenticate_http_readonly=false"], tmp_path
    )
    assert "unauthenticated APIs (readonly): set --authenticate_http_readonly=true" in line


def test_executors_tokens_need_no_credentials(tmp_path: Path) -> None:
    line = run(agent, ["--ip", FAR, "--authenticate_http_executors"], tmp_path)
    assert "unauthenticated APIs (readonly, readwrite)" in line  # executor is not open


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        (master, ["--authenticate_agents"], "--authenticate_agents needs --credentials"),
        (master, ["--authenticate_http_readwrite=true"], "--authenticate_http_readwrite needs --credentials"),
        (agent, ["--authenticate_http_readonly", "true"], "--authenticate_http_readonly needs --credentials"),
        (agent, ["--credential", "/no/such/file"], "cannot read the --credential file /no/such/file"),
        (master, ["--credentials", "/no/such/file"], "cannot read the --credentials file /no/such/file"),
        (master, ["--authenticate_agents=maybe"], "'maybe' is not a valid boolean"),
        (
            master,
            ["--authenticate_frameworks", "--authenticate_http_frameworks=false"],
            "--authenticate_frameworks and --authenticate_http_frameworks disagree",
        ),
    ],
)
def test_what_can_never_work_is_a_one_line_start_up_error(
    command: click.Command, args: list[str], expected: str, tmp_path: Path
) -> None:
    assert expected in run(command, args, tmp_path)


def test_a_short_token_key_is_refused(credentials: str, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("short\n")
    line = run(master, ["--credentials", credentials, "--jwt_secret_key", str(key)], tmp_path)
    assert f"the --jwt_secret_key file {key} holds 5 bytes; at least 32 are needed" in line


def master_with(credentials: str | None, *, agents: bool | None = None) -> MesosAuth:
    return master_auth(
        host="127.0.0.1",
        credentials=credentials,
        authenticate_frameworks=None,
        authenticate_http_frameworks=None,
        authenticate_agents=agents,
        authenticate_http_readonly=None,
        authenticate_http_readwrite=None,
        jwt_secret_key=None,
        insecure=False,
    )


def agent_with(work_dir: Path, *, executors: bool | None) -> MesosAuth:
    return agent_auth(
        host="127.0.0.1",
        work_dir=work_dir,
        credential=None,
        credentials=None,
        authenticate_http_readonly=None,
        authenticate_http_readwrite=None,
        authenticate_http_executors=executors,
        jwt_secret_key=None,
        insecure=False,
    )


def test_unset_flags_follow_the_credentials_and_flags_show_values_and_paths(credentials: str) -> None:
    secured = master_with(credentials, agents=False)
    assert secured.requirements.required == {Surface.FRAMEWORK, Surface.READONLY, Surface.READWRITE}
    assert secured.shown == {
        "authenticate_frameworks": "true",
        "authenticate_http_frameworks": "true",
        "authenticate_agents": "false",
        "authenticate_http_readonly": "true",
        "authenticate_http_readwrite": "true",
        "credentials": credentials,
    }
    open_master = master_with(None)
    assert open_master.requirements.required == set() and open_master.signer is None
    inline = master_with(CREDENTIALS)
    assert inline.shown["credentials"] == "(inline)" and SECRET not in repr(inline)


def test_the_agent_keeps_one_generated_key_across_runs(tmp_path: Path) -> None:
    def start() -> tuple[str, str]:
        auth = agent_with(tmp_path, executors=True)
        assert auth.signer is not None
        return auth.shown["jwt_secret_key"], auth.signer.issue("x", now=0.0, ttl=0)

    first_path, first_token = start()
    second_path, second_token = start()  # a restarted agent: its executors' tokens still verify
    assert first_path == second_path == str(tmp_path / "jwt_secret_key")
    assert first_token == second_token
    mode = stat.S_IMODE((tmp_path / "jwt_secret_key").stat().st_mode)
    assert mode == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret_key"]  # no temporary file left
    assert read_key(Path(first_path)).verify(first_token, now=1.0) is not None


def test_an_open_agent_makes_no_key(tmp_path: Path) -> None:
    auth = agent_with(tmp_path, executors=None)
    assert auth.signer is None and list(tmp_path.iterdir()) == []


def test_key_files(tmp_path: Path) -> None:
    assert agent_key(tmp_path) == agent_key(tmp_path)
    with pytest.raises(CredentialsError, match="cannot read"):
        read_key(tmp_path / "missing")

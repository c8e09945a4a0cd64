"""The authentication flags of `corral marathon`, `corral chronos`, `corral lb` and `corral dns`
(reliability-security.md 4.1, 4.3 items 1 and 13): a daemon that would serve an open API beyond loopback
refuses in one line before it binds anything, unless `--insecure`; bad credentials flags are usage errors
naming the flag; the framework's principal and secret reach FrameworkInfo and the driver.

No daemon starts here: a non-loopback address is either refused, or (credentials or `--insecure` given)
reaches the bind, which fails on 192.0.2.1 (TEST-NET-1, never assigned to this host): that failure is the
proof the refusal came first and was lifted.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corral.chronos.runtime import ChronosConfig
from corral.cli.chronos_commands import chronos
from corral.cli.dns_commands import dns_command
from corral.cli.framework_auth_flags import classify, http_auth_config, mesos_credential
from corral.cli.lb_commands import lb
from corral.cli.marathon_commands import marathon
from corral.marathon.runtime import MarathonConfig
from corral.security.credentials import Credential, Credentials
from corral.security.policy import Surface

UNASSIGNED = "192.0.2.1"
DAEMONS = {"marathon": (marathon, "MARATHON"), "chronos": (chronos, "CHRONOS")}


def invoke(command: click.Command, args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(command, [*args, "--work_dir", str(tmp_path / "w")], env=env or {})
    assert result.exit_code in (1, 2), result.output
    return result.output


@pytest.mark.parametrize("daemon", DAEMONS)
def test_an_open_api_beyond_loopback_is_refused_in_one_line_before_binding(
    daemon: str, tmp_path: Path
) -> None:
    command, _ = DAEMONS[daemon]
    output = invoke(command, ["--http_address", UNASSIGNED, "--http_port", "0"], tmp_path)
    [line] = output.strip().splitlines()
    assert line.startswith(f"Error: refusing to serve the {daemon.capitalize()} API on {UNASSIGNED}")
    assert "give --http_credentials user:password, or pass --insecure" in line


@pytest.mark.parametrize("daemon", DAEMONS)
@pytest.mark.parametrize(
    "args",
    [["--insecure"], ["--http_credentials", "ops:pw"]],
    ids=["insecure", "credentials"],
)
def test_insecure_or_credentials_lift_the_refusal(daemon: str, args: list[str], tmp_path: Path) -> None:
    command, _ = DAEMONS[daemon]
    output = invoke(command, ["--http_address", UNASSIGNED, "--http_port", "0", *args], tmp_path)
    assert f"cannot listen on {UNASSIGNED}" in output and "refusing" not in output


@pytest.mark.parametrize("daemon", DAEMONS)
def test_credentials_come_from_the_daemons_variable_or_upstreams(daemon: str, tmp_path: Path) -> None:
    command, prefix = DAEMONS[daemon]
    args = ["--http_address", UNASSIGNED, "--http_port", "0"]
    for variable in (f"{prefix}_HTTP_CREDENTIALS", "MESOSPHERE_HTTP_CREDENTIALS"):
        output = invoke(command, args, tmp_path, env={variable: "ops:pw"})
        assert "cannot listen" in output and "refusing" not in output


@pytest.mark.parametrize("daemon", DAEMONS)
def test_malformed_credentials_are_a_usage_error_naming_the_flag(daemon: str, tmp_path: Path) -> None:
    command, _ = DAEMONS[daemon]
    output = invoke(command, ["--http_credentials", "no-colon"], tmp_path)
    assert "'--http_credentials'" in output and "must be 'user:password'" in output


def test_marathon_authenticates_with_the_master_only_when_told_and_given_both_halves(tmp_path: Path) -> None:
    output = invoke(marathon, ["--mesos_authentication"], tmp_path)
    assert "needs --mesos_authentication_principal and --mesos_authentication_secret_file" in output
    missing = tmp_path / "absent"
    args = ["--mesos_authentication", "--mesos_authentication_principal", "marathon"]
    output = invoke(marathon, [*args, "--mesos_authentication_secret_file", str(missing)], tmp_path)
    assert f"cannot read the --mesos_authentication_secret_file {missing}" in output


def test_chronos_authenticates_with_the_master_once_it_has_a_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("")
    output = invoke(chronos, ["--mesos_authentication_secret_file", str(secret)], tmp_path)
    assert "needs --mesos_authentication_principal" in output
    args = ["--mesos_authentication_principal", "chronos", "--mesos_authentication_secret_file", str(secret)]
    assert f"the --mesos_authentication_secret_file {secret} is empty" in invoke(chronos, args, tmp_path)


def test_the_mesos_credential_is_the_principal_and_the_files_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")  # upstream asks for no final newline; one is forgiven
    assert mesos_credential("marathon", str(secret), enabled=True) == Credential("marathon", "s3cret")
    assert mesos_credential("marathon", str(secret), enabled=False) is None


def test_the_principal_names_the_framework_to_the_master() -> None:
    assert MarathonConfig(principal="marathon").framework_info(None).principal == "marathon"
    assert MarathonConfig().framework_info(None).principal is None
    assert ChronosConfig(master="m:5050", principal="chronos").principal == "chronos"


@pytest.mark.parametrize(
    ("method", "path", "surface"),
    [
        ("GET", "/ping", Surface.PUBLIC),
        ("HEAD", "/ping", Surface.PUBLIC),
        ("GET", "/", Surface.PUBLIC),
        ("GET", "/ui/", Surface.PUBLIC),
        ("GET", "/ui/base.css", Surface.PUBLIC),
        ("POST", "/login", Surface.PUBLIC),
        ("POST", "/logout", Surface.PUBLIC),
        ("GET", "/v2/apps", Surface.READONLY),
        ("GET", "/v2/events", Surface.READONLY),
        ("GET", "/metrics", Surface.READONLY),
        ("GET", "/openapi.json", Surface.READONLY),
        ("GET", "/uix", Surface.READONLY),
        ("POST", "/v2/apps", Surface.READWRITE),
        ("DELETE", "/scheduler/job/x", Surface.READWRITE),
        ("PUT", "/ping", Surface.READWRITE),
    ],
)
def test_only_ping_the_ui_and_login_are_public(method: str, path: str, surface: Surface) -> None:
    assert classify(method, path) is surface


def test_credentials_make_every_surface_but_public_required() -> None:
    secured = http_auth_config(Credentials({"ops": "pw"}), "Mesosphere")
    assert secured.enabled and secured.requirements.open == []
    assert secured.realm == "Mesosphere"
    open_ = http_auth_config(None, "Mesosphere")
    assert not open_.enabled and open_.requirements.open == [Surface.READONLY, Surface.READWRITE]


# ------------------------------------------------------------------ corral lb and corral dns


def test_the_lb_stats_page_beyond_loopback_is_refused_without_insecure(tmp_path: Path) -> None:
    config = ["--haproxy_config", str(tmp_path / "haproxy.cfg")]
    result = CliRunner().invoke(lb, [*config, "--stats_address", "0.0.0.0"], env={})
    assert result.exit_code == 1, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("Error: refusing to serve the HAProxy stats page on 0.0.0.0")
    assert "keep it on loopback (--stats_address 127.0.0.1), or pass --insecure" in line
    lifted = CliRunner().invoke(lb, [*config, "--stats_address", "0.0.0.0", "--insecure", "--haproxy", "/nx"])
    assert "refusing" not in lifted.output and "/nx: not found" in lifted.output


@pytest.mark.parametrize("value", ["no-colon", "a:b,c:d"])
def test_lb_auth_credentials_are_one_user_and_password(value: str) -> None:
    result = CliRunner().invoke(lb, ["--auth_credentials", value], env={})
    assert result.exit_code == 2 and "'--auth_credentials'" in result.output


def test_dns_credential_is_a_usage_error_when_unreadable(tmp_path: Path) -> None:
    result = CliRunner().invoke(dns_command, ["--credential", str(tmp_path / "absent")], env={})
    assert result.exit_code == 2 and "'--credential'" in result.output
    assert "cannot read the --credential file" in result.output

"""The TLS flags every daemon shares (`corral.cli.tls_flags`): spellings, environment variables (the daemon's
prefix, and libprocess's names for the master and the agent), and the combinations refused before start."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from corral.cli.daemons import agent, master
from corral.cli.marathon_commands import marathon
from corral.cli.tls_flags import max_request_bytes_flag, tls_flags
from corral.net.serve import MiB
from corral.net.tls import TlsConfig
from corral.testing.certs import Pki, pki_fixture

pki = pki_fixture()


def command(*, env_prefix: str = "MESOS", libprocess: bool = False, serves: bool = True) -> click.Command:
    """A command that prints the scheme and whether it serves and requires client certificates."""

    @click.command()
    @tls_flags(env_prefix=env_prefix, libprocess=libprocess, serves=serves)
    @max_request_bytes_flag(2 * MiB)
    def show(tls: TlsConfig, max_request_bytes: int) -> None:
        required = tls.server is not None and tls.server.verify_mode.name == "CERT_REQUIRED"
        click.echo(
            f"{tls.scheme} serves={tls.server is not None} required={required} max={max_request_bytes}"
        )

    return show


def run(cmd: click.Command, args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cmd, args, env=env)
    return result.exit_code, result.output.strip()


def test_no_flags_is_plain_http() -> None:
    assert run(command(), []) == (0, f"http serves=False required=False max={2 * MiB}")


def test_a_certificate_turns_tls_on(pki: Pki) -> None:
    args = ["--ssl_cert", str(pki.cert), "--ssl-key", str(pki.key), "--ssl_ca", str(pki.ca)]
    assert run(command(), args) == (0, f"https serves=True required=False max={2 * MiB}")
    assert run(command(), [*args, "--ssl_require_client_cert", "--max_request_bytes", "4096"]) == (
        0,
        "https serves=True required=True max=4096",
    )


def test_the_flags_come_from_the_daemons_environment(pki: Pki) -> None:
    env = {"MARATHON_SSL_CERT": str(pki.cert), "MARATHON_SSL_KEY": str(pki.key)}
    assert run(command(env_prefix="MARATHON"), [], env)[1].startswith("https serves=True")
    assert run(command(), [], env)[1].startswith("http serves=False")  # MESOS_ is another daemon's


def test_the_master_and_the_agent_read_libprocess_names_too(pki: Pki) -> None:
    env = {
        "LIBPROCESS_SSL_CERT_FILE": str(pki.cert),
        "LIBPROCESS_SSL_KEY_FILE": str(pki.key),
        "LIBPROCESS_SSL_CA_FILE": str(pki.ca),
        "LIBPROCESS_SSL_REQUIRE_CLIENT_CERT": "true",
    }
    assert run(command(libprocess=True), [], env)[1].startswith("https serves=True required=True")
    assert run(command(), [], env)[1].startswith("http serves=False")


def test_a_ca_alone_is_refused_by_a_daemon_that_serves(pki: Pki) -> None:
    code, output = run(command(), ["--ssl_ca", str(pki.ca)])
    assert code == 2
    assert "--ssl_ca needs --ssl_cert and --ssl_key" in output
    assert run(command(serves=False), ["--ssl_ca", str(pki.ca)]) == (
        0,
        f"https serves=False required=False max={2 * MiB}",
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--ssl_cert", "{cert}"], "give both or neither"),
        (["--ssl_cert", "{cert}", "--ssl_key", "{key}", "--ssl_require_client_cert"], "a CA to check them"),
        (["--ssl_cert", "{cert}", "--ssl_key", "{ca}"], "not PEM"),
        (["--ssl_cert", "/nonexistent.pem"], "does not exist"),
    ],
)
def test_bad_combinations_and_files_are_usage_errors(pki: Pki, args: list[str], error: str) -> None:
    paths = {"cert": str(pki.cert), "key": str(pki.key), "ca": str(pki.ca)}
    code, output = run(command(), [a.format(**paths) for a in args])
    assert code == 2
    assert error in output


def test_an_environment_value_is_named_in_errors() -> None:
    code, output = run(command(libprocess=True), [], {"LIBPROCESS_SSL_CERT_FILE": "/nonexistent.pem"})
    assert code == 2
    assert "$MESOS_SSL_CERT or $LIBPROCESS_SSL_CERT_FILE" in output


@pytest.mark.parametrize("daemon", [master, agent, marathon], ids=["master", "agent", "marathon"])
def test_every_daemon_has_the_flags(daemon: click.Command, pki: Pki) -> None:
    code, output = run(daemon, ["--ssl_ca", str(pki.ca)])
    assert code == 2, output
    assert "--ssl_ca needs --ssl_cert" in output
    names = {name for param in daemon.params for name in param.opts}
    assert {
        "--ssl_cert",
        "--ssl_key",
        "--ssl_ca",
        "--ssl_require_client_cert",
        "--max_request_bytes",
    } <= names

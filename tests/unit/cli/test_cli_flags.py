"""Daemon flags: Mesos spellings, `MESOS_*` environment variables, durations (stout syntax), `--master`."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from corral.cli.flags import (
    AGENT_CONFIG,
    ATTRIBUTES,
    DURATION,
    MASTER,
    MASTER_CONFIG,
    RESOURCES,
    ConfigDirs,
    daemon_command,
    flag,
    parse_duration,
    parse_master,
    parse_zk,
    read_config_dirs,
)
from corral.coord.zk_url import parse_zk_url
from corral.core.attributes import Attribute
from corral.core.resources import Resources


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1secs", 1.0),
        ("500ms", 0.5),
        ("2mins", 120.0),
        ("1hrs", 3600.0),
        ("1days", 86400.0),
        ("1weeks", 604800.0),
        ("250us", 0.00025),
        ("10ns", 1e-8),
        ("1.5", 1.5),
        ("3", 3.0),
        ("2s", 2.0),
        (" 5secs ", 5.0),
        (".5secs", 0.5),
    ],
)
def test_durations_accept_stout_units_and_plain_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "secs", "-1secs", "1 fortnight", "1m", "1.2.3s", "1e3"])
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "address"),
    [
        ("127.0.0.1:5050", "127.0.0.1:5050"),
        ("master1", "master1:5050"),
        ("http://m:5051/", "m:5051"),
    ],
)
def test_master_addresses(text: str, address: str) -> None:
    assert parse_master(text) == address


def test_master_address_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "master"
    path.write_text("10.0.0.5:5050\n")
    assert parse_master(f"file://{path}") == "10.0.0.5:5050"


def test_a_zookeeper_master_is_kept_as_a_url_with_its_file_resolved(tmp_path: Path) -> None:
    assert parse_master("zk://u:p@h1,h2:2182/mesos") == "zk://u:p@h1:2181,h2:2182/mesos"
    path = tmp_path / "zk"
    path.write_text("zk://10.0.0.1:2181,10.0.0.2:2181/mesos\n")
    assert parse_master(f"file://{path}") == "zk://10.0.0.1:2181,10.0.0.2:2181/mesos"
    assert parse_zk(f"file://{path}") == parse_zk_url("zk://10.0.0.1:2181,10.0.0.2:2181/mesos")


@pytest.mark.parametrize("text", ["h:port", ":5050", "h:70000", "file:///does/not/exist", "zk://"])
def test_bad_master_addresses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_master(text)


def test_zk_must_be_a_zookeeper_url() -> None:
    with pytest.raises(ValueError, match="not a zk:// URL"):
        parse_zk("10.0.0.1:5050")


@click.command()
@flag("work_dir", type=click.Path(path_type=Path), default=Path(".corral"))
@flag("allocation_interval", callback=DURATION, default="1secs")
@flag("resources", callback=RESOURCES)
@flag("attributes", callback=ATTRIBUTES)
@flag("master", callback=MASTER, default="127.0.0.1:5050")
def probe(
    work_dir: Path,
    allocation_interval: float,
    resources: Resources | None,
    attributes: tuple[Attribute, ...] | None,
    master: str,
) -> None:
    click.echo(f"{work_dir}|{allocation_interval}|{resources}|{len(attributes or ())}|{master}")


def run(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(probe, args, env=env)
    return result.exit_code, result.output.strip()


def test_defaults() -> None:
    assert run([]) == (0, ".corral|1.0|None|0|127.0.0.1:5050")


def test_both_spellings_are_accepted() -> None:
    assert run(["--work_dir", "/a", "--allocation-interval", "500ms"]) == (0, "/a|0.5|None|0|127.0.0.1:5050")
    assert run(["--work-dir", "/b", "--allocation_interval", "2"]) == (0, "/b|2.0|None|0|127.0.0.1:5050")


def test_environment_supplies_flags_as_mesos_does() -> None:
    env = {
        "MESOS_WORK_DIR": "/var/lib/corral",
        "MESOS_ALLOCATION_INTERVAL": "2mins",
        "MESOS_RESOURCES": "cpus:2;mem:512",
        "MESOS_ATTRIBUTES": "rack:r1;zone:west",
        "MESOS_MASTER": "m1:5050",
    }
    assert run([], env) == (0, "/var/lib/corral|120.0|cpus:2;mem:512|2|m1:5050")


def test_command_line_wins_over_environment() -> None:
    code, out = run(
        ["--work_dir", "/cli", "--resources", "cpus:8"], {"MESOS_WORK_DIR": "/env", "MESOS_RESOURCES": "x"}
    )
    assert (code, out) == (0, "/cli|1.0|cpus:8|0|127.0.0.1:5050")


def test_empty_environment_variable_is_ignored() -> None:
    assert run([], {"MESOS_WORK_DIR": ""}) == (0, ".corral|1.0|None|0|127.0.0.1:5050")


def test_bad_values_name_the_flag_and_where_it_came_from() -> None:
    code, out = run(["--resources", "cpus:lots"])
    assert code == 2
    assert "'--resources'" in out
    assert "cpus: 'lots' is not a number" in out
    code, out = run([], {"MESOS_ALLOCATION_INTERVAL": "soon"})
    assert code == 2
    assert "'--allocation_interval' (from $MESOS_ALLOCATION_INTERVAL)" in out


@daemon_command(ConfigDirs((("/nonexistent/corral-test", {}),)))
@flag("quorum", type=click.IntRange(1))
@flag("hostname")
@flag("zk_session_timeout", callback=DURATION, default="10secs")
def configured(quorum: int | None, hostname: str | None, zk_session_timeout: float) -> None:
    click.echo(f"{quorum} {hostname} {zk_session_timeout}")


def test_flags_come_from_a_config_dir_below_the_environment_and_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "quorum").write_text("2\n")
    (tmp_path / "hostname").write_text("master1.example.com")
    (tmp_path / "zk-session-timeout").write_text("2secs")
    (tmp_path / "containerizers").write_text("docker,mesos")  # the tutorial's: not a flag here, ignored
    runner = CliRunner()
    result = runner.invoke(configured, ["--config_dir", str(tmp_path)], env={})
    assert result.output == "2 master1.example.com 2.0\n", result.output
    result = runner.invoke(
        configured, ["--config_dir", str(tmp_path), "--quorum", "3"], env={"MESOS_HOSTNAME": "env-host"}
    )
    assert result.output == "3 env-host 2.0\n"


def test_a_bad_value_in_a_config_file_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "quorum").write_text("many")
    result = CliRunner().invoke(configured, ["--config_dir", str(tmp_path)], env={})
    assert result.exit_code == 2
    assert "'many' is not a valid integer range" in result.output


def test_the_standard_dirs_map_the_shared_zk_file_per_daemon(tmp_path: Path) -> None:
    (tmp_path / "mesos").mkdir()
    (tmp_path / "mesos" / "zk").write_text("zk://h:2181/mesos\n")
    (tmp_path / "mesos-master").mkdir()
    (tmp_path / "mesos-master" / "quorum").write_text("2")
    master_dirs = tuple((str(tmp_path / Path(d).name), m) for d, m in MASTER_CONFIG.standard)
    agent_dirs = tuple((str(tmp_path / Path(d).name), m) for d, m in AGENT_CONFIG.standard)
    assert read_config_dirs(master_dirs, {"quorum", "zk"}) == {"zk": "zk://h:2181/mesos", "quorum": "2"}
    assert read_config_dirs(agent_dirs, {"master"}) == {"master": "zk://h:2181/mesos"}

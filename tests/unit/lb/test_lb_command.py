"""`corral lb` flags, and the load balancer's place in `corral dev`'s plan (no daemon is started here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from corral.cli.dev_plan import DevOptions, PlanError, plan_dev
from corral.cli.lb_commands import lb, stats_url
from corral.lb.services import Options


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--bind_address", "eth0"], "'eth0' is not an IP address or *"),
        (["--marathon", "ftp://m:8080"], "unsupported scheme 'ftp'"),
        (["--group", " , "], "give at least one group"),
        (["--stats_port", "0"], "0 is not in the range 1<=x<=65535"),
        (["--haproxy", "/nonexistent/haproxy"], "/nonexistent/haproxy: not found"),
    ],
)
def test_bad_flags_are_usage_errors_naming_the_problem(args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(lb, args, env={})
    assert result.exit_code == 2, result.output
    assert complaint in result.output


def test_the_stats_url_names_a_reachable_address() -> None:
    assert stats_url(Options()) == "http://127.0.0.1:9090/haproxy?stats"
    assert (
        stats_url(Options(stats_address="10.0.0.5", stats_port=9999)) == "http://10.0.0.5:9999/haproxy?stats"
    )


def test_corral_dev_checks_the_stats_port_against_its_other_ports() -> None:
    options = DevOptions(work_dir=Path("w"), marathon_port=8080, lb_stats_port=8080)
    with pytest.raises(PlanError, match="--lb_stats_port and --marathon_port both want port 8080"):
        plan_dev(options)
    assert plan_dev(DevOptions(lb_stats_port=9090)).lb_stats_port == 9090
    assert plan_dev(DevOptions()).lb_stats_port is None

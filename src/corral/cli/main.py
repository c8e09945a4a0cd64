"""The `corral` entry point.

Click runs in non-standalone mode so every error is reported as one line (`corral dev: error: ...`) with
exit code 2 for bad usage and 1 for failures, never a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import click

from corral.cli.app_commands import app
from corral.cli.chronos_commands import chronos
from corral.cli.client_commands import cluster, task
from corral.cli.daemons import agent, dev, master
from corral.cli.dns_commands import dns_command
from corral.cli.job_commands import job
from corral.cli.lb_commands import lb
from corral.cli.login_commands import login, logout
from corral.cli.marathon_commands import marathon
from corral.net.client import ENV_CA


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="corral", prog_name="corral")
@click.option(
    "--ssl_ca",
    "--ssl-ca",
    "ssl_ca",
    envvar=ENV_CA,
    show_envvar=True,
    type=click.Path(exists=True, dir_okay=False),
    help="PEM CA certificates the client commands verify HTTPS daemons against; addresses without a "
    "scheme are then https.",
)
def cli(ssl_ca: str | None) -> None:
    """Corral: a Mesos-style master and agents, with Marathon and Chronos to come.

    Start everything on this machine with `corral dev`; frameworks connect to the master at 127.0.0.1:5050.
    """
    if ssl_ca:  # the client commands read their TLS settings from the environment (`net.client.cli_tls`)
        os.environ[ENV_CA] = ssl_ca


cli.add_command(dev)
cli.add_command(master)
cli.add_command(agent)
cli.add_command(marathon)
cli.add_command(chronos)
cli.add_command(lb)
cli.add_command(dns_command)
cli.add_command(cluster)
cli.add_command(task)
cli.add_command(job)
cli.add_command(app)
cli.add_command(login)
cli.add_command(logout)


def _one_line(message: str) -> str:
    return " ".join(message.split())


def main(argv: Sequence[str] | None = None) -> None:
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="corral", standalone_mode=False
        )
    except click.UsageError as e:
        where = e.ctx.command_path if e.ctx else "corral"
        hint = f" (see '{where} --help')" if e.ctx else ""
        click.echo(f"{where}: error: {_one_line(e.format_message())}{hint}", err=True)
        sys.exit(e.exit_code)
    except click.ClickException as e:
        click.echo(f"corral: error: {_one_line(e.format_message())}", err=True)
        sys.exit(e.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()

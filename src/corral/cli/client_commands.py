"""Client commands: `corral cluster status`, `corral task list`, `corral task logs`.

Each talks to the master named by `--master` (default: `$CORRAL_MASTER`, else 127.0.0.1:5050), as the
principal `client_auth` finds (`corral login`'s token, or `$CORRAL_PRINCIPAL`). Errors are one line on stderr
with exit code 1: an unreachable master is an answer, not a crash, and a 401 says how to log in.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from corral.cli.client_auth import ClientLogin, client_login
from corral.cli.logs import LogReader
from corral.cli.render import OUTPUTS, cluster_tables, make_console, print_json, task_table
from corral.cli.views import ClusterView, cluster_json, read_master_state, task_json
from corral.core.errors import DecodeError
from corral.net.client import Client, ClientError, base_url

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_MASTER = "127.0.0.1:5050"


def address_option(flag: str, daemon: str, default: str) -> Callable[[F], F]:
    """`--master`, `--marathon`, `--chronos`: a daemon's host:port, from `CORRAL_<FLAG>` or `default`."""
    return click.option(
        f"--{flag}",
        envvar=f"CORRAL_{flag.upper()}",
        default=default,
        show_default=True,
        show_envvar=True,
        help=f"{daemon}, host:port.",
    )


master_option = address_option("master", "The master", DEFAULT_MASTER)


def output_option(fn: F) -> F:
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUTS),
        default="table",
        show_default=True,
        help="Output format.",
    )(fn)


def _login(master: str) -> ClientLogin:
    try:
        return client_login("master", master, base_url(master))
    except ClientError as e:
        raise click.BadParameter(str(e), param_hint="'--master'") from None


def _connect(address: str, login: ClientLogin, name: str = "master") -> Client:
    return Client(address, name=name, auth=login.auth, unauthorized_hint=login.unauthorized_hint)


def _cluster(master: str) -> ClusterView:
    with _connect(master, _login(master)) as client:
        try:
            state = client.get_json("/master/state")
        except ClientError as e:
            raise click.ClickException(str(e)) from None
    try:
        return read_master_state(state)
    except DecodeError as e:
        raise click.ClickException(f"unexpected /master/state from {master}: {e}") from None


@click.group()
def cluster() -> None:
    """Look at the cluster as a whole."""


@cluster.command("status")
@master_option
@output_option
def cluster_status(master: str, output: str) -> None:
    """Agents and their resources, frameworks, and tasks by state."""
    view = _cluster(master)
    if output == "json":
        print_json(cluster_json(view))
    else:
        make_console().print(cluster_tables(view))


@click.group()
def task() -> None:
    """List tasks and read their logs."""


@task.command("list")
@master_option
@output_option
@click.option("--all", "show_all", is_flag=True, help="Include completed tasks.")
def task_list(master: str, output: str, show_all: bool) -> None:
    """Tasks: id, name, framework, state, agent."""
    view = _cluster(master)
    rows = view.tasks if show_all else view.live_tasks()
    if output == "json":
        print_json([task_json(t) for t in rows])
    elif rows:
        make_console().print(task_table(rows))
    else:
        click.echo("no tasks" if show_all else "no running tasks (--all shows completed ones)")


@task.command("logs")
@master_option
@click.argument("task_id", metavar="TASK")
@click.option("--stderr", "use_stderr", is_flag=True, help="Print stderr instead of stdout.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the task ends.")
def task_logs(master: str, task_id: str, use_stderr: bool, follow: bool) -> None:
    """Print the stdout (or stderr) of TASK from its sandbox."""
    login = _login(master)
    with _connect(master, login) as client:
        # The agents of a cluster accept its principals: the master's login serves for them too.
        reader = LogReader(
            client,
            task_id,
            filename="stderr" if use_stderr else "stdout",
            connect=lambda address: _connect(address, login, "agent"),
        )
        try:
            reader.run(sys.stdout, follow=follow)
        except ClientError as e:
            raise click.ClickException(str(e)) from None
        except KeyboardInterrupt:
            pass

"""`corral job`: Chronos jobs from the command line (add, list, show, run, remove, graph).

Each command talks to the Chronos named by `--chronos` (default: `$CORRAL_CHRONOS`, else 127.0.0.1:4400)
through its 2.x REST API under `/scheduler`. Tables are for people, `-o json` for scripts. Errors are one line
on stderr with exit code 1: Chronos's `{"status", "message"}` answers are reduced to their message, and an
unreachable Chronos is an answer, not a crash. The next due time shown by `list` and `show` is computed here
from the job's schedule (Chronos does not publish it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, TypeVar
from urllib.parse import quote

import click
import httpx
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from corral.chronos.schedule import ScheduleError, parse_schedule, upcoming
from corral.cli.client_auth import client_login
from corral.cli.client_commands import address_option, output_option
from corral.cli.render import make_console, print_json
from corral.core.errors import DecodeError
from corral.net.client import Client, ClientError, base_url
from corral.protocol.json import JsonObject, JsonValue, loads

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CHRONOS = "127.0.0.1:4400"
DEFAULT_PORT = 4400
PREFIX = "/scheduler"
RECENT_RUNS = 10
_RESULT_STYLES = {"success": "green", "failure": "red"}
_RUN_STYLES = {
    "succeeded": "blue",
    "running": "green",
    "launched": "green",
    "failed": "red",
    "killed": "yellow",
}


chronos_option = address_option("chronos", "Chronos", DEFAULT_CHRONOS)


# ---- client ----------------------------------------------------------------------------------------------


def transport_of(ctx: click.Context) -> httpx.BaseTransport | None:
    """A transport handed in through the context object (tests); None talks to the network."""
    return ctx.find_object(httpx.BaseTransport)


def _connect(chronos: str) -> Client:
    try:
        address = base_url(chronos, default_port=DEFAULT_PORT)
        login = client_login("chronos", chronos, address)
        return Client(
            address,
            name="chronos",
            transport=transport_of(click.get_current_context()),
            auth=login.auth,
            unauthorized_hint=login.unauthorized_hint,
        )
    except ClientError as e:
        raise click.BadParameter(str(e), param_hint="'--chronos'") from None


def _request(chronos: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with _connect(chronos) as client:
        try:
            return client.request(method, path, **kwargs)
        except ClientError as e:
            raise click.ClickException(str(e)) from None


def _get_json(chronos: str, path: str) -> JsonValue:
    with _connect(chronos) as client:
        try:
            return client.get_json(path)
        except ClientError as e:
            raise click.ClickException(str(e)) from None


def _job_path(name: str) -> str:
    return f"{PREFIX}/job/{quote(name, safe='')}"


# ---- views -----------------------------------------------------------------------------------------------


def _str(job: JsonObject, key: str) -> str:
    value = job.get(key)
    return value if isinstance(value, str) else ""


def _int(job: JsonObject, key: str) -> int:
    value = job.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _parents(job: JsonObject) -> list[str]:
    value = job.get("parents")
    return [p for p in value if isinstance(p, str)] if isinstance(value, list) else []


def _instant(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def next_due(job: JsonObject, now: datetime) -> str:
    """The next due time (ISO, UTC), `disabled`, `-` for a dependent or finished job, `?` if unparsable."""
    schedule = _str(job, "schedule")
    if not schedule:
        return "-"
    if job.get("disabled") is True:
        return "disabled"
    try:
        due = upcoming(parse_schedule(schedule, _str(job, "scheduleTimeZone"), now=now), now, 1)
    except ScheduleError:
        return "?"
    return _iso(due[0]) if due else "-"


def last_result(job: JsonObject) -> str:
    """`success` or `failure` (whichever is more recent), `-` when the job never ran."""
    success, failure = _instant(_str(job, "lastSuccess")), _instant(_str(job, "lastError"))
    if success is None and failure is None:
        return "-"
    if failure is None or (success is not None and success >= failure):
        return "success"
    return "failure"


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _trigger(job: JsonObject) -> str:
    schedule = _str(job, "schedule")
    if schedule:
        zone = _str(job, "scheduleTimeZone")
        return f"{schedule} ({zone})" if zone else schedule
    return "after " + ", ".join(_parents(job))


def job_row(job: JsonObject, now: datetime) -> JsonObject:
    """One `corral job list` row, as `-o json` prints it."""
    return {
        "name": _str(job, "name"),
        "schedule": _str(job, "schedule") or None,
        "scheduleTimeZone": _str(job, "scheduleTimeZone") or None,
        "parents": list[JsonValue](_parents(job)),
        "nextDue": next_due(job, now),
        "lastResult": last_result(job),
        "lastSuccess": _str(job, "lastSuccess") or None,
        "lastError": _str(job, "lastError") or None,
        "successCount": _int(job, "successCount"),
        "errorCount": _int(job, "errorCount"),
        "disabled": job.get("disabled") is True,
    }


def _jobs(value: JsonValue) -> list[JsonObject]:
    if not isinstance(value, list):
        raise click.ClickException(f"unexpected {PREFIX}/jobs answer: expected a list of jobs")
    return [j for j in value if isinstance(j, dict)]


def job_table(jobs: list[JsonObject], now: datetime) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("NAME", "SCHEDULE / PARENTS", "NEXT DUE", "LAST", "SUCCESS", "ERRORS"):
        table.add_column(
            column, overflow="fold", justify="right" if column in ("SUCCESS", "ERRORS") else "left"
        )
    for job in jobs:
        result = last_result(job)
        table.add_row(
            _str(job, "name"),
            _trigger(job),
            next_due(job, now),
            Text(result, style=_RESULT_STYLES.get(result, "")),
            str(_int(job, "successCount")),
            str(_int(job, "errorCount")),
        )
    return table


def _history(stat: JsonValue) -> list[JsonObject]:
    if not isinstance(stat, dict):
        return []
    history = stat.get("taskStatHistory")
    return [r for r in history if isinstance(r, dict)] if isinstance(history, list) else []


def _cell(run: JsonObject, *keys: str) -> str:
    """The first of `keys` the run has (Corral's precise fields before Chronos's own), as text."""
    value = next((run[k] for k in keys if run.get(k) is not None), None)
    return "" if value is None else str(value)


def show_view(job: JsonObject, stat: JsonValue, now: datetime, runs: int) -> RenderableType:
    facts = Table(box=None, pad_edge=False, show_header=False)
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    result = last_result(job)
    rows: list[tuple[str, str | Text]] = [
        ("name", _str(job, "name")),
        ("command", _str(job, "command")),
        ("schedule" if _str(job, "schedule") else "parents", _trigger(job).removeprefix("after ")),
        ("next due", next_due(job, now)),
        ("last result", Text(result, style=_RESULT_STYLES.get(result, ""))),
        ("last success", _str(job, "lastSuccess") or "-"),
        ("last error", _str(job, "lastError") or "-"),
        ("successes", str(_int(job, "successCount"))),
        ("errors", str(_int(job, "errorCount"))),
        ("resources", f"cpus {job.get('cpus')}  mem {job.get('mem')}  disk {job.get('disk')}"),
        ("retries", str(_int(job, "retries"))),
        ("owner", _str(job, "owner") or "-"),
        ("disabled", "yes" if job.get("disabled") is True else "no"),
    ]
    for key, value in rows:
        facts.add_row(key, value)
    history = _history(stat)
    if not history:
        return Group(facts, Text(""), Text("no runs yet"))
    table = Table(title=f"Recent runs ({min(runs, len(history))} of {len(history)})", title_justify="left")
    for column in ("TASK", "STATUS", "ATTEMPT", "DUE", "START", "END", "DURATION", "EXIT", "HOST", "MESSAGE"):
        table.add_column(column, overflow="fold")
    for run in history[:runs]:
        status = _cell(run, "status")
        table.add_row(
            _cell(run, "taskId"),
            Text(status, style=_RUN_STYLES.get(status.lower(), "")),
            _cell(run, "attempt"),
            _cell(run, "due"),
            _cell(run, "startedAt", "launchedAt", "startTime"),
            _cell(run, "endedAt", "endTime"),
            _cell(run, "duration"),
            _cell(run, "exitStatus"),
            _cell(run, "hostname", "slaveId"),
            _cell(run, "message"),
        )
    sandbox = _cell(history[0], "sandbox")
    return Group(facts, Text(""), table, Text(f"sandbox of the latest run: {sandbox}" if sandbox else ""))


# ---- commands --------------------------------------------------------------------------------------------


@click.group()
def job() -> None:
    """Chronos jobs: add, list, show, run now, remove, and the dependency graph."""


@job.command("add")
@chronos_option
@click.argument("file", type=click.File("rb"), metavar="FILE|-")
def job_add(chronos: str, file: IO[bytes]) -> None:
    """Create or replace the job in FILE (Chronos job JSON; - reads stdin).

    A job with `parents` is posted as a dependent job, one with a `schedule` as a scheduled one.
    """
    data = file.read()
    source = str(getattr(file, "name", "<stdin>"))
    try:
        body = loads(data)
    except DecodeError as e:
        raise click.ClickException(f"{source}: not JSON ({e})") from None
    if not isinstance(body, dict):
        raise click.ClickException(f"{source}: expected a JSON object (one job)")
    if _parents(body):
        endpoint = f"{PREFIX}/dependency"
    elif _str(body, "schedule").strip():
        endpoint = f"{PREFIX}/iso8601"
    else:
        raise click.ClickException(f"{source}: the job needs a 'schedule' or 'parents'")
    _request(chronos, "POST", endpoint, json=body)
    click.echo(f"job {_str(body, 'name')!r} saved")


@job.command("list")
@chronos_option
@output_option
def job_list(chronos: str, output: str) -> None:
    """Jobs: name, schedule or parents, next due time, last result, success and error counts."""
    jobs = _jobs(_get_json(chronos, f"{PREFIX}/jobs"))
    now = datetime.now(UTC)
    if output == "json":
        print_json([job_row(j, now) for j in jobs])
    elif jobs:
        make_console().print(job_table(jobs, now))
    else:
        click.echo("no jobs")


@job.command("show")
@chronos_option
@output_option
@click.option(
    "--runs", type=click.IntRange(0), default=RECENT_RUNS, show_default=True, help="How many runs to show."
)
@click.argument("name")
def job_show(chronos: str, output: str, runs: int, name: str) -> None:
    """The job NAME and its recent runs."""
    found = _get_json(chronos, _job_path(name))
    if not isinstance(found, dict):
        raise click.ClickException(f"unexpected answer for job {name!r}: expected a JSON object")
    stat = _get_json(chronos, f"{PREFIX}/job/stat/{quote(name, safe='')}")
    now = datetime.now(UTC)
    if output == "json":
        print_json({"job": found, "nextDue": next_due(found, now), "stat": stat})
    else:
        make_console().print(show_view(found, stat, now, runs))


@job.command("run")
@chronos_option
@click.option("--arguments", default="", help="Arguments for this run (Chronos's `arguments`).")
@click.argument("name")
def job_run(chronos: str, arguments: str, name: str) -> None:
    """Start the job NAME now."""
    params = {"arguments": arguments} if arguments else None
    _request(chronos, "PUT", _job_path(name), params=params)
    click.echo(f"job {name!r} started")


@job.command("remove")
@chronos_option
@click.argument("name")
def job_remove(chronos: str, name: str) -> None:
    """Delete the job NAME."""
    _request(chronos, "DELETE", _job_path(name))
    click.echo(f"job {name!r} removed")


@job.command("graph")
@chronos_option
def job_graph(chronos: str) -> None:
    """The job dependency graph in Graphviz dot, as Chronos gives it."""
    response = _request(chronos, "GET", f"{PREFIX}/graph/dot")
    click.echo(response.text, nl=not response.text.endswith("\n"))

"""`corral app`: Marathon apps from the command line (issue 4).

`add FILE|-`, `list`, `show ID`, `scale ID N`, `restart ID`, `remove ID` and `why ID` talk to the Marathon
named by `--marathon` (default: `$CORRAL_MARATHON`, else 127.0.0.1:8080) over its v2 REST API. Tables for
people, `-o json` for scripts. Marathon's 4xx answers (`message`, `details[].path/errors`) and an unreachable
Marathon are one line on stderr with exit code 1. `add`, `scale`, `restart` and `remove` take `--wait`: poll
`/v2/deployments` until their deployment is gone, showing its progress, up to `--timeout` seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import IO, Any, TypeVar

import click
import httpx
from rich.table import Table
from rich.text import Text

from corral.cli.client_auth import client_login
from corral.cli.client_commands import address_option, output_option
from corral.cli.render import make_console, print_json
from corral.core.errors import DecodeError
from corral.net.client import Client, ClientError, base_url, explain
from corral.protocol.json import JsonObject, JsonValue, loads

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_MARATHON = "127.0.0.1:8080"
POLL_INTERVAL = 0.5
# Tests swap in an httpx.MockTransport here; None is the real network.
TRANSPORT: httpx.BaseTransport | None = None

_TASK_STYLES = {"TASK_RUNNING": "green", "TASK_STAGING": "yellow", "TASK_STARTING": "yellow"}


def marathon_error(response: httpx.Response) -> str:
    """`Object is not valid: /cpus: must be >= 0; /id: must not be empty` from Marathon's error JSON."""
    try:
        body = loads(response.content)
    except DecodeError:
        body = None
    if not isinstance(body, dict):
        return explain(response)
    message = body.get("message")
    parts = [str(message)] if isinstance(message, str) and message else []
    details = body.get("details")
    if isinstance(details, list):
        problems: list[str] = []
        for item in details:
            if not isinstance(item, dict):
                continue
            path = item.get("path")
            errors = item.get("errors")
            texts = [str(e) for e in errors] if isinstance(errors, list) else []
            text = ", ".join(texts) or str(item.get("error") or "")
            problems.append(f"{path}: {text}" if isinstance(path, str) and path else text)
        if problems:
            parts.append("; ".join(p for p in problems if p))
    elif isinstance(details, str) and details:
        parts.append(details)
    return ": ".join(parts)


marathon_option = address_option("marathon", "Marathon", DEFAULT_MARATHON)


def wait_options(fn: F) -> F:
    fn = click.option(
        "--timeout",
        type=click.FloatRange(0),
        default=300.0,
        show_default=True,
        help="Seconds --wait waits before giving up.",
    )(fn)
    return click.option("--wait", is_flag=True, help="Wait until the deployment is done.")(fn)


def _connect(marathon: str) -> Client:
    try:
        address = base_url(marathon, default_port=8080)
        login = client_login("marathon", marathon, address)
        return Client(
            address,
            name="marathon",
            transport=TRANSPORT,
            explain_error=marathon_error,
            auth=login.auth,
            unauthorized_hint=login.unauthorized_hint,
        )
    except ClientError as e:
        raise click.BadParameter(str(e), param_hint="'--marathon'") from None


def _call(marathon: str, method: str, path: str, body: JsonValue | None = None, **params: str) -> JsonValue:
    with _connect(marathon) as client:
        try:
            return client.request_json(method, path, json=body, params=params or None)
        except ClientError as e:
            raise click.ClickException(str(e)) from None


def app_path(app_id: str) -> str:
    """`hello2`, `/hello2` or `/group/app/` -> `/v2/apps/hello2`."""
    cleaned = "/".join(s for s in app_id.strip().split("/") if s)
    if not cleaned:
        raise click.BadParameter("an app id must not be empty", param_hint="'ID'")
    return f"/v2/apps/{cleaned}"


def canonical_id(app_id: str) -> str:
    return "/" + "/".join(s for s in app_id.strip().split("/") if s)


def _obj(value: JsonValue, what: str) -> JsonObject:
    if not isinstance(value, dict):
        raise click.ClickException(f"unexpected answer from Marathon for {what}: not a JSON object")
    return value


def _list(value: JsonValue) -> list[JsonValue]:
    return value if isinstance(value, list) else []


def _str(value: JsonValue) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _num(value: JsonValue) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


# ------------------------------------------------------------------ deployments


def wait_for_deployment(marathon: str, deployment_id: str, timeout: float) -> None:
    """Poll `/v2/deployments` until `deployment_id` is gone; a live status line on a terminal."""
    deadline = time.monotonic() + timeout
    console = make_console()
    with _connect(marathon) as client, console.status(f"deployment {deployment_id}") as status:
        while True:
            try:
                deployments = client.request_json("GET", "/v2/deployments")
            except ClientError as e:
                raise click.ClickException(str(e)) from None
            current = next(
                (d for d in _list(deployments) if isinstance(d, dict) and d.get("id") == deployment_id),
                None,
            )
            if current is None:
                break
            status.update(describe_deployment(current))
            if time.monotonic() >= deadline:
                raise click.ClickException(
                    f"deployment {deployment_id} still running after {timeout:g}s: "
                    + describe_deployment(current)
                )
            time.sleep(POLL_INTERVAL)
    click.echo(f"deployment {deployment_id} done", err=True)


def describe_deployment(deployment: JsonObject) -> str:
    """`deployment ab12: step 1/2: ScaleApplication /hello2`."""
    actions = [
        f"{_str(a.get('action'))} {_str(a.get('app'))}"
        for a in _list(deployment.get("currentActions"))
        if isinstance(a, dict)
    ]
    step = f"step {_num(deployment.get('currentStep'))}/{_num(deployment.get('totalSteps'))}"
    return f"deployment {_str(deployment.get('id'))}: {step}" + (f": {', '.join(actions)}" if actions else "")


def _deployment_id(answer: JsonValue) -> str | None:
    if not isinstance(answer, dict):
        return None
    value = answer.get("deploymentId")
    if isinstance(value, str):
        return value
    deployments = answer.get("deployments")
    for d in _list(deployments):
        if isinstance(d, dict) and isinstance(d.get("id"), str):
            return str(d["id"])
    return None


def _report(
    marathon: str, answer: JsonValue, *, output: str, message: str, wait: bool, timeout: float
) -> None:
    deployment = _deployment_id(answer)
    if output == "json":
        print_json(answer)
    else:
        click.echo(message + (f" (deployment {deployment})" if deployment else ""))
    if wait and deployment:
        wait_for_deployment(marathon, deployment, timeout)


# ------------------------------------------------------------------ tables


def apps_table(apps: list[JsonObject]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "INSTANCES", "RUNNING", "STAGED", "CPUS", "MEM", "DEPLOYING", "CMD"):
        table.add_column(column, overflow="fold")
    for app in apps:
        running, wanted = _num(app.get("tasksRunning")), _num(app.get("instances"))
        style = "green" if running == wanted else "yellow"
        cmd = app.get("cmd")
        if not cmd:
            container = app.get("container")
            docker = container.get("docker") if isinstance(container, dict) else None
            cmd = f"docker:{_str(docker.get('image'))}" if isinstance(docker, dict) else ""
        table.add_row(
            _str(app.get("id")),
            str(wanted),
            Text(str(running), style=style),
            str(_num(app.get("tasksStaged"))),
            _str(app.get("cpus")),
            _str(app.get("mem")),
            "yes" if _list(app.get("deployments")) else "",
            _str(cmd),
        )
    return table


def tasks_table(tasks: list[JsonObject]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("TASK", "STATE", "HOST", "PORTS", "STARTED"):
        table.add_column(column, overflow="fold")
    for t in tasks:
        state = _str(t.get("state"))
        ports = ",".join(_str(p) for p in _list(t.get("ports")))
        table.add_row(
            _str(t.get("id")),
            Text(state, style=_TASK_STYLES.get(state, "")),
            _str(t.get("host")),
            ports,
            _str(t.get("startedAt")),
        )
    return table


def show_lines(app: JsonObject) -> list[str]:
    running, wanted = _num(app.get("tasksRunning")), _num(app.get("instances"))
    lines = [
        f"app        {_str(app.get('id'))}",
        f"instances  {running}/{wanted} running, {_num(app.get('tasksStaged'))} staged",
        f"resources  cpus {_str(app.get('cpus'))}  mem {_str(app.get('mem'))}  disk {_str(app.get('disk'))}",
    ]
    if app.get("cmd"):
        lines.append(f"cmd        {_str(app.get('cmd'))}")
    if app.get("version"):
        lines.append(f"version    {_str(app.get('version'))}")
    deployments = [_str(d.get("id")) for d in _list(app.get("deployments")) if isinstance(d, dict)]
    if deployments:
        lines.append(f"deploying  {', '.join(deployments)}")
    failure = app.get("lastTaskFailure")
    if isinstance(failure, dict):
        lines.append(
            f"last failure  {_str(failure.get('taskId'))} {_str(failure.get('state'))}: "
            f"{_str(failure.get('message'))}"
        )
    return lines


def why_lines(app_id: str, item: JsonObject) -> list[str]:
    """What the queue says about one waiting app: count, delay, and what offers lacked."""
    lines = [f"{app_id} is waiting to launch {_num(item.get('count'))} instance(s)"]
    delay = item.get("delay")
    if isinstance(delay, dict) and not delay.get("overdue", True):
        lines.append(f"  backing off: {_num(delay.get('timeLeftSeconds'))}s until the next launch attempt")
    summary = item.get("processedOffersSummary")
    if isinstance(summary, dict):
        processed, unused = _num(summary.get("processedOffersCount")), _num(summary.get("unusedOffersCount"))
        lines.append(f"  offers: {processed} processed, {unused} unused since {_str(item.get('since'))}")
        for key, title in (
            ("rejectSummaryLastOffers", "last offers"),
            ("rejectSummaryLaunchAttempt", "this attempt"),
        ):
            rejected = [
                f"{_str(r.get('reason'))} ({_num(r.get('declined'))}/{_num(r.get('processed'))})"
                for r in _list(summary.get(key))
                if isinstance(r, dict) and _num(r.get("declined")) > 0
            ]
            if rejected:
                lines.append(f"  declined, {title}: " + ", ".join(rejected))
        if processed == 0:
            lines.append("  no offers yet: are agents registered with enough free resources?")
    for unused_offer in _list(item.get("lastUnusedOffers")):
        if not isinstance(unused_offer, dict):
            continue
        offer = unused_offer.get("offer")
        host = _str(offer.get("hostname")) if isinstance(offer, dict) else "?"
        reasons = ", ".join(_str(r) for r in _list(unused_offer.get("reason")))
        lines.append(f"  {host}: {reasons or 'unused'}")
    return lines


def queue_item(queue: JsonObject, app_id: str) -> JsonObject | None:
    for item in _list(queue.get("queue")):
        if isinstance(item, dict):
            info = item.get("app")
            if isinstance(info, dict) and info.get("id") == app_id:
                return item
    return None


# ------------------------------------------------------------------ commands


@click.group()
def app() -> None:
    """Marathon apps: add, list, show, scale, restart, remove, and why one is waiting."""


@app.command("add")
@marathon_option
@output_option
@wait_options
@click.argument("source", metavar="FILE|-", type=click.File("rb"))
def app_add(*, marathon: str, output: str, wait: bool, timeout: float, source: IO[bytes]) -> None:
    """Create the app defined by the JSON in FILE ('-': standard input)."""
    name = getattr(source, "name", "-")
    try:
        definition = loads(source.read())
    except DecodeError as e:
        raise click.ClickException(f"{name} is not JSON: {e}") from None
    if not isinstance(definition, dict):
        raise click.ClickException(f"{name}: an app definition is a JSON object")
    answer = _call(marathon, "POST", "/v2/apps", definition)
    created = _str(answer.get("id")) if isinstance(answer, dict) else _str(definition.get("id"))
    _report(marathon, answer, output=output, message=f"created {created}", wait=wait, timeout=timeout)


@app.command("list")
@marathon_option
@output_option
def app_list(*, marathon: str, output: str) -> None:
    """Apps: id, instances wanted and running, resources, command."""
    answer = _obj(_call(marathon, "GET", "/v2/apps"), "/v2/apps")
    apps = [a for a in _list(answer.get("apps")) if isinstance(a, dict)]
    if output == "json":
        print_json(list[JsonValue](apps))
    elif apps:
        make_console().print(apps_table(apps))
    else:
        click.echo("no apps")


@app.command("show")
@marathon_option
@output_option
@click.argument("app_id", metavar="ID")
def app_show(*, marathon: str, output: str, app_id: str) -> None:
    """One app, with its tasks."""
    answer = _obj(_call(marathon, "GET", app_path(app_id)), app_path(app_id))
    info = _obj(answer.get("app"), app_path(app_id))
    if output == "json":
        print_json(info)
        return
    console = make_console()
    for line in show_lines(info):
        console.print(line)
    tasks = [t for t in _list(info.get("tasks")) if isinstance(t, dict)]
    if tasks:
        console.print(tasks_table(tasks))
    else:
        console.print("no tasks")


@app.command("scale")
@marathon_option
@output_option
@wait_options
@click.option("--force", is_flag=True, help="Override a deployment that holds the app.")
@click.argument("app_id", metavar="ID")
@click.argument("instances", metavar="N", type=click.IntRange(0))
def app_scale(
    *, marathon: str, output: str, wait: bool, timeout: float, force: bool, app_id: str, instances: int
) -> None:
    """Run N instances of the app."""
    params = {"force": "true"} if force else {}
    answer = _call(marathon, "PUT", app_path(app_id), {"instances": instances}, **params)
    _report(
        marathon,
        answer,
        output=output,
        message=f"scaling {canonical_id(app_id)} to {instances}",
        wait=wait,
        timeout=timeout,
    )


@app.command("restart")
@marathon_option
@output_option
@wait_options
@click.option("--force", is_flag=True, help="Override a deployment that holds the app.")
@click.argument("app_id", metavar="ID")
def app_restart(*, marathon: str, output: str, wait: bool, timeout: float, force: bool, app_id: str) -> None:
    """Replace every task of the app with a new one."""
    params = {"force": "true"} if force else {}
    answer = _call(marathon, "POST", app_path(app_id) + "/restart", None, **params)
    _report(
        marathon,
        answer,
        output=output,
        message=f"restarting {canonical_id(app_id)}",
        wait=wait,
        timeout=timeout,
    )


@app.command("remove")
@marathon_option
@output_option
@wait_options
@click.argument("app_id", metavar="ID")
def app_remove(*, marathon: str, output: str, wait: bool, timeout: float, app_id: str) -> None:
    """Delete the app and kill its tasks."""
    answer = _call(marathon, "DELETE", app_path(app_id))
    _report(
        marathon,
        answer,
        output=output,
        message=f"removing {canonical_id(app_id)}",
        wait=wait,
        timeout=timeout,
    )


@app.command("why")
@marathon_option
@output_option
@click.argument("app_id", metavar="ID")
def app_why(*, marathon: str, output: str, app_id: str) -> None:
    """Why the app is waiting to launch: the launch queue's offer statistics, or 'not waiting'."""
    wanted = canonical_id(app_id)
    _call(marathon, "GET", app_path(app_id))  # an unknown app is Marathon's 404, not "not waiting"
    answer = _obj(_call(marathon, "GET", "/v2/queue", embed="lastUnusedOffers"), "/v2/queue")
    item = queue_item(answer, wanted)
    if output == "json":
        print_json(item if item is not None else {"app": wanted, "waiting": False})
    elif item is None:
        click.echo(f"{wanted} is not waiting")
    else:
        for line in why_lines(wanted, item):
            click.echo(line)

"""Output of the client commands: rich tables for people, JSON (`-o json`) for scripts."""

from __future__ import annotations

import os
import sys
from typing import TextIO

import orjson
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from corral.cli.views import ClusterView, TaskRow

OUTPUTS = ("table", "json")
_STATE_STYLES = {
    "TASK_RUNNING": "green",
    "TASK_FINISHED": "blue",
    "TASK_FAILED": "red",
    "TASK_ERROR": "red",
    "TASK_LOST": "red",
    "TASK_KILLED": "yellow",
    "TASK_KILLING": "yellow",
}


def make_console(file: TextIO | None = None, width: int | None = None) -> Console:
    """A console that never truncates ids: wide when the output is not a terminal."""
    out = file or sys.stdout
    if width is None and not out.isatty():
        width = int(os.environ.get("COLUMNS", "200"))
    return Console(file=out, width=width, soft_wrap=False, highlight=False)


def print_json(value: object, file: TextIO | None = None) -> None:
    out = file or sys.stdout
    out.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
    out.flush()


def _state(state: str) -> Text:
    return Text(state, style=_STATE_STYLES.get(state, ""))


def cluster_tables(view: ClusterView) -> RenderableType:
    header = Text(f"master {view.hostname} {view.master_id}  version {view.version}", style="bold")

    agents = Table(title="Agents", title_justify="left", expand=False)
    for column in ("ID", "HOSTNAME", "ADDRESS", "ACTIVE", "RESOURCES (USED/TOTAL)", "PORTS"):
        agents.add_column(column, overflow="fold")
    for a in view.agents:
        agents.add_row(a.id, a.hostname, a.address, "yes" if a.active else "no", a.usage(), a.ports())

    frameworks = Table(title="Frameworks", title_justify="left")
    for column in ("ID", "NAME", "ACTIVE", "TASKS"):
        frameworks.add_column(column, overflow="fold")
    for f in view.frameworks:
        status = "completed" if f.completed else ("yes" if f.active else "no")
        frameworks.add_row(f.id, f.name, status, str(f.tasks))

    tasks = Table(title="Tasks", title_justify="left")
    tasks.add_column("STATE")
    tasks.add_column("COUNT", justify="right")
    for state, count in view.task_counts().items():
        tasks.add_row(_state(state), str(count))
    parts: list[RenderableType] = [header]
    for title, table in (("Agents", agents), ("Frameworks", frameworks), ("Tasks", tasks)):
        parts.append(table if table.row_count else Text(f"{title}: none"))
    return Group(*parts)


def task_table(rows: tuple[TaskRow, ...]) -> Table:
    table = Table(box=None, pad_edge=False)
    for column in ("ID", "NAME", "FRAMEWORK", "STATE", "AGENT"):
        table.add_column(column, overflow="fold")
    for t in rows:
        table.add_row(t.id, t.name, t.framework, _state(t.state), t.agent)
    return table

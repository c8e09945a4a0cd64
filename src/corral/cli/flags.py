"""Daemon flags spelled the way Mesos spells them, with Mesos' value syntax.

Each daemon flag is registered twice, `--work_dir` (upstream's spelling) and `--work-dir`, and also read
from the environment as upstream does: `MESOS_<FLAG>` in upper case (`MESOS_WORK_DIR`), and from a config
directory as the Mesosphere packages do: a file named after the flag holding its value (`/etc/mesos-master/
quorum`, `/etc/marathon/conf/hostname`; `/etc/mesos/zk` is the master's `--zk` and the agent's `--master`).
`--config_dir` replaces the standard directories. The command line wins over the environment, which wins
over the config directory, which wins over the default. Durations accept stout's syntax (`500ms`, `1secs`,
`2mins`) or plain seconds.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from corral.coord import zk_url
from corral.coord.zk_url import HostPort, InvalidUrl, ZkUrl
from corral.core.attributes import Attribute, parse_attributes
from corral.core.errors import ResourceParseError
from corral.core.reservations import ReservedResources, parse_reserved_resources
from corral.core.resources import Resources, parse_resources

F = TypeVar("F", bound=Callable[..., Any])

# stout's Duration units (`3rdparty/stout/include/stout/duration.hpp`), plus `s` for convenience.
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "secs": 1.0,
    "mins": 60.0,
    "hrs": 3600.0,
    "days": 86400.0,
    "weeks": 604800.0,
}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)\s*$")
LOG_LEVELS = ("debug", "info", "warning", "error")


def parse_duration(text: str) -> float:
    """`"500ms"` -> 0.5, `"2mins"` -> 120.0, `"1.5"` -> 1.5 (seconds). Raises ValueError."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (e.g. 1secs, 500ms, 2mins or plain seconds)")
    number, unit = float(m[1]), m[2] or "s"
    if unit not in _DURATION_UNITS:
        units = ", ".join(_DURATION_UNITS)
        raise ValueError(f"{text!r}: unknown unit {unit!r} (use one of {units})")
    return number * _DURATION_UNITS[unit]


def format_duration(seconds: float) -> str:
    """The inverse of parse_duration for display: 1.0 -> "1secs", 0.5 -> "500ms"."""
    if seconds and seconds < 1:
        return f"{seconds * 1000:g}ms"
    return f"{seconds:g}secs"


def parse_master(text: str) -> str:
    """`--master`: `host:port`, `host` (port 5050), `zk://host1:2181,host2:2181/mesos`, or `file:///path`
    holding one of those. Returns `host:port`, or the `zk://` URL (a file's content resolved)."""
    value = text.strip()
    if value.startswith("http://"):
        value = value.removeprefix("http://").rstrip("/")
    parsed = _parse_master_url(value)
    return parsed.unmasked if isinstance(parsed, ZkUrl) else str(parsed)


def parse_zk(text: str) -> ZkUrl:
    """`--zk`: a `zk://` URL, or `file:///path` holding one (the tutorial's `/etc/mesos/zk`)."""
    parsed = _parse_master_url(text)
    if not isinstance(parsed, ZkUrl):
        raise ValueError(f"{text!r} is not a zk:// URL")
    return parsed


def _parse_master_url(text: str) -> ZkUrl | HostPort:
    try:
        return zk_url.parse_master(text, read_file=lambda path: Path(path).read_text())
    except InvalidUrl as e:
        raise ValueError(str(e)) from None


# ------------------------------------------------------------------ click callbacks


def converter(
    parse: Callable[[str], Any], *errors: type[Exception]
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback parsing a flag's text (an unset flag stays None); what `parse` raises (ValueError,
    ResourceParseError or one of `errors`) is a usage error naming the flag."""
    caught: tuple[type[Exception], ...] = (ValueError, ResourceParseError, *errors)

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None or not isinstance(value, str):
            return value
        try:
            return parse(value)
        except caught as e:
            raise click.BadParameter(str(e), ctx=ctx, param=param) from None

    return callback


def _resources(text: str) -> Resources:
    return parse_resources(text)


def _reserved_resources(text: str) -> ReservedResources:
    """An agent's `--resources`, where `cpus(eng):2` statically reserves for role `eng`."""
    return parse_reserved_resources(text)


def _allocator(text: str) -> str:
    from corral.master.allocator import ALLOCATORS, make_allocator

    make_allocator(text)  # raises ValueError for an unknown name
    return next((a for a in ALLOCATORS if a.lower() == text.lower()), text)


def _weights(text: str) -> dict[str, float]:
    from corral.master.roles import parse_weights

    return parse_weights(text)


def _roles(text: str) -> frozenset[str]:
    from corral.master.roles import parse_roles

    return parse_roles(text)


def _min_allocatable(text: str) -> str:
    from corral.master.allocator import parse_min_allocatable

    parse_min_allocatable(text)  # raises ValueError
    return text


def _attributes(text: str) -> tuple[Attribute, ...]:
    return parse_attributes(text)


DURATION = converter(parse_duration)
RESOURCES = converter(_resources)
ATTRIBUTES = converter(_attributes)
MASTER = converter(parse_master)
ZK = converter(parse_zk)
RESERVED_RESOURCES = converter(_reserved_resources)
ALLOCATOR = converter(_allocator)
WEIGHTS = converter(_weights)
ROLES = converter(_roles)
MIN_ALLOCATABLE = converter(_min_allocatable)


class FlagOption(click.Option):
    """Errors name the upstream spelling, and the environment variable only when the value came from it."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        hint = f"'{self.opts[0]}'"
        if (
            ctx is not None
            and self.name
            and ctx.get_parameter_source(self.name) == ParameterSource.ENVIRONMENT
        ):
            names = [self.envvar] if isinstance(self.envvar, str) else list(self.envvar or ())
            hint += " (from " + " or ".join(f"${name}" for name in names) + ")"
        return hint


def flag(
    name: str, *, env_prefix: str = "MESOS", also_env: tuple[str, ...] = (), **kwargs: Any
) -> Callable[[F], F]:
    """A daemon flag: `--name_x` and `--name-x`, from env `<PREFIX>_NAME_X` (MESOS_, MARATHON_, CHRONOS_ as
    upstream's daemons read them), else from the `also_env` variables, help showing both."""
    spellings = [f"--{name}"]
    if "_" in name:
        spellings.append(f"--{name.replace('_', '-')}")
    kwargs.setdefault("show_default", "default" in kwargs)
    envvar = f"{env_prefix}_{name.upper()}"
    envvars = [envvar, *also_env] if also_env else envvar
    return click.option(*spellings, name, cls=FlagOption, envvar=envvars, show_envvar=True, **kwargs)


def stacked(decorators: list[Callable[[F], F]]) -> Callable[[F], F]:
    """One decorator for `decorators` written one above the other, the first on top (where `--help` lists
    its option first)."""

    def decorate(f: F) -> F:
        for decorator in reversed(decorators):
            f = decorator(f)
        return f

    return decorate


@dataclass(frozen=True)
class ConfigDirs:
    """Where a daemon's config files are: (directory, {file name: flag}) pairs, later ones winning; a pair
    with an empty mapping takes every file whose name is a flag of the command."""

    standard: tuple[tuple[str, Mapping[str, str]], ...]


MASTER_CONFIG = ConfigDirs((("/etc/mesos", {"zk": "zk"}), ("/etc/mesos-master", {})))
AGENT_CONFIG = ConfigDirs(
    (("/etc/mesos", {"zk": "master"}), ("/etc/mesos-slave", {}), ("/etc/mesos-agent", {}))
)
MARATHON_CONFIG = ConfigDirs((("/etc/marathon/conf", {}),))
CHRONOS_CONFIG = ConfigDirs((("/etc/chronos/conf", {}),))


class DaemonCommand(click.Command):
    """A daemon command whose flags may also come from config directories (`ConfigDirs`)."""

    def __init__(self, *args: Any, config: ConfigDirs, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        self.params.append(
            click.Option(
                ["--config_dir", "--config-dir", "config_dir"],
                expose_value=False,
                is_eager=True,
                help="Read flags from the files of this directory (one file per flag, named after it) "
                "instead of the standard ones (" + ", ".join(d for d, _ in config.standard) + ").",
            )
        )

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        given = _config_dir_argument(args)
        dirs = ((given, {}),) if given is not None else self.config.standard
        flags = {p.name for p in self.params if isinstance(p, click.Option) and p.name}
        try:
            values = read_config_dirs(dirs, flags - {"config_dir"})
        except ValueError as e:
            raise click.UsageError(str(e)) from None
        if values:
            extra["default_map"] = {**values, **extra.get("default_map", {})}
        return super().make_context(info_name, args, parent, **extra)


def daemon_command(
    config: ConfigDirs, name: str | None = None
) -> Callable[[Callable[..., Any]], click.Command]:
    return click.command(name, cls=DaemonCommand, config=config)


def read_config_dirs(dirs: tuple[tuple[str, Mapping[str, str]], ...], flags: set[str]) -> dict[str, str]:
    """Flag values from config files: each file's stripped content. A directory that does not exist is
    skipped, so are files named after no flag of this daemon (the tutorial's `/etc/mesos-slave/
    containerizers`); an unreadable file is a ValueError."""
    values: dict[str, str] = {}
    for directory, mapping in dirs:
        root = Path(directory)
        if not root.is_dir():
            continue
        for path in sorted(root.iterdir()):
            name = path.name.replace("-", "_")
            flag_name = mapping.get(path.name) if mapping else (name if name in flags else None)
            if flag_name is None or not path.is_file():
                continue
            try:
                values[flag_name] = path.read_text().strip()
            except OSError as e:
                raise ValueError(f"cannot read config file {path}: {e.strerror}") from None
    return values


def _config_dir_argument(args: list[str]) -> str | None:
    for i, arg in enumerate(args):
        for spelling in ("--config_dir", "--config-dir"):
            if arg == spelling and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(spelling + "="):
                return arg.split("=", 1)[1]
    return None


def port_flag(name: str, default: int, help: str) -> Callable[[F], F]:
    return flag(name, type=click.IntRange(0, 65535), default=default, help=help)


def log_level_flag() -> Callable[[F], F]:
    return flag(
        "log_level",
        type=click.Choice(LOG_LEVELS, case_sensitive=False),
        default="info",
        help="Log verbosity on stderr.",
    )


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    # httpx logs every request at INFO: Marathon's and Chronos's calls to the master would drown the log.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))

"""What every daemon command shares about authentication: `--insecure`, and refusing an open API beyond
loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from corral.cli.flags import flag
from corral.security.policy import AuthRequirements, exposure_error

F = TypeVar("F", bound=Callable[..., Any])


def insecure_flag(env_prefix: str = "MESOS") -> Callable[[F], F]:
    return flag(
        "insecure",
        env_prefix=env_prefix,
        is_flag=True,
        default=False,
        help="Serve unauthenticated APIs on a non-loopback address (refused without it).",
    )


def refuse_exposure(
    daemon: str, host: str, requirements: AuthRequirements, *, insecure: bool, hint: str
) -> None:
    """A one-line CLI error when `daemon` would serve an unauthenticated API beyond loopback."""
    if (reason := exposure_error(daemon, host, requirements, insecure=insecure, hint=hint)) is not None:
        raise click.ClickException(reason)

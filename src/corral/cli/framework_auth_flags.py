"""The authentication flags Marathon and Chronos share, spelled as upstream spells them, and what they build.

- `--http_credentials user:password` (several separated by commas; upstream's fallback environment variable
  `MESOSPHERE_HTTP_CREDENTIALS` works too) and `--http_realm`: every route but the public ones (`/ping`, the
  web UI's page and files, `/login`, `/logout`) then needs a principal, as HTTP Basic or as the bearer token
  or cookie `POST /login` issues. Without credentials the API is open, which `--insecure` must confirm
  for any address beyond loopback.
- `--mesos_authentication_principal` and `--mesos_authentication_secret_file`: the framework's principal
  (its `FrameworkInfo.principal`) and the secret its scheduler driver presents to the master. Marathon
  authenticates only with `--mesos_authentication`, as upstream; Chronos whenever a secret file is given.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import click

from corral.cli.auth_flags import insecure_flag, refuse_exposure
from corral.cli.flags import flag
from corral.cli.runner import Service
from corral.security.credentials import (
    Credential,
    Credentials,
    CredentialsError,
    parse_http_credentials,
    read_secret,
)
from corral.security.http_auth import LOGIN_PATH, LOGOUT_PATH, AuthConfig, AuthMiddleware
from corral.security.policy import READ_METHODS, AuthRequirements, Surface
from corral.security.tokens import TokenSigner

F = TypeVar("F", bound=Callable[..., Any])

UPSTREAM_ENV = "MESOSPHERE_HTTP_CREDENTIALS"
DEFAULT_REALM = "Mesosphere"
SURFACES = (Surface.READONLY, Surface.READWRITE)
PUBLIC_READS = frozenset({"/", "/ping"})
UI_PREFIX = "/ui/"  # the web UI's page and static files: nothing in them is the cluster's
HINT = "give --http_credentials user:password"


def classify(method: str, path: str) -> Surface:
    """Marathon's and Chronos's routes: reads are READONLY, the rest READWRITE (both need a principal once
    credentials are given), but reads of `/ping` and the UI's files, and logging in and out."""
    if path in (LOGIN_PATH, LOGOUT_PATH):
        return Surface.PUBLIC
    read = method in READ_METHODS
    if read and (path in PUBLIC_READS or path.startswith(UI_PREFIX)):
        return Surface.PUBLIC
    return Surface.READONLY if read else Surface.READWRITE


def _http_credentials(ctx: click.Context, param: click.Parameter, value: str | None) -> Credentials | None:
    if value is None:
        return None
    try:
        return parse_http_credentials(value)
    except CredentialsError as e:
        raise click.BadParameter(str(e), ctx=ctx, param=param) from None


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    def decorate(f: F) -> F:
        for option in reversed(options):
            f = option(f)
        return f

    return decorate


def http_auth_flags(env_prefix: str) -> Callable[[F], F]:
    """`--http_credentials`, `--http_realm` and `--insecure`."""
    return _apply(
        [
            flag(
                "http_credentials",
                env_prefix=env_prefix,
                also_env=(UPSTREAM_ENV,),
                callback=_http_credentials,
                help="user:password (several separated by commas) every API request must present; "
                "without it the API is open.",
            ),
            flag(
                "http_realm",
                env_prefix=env_prefix,
                default=DEFAULT_REALM,
                help="The realm of the HTTP Basic challenge.",
            ),
            insecure_flag(env_prefix),
        ]
    )


def mesos_auth_flags(env_prefix: str, *, switch: bool) -> Callable[[F], F]:
    """`--mesos_authentication_principal`, `--mesos_authentication_secret_file`, and with `switch` the
    `--mesos_authentication` flag that turns authentication with the master on (Marathon's)."""
    options: list[Callable[[F], F]] = []
    if switch:
        options.append(
            flag(
                "mesos_authentication",
                env_prefix=env_prefix,
                is_flag=True,
                default=False,
                help="Authenticate with the master as --mesos_authentication_principal.",
            )
        )
    options += [
        flag(
            "mesos_authentication_principal",
            env_prefix=env_prefix,
            help="The framework's principal (FrameworkInfo.principal), and whom it authenticates as.",
        ),
        flag(
            "mesos_authentication_secret_file",
            env_prefix=env_prefix,
            help="A file holding the principal's secret (a final newline is ignored).",
        ),
    ]
    return _apply(options)


def http_auth_config(credentials: Credentials | None, realm: str) -> AuthConfig:
    """What the daemon's API demands: a principal on every non-public route once credentials are given."""
    requirements = AuthRequirements.all_or_nothing(SURFACES, have_credentials=credentials is not None)
    return AuthConfig(
        credentials=credentials,
        signer=None if credentials is None else TokenSigner.from_credentials(credentials),
        requirements=requirements,
        classify=classify,
        realm=realm,
    )


def secured(daemon: str, host: str, auth: AuthConfig, *, insecure: bool) -> AuthConfig:
    """`auth`, or a one-line CLI error when `daemon` would serve it open on `host` beyond loopback."""
    refuse_exposure(daemon, host, auth.requirements, insecure=insecure, hint=HINT)
    return auth


def authenticated(service: Service, auth: AuthConfig) -> Service:
    """The service with its app behind the authentication middleware: outermost, so that a follower
    authenticates a request itself before proxying it to the leader."""
    return replace(service, app=AuthMiddleware(service.app, auth))


def mesos_credential(principal: str | None, secret_file: str | None, *, enabled: bool) -> Credential | None:
    """The credential the scheduler driver presents to the master, when `enabled`."""
    if not enabled:
        return None
    if not principal or not secret_file:
        raise click.UsageError(
            "authenticating with the master needs --mesos_authentication_principal and "
            "--mesos_authentication_secret_file"
        )
    try:
        return Credential(principal, read_secret(secret_file, what="--mesos_authentication_secret_file"))
    except CredentialsError as e:
        raise click.UsageError(str(e)) from None

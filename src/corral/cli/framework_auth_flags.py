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
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click

from corral.cli.auth_flags import insecure_flag, refuse_exposure
from corral.cli.flags import converter, flag, stacked
from corral.cli.runner import Service, elected_service, serve_all
from corral.coord.zk_url import ZkUrl
from corral.coord.zookeeper import ZooKeeper
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


def framework_auth_flags(env_prefix: str, *, switch: bool) -> Callable[[F], F]:
    """`--http_credentials`, `--http_realm`, `--insecure`, `--mesos_authentication_principal`,
    `--mesos_authentication_secret_file`, and with `switch` the `--mesos_authentication` flag that turns
    authentication with the master on (Marathon's)."""
    options: list[Callable[[F], F]] = [
        flag(
            "http_credentials",
            env_prefix=env_prefix,
            also_env=(UPSTREAM_ENV,),
            callback=converter(parse_http_credentials, CredentialsError),
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
    return stacked(options)


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


def api_auth(
    daemon: str, host: str, credentials: Credentials | None, realm: str, *, insecure: bool
) -> AuthConfig:
    """`http_auth_config`, or a one-line CLI error when `daemon` would serve its API open on `host` beyond
    loopback."""
    auth = http_auth_config(credentials, realm)
    refuse_exposure(daemon, host, auth.requirements, insecure=insecure, hint=HINT)
    return auth


def authenticated(service: Service, auth: AuthConfig) -> Service:
    """The service with its app behind the authentication middleware: outermost, so that a follower
    authenticates a request itself before proxying it to the leader."""
    return replace(service, app=AuthMiddleware(service.app, auth))


@dataclass(frozen=True, slots=True)
class Ensemble:
    """Where Marathon or Chronos campaigns to lead: its ZooKeeper session and znode, as its own host:port."""

    session: ZooKeeper
    url: ZkUrl
    advertised: str


async def serve_framework(service: Service, auth: AuthConfig, ensemble: Ensemble | None = None) -> None:
    """Serve Marathon or Chronos behind `auth`: alone, or in `ensemble`, running `service.run` only while
    elected and proxying its API to the leader meanwhile."""
    if ensemble is not None:
        service = elected_service(
            service.name,
            service.app,
            service.sock,
            service.run,
            session=ensemble.session,
            url=ensemble.url,
            advertised=ensemble.advertised,
            limits=service.limits,
            tls=service.tls,
        )
    await serve_all([authenticated(service, auth)])


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

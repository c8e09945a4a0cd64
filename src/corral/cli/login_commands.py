"""`corral login` and `corral logout`: a token per daemon, so that the client commands need no password.

`login` asks each daemon named (`--master`, `--marathon`, `--chronos`, any of them; none: the master of
`$CORRAL_MASTER`, else 127.0.0.1:5050) for a token: `POST /login` with HTTP Basic, as a principal and its
secret. The principal comes from `--principal` (or `$CORRAL_PRINCIPAL`, else a prompt), the secret from the
file `--secret_file` names (or `$CORRAL_SECRET_FILE`, else a prompt that does not echo): never from the
command line. The token is stored for the daemon's URL (`tokens_store`), the secret forgotten. The token
lasts as long as the daemon says (a working day); the next command after that answers 401 and says to log in
again. `logout` forgets the tokens of the daemons named, or all of them with `--all`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import click
import httpx

from corral.cli.app_commands import DEFAULT_MARATHON
from corral.cli.client_auth import ENV_PRINCIPAL, ENV_SECRET_FILE
from corral.cli.client_commands import DEFAULT_MASTER
from corral.cli.job_commands import DEFAULT_CHRONOS
from corral.cli.tokens_store import StoredToken, TokenStore, TokenStoreError, tokens_path
from corral.core.errors import DecodeError
from corral.net.client import Client, ClientError, base_url
from corral.protocol.json import JsonValue, Reader
from corral.security.credentials import CredentialsError, read_secret
from corral.security.http_auth import LOGIN_PATH

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Daemon:
    flag: str  # its address option, as the client commands spell it
    name: str  # in messages: "the master at 127.0.0.1:5050"
    default: str  # its address when none is given
    default_port: int


DAEMONS = (
    Daemon("master", "master", DEFAULT_MASTER, 5050),
    Daemon("marathon", "Marathon", DEFAULT_MARATHON, 8080),
    Daemon("chronos", "Chronos", DEFAULT_CHRONOS, 4400),
)


@dataclass(frozen=True, slots=True)
class Target:
    daemon: Daemon
    address: str  # as the user gave it
    url: str  # the key of its token, as the client commands compute it

    def __str__(self) -> str:
        return f"the {self.daemon.name} at {self.address}"


def daemon_options(verb: str) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        for daemon in reversed(DAEMONS):
            fn = click.option(
                f"--{daemon.flag}",
                metavar="HOST:PORT",
                help=f"{verb} the {daemon.name} at HOST:PORT.",
            )(fn)
        return fn

    return decorate


def targets(addresses: dict[str, str | None]) -> list[Target]:
    """The daemons named by their options; none named: the master the client commands would use."""
    named = [(d, address) for d in DAEMONS if (address := addresses[d.flag])]
    if not named:
        named = [(DAEMONS[0], os.environ.get("CORRAL_MASTER") or DEFAULT_MASTER)]
    out = []
    for daemon, address in named:
        try:
            url = base_url(address, default_port=daemon.default_port)
        except ClientError as e:
            raise click.BadParameter(str(e), param_hint=f"'--{daemon.flag}'") from None
        out.append(Target(daemon, address, url))
    return out


def _store() -> TokenStore:
    return TokenStore(tokens_path())


def _issued(target: Target, answer: JsonValue) -> StoredToken:
    try:
        r = Reader(answer)
        return StoredToken(r.text("principal"), r.text("token"), r.number("expires"))
    except DecodeError as e:
        raise click.ClickException(f"unexpected answer to POST {LOGIN_PATH} from {target}: {e}") from None


def request_token(target: Target, principal: str, secret: str) -> StoredToken:
    """`POST /login` on `target` as `principal`; a one-line CLI error if it does not issue a token."""
    auth = httpx.BasicAuth(principal, secret)
    with Client(target.url, name=target.daemon.name, auth=auth) as client:
        try:
            answer = client.request_json("POST", LOGIN_PATH)
        except ClientError as e:
            if e.status in (404, 405):  # no middleware in front of the routes: nobody is authenticated
                raise click.ClickException(
                    f"{target} has no {LOGIN_PATH} (it answered {e.status}): it runs without "
                    "authentication, so commands need no login"
                ) from None
            raise click.ClickException(str(e)) from None
    return _issued(target, answer)


@click.command()
@daemon_options("Log in to")
@click.option(
    "--principal",
    envvar=ENV_PRINCIPAL,
    show_envvar=True,
    help="Whom to log in as (asked if not given).",
)
@click.option(
    "--secret_file",
    "--secret-file",
    "secret_file",
    envvar=ENV_SECRET_FILE,
    show_envvar=True,
    metavar="FILE",
    help="A file holding the principal's secret (asked without echo if not given).",
)
def login(
    master: str | None,
    marathon: str | None,
    chronos: str | None,
    principal: str | None,
    secret_file: str | None,
) -> None:
    """Log in to daemons that authenticate: later commands present the token they issue."""
    chosen = targets({"master": master, "marathon": marathon, "chronos": chronos})
    who = principal or click.prompt("Principal")
    try:
        secret = (
            read_secret(secret_file, what="--secret_file")
            if secret_file
            else click.prompt("Password", hide_input=True)
        )
    except CredentialsError as e:
        raise click.BadParameter(str(e), param_hint="'--secret_file'") from None
    store = _store()
    for target in chosen:
        token = request_token(target, who, secret)
        try:
            store.put(target.url, token)
        except TokenStoreError as e:
            raise click.ClickException(str(e)) from None
        until = time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(token.expires))
        click.echo(f"logged in to {target} as {token.principal} (until {until})")


@click.command()
@daemon_options("Log out of")
@click.option("--all", "everything", is_flag=True, help="Forget the token of every daemon.")
def logout(master: str | None, marathon: str | None, chronos: str | None, everything: bool) -> None:
    """Forget the tokens `corral login` stored."""
    store = _store()
    try:
        if everything:
            urls = store.clear()
            click.echo(f"forgot {len(urls)} token(s)")
            return
        for target in targets({"master": master, "marathon": marathon, "chronos": chronos}):
            forgot = store.remove(target.url)
            click.echo(f"logged out of {target}" if forgot else f"no token stored for {target}")
    except TokenStoreError as e:
        raise click.ClickException(str(e)) from None

"""Who the client commands say they are to a daemon, and what to tell the user when it answers 401.

In order:
1. `$CORRAL_PRINCIPAL` and `$CORRAL_SECRET_FILE` (for scripts): HTTP Basic, the secret read from the file;
2. the token `corral login` stored for the daemon's URL (`tokens_store`), unexpired: `Authorization: Bearer`;
3. nothing: the request goes out anonymous, which a daemon without authentication serves.

A secret is never taken from the command line, where `ps` and shell histories would show it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass

import click
import httpx

from corral.cli.tokens_store import TokenStore, TokenStoreError, tokens_path
from corral.security.credentials import CredentialsError, read_secret

ENV_PRINCIPAL = "CORRAL_PRINCIPAL"
ENV_SECRET_FILE = "CORRAL_SECRET_FILE"


class BearerAuth(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._token = token

    def __repr__(self) -> str:
        return "BearerAuth('***')"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


@dataclass(frozen=True, slots=True)
class ClientLogin:
    auth: httpx.Auth | None
    unauthorized_hint: str  # appended to a 401's one-line message


def env_secret(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(principal, secret) from `$CORRAL_PRINCIPAL` and `$CORRAL_SECRET_FILE`, if they are set."""
    principal, secret_file = env.get(ENV_PRINCIPAL), env.get(ENV_SECRET_FILE)
    if not principal and not secret_file:
        return None
    if not principal or not secret_file:
        raise click.UsageError(f"${ENV_PRINCIPAL} and ${ENV_SECRET_FILE} go together: set both or neither")
    try:
        return principal, read_secret(secret_file, what=f"${ENV_SECRET_FILE}")
    except CredentialsError as e:
        raise click.UsageError(str(e)) from None


def client_login(
    flag: str, address: str, url: str, *, env: Mapping[str, str] = os.environ, now: float | None = None
) -> ClientLogin:
    """How a command reaches the daemon given as `--<flag> <address>` (`url`, as the client normalised it)."""
    if (pair := env_secret(env)) is not None:
        hint = f"check ${ENV_PRINCIPAL} and ${ENV_SECRET_FILE}"
        return ClientLogin(httpx.BasicAuth(*pair), hint)
    hint = f"run `corral login --{flag} {address}`"
    try:
        stored = TokenStore(tokens_path(env)).get(url, now=time.time() if now is None else now)
    except TokenStoreError as e:
        raise click.ClickException(str(e)) from None
    return ClientLogin(None if stored is None else BearerAuth(stored.token), hint)

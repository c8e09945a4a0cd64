"""The authentication flags of `corral master` and `corral agent`, spelled as upstream's.

Master: `--credentials` (the principals it accepts), `--authenticate_frameworks` (alias
`--authenticate_http_frameworks`: Corral's frameworks all speak HTTP), `--authenticate_agents`,
`--authenticate_http_readonly`, `--authenticate_http_readwrite`, `--jwt_secret_key` (the key of the tokens
`POST /login` issues: give every master of an ensemble the same one; without it the key is derived from the
credentials), `--insecure`.
Agent: `--credential` (what it presents to the master), `--credentials` (whom its own API accepts),
`--authenticate_http_readonly`, `--authenticate_http_readwrite`, `--authenticate_http_executors`,
`--jwt_secret_key` (the key of its executors' tokens; without it, a key generated once and kept, mode 0600,
in the work dir, so executors that outlive an agent restart keep working), `--insecure`.

Each `--authenticate_*` flag takes `true` or `false` (bare: true); unset, it follows whether `--credentials`
is given (`corral.security.policy`). `/flags` shows the values in force, and only the paths of secrets.
A configuration that can never work is a one-line error at start: a surface that must authenticate
principals when no `--credentials` name any (executors' tokens need none), an unreadable or short key.
"""

from __future__ import annotations

import functools
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import click
from starlette.types import ASGIApp

from corral.cli.auth_flags import insecure_flag, refuse_exposure
from corral.cli.flags import flag, stacked
from corral.security.credentials import (
    Credential,
    Credentials,
    CredentialsError,
    parse_credential,
    parse_credentials,
)
from corral.security.http_auth import AuthConfig, AuthMiddleware
from corral.security.policy import FLAGS, AuthRequirements, Classifier, Surface
from corral.security.tokens import TokenSigner

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")

KEY_FILE = "jwt_secret_key"  # the agent's generated key, in its work dir
KEY_BYTES = 32
MASTER_SURFACES = {
    Surface.FRAMEWORK: "authenticate_frameworks",
    Surface.AGENT: "authenticate_agents",
    Surface.READONLY: "authenticate_http_readonly",
    Surface.READWRITE: "authenticate_http_readwrite",
}
AGENT_SURFACES = {
    Surface.READONLY: "authenticate_http_readonly",
    Surface.READWRITE: "authenticate_http_readwrite",
    Surface.EXECUTOR: "authenticate_http_executors",
}
_HINT = "give --credentials (every --authenticate_* flag left unset then defaults to true)"


def _surface_flag(name: str, what: str) -> Callable[[F], F]:
    return flag(
        name,
        is_flag=False,
        flag_value="true",
        default=None,
        type=click.BOOL,
        help=f"Require authentication for {what} (default: true when --credentials is given).",
    )


def _shown(value: str) -> str:
    """What `/flags` shows of a credentials flag: its path, never an inline document's secrets."""
    text = value.strip()
    return "(inline)" if text.startswith("{") else text


def _paths(
    *, credential: str | None = None, credentials: str | None = None, key: Path | None
) -> dict[str, str]:
    """What `/flags` shows of the secrets' flags that are set."""
    documents = {"credential": credential, "credentials": credentials}
    shown = {name: _shown(value) for name, value in documents.items() if value is not None}
    if key is not None:
        shown["jwt_secret_key"] = str(key)
    return shown


def requirement_problem(requirements: AuthRequirements, *, have_credentials: bool) -> str | None:
    """Why the surfaces required can never be used, or None: only executors' tokens need no credentials."""
    needing = sorted(s for s in requirements.required if s is not Surface.EXECUTOR)
    if not needing or have_credentials:
        return None
    flags = ", ".join(FLAGS[s] for s in needing)
    verb = "needs" if len(needing) == 1 else "need"
    return f"{flags} {verb} --credentials: without them no principal can authenticate"


def read_key(path: Path, *, what: str = "--jwt_secret_key") -> TokenSigner:
    """A token key from a file (a final newline is not part of it)."""
    try:
        key = path.read_bytes().rstrip(b"\r\n")
    except OSError as e:
        raise CredentialsError(f"cannot read the {what} file {path}: {e.strerror or e}") from None
    if len(key) < KEY_BYTES:
        raise CredentialsError(
            f"the {what} file {path} holds {len(key)} bytes; at least {KEY_BYTES} are needed"
        )
    return TokenSigner(key)


def agent_key(work_dir: Path) -> Path:
    """The agent's own token key: created once (mode 0600, atomically), then reused by every later run."""
    path = work_dir / KEY_FILE
    if path.exists():
        return path
    temporary = work_dir / f".{KEY_FILE}.{os.getpid()}"
    try:
        work_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(KEY_BYTES))
            out.flush()
            os.fsync(out.fileno())
        try:
            os.link(temporary, path)  # never replaces a key another run created meanwhile
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    except OSError as e:
        raise CredentialsError(f"cannot create the token key {path}: {e.strerror or e}") from None
    return path


@dataclass(frozen=True, slots=True, kw_only=True)
class MesosAuth:
    """What a master's or an agent's authentication flags decided."""

    daemon: str
    credentials: Credentials | None
    signer: TokenSigner | None
    requirements: AuthRequirements
    insecure: bool
    shown: dict[str, str]  # for /flags: the surfaces' flags in force, and paths (never secrets)
    credential: Credential | None = None  # the agent's, for the master

    def describe(self) -> str:
        required = ", ".join(s.value for s in sorted(self.requirements.required)) or "nothing"
        accepted = len(self.credentials.secrets) if self.credentials is not None else 0
        line = f"Authentication required for: {required} ({accepted} principals accepted)"
        if self.credential is not None:
            line += f"; presenting principal {self.credential.principal!r} to the master"
        return line

    def protect(self, app: ASGIApp, classify: Classifier) -> ASGIApp:
        """`app` behind the authentication middleware (as is when nothing is configured)."""
        config = AuthConfig(
            credentials=self.credentials,
            signer=self.signer,
            requirements=self.requirements,
            classify=classify,
        )
        return AuthMiddleware(app, config) if config.enabled else app


def _flags(surfaces: dict[Surface, str], requirements: AuthRequirements) -> dict[str, str]:
    return {name: str(s in requirements.required).lower() for s, name in surfaces.items()}


def _load(credentials: str | None) -> Credentials | None:
    return parse_credentials(credentials) if credentials is not None else None


def _checked(
    daemon: str, host: str, flags: dict[Surface, bool | None], credentials: Credentials | None, insecure: bool
) -> AuthRequirements:
    """The surfaces to authenticate, once sure they can be and that nothing open is served beyond loopback."""
    requirements = AuthRequirements.from_flags(flags, have_credentials=credentials is not None)
    if (problem := requirement_problem(requirements, have_credentials=credentials is not None)) is not None:
        raise click.UsageError(problem)
    hint = _HINT if credentials is None else "set " + ", ".join(f"{FLAGS[s]}=true" for s in requirements.open)
    refuse_exposure(daemon, host, requirements, insecure=insecure, hint=hint)
    return requirements


def _one_line_errors(build: Callable[P, MesosAuth]) -> Callable[P, MesosAuth]:
    @functools.wraps(build)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> MesosAuth:
        try:
            return build(*args, **kwargs)
        except CredentialsError as e:
            raise click.ClickException(str(e)) from None

    return wrapper


@_one_line_errors
def master_auth(
    *,
    host: str,
    credentials: str | None,
    authenticate_frameworks: bool | None,
    authenticate_http_frameworks: bool | None,
    authenticate_agents: bool | None,
    authenticate_http_readonly: bool | None,
    authenticate_http_readwrite: bool | None,
    jwt_secret_key: Path | None,
    insecure: bool,
) -> MesosAuth:
    frameworks = {authenticate_frameworks, authenticate_http_frameworks} - {None}
    if len(frameworks) > 1:
        raise click.UsageError(
            "--authenticate_frameworks and --authenticate_http_frameworks disagree (they are one flag: "
            "Corral's frameworks all use HTTP)"
        )
    accepted = _load(credentials)
    flags = {
        Surface.FRAMEWORK: frameworks.pop() if frameworks else None,
        Surface.AGENT: authenticate_agents,
        Surface.READONLY: authenticate_http_readonly,
        Surface.READWRITE: authenticate_http_readwrite,
    }
    requirements = _checked("master", host, flags, accepted, insecure)
    signer = None
    if jwt_secret_key is not None:
        signer = read_key(jwt_secret_key)
    elif accepted is not None:
        signer = TokenSigner.from_credentials(accepted)
    shown = _flags(MASTER_SURFACES, requirements)
    shown["authenticate_http_frameworks"] = shown["authenticate_frameworks"]
    return MesosAuth(
        daemon="master",
        credentials=accepted,
        signer=signer,
        requirements=requirements,
        insecure=insecure,
        shown=shown | _paths(credentials=credentials, key=jwt_secret_key),
    )


@_one_line_errors
def agent_auth(
    *,
    host: str,
    work_dir: Path,
    credential: str | None,
    credentials: str | None,
    authenticate_http_readonly: bool | None,
    authenticate_http_readwrite: bool | None,
    authenticate_http_executors: bool | None,
    jwt_secret_key: Path | None,
    insecure: bool,
) -> MesosAuth:
    accepted = _load(credentials)
    flags = {
        Surface.READONLY: authenticate_http_readonly,
        Surface.READWRITE: authenticate_http_readwrite,
        Surface.EXECUTOR: authenticate_http_executors,
    }
    requirements = _checked("agent", host, flags, accepted, insecure)
    shown = _flags(AGENT_SURFACES, requirements)
    key = jwt_secret_key
    if key is None and (accepted is not None or requirements.required):
        key = agent_key(work_dir.absolute())
    return MesosAuth(
        daemon="agent",
        credentials=accepted,
        signer=read_key(key) if key is not None else None,
        requirements=requirements,
        insecure=insecure,
        shown=shown | _paths(credential=credential, credentials=credentials, key=key),
        credential=parse_credential(credential) if credential is not None else None,
    )


_KEY_PATH = click.Path(dir_okay=False, path_type=Path)


def _auth_flags(
    command: F,
    check: Callable[[dict[str, Any], dict[str, Any]], MesosAuth],
    own: tuple[str, ...],
    flags: list[Callable[[F], F]],
    key_help: str,
) -> F:
    """`flags` (named `own`), `--jwt_secret_key` and `--insecure` on `command`, which receives them as one
    argument, `auth`: what `check` makes of their values and of the command's other arguments."""
    names = (*own, "jwt_secret_key", "insecure")

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in names}
        return command(*args, auth=check(kwargs, values), **kwargs)

    add: Callable[[F], F] = stacked(
        [*flags, flag("jwt_secret_key", type=_KEY_PATH, help=key_help), insecure_flag()]
    )
    return add(cast(F, wrapper))


def master_auth_flags(command: F) -> F:
    """The master's flags, given to `command` as one argument, `auth: MesosAuth`, once checked (the
    refusal to serve open APIs beyond loopback included: `ip` is read)."""
    flags: list[Callable[[F], F]] = [
        flag(
            "credentials",
            help="The principals the master accepts: a path (or file:///path) to JSON "
            '{"credentials":[{"principal":"p","secret":"s"}]} or to lines of "principal secret".',
        ),
        _surface_flag("authenticate_frameworks", "frameworks (the v1 scheduler API)"),
        _surface_flag("authenticate_http_frameworks", "frameworks (an alias of --authenticate_frameworks)"),
        _surface_flag("authenticate_agents", "agents registering"),
        _surface_flag("authenticate_http_readonly", "read-only endpoints (state, flags, metrics, files)"),
        _surface_flag("authenticate_http_readwrite", "endpoints that change the cluster (quota, teardown)"),
    ]
    return _auth_flags(
        command,
        lambda arguments, values: master_auth(host=arguments["ip"], **values),
        own=(*MASTER_SURFACES.values(), "credentials", "authenticate_http_frameworks"),
        flags=flags,
        key_help="File holding the key (32 bytes or more) of the tokens POST /login issues; the same on "
        "every master. Default: derived from --credentials.",
    )


def agent_auth_flags(command: F) -> F:
    """The agent's flags, given to `command` as one argument, `auth: MesosAuth`, once checked (`ip` and
    `work_dir` are read: its key may be kept there)."""
    flags: list[Callable[[F], F]] = [
        flag(
            "credential",
            help="What this agent presents to the master: a path (or file:///path) to JSON "
            '{"principal":"p","secret":"s"} or to one line "principal secret".',
        ),
        flag("credentials", help="The principals this agent's own API accepts (as the master's)."),
        _surface_flag("authenticate_http_readonly", "read-only endpoints (state, metrics, files)"),
        _surface_flag("authenticate_http_readwrite", "endpoints that change the agent"),
        _surface_flag(
            "authenticate_http_executors", "executors (tokens in MESOS_EXECUTOR_AUTHENTICATION_TOKEN)"
        ),
    ]
    return _auth_flags(
        command,
        lambda arguments, values: agent_auth(host=arguments["ip"], work_dir=arguments["work_dir"], **values),
        own=(*AGENT_SURFACES.values(), "credential", "credentials"),
        flags=flags,
        key_help="File holding the key (32 bytes or more) of executors' tokens. Default: one generated in "
        "the work dir.",
    )

"""`corral dev --credentials FILE`: one credentials file secures every daemon of the stack at once.

- the master authenticates every surface (frameworks, agents, read-only, read-write), as `corral master
  --credentials FILE` does when no `--authenticate_*` flag says otherwise; each agent its read-only,
  read-write and executor surfaces;
- Marathon and Chronos accept the same principals (what `--http_credentials` gives them standalone);
- the stack's own clients present one principal of the file (`DevPlan.credential`: `--principal`, else the
  first): Marathon and Chronos subscribe with it, the DNS server reads the master and the load balancer
  Marathon as it. Agents talk to the master in-process.

Every daemon signs and checks tokens with one key, derived from the credentials (so changing them revokes
every token): a `POST /login` token is good on all of them (`corral login` asks once; a browser logged in to
one UI is logged in to the others on the host, since cookies do not name ports; the master's sandbox proxy
passes it on to the agents). Executors' tokens are signed with that key too; their `surface` claim makes
every daemon but the agents' executor API refuse them (`AuthMiddleware`).

Without `--credentials` the stack is open, as upstream's, which `corral dev` allows on loopback only: another
`--ip` is refused unless `--insecure` says so, before anything listens.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import click
from starlette.types import ASGIApp

from corral.agent.surfaces import classify as agent_surface
from corral.cli.auth_flags import insecure_flag, refuse_exposure
from corral.cli.dev_plan import DevPlan
from corral.cli.flags import flag, stacked
from corral.cli.framework_auth_flags import DEFAULT_REALM, authenticated, http_auth_config
from corral.cli.mesos_auth_flags import AGENT_SURFACES, MesosAuth, master_auth
from corral.cli.runner import Service
from corral.master.surfaces import classify as master_surface
from corral.security.credentials import Credentials, CredentialsError, parse_credentials
from corral.security.http_auth import AuthConfig
from corral.security.policy import AuthRequirements, Surface

F = TypeVar("F", bound=Callable[..., Any])

HINT = "give --credentials FILE (Mesos JSON or 'principal secret' lines) to secure every daemon"
# Everything the stack serves, for the refusal's message: what would be open without credentials.
STACK_SURFACES = frozenset(
    {Surface.FRAMEWORK, Surface.AGENT, Surface.READONLY, Surface.READWRITE, Surface.EXECUTOR}
)


@dataclass(frozen=True, slots=True)
class DevSecurity:
    """What `--credentials`, `--principal` and `--insecure` decided for the whole stack."""

    ip: str
    credentials_flag: str | None  # as given: a path, file:// URL or inline JSON
    credentials: Credentials | None
    principal: str | None
    insecure: bool

    def stack(self) -> StackAuth:
        master = master_auth(
            host=self.ip,
            credentials=self.credentials_flag,
            authenticate_frameworks=None,
            authenticate_http_frameworks=None,
            authenticate_agents=None,
            authenticate_http_readonly=None,
            authenticate_http_readwrite=None,
            jwt_secret_key=None,
            insecure=self.insecure,
        )
        have = self.credentials is not None
        requirements = AuthRequirements.from_flags(dict.fromkeys(AGENT_SURFACES), have_credentials=have)
        shown = {name: str(s in requirements.required).lower() for s, name in AGENT_SURFACES.items()}
        if "credentials" in master.shown:  # the path, never an inline document's secrets
            shown["credentials"] = master.shown["credentials"]
        agent = replace(master, daemon="agent", requirements=requirements, shown=shown)
        framework = None if self.credentials is None else http_auth_config(self.credentials, DEFAULT_REALM)
        return StackAuth(master, agent, framework)

    def describe(self, plan: DevPlan) -> tuple[str, ...]:
        """The banner's lines about authentication."""
        if self.credentials is None or plan.credential is None:
            reach = "anyone who reaches " + self.ip if self.insecure else "loopback only"
            return (f"  auth        open: no credentials ({reach}; --credentials FILE secures every daemon)",)
        principals = ", ".join(sorted(self.credentials.secrets))
        ip = plan.master.ip
        daemons = {"master": plan.master.port, "marathon": plan.marathon_port, "chronos": plan.chronos_port}
        return (
            f"  auth        every daemon authenticates: principals {principals}; "
            f"Marathon, Chronos, DNS and the load balancer present {plan.credential.principal!r}",
            "  log in      corral login "
            + " ".join(f"--{name} {ip}:{port}" for name, port in daemons.items()),
        )


@dataclass(frozen=True, slots=True)
class StackAuth:
    """The stack's daemons behind authentication (each as is when the stack is open)."""

    master: MesosAuth
    agent: MesosAuth  # one for every agent: the same surfaces and key
    framework: AuthConfig | None  # Marathon's and Chronos's

    def master_app(self, app: ASGIApp) -> ASGIApp:
        return self.master.protect(app, master_surface)

    def agent_app(self, app: ASGIApp) -> ASGIApp:
        return self.agent.protect(app, agent_surface)

    def framework_service(self, service: Service) -> Service:
        if self.framework is None:
            return service
        return authenticated(service, self.framework)


def dev_security(ip: str, credentials: str | None, principal: str | None, insecure: bool) -> DevSecurity:
    accepted = None
    if credentials is not None:
        try:
            accepted = parse_credentials(credentials)
        except CredentialsError as e:
            raise click.BadParameter(str(e), param_hint="'--credentials'") from None
    else:
        open_stack = AuthRequirements(frozenset(), STACK_SURFACES)
        refuse_exposure("corral dev stack", ip, open_stack, insecure=insecure, hint=HINT)
    return DevSecurity(ip, credentials, accepted, principal, insecure)


def dev_auth_flags(command: F) -> F:
    """`--credentials`, `--principal` and `--insecure`, given to `command` as `security: DevSecurity` (the
    refusal to serve an open stack beyond loopback included: `ip` is read)."""

    @functools.wraps(command)
    def wrapper(
        *args: Any, ip: str, credentials: str | None, principal: str | None, insecure: bool, **kwargs: Any
    ) -> Any:
        security = dev_security(ip, credentials, principal, insecure)
        return command(*args, ip=ip, security=security, **kwargs)

    decorators = [
        flag(
            "credentials",
            help="Secure every daemon with these principals: a path (or file:///path) to JSON "
            '{"credentials":[{"principal":"p","secret":"s"}]} or to lines of "principal secret".',
        ),
        flag(
            "principal",
            help="The principal of --credentials that Marathon, Chronos, DNS and the load balancer present "
            "(default: the first).",
        ),
        insecure_flag(),
    ]
    decorated: Any = stacked(decorators)(wrapper)
    return decorated  # type: ignore[no-any-return]

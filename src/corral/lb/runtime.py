"""The load balancer's loop: Marathon's apps in, a reloaded HAProxy out.

- At start, HAProxy runs on a config with only the stats page, so it is up before Marathon answers; a
  HAProxy that cannot start (the stats port taken) is a `HaproxyError` for the caller.
- `GET /v2/apps?embed=apps.tasks` is read at start, after every relevant event on `/v2/events` (a burst
  of events within DEBOUNCE_SECONDS is one read, and reads start at most every MIN_SYNC_INTERVAL_SECONDS),
  after every reconnect of the event stream (events missed meanwhile are not replayed), and every
  RESYNC_SECONDS without events.
- The rendered text is compared with what HAProxy runs; only a different text is validated, written and
  reloaded. Services whose port another process holds are left out before (a probe bind), or after a
  reload that failed on them; a config `haproxy -c` refuses is narrowed to the services it accepts alone.
  Each is logged once, as a problem of the app.
- Marathon unreachable, or the stream broken: retried with backoff, logged once per outage. HAProxy
  dying: restarted on the last installed config.
- Marathon's API behind `--http_credentials`: both reads present `--auth_credentials` as HTTP Basic, as
  marathon-lb does; a 401 is logged with a hint to check them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from corral.aio import within
from corral.core.errors import DecodeError
from corral.lb.events import EVENT_TYPES, EventParser, is_relevant
from corral.lb.haproxy import Haproxy, HaproxyError, check_config, install
from corral.lb.haproxy_text import unbindable_frontends
from corral.lb.model import decode_apps
from corral.lb.render import render
from corral.lb.services import Options, Plan, hosts_to_resolve, listeners, plan_services
from corral.net.tls import PLAIN, TlsConfig
from corral.protocol.json import JsonValue, loads
from corral.security.credentials import Credential

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 0.02
# Between the starts of two reads: a burst of events (a deployment of hundreds of tasks) costs Marathon at
# most a few full reads a second, while an event after a quiet spell is read within DEBOUNCE_SECONDS.
MIN_SYNC_INTERVAL_SECONDS = 0.2
RESYNC_SECONDS = 60.0
MIN_RETRY_SECONDS = 0.2
MAX_RETRY_SECONDS = 5.0
STREAM_IDLE_SECONDS = 30.0  # Marathon sends a heartbeat every 10 s: a stream silent this long is dead
REQUEST_SECONDS = 10.0
ATTEMPTS = 3  # validate-and-reload rounds per sync, each without what HAProxy refused in the last


@dataclass(frozen=True, slots=True, kw_only=True)
class LbConfig:
    marathon: str  # base URL, http://host:port
    config_path: Path
    haproxy: str  # the binary
    options: Options
    credential: Credential | None = None  # `--auth_credentials`: what Marathon's API asks of its clients
    tls: TlsConfig = PLAIN  # what an https `marathon` is verified with


class MarathonUnavailable(Exception):
    """Marathon did not answer `/v2/apps` with an apps document."""


class _Outage:
    """One warning per outage, and only once it outlasts QUIET_FAILURES attempts: a Marathon still starting
    beside the load balancer (`corral dev`) is not worth one."""

    QUIET_FAILURES = 3

    def __init__(self, what: str) -> None:
        self.what = what
        self.failures = 0

    def failed(self, error: object) -> float:
        """Record a failure; the delay before the next attempt."""
        self.failures += 1
        if self.failures == self.QUIET_FAILURES:
            log.warning("load balancer: %s failing (retrying): %s", self.what, error)
        return min(MIN_RETRY_SECONDS * 2.0 ** (self.failures - 1), MAX_RETRY_SECONDS)

    def succeeded(self) -> None:
        if self.failures >= self.QUIET_FAILURES:
            log.info("load balancer: %s works again", self.what)
        self.failures = 0


class LbRuntime:
    def __init__(self, config: LbConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        credential = config.credential
        self._http = httpx.AsyncClient(
            base_url=config.marathon,
            timeout=REQUEST_SECONDS,
            trust_env=False,
            follow_redirects=True,  # a standby Marathon redirects to the leader
            transport=transport,
            auth=None if credential is None else httpx.BasicAuth(credential.principal, credential.secret),
            verify=config.tls.verify,
        )
        self._haproxy = Haproxy(config.haproxy, config.config_path)
        self._dirty = asyncio.Event()
        self._applied: str | None = None  # the config HAProxy runs
        self._listening: frozenset[tuple[str, int]] = frozenset()  # what its frontends bind
        self._problems: frozenset[str] = frozenset()

    async def run(self) -> None:
        try:
            await self._start()
            self._dirty.set()
            async with asyncio.TaskGroup() as group:
                group.create_task(self._follow_events(), name="lb-events")
                group.create_task(self._sync_forever(), name="lb-sync")
        finally:
            await self._haproxy.stop()
            await self._http.aclose()

    async def _start(self) -> None:
        path, options = self.config.config_path, self.config.options
        path.parent.mkdir(parents=True, exist_ok=True)
        text = render(Plan(), options)
        problem = await install(self.config.haproxy, path, text)
        if problem is not None:
            raise HaproxyError(f"haproxy refuses the base config: {problem}")
        await self._haproxy.start()
        self._applied = text
        log.info("load balancer: haproxy stats on %s:%s", options.stats_address, options.stats_port)

    # ------------------------------------------------------------ syncing

    async def _sync_forever(self) -> None:
        outage = _Outage("reading Marathon's apps")
        loop = asyncio.get_running_loop()
        last_start = -MIN_SYNC_INTERVAL_SECONDS
        while True:
            with contextlib.suppress(TimeoutError):  # no event for a while: resync anyway
                await within(self._dirty.wait(), RESYNC_SECONDS)
            await asyncio.sleep(max(DEBOUNCE_SECONDS, last_start + MIN_SYNC_INTERVAL_SECONDS - loop.time()))
            self._dirty.clear()
            last_start = loop.time()
            try:
                await self._sync()
            except (MarathonUnavailable, HaproxyError) as e:
                await asyncio.sleep(outage.failed(e))
                self._dirty.set()
                continue
            outage.succeeded()

    async def _sync(self) -> None:
        """Read the apps, and make HAProxy serve them."""
        try:
            decoded = decode_apps(await self._fetch_apps())
        except DecodeError as e:
            raise MarathonUnavailable(f"GET /v2/apps: {e}") from None
        addresses = await self._resolve(hosts_to_resolve(decoded.apps))
        plan = plan_services(decoded.apps, self.config.options, addresses)
        plan = replace(plan, problems=decoded.problems + plan.problems)
        if not self._haproxy.is_running:
            await self._restart_haproxy()
        await self._apply(plan)

    async def _fetch_apps(self) -> JsonValue:
        try:
            response = await self._http.get("/v2/apps", params={"embed": "apps.tasks"})
        except httpx.HTTPError as e:
            raise MarathonUnavailable(f"{type(e).__name__}: {e}") from None
        if response.status_code != 200:
            raise MarathonUnavailable(f"GET /v2/apps answered {response.status_code}{_hint(response)}")
        try:
            return loads(response.content)
        except DecodeError as e:
            raise MarathonUnavailable(f"GET /v2/apps: {e}") from None

    async def _resolve(self, hosts: frozenset[str]) -> dict[str, str]:
        """Task host names to IPv4 addresses (HAProxy would resolve them only once, at load)."""
        loop = asyncio.get_running_loop()
        out: dict[str, str] = {}
        for host in sorted(hosts):
            try:
                infos = await loop.getaddrinfo(host, None, family=socket.AF_INET, type=socket.SOCK_STREAM)
            except OSError:
                continue
            if infos:
                out[host] = str(infos[0][4][0])
        return out

    async def _apply(self, plan: Plan) -> None:
        options, binary = self.config.options, self.config.haproxy
        for name, reason in _held_elsewhere(plan, options, self._listening).items():
            plan = plan.without([name], reason)
        for _ in range(ATTEMPTS):
            text = render(plan, options)
            if text == self._applied:
                break
            problem = await install(binary, self.config.config_path, text)
            if problem is not None:
                log.warning("load balancer: haproxy -c refused the config: %s", problem)
                narrowed = await self._accepted_alone(plan)
                if narrowed.services == plan.services:  # each passes alone: the old config keeps serving
                    break
                plan = narrowed
                continue
            outcome = await self._haproxy.reload()
            self._applied = text  # even if the reload failed: retried when the apps change, not in a loop
            if outcome.ok:
                self._listening = frozenset(listeners(plan, options).values())
                servers = sum(len(s.servers) for s in plan.services)
                log.info("haproxy reloaded: %d services, %d servers", len(plan.services), servers)
                break
            unbindable = unbindable_frontends(outcome.lines)
            log.error("haproxy reload failed, the old config still serves: %s", " | ".join(outcome.lines))
            if not unbindable:
                break
            plan = plan.without(unbindable, "cannot bind its port")
        self._report(plan.problems)

    async def _accepted_alone(self, plan: Plan) -> Plan:
        """The plan without the services `haproxy -c` refuses when each is rendered alone."""
        scratch = self.config.config_path.with_name(self.config.config_path.name + ".check")
        for service in plan.services:
            alone = Plan(services=(service,))
            await asyncio.to_thread(scratch.write_text, render(alone, self.config.options))
            problem = await check_config(self.config.haproxy, scratch)
            if problem is not None:
                plan = plan.without([service.name], f"haproxy -c refused it: {problem.splitlines()[-1]}")
        scratch.unlink(missing_ok=True)
        return plan

    async def _restart_haproxy(self) -> None:
        log.error("haproxy exited: restarting it on %s", self.config.config_path)
        await self._haproxy.stop()
        self._haproxy = Haproxy(self.config.haproxy, self.config.config_path)
        await self._haproxy.start()

    def _report(self, problems: tuple[str, ...]) -> None:
        """Log each problem once, when it appears."""
        current = frozenset(problems)
        for line in sorted(current - self._problems):
            log.warning("load balancer: %s", line)
        self._problems = current

    # ------------------------------------------------------------ events

    async def _follow_events(self) -> None:
        outage = _Outage("following Marathon's events")
        params = {"event_type": list(EVENT_TYPES)}
        timeout = httpx.Timeout(REQUEST_SECONDS, read=STREAM_IDLE_SECONDS)
        headers = {"Accept": "text/event-stream"}
        while True:
            try:
                async with self._http.stream(
                    "GET", "/v2/events", params=params, headers=headers, timeout=timeout
                ) as response:
                    if response.status_code != 200:
                        raise httpx.HTTPStatusError(
                            f"GET /v2/events answered {response.status_code}{_hint(response)}",
                            request=response.request,
                            response=response,
                        )
                    outage.succeeded()
                    self._dirty.set()  # events missed while disconnected are not replayed
                    parser = EventParser()
                    async for line in response.aiter_lines():
                        event = parser.feed(line)
                        if event is not None and is_relevant(event):
                            self._dirty.set()
                delay = MIN_RETRY_SECONDS  # the stream ended: Marathon closed it (a leader change?)
            except httpx.HTTPError as e:
                delay = outage.failed(f"{type(e).__name__}: {e}")
            await asyncio.sleep(delay)


def _hint(response: httpx.Response) -> str:
    if response.status_code in (401, 403):
        return " (check --auth_credentials)"
    return ""


def _held_elsewhere(plan: Plan, options: Options, listening: frozenset[tuple[str, int]]) -> dict[str, str]:
    """Frontends whose new address cannot be bound (another process holds it, or it needs root), by name.

    Checked before a reload by binding each address HAProxy does not hold yet: HAProxy itself would retry
    for seconds and then fail the whole reload, on every change, for as long as the port stays taken.
    """
    held: dict[str, str] = {}
    for name, (address, port) in listeners(plan, options).items():
        if (address, port) in listening:
            continue
        host = "" if address == "*" else address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((host, port))
        except OSError as e:
            held[name] = f"cannot bind {address}:{port}: {e.strerror or e}"
    return held

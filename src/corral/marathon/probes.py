"""Marathon's own probes, the edge of health.py and readiness.py: HTTP, HTTPS and TCP over the network.

As upstream's `HealthCheckWorkerActor` and `ReadinessCheckExecutor`: an HTTP(S) check is a GET of its path
(certificates are not verified), a TCP check a connection that opens; each is bounded by the check's
`timeoutSeconds`, and an error or a timeout is a failure whose cause names it. Connections are not reused,
so every probe sees the task as a new client would. At most `max_concurrent` probes run at once (upstream's
`--max_concurrent_marathon_health_checks`, 256). Nothing here decides: verdicts return to the runtime.
"""

from __future__ import annotations

import asyncio

import httpx

from corral.marathon.checks import HealthCheckProtocol
from corral.marathon.health import NO_PORT_CAUSE, HealthProbe, HealthVerdict, http_verdict
from corral.marathon.readiness import HttpResponse, ProbeFailure, ReadinessProbe

MAX_CONCURRENT_PROBES = 256


def _cause(error: BaseException, timeout: float) -> str:
    """Upstream's form, `<exception class>: <message>`."""
    if isinstance(error, TimeoutError | httpx.TimeoutException):
        return f"TimeoutError: no answer within {timeout:g} s"
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


class HttpProber:
    def __init__(self, *, max_concurrent: int = MAX_CONCURRENT_PROBES) -> None:
        self._limit = asyncio.Semaphore(max_concurrent)
        self._max_concurrent = max_concurrent
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, inside the running loop
            self._client = httpx.AsyncClient(
                verify=False,
                trust_env=False,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=self._max_concurrent, max_keepalive_connections=0),
            )
        return self._client

    async def health(self, probe: HealthProbe) -> HealthVerdict | None:
        """One health check; None when the answer does not count (1xx with `ignoreHttp1xx`)."""
        check = probe.check
        if probe.port is None:
            return HealthVerdict(healthy=False, cause=NO_PORT_CAUSE)
        async with self._limit:
            try:
                async with asyncio.timeout(check.timeout_seconds):
                    if check.protocol is HealthCheckProtocol.TCP:
                        _, writer = await asyncio.open_connection(probe.host, probe.port)
                        writer.close()
                        return HealthVerdict(healthy=True)
                    path = check.path or ""
                    scheme = "https" if check.protocol is HealthCheckProtocol.HTTPS else "http"
                    url = f"{scheme}://{probe.host}:{probe.port}/{path.removeprefix('/')}"
                    async with self._http().stream("GET", url) as response:
                        status, reason = response.status_code, response.reason_phrase
            except (OSError, httpx.HTTPError, TimeoutError) as e:
                return HealthVerdict(healthy=False, cause=_cause(e, check.timeout_seconds))
        return http_verdict(status, reason, ignore_http1xx=check.ignore_http1xx)

    async def readiness(self, probe: ReadinessProbe) -> HttpResponse | ProbeFailure:
        """One readiness check: the answer as it came, or why there was none."""
        timeout = probe.check.timeout_seconds
        async with self._limit:
            try:
                async with asyncio.timeout(timeout):
                    response = await self._http().get(probe.url)
            except (OSError, httpx.HTTPError, TimeoutError) as e:
                return ProbeFailure(message=_cause(e, timeout))
        media_type = response.headers.get("content-type", "").split(";", 1)[0].strip()
        return HttpResponse(status=response.status_code, content_type=media_type, body=response.text)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

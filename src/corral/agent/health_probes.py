"""Running one health check probe on the event loop, without blocking it (the edge of `health_checks.py`).

What counts as healthy is upstream's (`mesos.md` b.6):
- HTTP: GET `<scheme>://127.0.0.1:<port><path>` (`[::1]` for IPv6), redirects followed and certificates not
  verified, as upstream's `curl -L -k`; healthy on a listed status, or 200-399 if none are listed.
- TCP: healthy if a connection to `127.0.0.1:<port>` opens.
- COMMAND: run in the task's sandbox with its environment, in a session of its own, its output appended to
  the sandbox's stderr (upstream's checker writes to its executor's); healthy on exit status 0.
Each probe is bounded by `timeout_seconds` (0: unbounded). A COMMAND that times out, or whose probe is
cancelled, has its process group SIGKILLed and reaped. Failures are values, `(False, why)`; only
cancellation propagates.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import IO

import httpx

from corral.agent.command_tasks import signal_name
from corral.agent.effects import HealthProbe
from corral.agent.executor.processes import signal_group
from corral.protocol.mesos import CommandInfo, HttpCheck, IpProtocol, TcpCheck

ProbeResult = tuple[bool, str]  # (healthy, why not: for the log)

_LOOPBACK = {IpProtocol.IPV4: "127.0.0.1", IpProtocol.IPV6: "::1"}


def _url(check: HttpCheck) -> str:
    host = _LOOPBACK[check.protocol]
    host = f"[{host}]" if ":" in host else host
    return f"{check.scheme}://{host}:{check.port}{check.path or ''}"


class HealthProbes:
    """Probes for every task of one agent; owns the HTTP client of the HTTP checks."""

    def __init__(self) -> None:
        # No pooled connections: each probe opens its own, as curl does, and sees a restarted server as it is.
        self._http = httpx.AsyncClient(
            verify=False,
            trust_env=False,
            follow_redirects=True,
            timeout=None,
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def run(self, probe: HealthProbe) -> ProbeResult:
        timeout = probe.check.timeout_seconds or None
        try:
            async with asyncio.timeout(timeout):
                if probe.check.http is not None:
                    return await self._get(probe.check.http)
                if probe.check.tcp is not None:
                    return await _connect(probe.check.tcp)
                assert probe.check.command is not None
                return await _command(probe.check.command, probe)
        except TimeoutError:
            return False, f"timed out after {timeout:g} s"

    async def _get(self, check: HttpCheck) -> ProbeResult:
        url = _url(check)
        try:
            async with self._http.stream("GET", url) as response:
                status = response.status_code
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as e:
            return False, f"GET {url}: {str(e) or type(e).__name__}"
        healthy = status in check.statuses if check.statuses else 200 <= status < 400
        return healthy, f"GET {url} answered {status}"


async def _connect(check: TcpCheck) -> ProbeResult:
    host = _LOOPBACK[check.protocol]
    try:
        _, writer = await asyncio.open_connection(host, check.port)
    except OSError as e:
        return False, f"connecting to {host} port {check.port}: {e.strerror or e}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, f"connected to {host} port {check.port}"


async def _command(command: CommandInfo, probe: HealthProbe) -> ProbeResult:
    try:
        with (probe.sandbox / "stderr").open("ab") as output:
            process = await _spawn(command, probe, output)
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the command or its environment
        return False, f"could not run the command: {e}"
    try:
        code = await process.wait()
    finally:
        if process.returncode is None:  # timed out or cancelled
            signal_group(process.pid, signal.SIGKILL)
            await process.wait()
    if code < 0:  # asyncio's "terminated by signal -code"
        return False, f"command terminated with signal {signal_name(-code)}"
    return code == 0, f"command exited with status {code}"


async def _spawn(command: CommandInfo, probe: HealthProbe, output: IO[bytes]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *command.argv(),
        cwd=probe.sandbox,
        env=dict(probe.environment),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )

"""The master's `/files/browse`, `/files/read` and `/files/download`: proxied to the agent owning the path.

Agents serve the same three endpoints on their own port with identical semantics (mesos.md c.5). The
owning agent is found from the path itself: a sandbox path under an agent's work dir contains
`/slaves/<agent id>/` (upstream's layout, f.3), and the virtual path
`/frameworks/<fid>/executors/<eid>/runs/latest/...` names an executor (for a command task, its task id),
whose agent the master knows.
"""

from __future__ import annotations

import itertools

import httpx
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from corral.core.ids import AgentId, ExecutorId, FrameworkId, TaskId
from corral.master.state import AgentRecord, FrameworkRecord, MasterState
from corral.net.tls import PLAIN, TlsConfig
from corral.security.http_auth import COOKIE

TIMEOUT = httpx.Timeout(10.0, read=30.0)
# Headers worth passing back from the agent; hop-by-hop ones (transfer-encoding, ...) are not.
_PASSED = ("content-type", "content-disposition")


class SandboxFiles:
    def __init__(self, state: MasterState, tls: TlsConfig = PLAIN) -> None:
        self._state = state
        self._tls = tls  # the cluster's one setting: agents serve HTTPS when the master does

    def _framework(self, framework_id: str) -> FrameworkRecord | None:
        framework = self._state.frameworks.get(FrameworkId(framework_id))
        if framework is not None:
            return framework
        return next((f for f in self._state.completed_frameworks if f.id == framework_id), None)

    def _executor_agent(self, framework_id: str, executor_id: str) -> AgentId | None:
        framework = self._framework(framework_id)
        if framework is None:
            return None
        for agent_id, known in framework.executors:
            if known == ExecutorId(executor_id):
                return agent_id
        task = framework.tasks.get(TaskId(executor_id)) or framework.unreachable_tasks.get(
            TaskId(executor_id)
        )
        if task is not None:
            return task.agent_id
        done = next((t for t in framework.completed_tasks if t.id == executor_id), None)
        return done.agent_id if done is not None else None

    def locate(self, path: str) -> AgentRecord | None:
        parts = [p for p in path.split("/") if p]
        agent_id: AgentId | None = None
        if len(parts) >= 5 and parts[0] == "frameworks" and parts[2] == "executors" and parts[4] == "runs":
            agent_id = self._executor_agent(parts[1], parts[3])
        else:
            for name, value in itertools.pairwise(parts):
                if name == "slaves" and AgentId(value) in self._state.agents:
                    agent_id = AgentId(value)
                    break
        return self._state.agents.get(agent_id) if agent_id is not None else None

    async def proxy(self, request: Request, operation: str) -> Response:
        path = request.query_params.get("path")
        if not path:
            return JSONResponse({"error": "Missing 'path' query parameter"}, status_code=400)
        agent = self.locate(path)
        if agent is None:
            return JSONResponse({"error": f"No agent serves '{path}'"}, status_code=404)
        url = self._tls.url(f"{agent.ip}:{agent.info.port}", f"/files/{operation}")
        client = httpx.AsyncClient(timeout=TIMEOUT, verify=self._tls.verify)
        # An agent that authenticates its readers gets the caller's own credentials (a Basic pair known to
        # both, or a token of a key both share).
        authorization = request.headers.get("authorization")
        if authorization is None and (token := request.cookies.get(COOKIE)):
            authorization = f"Bearer {token}"  # a web UI's login cookie: the agent checks it as a token
        headers = {"Authorization": authorization} if authorization else {}
        try:
            outgoing = client.build_request("GET", url, params=request.query_params, headers=headers)
            upstream = await client.send(outgoing, stream=True)
        except httpx.HTTPError as e:
            await client.aclose()
            return JSONResponse({"error": f"Agent {agent.id} is unreachable: {e}"}, status_code=503)
        headers = {k: v for k in _PASSED if (v := upstream.headers.get(k)) is not None}

        async def close() -> None:
            await upstream.aclose()
            await client.aclose()

        return StreamingResponse(
            upstream.aiter_bytes(),
            status_code=upstream.status_code,
            headers=headers,
            background=BackgroundTask(close),
        )

"""`--acls` end to end: a master and an agent on 127.0.0.1 behind the authentication middleware (HTTP Basic,
real credentials), a raw v1 scheduler per principal, real task processes. Each authorized action is tried
allowed and refused (upstream `master_authorization_tests.cpp`, `authorization_tests.cpp` SandBoxAccess,
reliability-security.md 4.3 item 3 and matrix S2)."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
from starlette.types import ASGIApp
from support.agent_teardown import stop_agent
from support.serving import serving

from corral.agent import surfaces as agent_surfaces
from corral.agent.config import AgentConfig
from corral.agent.runtime import AgentRuntime
from corral.core.ids import AgentId, FrameworkId, TaskId
from corral.core.resources import Resources, parse_resources
from corral.master import surfaces as master_surfaces
from corral.master.config import MasterConfig
from corral.master.runtime import MasterRuntime
from corral.net.agent_link import LocalMasterLink
from corral.net.serve import make_socket
from corral.protocol import recordio
from corral.protocol.json import JsonObject, dumps, loads
from corral.protocol.mesos import CommandInfo, FrameworkInfo, TaskInfo, TaskStatus
from corral.protocol.scheduler import (
    Accept,
    Acknowledge,
    Call,
    Error,
    Event,
    Launch,
    Offers,
    Subscribe,
    Subscribed,
    Update,
)
from corral.protocol.scheduler_client import decode_event, encode_call
from corral.security.acls import parse_acls
from corral.security.credentials import Credentials
from corral.security.http_auth import AuthConfig, AuthMiddleware
from corral.security.policy import AuthRequirements, Classifier, Surface

pytestmark = pytest.mark.integration

DEADLINE = 10.0
SECRETS = {"web": "web-secret", "batch": "batch-secret", "ops": "ops-secret", "dev": "dev-secret"}
ANY: JsonObject = {"type": "ANY"}


def only(*names: str) -> JsonObject:
    return {"values": list(names)}


# web: role web, tasks as nobody; batch: any role, any user; ops: operator; dev: may view nobody's things.
ACLS: JsonObject = {
    "register_frameworks": [
        {"principals": only("web"), "roles": only("web")},
        {"principals": only("batch"), "roles": ANY},
    ],
    "run_tasks": [
        {"principals": only("web"), "users": only("nobody")},
        {"principals": only("batch"), "users": ANY},
    ],
    "teardown_frameworks": [
        {"principals": only("ops"), "framework_principals": ANY},
        {"principals": only("web"), "framework_principals": only("web")},
    ],
    "view_frameworks": [{"principals": ANY, "users": ANY}],
    "view_tasks": [{"principals": only("ops"), "users": ANY}, {"principals": ANY, "users": only("nobody")}],
    "view_executors": [{"principals": ANY, "users": ANY}],
    "access_sandboxes": [
        {"principals": only("ops"), "users": ANY},
        {"principals": ANY, "users": only("nobody")},
    ],
    "get_endpoints": [{"principals": only("ops"), "paths": ANY}],
    "view_flags": [{"principals": only("ops"), "flags": ANY}],
    "update_weights": [{"principals": only("ops"), "roles": ANY}],
}
AS_ROOT = os.geteuid() == 0
E = TypeVar("E")


def authenticated(app: ASGIApp, classify: Classifier, surfaces: set[Surface]) -> ASGIApp:
    requirements = AuthRequirements.from_flags(dict.fromkeys(surfaces), have_credentials=True)
    config = AuthConfig(
        credentials=Credentials(SECRETS), signer=None, requirements=requirements, classify=classify
    )
    return AuthMiddleware(app, config)


@dataclass
class Cluster:
    master: MasterRuntime
    agent: AgentRuntime
    master_url: str
    agent_url: str

    def client(self, principal: str, base_url: str | None = None) -> httpx.AsyncClient:
        auth = (principal, SECRETS[principal])
        return httpx.AsyncClient(base_url=base_url or self.master_url, auth=auth, timeout=DEADLINE)


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, *, secured_agent: bool, switch_user: bool = True) -> AsyncIterator[Cluster]:
    """A master with `--acls` and credentials, and one agent: open (`secured_agent` False: a trusted network,
    so the master's own checks on `/files` are seen alone) or with the same credentials and ACLs."""
    acls = parse_acls(dumps(ACLS).decode())
    master_sock, agent_sock = make_socket("127.0.0.1", 0), make_socket("127.0.0.1", 0)
    master = MasterRuntime(
        MasterConfig(ip="127.0.0.1", port=master_sock.getsockname()[1], allocation_interval=0.05, acls=acls)
    )
    agent = AgentRuntime(
        AgentConfig(
            ip="127.0.0.1",
            port=agent_sock.getsockname()[1],
            work_dir=tmp_path / "agent",
            resources=parse_resources("cpus:4;mem:1024;disk:1024;ports:[31000-31100]"),
            status_update_retry_min=0.2,
            acls=acls if secured_agent else None,
            switch_user=switch_user,
        ),
        LocalMasterLink(master),
    )
    master_app = authenticated(
        master.app,
        master_surfaces.classify,
        {Surface.FRAMEWORK, Surface.AGENT, Surface.READONLY, Surface.READWRITE},
    )
    agent_app = (
        authenticated(agent.app, agent_surfaces.classify, {Surface.READONLY, Surface.READWRITE})
        if secured_agent
        else agent.app
    )
    loops = [asyncio.create_task(master.run()), asyncio.create_task(agent.run())]
    try:
        async with (
            serving(master_app, master_sock, deadline=DEADLINE) as master_port,
            serving(agent_app, agent_sock, deadline=DEADLINE) as agent_port,
        ):
            await wait_for(lambda: agent.agent_id is not None)
            yield Cluster(master, agent, f"http://127.0.0.1:{master_port}", f"http://127.0.0.1:{agent_port}")
    finally:
        await stop_agent(agent, loops)


async def wait_for(predicate: Callable[[], bool]) -> None:
    async with asyncio.timeout(DEADLINE):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


class Framework:
    """A v1 scheduler over raw HTTP, authenticated as one principal."""

    def __init__(self, client: httpx.AsyncClient, response: httpx.Response) -> None:
        self.client = client
        self.stream_id = response.headers.get("mesos-stream-id", "")
        self._chunks = response.aiter_raw()
        self._decoder = recordio.Decoder()
        self._pending: deque[Event] = deque()
        self.framework_id = FrameworkId("")

    async def next(self) -> Event:
        async with asyncio.timeout(DEADLINE):
            while not self._pending:
                chunk = await anext(self._chunks)
                self._pending.extend(decode_event(loads(r)) for r in self._decoder.feed(chunk))
        return self._pending.popleft()

    async def next_of(self, kind: type[E]) -> E:
        while not isinstance(event := await self.next(), kind):
            pass
        return event

    async def call(self, call: Call) -> httpx.Response:
        headers = {"Content-Type": "application/json", "Mesos-Stream-Id": self.stream_id}
        body = dumps(encode_call(self.framework_id, call))
        return await self.client.post("/api/v1/scheduler", content=body, headers=headers)

    async def launch(self, *tasks: tuple[str, str, str | None]) -> dict[str, TaskStatus]:
        """Launch (task id, shell command, user) on the next offer; the final status of each, acknowledged."""
        offer = (await self.next_of(Offers)).offers[0]
        infos = tuple(
            TaskInfo(
                name=task_id,
                task_id=TaskId(task_id),
                agent_id=offer.agent_id,
                resources=Resources.of(cpus=0.1, mem=32),
                command=CommandInfo(value=command, user=user),
            )
            for task_id, command, user in tasks
        )
        accept = Accept(offer_ids=(offer.id,), operations=(Launch(tasks=infos),), refuse_seconds=0.0)
        assert (await self.call(accept)).status_code == 202
        final: dict[str, TaskStatus] = {}
        while len(final) < len(tasks):
            status = (await self.next_of(Update)).status
            if status.uuid is not None and status.agent_id is not None:
                ack = Acknowledge(agent_id=AgentId(status.agent_id), task_id=status.task_id, uuid=status.uuid)
                assert (await self.call(ack)).status_code == 202
            if status.state.is_terminal:
                final[status.task_id] = status
        return final


@contextlib.asynccontextmanager
async def framework(
    cluster: Cluster, principal: str, *, user: str, role: str = "*"
) -> AsyncIterator[Framework]:
    """SUBSCRIBE as `principal` (FrameworkInfo.principal left out: the master takes the authenticated one)."""
    info = FrameworkInfo(user=user, name=f"{principal}-fw", roles=(role,), failover_timeout=60.0)
    body = dumps(encode_call(None, Subscribe(framework_info=info)))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    async with (
        cluster.client(principal) as client,
        client.stream("POST", "/api/v1/scheduler", content=body, headers=headers) as response,
    ):
        assert response.status_code == 200
        yield Framework(client, response)


async def subscribed(fw: Framework) -> Framework:
    fw.framework_id = (await fw.next_of(Subscribed)).framework_id
    return fw


def sandbox(agent: AgentRuntime, executor_id: str) -> Path:
    """The run directory of an executor (a command task's: its task id), live or completed."""
    state = agent.core.state
    for f in [*state.frameworks.values(), *state.completed_frameworks]:
        for executor in [*f.executors.values(), *f.completed_executors]:
            if executor.id == executor_id:
                return executor.directory
    raise AssertionError(f"no sandbox for {executor_id}")


def task_ids(document: JsonObject) -> set[str]:
    frameworks = document["frameworks"]
    assert isinstance(frameworks, list)
    out: set[str] = set()
    for f in frameworks:
        assert isinstance(f, dict) and isinstance(f["tasks"], list) and isinstance(f["completed_tasks"], list)
        out |= {str(t["id"]) for t in [*f["tasks"], *f["completed_tasks"]] if isinstance(t, dict)}
    return out


# ---------------------------------------------------------------- register_frameworks, run_tasks


async def test_a_principal_registers_only_with_its_roles(tmp_path: Path) -> None:
    async with cluster(tmp_path, secured_agent=False) as c:
        async with framework(c, "web", user="nobody", role="web") as web:
            await subscribed(web)
            [record] = c.master.core.state.frameworks.values()
            assert record.info.principal == "web"  # the authenticated principal, as none was given
        async with framework(c, "web", user="nobody", role="ops") as refused:
            error = await refused.next_of(Error)
            assert error.message == "Not authorized to use roles 'ops' as principal 'web'"
            with pytest.raises(StopAsyncIteration):
                await refused.next()  # the master ended the stream


async def test_tasks_run_only_as_users_the_principal_may_use(tmp_path: Path) -> None:
    async with (
        cluster(tmp_path, secured_agent=False) as c,
        framework(c, "web", user="nobody", role="web") as fw,
    ):
        await subscribed(fw)
        final = await fw.launch(
            ("as-root", "true", "root"), ("as-nobody", "true", "nobody"), ("mine", "true", None)
        )
        refused = final["as-root"]
        assert (refused.state.value, refused.reason) == ("TASK_ERROR", "REASON_TASK_UNAUTHORIZED")
        assert refused.message == "Not authorized to launch task 'as-root' as user 'root'"
        assert (
            final["as-nobody"].state.value == "TASK_FINISHED" and final["mine"].state.value == "TASK_FINISHED"
        )


@pytest.mark.skipif(not AS_ROOT, reason="only a root agent can run tasks as other users (--switch_user)")
@pytest.mark.parametrize("switch_user", [True, False])
async def test_a_root_agent_runs_each_task_as_its_user_unless_switch_user_is_off(
    tmp_path: Path, switch_user: bool
) -> None:
    async with (
        cluster(tmp_path, secured_agent=False, switch_user=switch_user) as c,
        framework(c, "batch", user="nobody") as fw,
    ):
        await subscribed(fw)
        final = await fw.launch(("framework-user", "id -un; touch mine", None), ("as-root", "id -un", "root"))
        assert {s.state.value for s in final.values()} == {"TASK_FINISHED"}
        agent_user = getpass.getuser()
        expected = "nobody" if switch_user else agent_user
        run = sandbox(c.agent, "framework-user")
        assert (run / "stdout").read_text() == f"{expected}\n"
        assert run.stat().st_uid == (65534 if switch_user else 0)  # the sandbox is the task user's
        assert (run / "mine").stat().st_uid == (65534 if switch_user else 0)
        assert (sandbox(c.agent, "as-root") / "stdout").read_text() == f"{agent_user}\n"


# ---------------------------------------------------------------- teardown, weights, flags, endpoints


async def test_only_allowed_operators_tear_frameworks_down(tmp_path: Path) -> None:
    async with cluster(tmp_path, secured_agent=False) as c, framework(c, "batch", user="root") as fw:
        framework_id = (await subscribed(fw)).framework_id
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        v1 = {"type": "TEARDOWN", "teardown": {"framework_id": {"value": framework_id}}}
        async with c.client("web") as web, c.client("ops") as ops:
            refused = await web.post("/master/teardown", content=f"frameworkId={framework_id}", headers=form)
            assert refused.status_code == 403
            assert refused.text == "Not authorized: principal 'web' may not teardown_frameworks of 'batch'"
            assert (
                await web.post("/api/v1", content=dumps(v1), headers={"Content-Type": "application/json"})
            ).status_code == 403
            assert framework_id in c.master.core.state.frameworks
            missing = await ops.post("/master/teardown", content="frameworkId=nope", headers=form)
            assert missing.status_code == 400
            allowed = await ops.post(
                "/api/v1", content=dumps(v1), headers={"Content-Type": "application/json"}
            )
            assert allowed.status_code == 200
        assert framework_id not in c.master.core.state.frameworks
        with pytest.raises(StopAsyncIteration):
            while True:
                await fw.next()  # its stream ends


async def test_operator_endpoints_need_their_acls(tmp_path: Path) -> None:
    async with cluster(tmp_path, secured_agent=False) as c, c.client("ops") as ops, c.client("dev") as dev:
        weights = dumps([{"role": "eng", "weight": 2.0}])
        assert (await dev.put("/master/weights", content=weights)).status_code == 403
        assert (await ops.put("/master/weights", content=weights)).status_code == 200
        assert (await dev.get("/master/flags")).status_code == 403
        assert (await ops.get("/master/flags")).status_code == 200
        get_flags = dumps({"type": "GET_FLAGS"})
        v1 = {"Content-Type": "application/json"}
        assert (await dev.post("/api/v1", content=get_flags, headers=v1)).status_code == 403
        assert (await ops.post("/api/v1", content=get_flags, headers=v1)).status_code == 200
        assert "flags" not in (await dev.get("/master/state")).json()  # view_flags: left out, not refused
        assert "flags" in (await ops.get("/master/state")).json()
        assert (await dev.get("/metrics/snapshot")).status_code == 403
        assert (await ops.get("/metrics/snapshot")).status_code == 200


# ---------------------------------------------------------------- view_*, access_sandboxes


async def test_state_and_sandboxes_show_a_principal_only_what_it_may_see(tmp_path: Path) -> None:
    async with cluster(tmp_path, secured_agent=False) as c, framework(c, "batch", user="root") as fw:
        await subscribed(fw)
        final = await fw.launch(("roots", "echo secret", None), ("nobodys", "echo hello", "nobody"))
        assert {s.state.value for s in final.values()} == {"TASK_FINISHED"}
        v1 = {"Content-Type": "application/json"}
        async with c.client("ops") as ops, c.client("dev") as dev:
            for path in ("/master/state", "/master/frameworks"):
                assert task_ids((await ops.get(path)).json()) == {"roots", "nobodys"}
                assert task_ids((await dev.get(path)).json()) == {"nobodys"}
            assert {t["id"] for t in (await dev.get("/master/tasks")).json()["tasks"]} == {"nobodys"}
            assert {t["id"] for t in (await ops.get("/master/tasks")).json()["tasks"]} == {"roots", "nobodys"}
            for call in ("GET_STATE", "GET_TASKS"):
                answer = (await dev.post("/api/v1", content=dumps({"type": call}), headers=v1)).json()
                tasks = answer[call.lower()] if call == "GET_TASKS" else answer["get_state"]["get_tasks"]
                assert {t["task_id"]["value"] for t in tasks["completed_tasks"]} == {"nobodys"}

            def sandbox(task_id: str) -> str:
                return f"/frameworks/{fw.framework_id}/executors/{task_id}/runs/latest/stdout"

            refused = await dev.get("/files/read", params={"path": sandbox("roots"), "offset": 0})
            assert refused.status_code == 403 and "secret" not in refused.text
            allowed = await dev.get("/files/read", params={"path": sandbox("nobodys"), "offset": 0})
            assert (allowed.status_code, allowed.json()["data"]) == (200, "hello\n")
            assert (await ops.get("/files/read", params={"path": sandbox("roots"), "offset": 0})).json()[
                "data"
            ] == ("secret\n")


async def test_the_agent_guards_its_sandboxes_and_endpoints(tmp_path: Path) -> None:
    async with cluster(tmp_path, secured_agent=True) as c, framework(c, "batch", user="root") as fw:
        await subscribed(fw)
        await fw.launch(("roots", "echo secret", None), ("nobodys", "echo hello", "nobody"))
        async with c.client("ops", c.agent_url) as ops, c.client("dev", c.agent_url) as dev:
            roots = {"path": str(sandbox(c.agent, "roots") / "stdout"), "offset": "0"}
            nobodys = {"path": str(sandbox(c.agent, "nobodys") / "stdout"), "offset": "0"}
            assert (await dev.get("/files/read", params=roots)).status_code == 403
            assert (await dev.get("/files/read", params=nobodys)).json()["data"] == "hello\n"
            assert (await ops.get("/files/read", params=roots)).json()["data"] == "secret\n"
            assert (
                await dev.get("/files/browse", params={"path": str(sandbox(c.agent, "roots"))})
            ).status_code == 403
            for path in (
                "/monitor/statistics",
                "/slave(1)/monitor/statistics.json",
                "/metrics/snapshot",
                "/files/debug",
            ):
                assert (await dev.get(path)).status_code == 403, path
                assert (await ops.get(path)).status_code == 200, path

"""Executor authentication (`--authenticate_http_executors`): the token each custom executor gets, and
what it may do with it.

As upstream, the agent puts a JWT in the executor's `MESOS_EXECUTOR_AUTHENTICATION_TOKEN`; its claims name
the framework (`fid`), the executor (`eid`) and the container (`cid`), and it does not expire (the executor
lives as long as its container). The executor sends it as `Authorization: Bearer`. A call authenticated
this way must be that executor's own: the call's framework and executor ids and the executor's current
container must match the claims (403 otherwise). Its `surface` claim makes it good for nothing but the
executor API (`AuthMiddleware` enforces that on every daemon), so that a task cannot act as an operator.

Command tasks and DEFAULT executors get none: the agent itself is their executor.
"""

from __future__ import annotations

from collections.abc import Mapping

from corral.agent.state import Executor
from corral.core.ids import ContainerId, ExecutorId, FrameworkId
from corral.security.policy import Surface
from corral.security.tokens import SURFACE_CLAIM, TokenSigner

TOKEN_ENV = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"
FRAMEWORK_CLAIM, EXECUTOR_CLAIM, CONTAINER_CLAIM = "fid", "eid", "cid"


def executor_token(signer: TokenSigner, executor: Executor | None, now: float) -> str | None:
    """The token for the container being launched, if it is a custom executor's."""
    if executor is None or executor.is_command or executor.is_default:
        return None
    claims = {
        FRAMEWORK_CLAIM: executor.framework_id,
        EXECUTOR_CLAIM: executor.id,
        CONTAINER_CLAIM: executor.container_id,
        SURFACE_CLAIM: Surface.EXECUTOR.value,
    }
    return signer.issue(f"executor {executor.container_id}", now=now, ttl=0, claims=claims)


def claims_problem(
    claims: Mapping[str, object],
    framework_id: FrameworkId,
    executor_id: ExecutorId,
    container_id: ContainerId | None,
) -> str | None:
    """Why an authenticated executor call is a 403: its credentials are not that executor's token.
    `container_id` is the executor's current container (None: the agent does not know the executor)."""
    expected = {FRAMEWORK_CLAIM: framework_id, EXECUTOR_CLAIM: executor_id}
    if container_id is not None:
        expected[CONTAINER_CLAIM] = container_id
    wrong = [name for name, value in expected.items() if claims.get(name) != value]
    if not wrong:
        return None
    return (
        f"The credentials are not those of executor '{executor_id}' of framework '{framework_id}' "
        f"(claims {', '.join(wrong)} differ)"
    )

"""Executors' tokens (`agent/executor_tokens.py`): only custom executors get one, its claims name the
framework, executor and container, and a call authenticated with it must be that executor's own."""

from __future__ import annotations

from corral.agent.effects import Launch
from corral.agent.executor_tokens import claims_problem, executor_token
from corral.core.ids import ContainerId, ExecutorId, FrameworkId
from corral.protocol.agent import RunTask
from corral.protocol.mesos import TaskInfo
from corral.security.tokens import TokenSigner
from corral.testing.clock import FakeClock

from .builders import FRAMEWORK, command_task, executor_task, framework_info, make_core, registered

SIGNER = TokenSigner(b"k" * 32)
E1 = ExecutorId("e1")


def launched(task: TaskInfo) -> list[tuple[ContainerId, str | None]]:
    """(container, its token) for each container the agent launches to run `task`."""
    core, clock = make_core(), FakeClock(100.0)
    registered(core, clock.now())
    effects = core.handle(RunTask(framework_info=framework_info(), task=task), clock.now())
    containers = [e.container_id for e in effects if isinstance(e, Launch)]
    assert containers
    return [(c, executor_token(SIGNER, core.state.containers.get(c), clock.now())) for c in containers]


def test_a_custom_executor_gets_a_token_naming_its_framework_executor_and_container() -> None:
    [(container, token)] = launched(executor_task("t1"))
    assert token is not None
    verified = SIGNER.verify(token, now=10.0**10)  # it never expires: the container may run for years
    assert verified is not None
    assert verified.principal == f"executor {container}"
    assert {k: verified.claims[k] for k in ("fid", "eid", "cid")} == {
        "fid": FRAMEWORK,
        "eid": "e1",
        "cid": container,
    }
    assert "exp" not in verified.claims
    assert verified.claims["surface"] == "executor"  # good for the executor API only


def test_a_command_task_gets_no_token_the_agent_is_its_executor() -> None:
    [(_, token)] = launched(command_task("t1"))
    assert token is None


def test_claims_must_name_the_calls_framework_executor_and_current_container() -> None:
    claims = {"fid": FRAMEWORK, "eid": "e1", "cid": "c0"}
    assert claims_problem(claims, FRAMEWORK, E1, ContainerId("c0")) is None
    assert claims_problem(claims, FRAMEWORK, E1, None) is None  # unknown executor: the 400 comes next
    other_executor = claims_problem(claims, FRAMEWORK, ExecutorId("e2"), None)
    assert other_executor is not None and "claims eid differ" in other_executor
    other_framework = claims_problem(claims, FrameworkId("other"), E1, ContainerId("c0"))
    assert other_framework is not None and "fid" in other_framework
    old_container = claims_problem(claims, FRAMEWORK, E1, ContainerId("c1"))  # a relaunched executor
    assert old_container is not None and "cid" in old_container
    assert claims_problem({}, FRAMEWORK, E1, None) is not None  # Basic credentials: not an executor

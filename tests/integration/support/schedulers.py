"""A pymesos scheduler for tests: launches queued tasks on the first offers that fit, records everything.

The pymesos driver runs in its own thread and calls back from it; tests wait on conditions with deadlines
(`wait_state`, `wait_message`), never sleep. Tasks are plain dicts as pymesos passes them through to JSON.
"""

from __future__ import annotations

import contextlib
import getpass
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pymesos import MesosSchedulerDriver, Scheduler, decode_data

from corral.security.credentials import Credential

Json = dict[str, Any]
TERMINAL = frozenset(
    {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED", "TASK_GONE"}
)


def resources(cpus: float = 0.1, mem: float = 32) -> list[Json]:
    return [
        {"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}},
        {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}},
    ]


def command_task(task_id: str, command: str) -> Json:
    return {
        "task_id": {"value": task_id},
        "name": task_id,
        "command": {"value": command},
        "resources": resources(),
    }


def _scalar(offer: Any, name: str) -> float:
    return float(sum(r.scalar.value for r in offer.resources if r.name == name))


def _needs(task: Json, name: str) -> float:
    own = [r for r in task.get("resources", []) if r["name"] == name]
    executor = task.get("executor", {}).get("resources", [])
    return float(sum(r["scalar"]["value"] for r in own + [r for r in executor if r["name"] == name]))


@dataclass
class Update:
    task_id: str
    state: str
    status: Any


@dataclass
class RecordingScheduler(Scheduler):  # type: ignore[misc]
    queue: list[Json] = field(default_factory=list)
    framework_id: str = ""
    updates: list[Update] = field(default_factory=list)
    messages: list[bytes] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    launched_on: dict[str, Json] = field(
        default_factory=dict
    )  # task id -> {"agent_id": ..., "executor_id": ...}
    changed: threading.Condition = field(default_factory=threading.Condition)

    # ---- pymesos callbacks (in the driver's thread)

    def registered(self, driver: Any, framework_id: Any, master_info: Any) -> None:
        with self.changed:
            self.framework_id = framework_id["value"]
            self.changed.notify_all()

    def resourceOffers(self, driver: Any, offers: list[Any]) -> None:
        for offer in offers:
            with self.changed:
                cpus, mem = _scalar(offer, "cpus"), _scalar(offer, "mem")
                chosen: list[Json] = []
                for task in list(self.queue):
                    need_cpus, need_mem = _needs(task, "cpus"), _needs(task, "mem")
                    if need_cpus <= cpus + 1e-9 and need_mem <= mem + 1e-9:
                        cpus, mem = cpus - need_cpus, mem - need_mem
                        chosen.append({**task, "agent_id": {"value": offer.agent_id.value}})
                        self.queue.remove(task)
                for task in chosen:
                    executor_id = task.get("executor", {}).get("executor_id", {}).get("value", "")
                    self.launched_on[task["task_id"]["value"]] = {
                        "agent_id": offer.agent_id.value,
                        "executor_id": executor_id,
                    }
            if chosen:
                driver.launchTasks(offer.id, chosen, filters={"refuse_seconds": 1})
            else:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 1})

    def statusUpdate(self, driver: Any, status: Any) -> None:
        with self.changed:
            self.updates.append(Update(status.task_id.value, status.state, status))
            self.changed.notify_all()

    def frameworkMessage(self, driver: Any, executor_id: Any, agent_id: Any, data: Any) -> None:
        with self.changed:
            self.messages.append(decode_data(data))
            self.changed.notify_all()

    def error(self, driver: Any, message: Any) -> None:
        with self.changed:
            self.errors.append(str(message))
            self.changed.notify_all()

    # ---- waiting (in the test's thread)

    def launch(self, driver: Any, *tasks: Json) -> None:
        with self.changed:
            self.queue.extend(tasks)
        driver.reviveOffers()

    def _wait(self, check: Callable[[], Any], timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                result = check()
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(u.task_id, u.state) for u in self.updates]
                    raise AssertionError(f"timed out after {timeout}s waiting for {what}; updates: {seen}")
                self.changed.wait(left)

    def wait_registered(self, timeout: float = 10.0) -> str:
        return str(self._wait(lambda: self.framework_id, timeout, "SUBSCRIBED"))

    def states(self, task_id: str) -> list[str]:
        with self.changed:
            return [u.state for u in self.updates if u.task_id == task_id]

    def wait_state(self, task_id: str, state: str, timeout: float = 15.0, *, after: int = 0) -> Update:
        """The first update for `task_id` in `state`, among updates numbered `after` and later."""

        def find() -> Update | None:
            return next((u for u in self.updates[after:] if u.task_id == task_id and u.state == state), None)

        result: Update = self._wait(find, timeout, f"{task_id} {state}")
        return result

    def wait_terminal(self, task_id: str, timeout: float = 15.0) -> Update:
        def find() -> Update | None:
            return next((u for u in self.updates if u.task_id == task_id and u.state in TERMINAL), None)

        result: Update = self._wait(find, timeout, f"{task_id} to end")
        return result

    def wait_message(self, predicate: Callable[[bytes], bool], timeout: float = 15.0) -> bytes:
        result: bytes = self._wait(
            lambda: next((m for m in self.messages if predicate(m)), None), timeout, "a message"
        )
        return result


@contextlib.contextmanager
def running_driver(
    scheduler: RecordingScheduler, master: str, name: str, credential: Credential | None = None
) -> Iterator[Any]:
    """A started pymesos driver (use_addict=True) for `scheduler`, authenticating with `credential` if given;
    stopped (TEARDOWN) and joined on exit."""
    framework = {"user": getpass.getuser(), "name": name, "hostname": "localhost", "failover_timeout": 0}
    principal, secret = (credential.principal, credential.secret) if credential is not None else (None, None)
    driver = MesosSchedulerDriver(
        scheduler, framework, master, use_addict=True, principal=principal, secret=secret
    )
    driver.start()
    try:
        scheduler.wait_registered()
        yield driver
    finally:
        driver.stop()
        driver.join()

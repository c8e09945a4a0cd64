"""A minimal, unmodified pymesos scheduler: launch one command task on Corral, print its updates, exit.

    python docs/examples/hello_scheduler.py [MASTER] [COMMAND]

MASTER defaults to 127.0.0.1:5050 and COMMAND to `echo hello from Corral`. The task's id is printed, so
`corral task logs <id>` shows what it wrote.
"""

from __future__ import annotations

import getpass
import sys
import threading
import uuid

from addict import Dict
from pymesos import MesosSchedulerDriver, Scheduler

TERMINAL = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_ERROR", "TASK_LOST", "TASK_DROPPED"}
CPUS, MEM = 0.1, 32


def scalar(offer: Dict, name: str) -> float:
    return sum(r.scalar.value for r in offer.resources if r.name == name)


class HelloScheduler(Scheduler):
    def __init__(self, command: str) -> None:
        self.command = command
        self.task_id = f"hello-{uuid.uuid4().hex[:8]}"
        self.launched = False
        self.final_state = ""
        self.done = threading.Event()

    def resourceOffers(self, driver: MesosSchedulerDriver, offers: list[Dict]) -> None:
        for offer in offers:
            if self.launched or scalar(offer, "cpus") < CPUS or scalar(offer, "mem") < MEM:
                driver.declineOffer(offer.id, filters={"refuse_seconds": 60})
                continue
            task = Dict()
            task.task_id.value = self.task_id
            task.agent_id.value = offer.agent_id.value
            task.name = "hello"
            task.command.value = self.command
            task.resources = [
                {"name": "cpus", "type": "SCALAR", "scalar": {"value": CPUS}},
                {"name": "mem", "type": "SCALAR", "scalar": {"value": MEM}},
            ]
            driver.launchTasks(offer.id, [task], filters={"refuse_seconds": 5})
            self.launched = True
            print(f"launched task {self.task_id} on agent {offer.hostname}", flush=True)

    def statusUpdate(self, driver: MesosSchedulerDriver, update: Dict) -> None:
        print(f"task {update.task_id.value} is {update.state}", flush=True)
        if update.state in TERMINAL:
            self.final_state = update.state
            self.done.set()


def main() -> int:
    master = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:5050"
    command = sys.argv[2] if len(sys.argv) > 2 else "echo hello from Corral"
    scheduler = HelloScheduler(command)
    framework = {"user": getpass.getuser(), "name": "hello", "hostname": "localhost"}
    driver = MesosSchedulerDriver(scheduler, framework, master, use_addict=True)
    driver.start()
    try:
        if not scheduler.done.wait(60):
            print("no final status within 60 s", file=sys.stderr)
            return 1
    finally:
        driver.stop()  # sends TEARDOWN: the framework is removed
        driver.join()
    print(f"try: corral task logs {scheduler.task_id}")
    return 0 if scheduler.final_state == "TASK_FINISHED" else 1


if __name__ == "__main__":
    sys.exit(main())

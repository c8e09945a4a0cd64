"""An unmodified pymesos executor, run by the agent as `<python> hello_executor.py`.

For each task: TASK_RUNNING, a framework message `hello from <task id>` (plus `echo: <data>` for each message
the scheduler sends), then TASK_FINISHED with the task's data echoed in `message`. Shaped like
`douban/pymesos:examples/executor.py`, but quick and with bytes for `encode_data` (Python 3).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data


class HelloExecutor(Executor):  # type: ignore[misc]
    def launchTask(self, driver: Any, task: Any) -> None:
        def run() -> None:
            task_id = task.task_id.value
            driver.sendStatusUpdate({"task_id": {"value": task_id}, "state": "TASK_RUNNING"})
            driver.sendFrameworkMessage(encode_data(f"hello from {task_id}".encode()))
            data = decode_data(task.data).decode() if task.get("data") else ""
            print(f"executor ran {task_id} with {data!r}", flush=True)
            update = {"task_id": {"value": task_id}, "state": "TASK_FINISHED", "message": f"done: {data}"}
            driver.sendStatusUpdate(update)

        threading.Thread(target=run, daemon=True).start()

    def frameworkMessage(self, driver: Any, message: Any) -> None:
        driver.sendFrameworkMessage(encode_data(b"echo: " + decode_data(message)))


def main() -> None:
    print(f"executor starting: {sys.executable}", flush=True)
    driver = MesosExecutorDriver(HelloExecutor(), use_addict=True)
    driver.run()


if __name__ == "__main__":
    main()

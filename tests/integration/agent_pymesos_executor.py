"""A small executor on the unmodified pymesos 0.3.15 driver, started by the agent in
test_agent_runtime.py. It prints what it sees to stdout, which the test reads through `/files/read`."""

from __future__ import annotations

import threading

from pymesos import Executor, MesosExecutorDriver, decode_data, encode_data


class EchoExecutor(Executor):  # type: ignore[misc]
    def launchTask(self, driver: MesosExecutorDriver, task: dict[str, object]) -> None:
        task_id = task["task_id"]
        data = decode_data(task["data"]).decode()

        def run() -> None:
            print(f"launched {data}", flush=True)
            driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_RUNNING"})
            driver.sendFrameworkMessage(encode_data(b"hello from the executor"))
            driver.sendStatusUpdate({"task_id": task_id, "state": "TASK_FINISHED", "message": "done"})

        threading.Thread(target=run, daemon=True).start()

    def frameworkMessage(self, driver: MesosExecutorDriver, message: str) -> None:
        print(f"message {decode_data(message).decode()}", flush=True)

    def shutdown(self, driver: MesosExecutorDriver) -> None:
        print("shutdown", flush=True)


class ObservedDriver(MesosExecutorDriver):  # type: ignore[misc]
    """The stock driver, printing each ACKNOWLEDGED it receives (pymesos has no callback for it)."""

    def on_acknowledged(self, event: dict[str, dict[str, str]]) -> None:
        print(f"acknowledged {event['task_id']['value']}", flush=True)
        super().on_acknowledged(event)


if __name__ == "__main__":
    ObservedDriver(EchoExecutor()).run()

"""Chronos inside `corral dev`, driven by the unmodified chronos-python 1.2.1 client (clients.md 4): a job due
every two seconds runs and counts successes, a dependent job runs after its parent, a failing job is retried
and counts an error, `run()` starts a job now, `delete()` removes it. Assertions are on state, since the
client reduces every error to "No remaining Chronos servers to try" (clients.md 4.5).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import chronos
import httpx
import pytest

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration


RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    [port] = free_ports(1)
    process = start_dev(
        tmp_path_factory.mktemp("chronos"),
        resources=RESOURCES,
        chronos_port=port,
        extra_args=["--chronos_failure_retry", "300"],
    )
    try:
        wait_for(lambda: _ping(process), timeout=20, what="chronos /ping")
        yield process
    finally:
        code = process.stop()
        assert code == 0, process.fail(f"corral dev exited with {code} after SIGTERM")


def _ping(dev: DevProcess) -> bool:
    try:
        return httpx.get(f"http://{dev.chronos}/ping", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def client(dev: DevProcess) -> Any:
    return chronos.connect([dev.chronos])


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def job_named(client: Any, name: str) -> dict[str, Any]:
    found = [j for j in client.list() if j["name"] == name]
    assert len(found) == 1
    result: dict[str, Any] = found[0]
    return result


def wait_job(client: Any, name: str, check: Any, timeout: float = 30.0, what: str = "") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        job = job_named(client, name)
        return job if check(job) else None

    result: dict[str, Any] = wait_for(probe, timeout=timeout, interval=0.2, what=what or f"job {name}")
    return result


def base_job(name: str, command: str = "true", **fields: Any) -> dict[str, Any]:
    return {"name": name, "command": command, "owner": "", "disabled": False, **fields}


def test_a_job_due_every_two_seconds_runs_and_counts_successes(client: Any, dev: DevProcess) -> None:
    client.add(base_job("every2", schedule=f"R/{now_iso()}/PT2S"))
    job = wait_job(client, "every2", lambda j: j["successCount"] >= 3, what="3 successes", timeout=30)
    assert job["errorCount"] == 0 and job["lastSuccess"].endswith("Z")
    stat = client.job_stat("every2")
    assert stat["histogram"]["count"] >= 3
    assert all(h["status"] == "succeeded" for h in stat["taskStatHistory"] if h["status"] != "running")
    # Runs start on their due times: the task id carries the due millisecond, the history its start.
    first = stat["taskStatHistory"][-1]
    assert first["taskId"].startswith("ct:") and first["taskId"].endswith(":0:every2:")
    assert any(row["jobNameLabel"] == "every2" for row in client.scheduler_stat_99th())
    client.delete("every2")
    assert all(j["name"] != "every2" for j in client.list())


def test_a_dependent_job_runs_after_its_parent(client: Any) -> None:
    client.add(base_job("parent", schedule=f"R1/{now_iso()}/PT1H"))
    client.add(base_job("child", parents=["parent"]))
    child = wait_job(client, "child", lambda j: j["successCount"] == 1, what="the child to run")
    parent = job_named(client, "parent")
    assert parent["successCount"] == 1 and parent["lastSuccess"] <= child["lastSuccess"]
    graph = client.scheduler_graph()
    assert "link,parent,child" in graph
    time.sleep(1.0)  # nothing runs the child again: its parent has not succeeded since
    assert job_named(client, "child")["successCount"] == 1
    client.delete("child")
    client.delete("parent")


def test_a_failing_job_is_retried_and_counts_an_error(client: Any) -> None:
    client.add(base_job("broken", command="exit 3", retries=1, schedule=f"R1/{now_iso()}/PT1H"))
    job = wait_job(client, "broken", lambda j: j["errorCount"] == 1, what="retries to be exhausted")
    assert job["successCount"] == 0 and job["lastError"]
    history = client.job_stat("broken")["taskStatHistory"]
    assert sorted(h["attempt"] for h in history) == [0, 1]
    assert {h["exitStatus"] for h in history} == {3}
    client.delete("broken")


def test_run_starts_a_job_now(client: Any) -> None:
    client.add(base_job("manual", schedule="R/2099-01-01T00:00:00Z/P1D"))
    assert job_named(client, "manual")["successCount"] == 0
    client.run("manual")
    job = wait_job(client, "manual", lambda j: j["successCount"] == 1, what="the manual run")
    assert job["schedule"].startswith("R/2099-01-01")  # a manual run leaves the schedule alone
    client.delete("manual")


def test_errors_are_json_and_legacy_paths_work(dev: DevProcess) -> None:
    base = f"http://{dev.chronos}"
    r = httpx.post(f"{base}/scheduler/iso8601", json=base_job("x", schedule="nonsense"), trust_env=False)
    assert r.status_code == 400 and "schedule" in r.json()["message"]
    assert isinstance(httpx.get(f"{base}/scheduler/jobs", trust_env=False).json(), list)
    r = httpx.delete(f"{base}/v1/scheduler/job/ghost", trust_env=False)
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "Bad Request", "message": "job 'ghost' not found"}


def test_a_run_past_its_time_limit_fails_and_its_history_links_to_the_sandbox(client: Any) -> None:
    job = base_job("stuck", command="echo started; sleep 60", retries=0, maxCompletionTime=1)
    client.add({**job, "schedule": f"R1/{now_iso()}/PT1H"})
    wait_job(client, "stuck", lambda j: j["errorCount"] == 1, what="the run time limit to end the run")
    [run] = client.job_stat("stuck")["taskStatHistory"]
    assert run["status"] == "failed" and run["endedAt"] > run["startedAt"] >= run["launchedAt"]
    assert run["hostname"] == "127.0.0.1" and run["slaveId"]
    listing = httpx.get(run["sandbox"], timeout=10, trust_env=False)  # the master's /files/browse
    assert listing.status_code == 200
    assert "stdout" in {entry["path"].rsplit("/", 1)[-1] for entry in listing.json()}
    client.delete("stuck")


def test_cron_with_a_time_zone_round_trips_and_bad_cron_is_a_400(client: Any, dev: DevProcess) -> None:
    client.add(base_job("weekdays", schedule="30 16,19 * * MON-FRI", scheduleTimeZone="America/New_York"))
    job = job_named(client, "weekdays")
    assert (job["schedule"], job["scheduleTimeZone"]) == ("30 16,19 * * MON-FRI", "America/New_York")
    assert job["concurrencyPolicy"] == "FORBID" and job["concurrent"] is False
    for schedule, zone, field in (("61 * * * *", "UTC", "schedule"), ("0 3 * * *", "Mars/Olympus", "Zone")):
        bad = base_job("bad-cron", schedule=schedule, scheduleTimeZone=zone)
        r = httpx.post(f"http://{dev.chronos}/v1/scheduler/iso8601", json=bad, trust_env=False)
        assert r.status_code == 400 and r.headers["content-type"] == "application/json"
        assert field in r.json()["message"]
    client.delete("weekdays")


def test_state_survives_in_the_work_dir(dev: DevProcess) -> None:
    assert (dev.work_dir / "chronos" / "chronos.db").exists()

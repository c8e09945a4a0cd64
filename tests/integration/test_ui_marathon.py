"""Marathon's web UI in Debian's chromium (Playwright) against `corral dev`: the tutorial's "hello" app
created from the New App form runs, is scaled to 2 from its page, and is rolled back to its first version; an
app too big for the cluster says why it waits, and its deployment is rolled back from the Deployments page.
The pages follow the server's event stream: nothing reloads. Screenshots are kept under the test's tmp dir,
and copied to $CORRAL_UI_ARTIFACTS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect
from support.browser import screenshots, watched_page

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"
WAIT_MS = 20_000
# The tutorial's fields (mesosphere-tutorial.txt, "Starting a Service through the Web Interface"), with a
# longer sleep so that "Running" holds still while the test looks.
HELLO = {
    "ID": "hello",
    "Command": "echo hello; sleep 3600",
    "CPUs": "0.1",
    "Memory (MiB)": "32",
    "Instances": "1",
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with screenshots(tmp_path_factory.mktemp("marathon-ui")) as folder:
        yield folder


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    [port] = free_ports(1)
    process = start_dev(tmp_path_factory.mktemp("marathon-ui-dev"), resources=RESOURCES, marathon_port=port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def marathon(dev: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{dev.marathon}", timeout=5.0, trust_env=False) as client:
        wait_for(lambda: client.get("/v2/info").json().get("frameworkId"), timeout=15, what="marathon")
        yield client


@pytest.fixture
def page(browser: Browser, dev: DevProcess, marathon: httpx.Client) -> Iterator[Page]:
    with watched_page(browser, f"http://{dev.marathon}") as page:
        page.goto(f"http://{dev.marathon}/")
        expect(page.locator("#live")).to_have_attribute("data-status", "live", timeout=WAIT_MS)
        page.evaluate("window.notReloaded = true")
        yield page
        assert page.evaluate("window.notReloaded") is True


def running_tasks(marathon: httpx.Client, app: str) -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = marathon.get(f"/v2/apps/{app}/tasks").json()["tasks"]
    return [t for t in tasks if t["state"] == "TASK_RUNNING"]


def test_the_tutorials_hello_app_from_the_form_runs_scales_and_rolls_back(
    dev: DevProcess, page: Page, marathon: httpx.Client, artifacts: Path
) -> None:
    page.get_by_role("button", name="New App").click()
    dialog = page.get_by_role("dialog")
    for label, value in HELLO.items():
        dialog.get_by_label(label, exact=True).fill(value)
    page.screenshot(path=artifacts / "marathon-1-new-app-form.png")
    dialog.get_by_role("button", name="Create Application").click()

    row = page.locator('tr[data-app="/hello"]')
    expect(row).to_contain_text("Running", timeout=WAIT_MS)
    expect(row).to_contain_text("1 of 1")
    page.screenshot(path=artifacts / "marathon-2-apps-running.png", full_page=True)
    app = marathon.get("/v2/apps/hello").json()["app"]
    assert (app["cmd"], app["cpus"], app["mem"], app["instances"]) == (HELLO["Command"], 0.1, 32, 1)

    row.get_by_role("link", name="/hello").click()
    [task] = running_tasks(marathon, "hello")
    task_row = page.locator(f'tr[data-task="{task["id"]}"]')
    expect(task_row).to_have_attribute("data-state", "TASK_RUNNING", timeout=WAIT_MS)
    sandbox = task_row.get_by_role("link", name="stdout").get_attribute("href")
    assert sandbox is not None and sandbox.startswith(f"{dev.url}/#/tasks/{task['id']}/sandbox?framework=")

    page.get_by_role("button", name="Scale", exact=True).click()
    page.get_by_role("dialog").get_by_label("Instances").fill("2")
    page.get_by_role("dialog").get_by_role("button", name="Scale").click()
    expect(page.locator('tr[data-state="TASK_RUNNING"]')).to_have_count(2, timeout=WAIT_MS)
    expect(page.locator(".card", has_text="Instances")).to_contain_text("2 of 2")
    assert len(running_tasks(marathon, "hello")) == 2
    page.screenshot(path=artifacts / "marathon-3-app-scaled.png", full_page=True)

    # Versions: the first (1 instance) and the scaled one; applying the first rolls the scale back.
    page.get_by_role("button", name="Apply (roll back)").click()
    page.get_by_role("dialog").get_by_role("button", name="Apply").click()
    expect(page.locator('tr[data-state="TASK_RUNNING"]')).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator(".card", has_text="Instances")).to_contain_text("1 of 1")
    page.screenshot(path=artifacts / "marathon-4-app-rolled-back.png", full_page=True)


def test_a_waiting_app_says_why_and_its_deployment_rolls_back(
    dev: DevProcess, page: Page, marathon: httpx.Client, artifacts: Path
) -> None:
    assert marathon.get("/ui/").text == marathon.get("/").text  # upstream's address of the UI works too
    created = marathon.post("/v2/apps", json={"id": "too-big", "cmd": "sleep 600", "cpus": 64, "mem": 32})
    assert created.status_code == 201
    row = page.locator('tr[data-app="/too-big"]')
    expect(row).to_contain_text("Waiting", timeout=WAIT_MS)

    row.get_by_role("link", name="/too-big").click()
    why = page.locator("[data-waiting]")
    expect(why).to_contain_text("InsufficientCpus", timeout=WAIT_MS)
    page.screenshot(path=artifacts / "marathon-5-app-waiting.png", full_page=True)

    page.get_by_role("link", name="show all").click()
    deployment = page.locator("tr[data-deployment]")
    expect(deployment).to_contain_text("/too-big")
    page.screenshot(path=artifacts / "marathon-6-deployments.png", full_page=True)
    deployment.get_by_role("button", name="Rollback").click()
    page.get_by_role("dialog").get_by_role("button", name="Roll back").click()
    expect(page.locator("tr[data-deployment]")).to_have_count(0, timeout=WAIT_MS)
    wait_for(lambda: marathon.get("/v2/apps/too-big").status_code == 404, timeout=15, what="the rollback")
    page.get_by_role("link", name="Applications").click()
    expect(page.locator('tr[data-app="/too-big"]')).to_have_count(0)


def fake_app(i: int, instances: int) -> dict[str, Any]:
    version = "2026-01-01T00:00:00.000Z"
    return {
        "id": f"/team-{i // 100}/app-{i:04d}",
        "cmd": "sleep 600",
        "cpus": 0.1,
        "mem": 32,
        "disk": 0,
        "instances": instances,
        "tasksRunning": instances,
        "tasksStaged": 0,
        "tasksHealthy": 0,
        "tasksUnhealthy": 0,
        "deployments": [],
        "labels": {},
        "portDefinitions": [{"port": 10000 + i}],
        "version": version,
        "versionInfo": {"lastScalingAt": version, "lastConfigChangeAt": version},
    }


def fake_task(app: dict[str, Any], i: int) -> dict[str, Any]:
    return {
        "id": f"{app['id'].strip('/').replace('/', '_')}.{i:05d}",
        "appId": app["id"],
        "host": f"agent-{i % 50}",
        "ports": [31000 + i % 1000],
        "slaveId": f"S{i % 50}",
        "state": "TASK_RUNNING",
        "stagedAt": app["version"],
        "startedAt": app["version"],
        "version": app["version"],
    }


def test_a_thousand_apps_and_an_app_of_ten_thousand_tasks_are_paged_sorted_and_filtered(
    dev: DevProcess, page: Page, artifacts: Path
) -> None:
    """The API's answers are replaced by 1,000 apps and 10,000 tasks (more than this machine can run): only
    one page of rows is in the document, and sorting and filtering go over all of them."""
    apps = [fake_app(i, 10) for i in range(1000)]
    big = {**apps[0], "instances": 10_000, "tasksRunning": 10_000}
    big["tasks"] = [fake_task(big, i) for i in range(10_000)]
    answers = {
        "/v2/apps/team-0/app-0000/versions": {"versions": [big["version"]]},
        "/v2/apps/team-0/app-0000": {"app": big},
        "/v2/apps": {"apps": apps},
    }

    def answer(route: Route) -> None:
        path = route.request.url.split("?")[0].removeprefix(f"http://{dev.marathon}")
        route.fulfill(json=answers[path])

    page.route(re.compile(r".*/v2/apps.*"), answer)
    page.reload()
    page.evaluate("window.notReloaded = true")
    expect(page.locator(".datatable .pager span").first).to_have_text("1\u201350 of 1,000", timeout=WAIT_MS)
    expect(page.locator("tr[data-app]")).to_have_count(50)
    expect(page.locator('[data-status="Running"] .value')).to_have_text("1,000")
    page.get_by_placeholder("Filter by ID or status").fill("app-0999")
    expect(page.locator("tr[data-app]")).to_have_count(1)
    page.screenshot(path=artifacts / "marathon-7-thousand-apps.png", full_page=True)

    page.goto(f"http://{dev.marathon}/#/apps/team-0/app-0000")
    expect(page.locator(".datatable .pager span").first).to_have_text("1\u201350 of 10,000", timeout=WAIT_MS)
    expect(page.locator("tr[data-task]")).to_have_count(50)
    expect(page.locator(".card", has_text="Instances")).to_contain_text("10,000 of 10,000")
    page.locator("th", has_text="Host").click()
    expect(page.locator("tr[data-task] td").nth(1)).to_have_text("agent-0")
    page.get_by_placeholder("Filter tasks").fill("app-0000.09999")
    expect(page.locator("tr[data-task]")).to_have_count(1)
    page.screenshot(path=artifacts / "marathon-8-ten-thousand-tasks.png", full_page=True)

"""Chronos's web UI in Debian's chromium (Playwright) against `corral dev`: a scheduled job and a dependent
job created from the New Job form (with the preview of the next five due times) appear as an edge in the drawn
dependency graph; Run now puts a run in the job's history, and its child runs after it. The pages follow the
server's `/scheduler/events` stream: nothing reloads. Screenshots are kept under the test's tmp dir, and
copied to $CORRAL_UI_ARTIFACTS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from support.browser import screenshots, watched_page

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:4;mem:4096;disk:10000;ports:[31000-32000]"
WAIT_MS = 20_000
HOURLY_IN_2030 = "R/2030-01-01T00:00:00Z/PT1H"  # never due while the test runs
EDGE_ENDS = """(edge) => {
  const [parent, child] = edge.split('->');
  const path = document.querySelector(`svg.dag path[data-edge="${edge}"]`);
  const box = (name) => document.querySelector(`svg.dag [data-node="${name}"] rect`).getBBox();
  const [start, end] = [path.getPointAtLength(0), path.getPointAtLength(path.getTotalLength())];
  const [p, c] = [box(parent), box(child)];
  const near = (a, b) => Math.abs(a - b) < 0.5;
  return {
    fromParent: near(start.x, p.x + p.width) && near(start.y, p.y + p.height / 2),
    toChild: near(end.x, c.x) && near(end.y, c.y + c.height / 2),
  };
}"""


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with screenshots(tmp_path_factory.mktemp("chronos-ui")) as folder:
        yield folder


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    [port] = free_ports(1)
    process = start_dev(tmp_path_factory.mktemp("chronos-ui-dev"), resources=RESOURCES, chronos_port=port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def chronos(dev: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{dev.chronos}", timeout=5.0, trust_env=False) as client:
        wait_for(lambda: client.get("/ping").status_code == 200, timeout=15, what="chronos")
        yield client


@pytest.fixture
def page(browser: Browser, dev: DevProcess, chronos: httpx.Client) -> Iterator[Page]:
    with watched_page(browser, f"http://{dev.chronos}") as page:
        page.goto(f"http://{dev.chronos}/")
        expect(page.locator("#live")).to_have_attribute("data-status", "live", timeout=WAIT_MS)
        page.evaluate("window.notReloaded = true")
        yield page
        assert page.evaluate("window.notReloaded") is True


def test_a_dependent_job_made_with_the_form_is_an_edge_of_the_graph(
    page: Page, chronos: httpx.Client, artifacts: Path
) -> None:
    page.get_by_role("button", name="New Job").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Name", exact=True).fill("extract")
    dialog.get_by_label("Command", exact=True).fill("echo extracting")
    dialog.get_by_label("Schedule", exact=True).fill(HOURLY_IN_2030)
    preview = dialog.locator("ol.preview li")
    expect(preview).to_have_count(5)
    expect(preview.first).to_have_text("2030-01-01 00:00:00")
    expect(preview.last).to_have_text("2030-01-01 04:00:00")
    page.screenshot(path=artifacts / "chronos-1-new-job-form.png")
    dialog.get_by_role("button", name="Create Job").click()
    expect(page.locator('tr[data-job="extract"]')).to_contain_text("2030-01-01 00:00:00")

    page.get_by_role("button", name="New Job").click()
    dialog.get_by_label("Name", exact=True).fill("load")
    dialog.get_by_label("Command", exact=True).fill("echo loading")
    dialog.get_by_label("After parent jobs").check()
    dialog.get_by_label("Parents", exact=True).select_option(["extract"])
    page.screenshot(path=artifacts / "chronos-2-dependent-job-form.png")
    dialog.get_by_role("button", name="Create Job").click()
    expect(page.locator('tr[data-job="load"]')).to_contain_text("after extract")
    assert chronos.get("/v1/scheduler/job/load").json()["parents"] == ["extract"]
    page.screenshot(path=artifacts / "chronos-3-jobs.png", full_page=True)

    page.get_by_role("link", name="Dependency graph").click()
    expect(page.locator('svg.dag [data-node="extract"]')).to_be_visible()
    expect(page.locator('svg.dag [data-node="load"]')).to_be_visible()
    # The edge leaves the parent's box on its right side and ends on the child's left side.
    assert page.evaluate(EDGE_ENDS, "extract->load") == {"fromParent": True, "toChild": True}
    page.screenshot(path=artifacts / "chronos-4-graph.png", full_page=True)


def test_run_now_shows_the_run_in_the_history_and_the_child_runs_after_it(
    page: Page, chronos: httpx.Client, artifacts: Path
) -> None:
    report = {"name": "report", "command": "echo report", "schedule": HOURLY_IN_2030, "owner": ""}
    assert chronos.post("/v1/scheduler/iso8601", json=report).status_code == 204
    mail = {"name": "mail", "command": "echo mail", "parents": ["report"], "owner": ""}
    assert chronos.post("/v1/scheduler/dependency", json=mail).status_code == 204

    page.locator('tr[data-job="report"]').get_by_role("link", name="report").click()
    expect(page.get_by_role("heading", name="report")).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    run = page.locator('tr[data-run][data-status="succeeded"]')
    expect(run).to_have_count(1, timeout=WAIT_MS)
    expect(run).to_contain_text("Command exited with status 0")
    expect(page.locator(".card", has_text="Successes")).to_contain_text("1")
    page.screenshot(path=artifacts / "chronos-5-job-history.png", full_page=True)

    wait_for(
        lambda: chronos.get("/v1/scheduler/job/mail").json()["successCount"] == 1, timeout=20, what="mail"
    )
    page.get_by_role("link", name="Show in the graph").click()
    expect(page.locator('svg.dag [data-node="mail"]')).to_have_class("node success idle", timeout=WAIT_MS)
    expect(page.locator('svg.dag [data-node="report"]')).to_have_class("node success idle focus")
    page.screenshot(path=artifacts / "chronos-6-graph-after-runs.png", full_page=True)

"""The master's web UI in a real browser (Debian's chromium, driven by Playwright) against `corral dev`:
the overview's numbers match `/master/state`, a Marathon task's stdout shows in its sandbox view, and the page
follows the cluster live (a second task appears without a reload). Also the shared `core.js` helpers every
Corral UI builds on. Screenshots are kept under the test's tmp dir, and copied to $CORRAL_UI_ARTIFACTS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from support.browser import screenshots, watched_page

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

RESOURCES = "cpus:8;mem:8192;disk:10000;ports:[31000-32000]"
MARKER = "corral-ui says hello on stdout"
APP: dict[str, Any] = {"id": "ui-hello", "cmd": f"echo '{MARKER}'; sleep 600", "cpus": 0.1, "mem": 32}
WAIT_MS = 15_000


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with screenshots(tmp_path_factory.mktemp("ui-screenshots")) as folder:
        yield folder


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    [marathon_port] = free_ports(1)
    process = start_dev(tmp_path_factory.mktemp("ui"), resources=RESOURCES, marathon_port=marathon_port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def page(browser: Browser, dev: DevProcess) -> Iterator[Page]:
    with watched_page(browser, dev.url) as page:
        yield page


def marathon_tasks(marathon: httpx.Client, state: str = "TASK_RUNNING") -> list[dict[str, Any]]:
    tasks: list[dict[str, Any]] = marathon.get(f"/v2/apps/{APP['id']}/tasks").json()["tasks"]
    return [t for t in tasks if t["state"] == state]


def active_totals(state: dict[str, Any]) -> tuple[int, float]:
    agents = [a for a in state["slaves"] if a["active"]]
    return len(agents), sum(a["resources"]["cpus"] for a in agents)


def test_the_master_ui_shows_the_cluster_a_tasks_stdout_and_follows_it_live(
    dev: DevProcess, page: Page, artifacts: Path
) -> None:
    with httpx.Client(base_url=f"http://{dev.marathon}", timeout=5.0, trust_env=False) as marathon:
        wait_for(lambda: marathon.get("/v2/info").json().get("frameworkId"), timeout=15, what="marathon")
        assert marathon.post("/v2/apps", json={**APP, "instances": 1}).status_code == 201
        [task] = wait_for(lambda: marathon_tasks(marathon) or None, timeout=20, what="the first task")

        page.goto(dev.url + "/")
        agents, cpus = active_totals(dev.state())
        expect(page.locator('[data-metric="TASK_RUNNING"] .value')).to_have_text("1", timeout=WAIT_MS)
        expect(page.locator('[data-metric="agents"] .value')).to_have_text(str(agents))
        expect(page.locator('#resources [data-resource="cpus"] td').first).to_have_text(f"{cpus:g}")
        expect(page.locator("#live")).to_have_attribute("data-status", "live")
        page.screenshot(path=artifacts / "1-overview.png", full_page=True)

        page.get_by_role("link", name="Tasks", exact=True).click()
        page.locator(f'tr[data-task="{task["id"]}"] a').first.click()
        expect(page.locator('#status-history tr[data-state="TASK_RUNNING"]')).to_be_visible()
        page.screenshot(path=artifacts / "2-task.png", full_page=True)

        page.get_by_role("link", name="stdout", exact=True).click()
        expect(page.locator("pre.log")).to_contain_text(MARKER, timeout=WAIT_MS)
        page.screenshot(path=artifacts / "3-sandbox-stdout.png", full_page=True)

        page.get_by_role("link", name="Overview", exact=True).click()
        page.evaluate("window.notReloaded = true")
        assert marathon.put(f"/v2/apps/{APP['id']}", json={"instances": 2}).status_code == 200
        expect(page.locator('[data-metric="TASK_RUNNING"] .value')).to_have_text("2", timeout=WAIT_MS)
        assert page.evaluate("window.notReloaded") is True
        page.screenshot(path=artifacts / "4-overview-live.png", full_page=True)


def test_a_page_whose_master_stops_leading_goes_to_the_leader(dev: DevProcess, page: Page) -> None:
    """A follower answers `/master/state` with a 307 (simulated here, once): the page then goes through
    `/master/redirect`, which names the leader, and opens there on the same sub-page."""
    page.route("**/master/state", lambda route: route.fulfill(status=307, headers={"Location": "/"}), times=1)
    with page.expect_request("**/master/redirect"):
        page.goto(dev.url + "/#/agents")
    expect(page).to_have_url(dev.url + "/#/agents")
    expect(page.locator("tr[data-agent]")).to_have_count(1, timeout=WAIT_MS)


CORE_CHECKS = """async () => {
  const c = await import('/ui/core.js');
  const rows = Array.from({length: 10000}, (_, i) => ({id: `t${i}`, n: i % 7, name: `<b>${i}</b>`}));
  const table = c.dataTable({columns: [{key: 'id', label: 'ID'}, {key: 'n', label: 'N', num: true},
                                       {key: 'name', label: 'Name'}]});
  document.body.append(table.el);
  table.update(rows);
  const info = () => table.el.querySelector('.pager span').textContent;
  const first = () => table.el.querySelector('tbody td').textContent;
  const out = {paged: info(), shownRows: table.el.querySelectorAll('tbody tr').length};
  table.el.querySelectorAll('th')[1].click();  // N, a number column: descending first
  out.sortedFirst = table.el.querySelector('tbody tr td:nth-child(2)').textContent;
  const search = table.el.querySelector('input');
  search.value = 't9999';
  search.dispatchEvent(new Event('input'));
  out.filtered = info();
  out.filteredFirst = first();
  out.escaped = table.el.querySelector('tbody td:nth-child(3)').innerHTML;
  out.unsafeHref = c.h('a', {href: 'javascript:alert(1)'}).getAttribute('href');
  out.formats = [c.fmtBytes(1536), c.fmtMiB(2048), c.fmtCpus(0.1 + 0.2), c.fmtDuration(3725),
                 c.fmtDuration(2.5), c.fmtPercent(0.125), c.fmtNumber(10000)];
  out.badges = ['TASK_RUNNING', 'TASK_FAILED', 'TASK_STAGING', 'TASK_KILLED', 'UNHEALTHY']
    .map((s) => c.stateBadge(s).className);
  return out;
}"""


def test_the_shared_core_helpers_page_10000_rows_escape_text_and_format(dev: DevProcess, page: Page) -> None:
    page.goto(dev.url + "/")
    result = page.evaluate(CORE_CHECKS)
    assert result["paged"] == "1\u201350 of 10,000"
    assert result["shownRows"] == 50
    assert result["sortedFirst"] == "6"
    assert result["filtered"] == "1\u20131 of 1 (of 10,000)"
    assert result["filteredFirst"] == "t9999"
    assert result["escaped"] == "&lt;b&gt;9999&lt;/b&gt;"
    assert result["unsafeHref"] == "#"
    assert result["formats"] == ["1.5 KiB", "2 GiB", "0.3", "1h 2m", "2.5s", "12.5%", "10,000"]
    assert result["badges"] == ["badge ok", "badge bad", "badge info", "badge muted", "badge bad"]

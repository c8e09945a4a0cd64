"""The web UIs of a `corral dev --credentials` stack in Debian's chromium (Playwright): each page opens on its
login form (never the browser's own password dialog: no answer carries a Basic challenge), a wrong password
shows the daemon's message, the right one shows the data and the live stream, and Log out brings the form
back. The form is used from the keyboard alone. One login serves the other UIs on the host: the cookie does
not name a port, and the daemons share the principals and so the token key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, expect
from support.browser import screenshots

from corral.testing.procs import DevProcess, free_ports, start_dev, wait_for

pytestmark = pytest.mark.integration

WAIT_MS = 20_000
PRINCIPAL, SECRET = "ops", "correct horse battery"
MARKER = "hello-behind-the-login"


@dataclass(frozen=True)
class Ui:
    name: str
    label: str  # of the principal field
    data: str  # a locator that shows the daemon's data once logged in


UIS = {
    "master": Ui("master", "Principal", '#main tr[data-framework]:has-text("marathon")'),
    "marathon": Ui("marathon", "User", 'tr[data-app="/login-check"]'),
    "chronos": Ui("chronos", "User", 'tr[data-job="login-check"]'),
}


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with screenshots(tmp_path_factory.mktemp("login-ui")) as folder:
        yield folder


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevProcess]:
    base = tmp_path_factory.mktemp("login-ui-dev")
    credentials = base / "credentials.json"
    credentials.write_text(json.dumps({"credentials": [{"principal": PRINCIPAL, "secret": SECRET}]}))
    marathon_port, chronos_port = free_ports(2)
    process = start_dev(
        base,
        extra_args=["--credentials", str(credentials), "--no_lb"],
        marathon_port=marathon_port,
        chronos_port=chronos_port,
        basic_auth=(PRINCIPAL, SECRET),
    )
    try:
        with httpx.Client(timeout=5.0, trust_env=False, auth=(PRINCIPAL, SECRET)) as http:
            marathon, chronos = f"http://{process.marathon}", f"http://{process.chronos}"
            wait_for(
                lambda: http.get(f"{marathon}/v2/info").json().get("frameworkId"), timeout=20, what="marathon"
            )
            app = {"id": "login-check", "cmd": f"echo {MARKER}; sleep 600", "cpus": 0.01, "mem": 16}
            assert http.post(f"{marathon}/v2/apps", json=app).status_code == 201
            job = {"name": "login-check", "command": "true", "schedule": "R/2030-01-01T00:00:00Z/P1D"}
            wait_for(lambda: http.get(f"{chronos}/ping").status_code == 200, timeout=20, what="chronos")
            assert http.post(f"{chronos}/v1/scheduler/iso8601", json=job).status_code == 204
        yield process
    finally:
        process.stop()


def origin(dev: DevProcess, ui: Ui) -> str:
    return f"http://{ {'master': dev.master, 'marathon': dev.marathon, 'chronos': dev.chronos}[ui.name] }"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookie) whose page fails the test on a script error and on any answer
    carrying a Basic challenge, which would open the browser's own password dialog. The refused requests'
    console lines (`... status of 401`) are expected."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error" and "401" not in message.text:
            problems.append(f"console error: {message.text}")

    def response(answer: Response) -> None:
        if "www-authenticate" in answer.headers:
            problems.append(f"Basic challenge from {answer.url}")

    page.on("console", console)
    page.on("response", response)
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems


def log_in_with_the_keyboard(page: Page, secret: str) -> None:
    """Type into the form as someone without a mouse would: the principal field has the focus."""
    expect(page.locator("#login-principal")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type(PRINCIPAL)
    page.keyboard.press("Tab")
    expect(page.locator("#login-password")).to_be_focused()
    page.keyboard.type(secret)
    page.keyboard.press("Enter")


@pytest.mark.parametrize("name", list(UIS))
def test_the_ui_logs_in_shows_its_data_and_logs_out(
    dev: DevProcess, page: Page, name: str, artifacts: Path
) -> None:
    ui = UIS[name]
    page.goto(origin(dev, ui) + ("/#/frameworks" if name == "master" else "/"))
    form = page.get_by_role("dialog", name="Log in")
    expect(form).to_be_visible(timeout=WAIT_MS)
    expect(form.get_by_label(ui.label)).to_be_visible()
    expect(page.locator("main")).to_be_hidden()
    page.screenshot(path=artifacts / f"{name}-1-login.png")

    log_in_with_the_keyboard(page, "wrong")
    expect(form.get_by_role("alert")).to_have_text("invalid credentials")
    expect(page.locator("#login-password")).to_have_value("")  # a refused password is not kept
    page.screenshot(path=artifacts / f"{name}-2-wrong-password.png")

    page.locator("#login-principal").focus()
    log_in_with_the_keyboard(page, SECRET)
    expect(form).to_be_hidden()
    expect(page.locator(ui.data)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#live")).to_have_attribute("data-status", "live", timeout=WAIT_MS)
    expect(page.locator(".session")).to_contain_text(PRINCIPAL)
    page.screenshot(path=artifacts / f"{name}-3-logged-in.png")

    page.reload()  # the cookie outlives the page; the Log out control comes back with it
    expect(page.locator(ui.data)).to_be_visible(timeout=WAIT_MS)
    page.locator(".session").get_by_role("button", name="Log out").click()
    expect(form).to_be_visible()
    expect(form.get_by_role("alert")).to_be_hidden()
    expect(page.locator("main")).to_be_hidden()
    expect(page.locator("#live")).to_have_attribute("data-status", "down")
    page.screenshot(path=artifacts / f"{name}-4-logged-out.png")

    log_in_with_the_keyboard(page, SECRET)  # in the same page: the data and the stream come back
    expect(page.locator(ui.data)).to_be_visible(timeout=WAIT_MS)
    expect(page.locator("#live")).to_have_attribute("data-status", "live", timeout=WAIT_MS)
    page.locator(".session").get_by_role("button", name="Log out").click()
    expect(form).to_be_visible()
    page.reload()  # the cookie is gone: the daemon asks again
    expect(form).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(ui.data)).to_have_count(0)


def test_the_master_ui_reads_a_sandbox_through_the_agent_that_authenticates(
    dev: DevProcess, page: Page
) -> None:
    """The master proxies /files to the agent, passing the page's login on: the agent asks for it too."""
    page.goto(origin(dev, UIS["master"]) + "/#/tasks")
    log_in_with_the_keyboard(page, SECRET)
    page.locator('tr[data-task^="login-check."] a').first.click(timeout=WAIT_MS)
    page.get_by_role("link", name="stdout", exact=True).click()
    expect(page.locator("pre.log")).to_contain_text(MARKER, timeout=WAIT_MS)
    expect(page.get_by_role("dialog", name="Log in")).to_be_hidden()


def test_one_login_serves_every_ui_of_the_stack(dev: DevProcess, page: Page) -> None:
    page.goto(origin(dev, UIS["marathon"]) + "/")
    log_in_with_the_keyboard(page, SECRET)
    expect(page.locator(UIS["marathon"].data)).to_be_visible(timeout=WAIT_MS)
    for name in ("chronos", "master"):
        page.goto(origin(dev, UIS[name]) + ("/#/frameworks" if name == "master" else "/"))
        expect(page.locator(UIS[name].data)).to_be_visible(timeout=WAIT_MS)
        expect(page.get_by_role("dialog", name="Log in")).to_have_count(0)

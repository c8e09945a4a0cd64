"""Debian's chromium driven by Playwright, for the web UI tests: a browser with the flags the tests use, a
page that records every script error and every request leaving the daemon's origin (a UI loads nothing from
the internet), and a screenshot folder copied to $CORRAL_UI_ARTIFACTS when the module's tests are done."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing and could not be installed (scripts/install-system-deps.sh)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def screenshots(folder: Path) -> Iterator[Path]:
    """`folder` for the screenshots; copied to $CORRAL_UI_ARTIFACTS (if set) at the end, whatever happened."""
    try:
        yield folder
    finally:
        if target := os.environ.get("CORRAL_UI_ARTIFACTS"):
            shutil.copytree(folder, Path(target), dirs_exist_ok=True)


@contextmanager
def watched_page(browser: Browser, origin: str) -> Iterator[Page]:
    """A page (UTC, so times read the same everywhere) that fails the test on a script or console error, and
    on any request to anywhere but `origin`. Links to another daemon are fine: they are not followed."""
    page = browser.new_page(viewport={"width": 1400, "height": 900}, timezone_id="UTC")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(f"console error: {message.text}")

    page.on("console", console)
    page.on(
        "request",
        lambda request: None if request.url.startswith((origin, "data:")) else problems.append(request.url),
    )
    try:
        yield page
    finally:
        page.close()
    assert not problems, problems

"""Browser tests: a real server, Debian's Chromium driven by Playwright.

Each test gets a fresh page that records console errors and uncaught exceptions; a test
fails if any appear (a page that logs an error is broken for a person too). Screenshots go
to ``artifacts/screenshots/`` (``shot(page, name)``), kept by CI as test artifacts.

Without a browser the tests are skipped locally; with ``CI=true`` a missing browser or
Playwright fails the run instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.conftest import Server, trained_image_run

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def chromium_path() -> str | None:
    for name in (os.environ.get("GANSCOPE_CHROMIUM"), "chromium", "chromium-browser",
                 "google-chrome"):
        if name and (found := shutil.which(name)):
            return found
    return None


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _missing("no Chromium found (apt-get install chromium, or set GANSCOPE_CHROMIUM)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(tmp_path_factory.mktemp("ganscope-ui")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def image_run(live_server: Server) -> str:
    return trained_image_run(live_server)


class PageErrors(list):
    """Console errors and uncaught exceptions a page produced."""


@pytest.fixture()
def page(browser: Any, live_server: Server) -> Iterator[Any]:
    yield from _page(browser, live_server.url)


@pytest.fixture()
def served_page(browser: Any, served: Any) -> Iterator[Any]:
    """A page on the app the module serves from the test's process (its ``served`` fixture:
    tests/webui/served.py)."""
    yield from _page(browser, served.url)


def _page(browser: Any, url: str) -> Iterator[Any]:
    """A fresh page on ``url``; the test fails if the page logged an error it did not allow."""
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors = PageErrors()
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}")
            if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    page.errors = errors
    page.set_default_timeout(20_000)
    yield page
    context.close()
    allowed = getattr(page, "allowed_errors", ())
    real = [e for e in errors if not any(a in e for a in allowed)]
    assert not real, f"the page logged errors: {real}"


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

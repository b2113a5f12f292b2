"""The whole stack for browser tests: the session's Berth engine, a private Redis, the console
served by Daphne (tests/support/console.py) and Debian's Chromium driven by Playwright.

Everything is session-scoped and stopped at the end of the session; the engine
is the one of tests/conftest.py, whose leak check runs after these fixtures end.

Screenshots go to $BERTH_SCREENSHOTS, or tests/e2e/screenshots/ (git-ignored),
emptied at the start of the session; the folder is named in pytest's summary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.console import ConsoleServer
from tests.support.engine import EngineProcess
from tests.support.redis import RedisServer

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("BERTH_SCREENSHOTS") or Path(__file__).resolve().parent / "screenshots")
VIEWPORT = {"width": 1280, "height": 800}
_taken: list[Path] = []


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if _taken:
        terminalreporter.write_line(f"e2e: {len(_taken)} screenshots in {SCREENSHOTS}")


@pytest.fixture(scope="session")
def console_server(engine: EngineProcess) -> Iterator[ConsoleServer]:
    """The console on 127.0.0.1:<free port>, its endpoint "local" being the session's engine."""
    redis = RedisServer().start()
    server = ConsoleServer(engine.host, redis.url)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        redis.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless (Playwright's own browsers are never downloaded).

    Package-scoped: Playwright's sync API keeps an asyncio loop marked running in the
    main thread while it lives, which would break later tests that call asyncio.run."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test-deps` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser, console_server: ConsoleServer) -> Iterator[object]:  # type: ignore[no-untyped-def]
    """A fresh browser context (no cookies) on the console; page errors fail the test."""
    context = browser.new_context(base_url=console_server.url, viewport=VIEWPORT)
    context.set_default_timeout(15_000)
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, f"JavaScript errors in the page: {errors}"


@pytest.fixture(scope="session")
def screenshot_dir() -> Path:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def shoot(screenshot_dir: Path) -> Callable[..., Path]:
    """`shoot(page, name, full_page=False)`: save a PNG of the page as <dir>/NN-name.png.

    A full page is taken in a window as tall as the page, so the sticky sidebar is
    drawn as a person with such a window would see it (a screenshot beyond the
    viewport would draw it wherever the page happened to be scrolled)."""
    def take(tab, name: str, full_page: bool = False) -> Path:  # type: ignore[no-untyped-def]
        path = screenshot_dir / f"{len(_taken) + 1:02d}-{name}.png"
        size = tab.viewport_size
        if full_page and size:
            tab.set_viewport_size({"width": size["width"], "height": tab.evaluate("document.documentElement.scrollHeight")})
        try:
            tab.screenshot(path=str(path))
        finally:
            if full_page and size:
                tab.set_viewport_size(size)
        _taken.append(path)
        return path
    return take

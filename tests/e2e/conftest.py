"""Fixtures for the browser tests: the real app under uvicorn, and Debian's Chromium.

The app runs in a background thread on a free port with a fresh data folder per
test; Playwright's sync API drives Chromium from the test thread. No browser is
ever downloaded: the tests use the ``chromium`` package of the system.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

import council.meetings
import council.moderation.accounts
from tests.factories import LIVE_MODERATOR as MODERATOR
from tests.factories import LIVE_PASSWORD as PASSWORD
from tests.factories import LIVE_SLUG as SLUG
from tests.factories import LIVE_TITLE as TITLE
from tests.factories import LiveServer, free_port, in_ci

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Without these Chromium phones home on start, and the CI network is closed.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live meeting ``pleno`` with a moderator ``mod``, served on a fresh data folder."""
    live = LiveServer(tmp_path / "data", free_port())
    live.start()
    try:
        live.write(council.meetings.create_meeting, slug=SLUG, title=TITLE, hashtags=["PlenoJun"])
        live.write(council.meetings.start_meeting, slug=SLUG)
        live.write(
            council.moderation.accounts.add_user,
            username=MODERATOR,
            password=PASSWORD,
            role="moderator",
        )
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: while Playwright's sync API is running it holds an asyncio
    # loop on the main thread, and tests elsewhere that call asyncio.run() would then fail.
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed: apt-get install chromium"
        if in_ci():
            pytest.fail(message + " (CI=true: browser tests must run, not skip)")
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


class Contexts:
    """Browser contexts opened by a test, closed at its end; dialogs and page errors fail it."""

    def __init__(self, browser: Browser, base_url: str) -> None:
        self.browser = browser
        self.base_url = base_url
        self.opened: list[BrowserContext] = []
        self.dialogs: list[str] = []
        self.page_errors: list[str] = []

    def new(self, width: int = 1280, height: int = 800, **options: Any) -> BrowserContext:
        context = self.browser.new_context(
            base_url=self.base_url,
            viewport={"width": width, "height": height},
            **options,
        )
        context.set_default_timeout(10_000)
        context.on("page", self._watch)
        self.opened.append(context)
        return context

    def page(self, width: int = 1280, height: int = 800, **options: Any) -> Page:
        return self.new(width, height, **options).new_page()

    def moderator(self, width: int = 1440, height: int = 900) -> Page:
        """A desktop browser logged in through the form, on the meeting's moderation page."""
        page = self.page(width, height)
        page.goto(f"/login?next=/moderate/{SLUG}")
        page.fill("#username", MODERATOR)
        page.fill("#password", PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"**/moderate/{SLUG}")
        expect(page.locator("#moderate")).to_be_visible(timeout=5_000)
        return page

    def _watch(self, page: Page) -> None:
        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message} on {page.url}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: self.page_errors.append(f"{error} on {page.url}"))

    def close(self) -> None:
        for context in self.opened:
            context.close()


@pytest.fixture
def contexts(browser: Browser, server: LiveServer) -> Iterator[Contexts]:
    opened = Contexts(browser, server.base_url)
    try:
        yield opened
        assert not opened.dialogs, f"a dialog opened: {opened.dialogs}"
        assert not opened.page_errors, f"JavaScript errors: {opened.page_errors}"
    finally:
        opened.close()

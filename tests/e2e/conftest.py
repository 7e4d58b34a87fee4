"""Fixtures for the browser tests: the real app under uvicorn, and Debian's Chromium.

The app runs in a background thread on a free port with a fresh data folder per
test; Playwright's sync API drives Chromium from the test thread. No browser is
ever downloaded: the tests use the ``chromium`` package of the system.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

import council.meetings
import council.moderation.accounts
from council.app import create_app
from council.settings import Settings

SLUG = "pleno"
TITLE = "Pleno de Jun"
MODERATOR = "mod"
PASSWORD = "correct-horse-1"

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


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def chromium_path() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """A Council app under uvicorn in a thread; `start` again makes a new app on the same data."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        # Extra settings for the next start, e.g. the X collector pointed at the fake X API.
        self.overrides: dict[str, Any] = {}

    def settings(self) -> Settings:
        # Everything explicit, so COUNCIL_* variables or a .env of the machine cannot leak in.
        return Settings(
            _env_file=None,
            data_dir=self.data_dir,
            database_url=f"sqlite:///{(self.data_dir / 'council.db').resolve()}",
            submission_rate_limit="1000/minute",
            login_rate_limit="1000/minute",
            **self.overrides,
        )

    @property
    def db(self) -> Any:
        return self.app.state.council.db

    def start(self) -> None:
        assert self._server is None, "already running"
        self.app = create_app(self.settings())
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            ws_per_message_deflate=False,
            log_level="warning",
            timeout_graceful_shutdown=5,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name=f"uvicorn-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            if time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"uvicorn took over 20 s to start on port {self.port}")
            time.sleep(0.02)
        self._server, self._thread = server, thread

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout=15)
        alive = self._thread.is_alive()
        self._server, self._thread = None, None
        if alive:
            raise RuntimeError("uvicorn did not stop within 15 s")

    # -- data through the domain layer, on the same database ----------------------------------

    def write(self, fn: Any, **kwargs: Any) -> Any:
        result, _events = self.db.run_write(fn, **kwargs)
        return result

    def moderator_token(self) -> str:
        token: str = self.write(council.moderation.accounts.create_token, username=MODERATOR)
        return token

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.base_url, headers=headers, timeout=10)

    def submit(self, *, name: str, text: str, neighborhood: str | None = None) -> dict[str, Any]:
        """A question through the public API, as a phone sends it: ``{id, status, track_url}``."""
        body = {"name": name, "text": text}
        if neighborhood is not None:
            body["neighborhood"] = neighborhood
        with self.api() as client:
            response = client.post(f"/api/meetings/{SLUG}/submissions", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def act(self, token: str, submission_id: int, action: str) -> dict[str, Any]:
        """A moderator action through the API with a bearer token."""
        with self.api(token) as client:
            response = client.post(f"/api/meetings/{SLUG}/submissions/{submission_id}/{action}")
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    def state(self) -> dict[str, Any]:
        """The public state of the meeting: ``{meeting, seq, on_screen, approved}``."""
        with self.api() as client:
            response = client.get(f"/api/meetings/{SLUG}/state")
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state


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
        if _in_ci():
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

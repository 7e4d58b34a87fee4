"""kill -9 of `council serve` under load: no acknowledged question is lost, the screen comes back.

A real `council serve` process takes questions from eight concurrent clients while a chamber
screen is open in Chromium; the process is killed with SIGKILL in the middle of it and started
again on the same database and port. Every question that was answered 201 must be in the
database, and the open screen page (never reloaded) must show the question that was on screen
within 3 s of the new process accepting connections.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from council.db import Database
from council.models import Submission
from tests.factories import Worker, free_port, postgres_database
from tests.live.test_faults import Load, prepare

pytestmark = pytest.mark.browser

SLUG = "pleno"
ON_SCREEN = "¿Cuándo abrirá la piscina municipal este verano?"
CLIENTS = 8
MAX_REQUESTS = 2_000
LOAD_BEFORE_KILL_S = 1.5
# From the new process accepting connections to the screen showing its question again.
RECOVERY_LIMIT_S = 3.0


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{(tmp_path / 'council.db').resolve()}"
        return
    with postgres_database() as url:
        yield url


def stored(url: str) -> dict[int, str]:
    db = Database(url)
    try:
        with db.session() as session:
            rows = session.execute(select(Submission.id, Submission.track_token)).all()
            return {row.id: row.track_token for row in rows}
    finally:
        db.close()


def test_kill_9_under_load_loses_no_201_and_the_open_screen_recovers(
    database: str, tmp_path: Path, browser: Browser
) -> None:
    token = prepare(database)
    env = {
        "COUNCIL_DATABASE_URL": database,
        "COUNCIL_SECRET_KEY": "crash-test-secret",
        "COUNCIL_SUBMISSION_RATE_LIMIT": "1000000/minute",
    }
    port = free_port()
    worker = Worker(tmp_path / "first", env, port=port)
    context = browser.new_context(
        base_url=worker.base_url, viewport={"width": 1920, "height": 1080}
    )
    page_errors: list[str] = []
    try:
        with httpx.Client(
            base_url=worker.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10
        ) as moderator:
            response = moderator.post(
                f"/api/meetings/{SLUG}/submissions", json={"name": "Ana", "text": ON_SCREEN}
            )
            assert response.status_code == 201, response.text
            shown = response.json()["id"]
            for action in ("approve", "show"):
                answer = moderator.post(f"/api/meetings/{SLUG}/submissions/{shown}/{action}")
                assert answer.status_code == 200, answer.text

        screen = context.new_page()
        screen.on("pageerror", lambda error: page_errors.append(str(error)))
        screen.goto(f"/screen/{SLUG}")
        expect(screen.locator("#current-text")).to_have_text(ON_SCREEN, timeout=5_000)
        mark = screen.locator("[data-connection]")
        expect(mark).to_be_hidden()

        load = Load(worker.base_url, clients=CLIENTS, max_requests=MAX_REQUESTS)
        load.start()
        deadline = time.monotonic() + 10
        time.sleep(LOAD_BEFORE_KILL_S)
        while len(load.created) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.kill()  # SIGKILL: no shutdown handler, no final commit, no goodbye to the sockets
        killed_after = len(load.created)
        # Nothing can reach the page now: whatever shows ON_SCREEN later was rendered anew.
        screen.evaluate("document.getElementById('current-text').__beforeKill = true")
        time.sleep(0.3)  # the clients meet the dead port
        load.join()
        assert not load.answers, f"answers other than 201 before the kill: {load.answers[:5]}"
        assert killed_after >= 5, f"only {killed_after} questions were accepted before the kill"
        expect(mark).to_be_visible(timeout=5_000)  # the screen noticed, and says so

        restarted = Worker(tmp_path / "second", env, port=port)
        worker = restarted
        ready = time.monotonic()
        screen.wait_for_function(
            """(text) => {
                const node = document.getElementById('current-text');
                const mark = document.querySelector('[data-connection]');
                return node && !node.__beforeKill && node.textContent === text && mark.hidden;
            }""",
            arg=ON_SCREEN,
            timeout=10_000,
            polling=50,
        )
        recovered = time.monotonic() - ready
        print(
            f"\n[{database.split(':')[0]}] {load.sent} requests, "
            f"{len(load.created)} got 201, {load.failed} met the dead server; "
            f"accepting connections -> screen showing its question again: {recovered:.2f} s"
        )
        assert recovered <= RECOVERY_LIMIT_S, f"the screen took {recovered:.2f} s to come back"
        # No reload: the page that was open before the kill is the one showing it.
        assert screen.evaluate("performance.getEntriesByType('navigation').length") == 1

        rows = stored(database)
        ids = [created["id"] for created in load.created]
        assert len(set(ids)) == len(ids), "two 201s carried the same id"
        lost = [i for i in ids if i not in rows]
        assert not lost, f"{len(lost)} of {len(ids)} acknowledged questions are gone: {lost[:10]}"
        for created in load.created:
            assert created["track_url"].endswith("/" + rows[created["id"]])

        with httpx.Client(base_url=worker.base_url, timeout=10) as public:
            state = public.get(f"/api/meetings/{SLUG}/state").json()
        assert state["on_screen"]["id"] == shown
        assert not page_errors, page_errors
    finally:
        context.close()
        worker.stop()

"""Changes committed by another process (the CLI, another worker) reach the open sockets."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from council.agenda import add_item, next_item
from council.db import Database
from council.settings import Settings
from tests.factories import make_question


def elsewhere(settings: Settings) -> Database:
    """The same database, opened as the CLI does: nothing it writes reaches the hub."""
    return Database(settings.resolved_database_url)


def test_an_agenda_move_from_the_cli_reaches_the_screen(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    other = elsewhere(settings)
    try:
        with client.websocket_connect("/ws/meetings/pleno") as screen:
            screen.receive_json()
            other.run_write(add_item, slug="pleno", title="Presupuestos 2027")
            started = time.monotonic()
            other.run_write(next_item, slug="pleno")
            first, second = screen.receive_json(), screen.receive_json()
            waited = time.monotonic() - started
    finally:
        other.close()
    assert [first["type"], second["type"]] == ["agenda", "agenda"]
    assert second["agenda"]["current"] == second["agenda"]["items"][0]["id"]
    assert waited < 3, "within a couple of seconds"


def test_a_gap_is_filled_before_this_process_publishes(
    moderator: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    sub = make_question(db)
    other = elsewhere(settings)
    try:
        with moderator.websocket_connect("/ws/meetings/pleno") as screen:
            snapshot = screen.receive_json()
            other.run_write(add_item, slug="pleno", title="Ruegos y preguntas")
            # Right away, before the tail's next look: this write must not jump the queue.
            moderator.post(f"/api/meetings/pleno/submissions/{sub.id}/approve")
            messages = [screen.receive_json(), screen.receive_json()]
    finally:
        other.close()
    assert [m["type"] for m in messages] == ["agenda", "approved"]
    assert [m["seq"] for m in messages] == [snapshot["seq"] + 1, snapshot["seq"] + 2]

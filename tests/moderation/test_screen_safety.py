"""The chamber screen's safety: a delay between show and the screen, cancel, and blackout."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from council.app import create_app
from council.db import Database
from council.models import Event, Meeting, Submission, utcnow
from council.moderation import screen
from council.settings import Settings
from tests.factories import make_meeting, make_question, make_token, make_user, receive_until

pytestmark = pytest.mark.both_databases


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post(client: TestClient, token: str, path: str, body: Any = None) -> Any:
    return client.post(f"/api/meetings/pleno/{path}", json=body, headers=bearer(token))


def show(client: TestClient, token: str, sub_id: int) -> dict[str, Any]:
    response = post(client, token, f"submissions/{sub_id}/show")
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def set_delay(client: TestClient, token: str, seconds: int | None) -> None:
    response = post(client, token, "screen/delay", {"seconds": seconds})
    assert response.status_code == 200, response.text


def status_of(db: Database, sub_id: int) -> str:
    with db.session() as session:
        sub = session.get(Submission, sub_id)
        assert sub is not None
        return sub.status


def event_types(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Event.type).order_by(Event.seq)))


def until_sentinel(ws: Any, sentinel_id: int) -> list[dict[str, Any]]:
    """Everything the public socket says up to the approval of ``sentinel_id``."""
    return receive_until(
        ws,
        lambda m: m["type"] == "approved" and m["submissions"][0]["id"] == sentinel_id,
    )


# -- the delay ---------------------------------------------------------------------------------


def test_without_a_delay_show_is_immediate(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db, status="approved")
    answer = show(client, token, sub.id)
    assert answer["submission"]["status"] == "on_screen"
    assert answer["pending_show"] is None


def test_with_a_delay_show_waits_and_then_reaches_the_screen(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 1)
    sub = make_question(db, status="approved", text="espera un segundo")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        started = time.monotonic()
        answer = show(client, token, sub.id)
        assert answer["submission"]["status"] == "approved", "nothing changes before the delay"
        assert answer["pending_show"]["submission_id"] == sub.id
        assert 0.5 < answer["pending_show"]["remaining_s"] <= 1
        assert status_of(db, sub.id) == "approved"
        messages = receive_until(ws, lambda m: m["type"] == "shown")
        waited = time.monotonic() - started
    assert [m["type"] for m in messages] == ["shown"]
    assert messages[0]["submissions"][0]["id"] == sub.id
    assert messages[0]["submissions"][0]["status"] == "on_screen"
    assert waited >= 0.9, f"shown after {waited:.2f} s, before the delay was over"
    assert status_of(db, sub.id) == "on_screen"


def test_scheduled_and_cancelled_shows_are_for_moderators_only(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 30)
    sub = make_question(db, status="approved")
    sentinel = make_question(db)
    with (
        client.websocket_connect("/ws/meetings/pleno") as public,
        client.websocket_connect("/ws/meetings/pleno/moderation", headers=bearer(token)) as mod,
    ):
        public.receive_json()
        assert mod.receive_json()["pending_show"] is None
        show(client, token, sub.id)
        [scheduled] = receive_until(mod, lambda m: m["type"] == "show_scheduled")
        assert post(client, token, "screen/cancel", {"submission_id": sub.id}).status_code == 200
        [cancelled] = receive_until(mod, lambda m: m["type"] == "show_cancelled")
        assert post(client, token, f"submissions/{sentinel.id}/approve").status_code == 200
        heard = until_sentinel(public, sentinel.id)
    assert scheduled["pending_show"]["submission_id"] == sub.id
    assert scheduled["submissions"][0]["id"] == sub.id
    assert cancelled["pending_show"] is None
    assert cancelled["cancelled"] == {"submission_id": sub.id, "reason": "cancelled"}
    assert [m["type"] for m in heard] == ["approved"], "the public hears of neither"


def test_a_show_cancelled_within_the_delay_never_reaches_the_screen(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 1)
    sub = make_question(db, status="approved", text="nunca en pantalla")
    sentinel = make_question(db)
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        show(client, token, sub.id)
        response = post(client, token, "screen/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["screen"]["pending_show"] is None
        time.sleep(1.6)  # well past the moment it was due
        assert post(client, token, f"submissions/{sentinel.id}/approve").status_code == 200
        heard = until_sentinel(ws, sentinel.id)
    assert "shown" not in [m["type"] for m in heard]
    assert "nunca en pantalla" not in json.dumps(heard)
    assert status_of(db, sub.id) == "approved"
    assert "shown" not in event_types(db)


def test_cancelling_too_late_is_a_clear_conflict(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db, status="approved")
    show(client, token, sub.id)
    response = post(client, token, "screen/cancel", {"submission_id": sub.id})
    assert response.status_code == 409
    assert "hide it" in response.json()["detail"]


def test_cancel_names_the_show_the_moderator_saw(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 30)
    first = make_question(db, status="approved")
    second = make_question(db, status="approved")
    show(client, token, first.id)
    show(client, token, second.id)  # replaces the first: the moderator changed their mind
    response = post(client, token, "screen/cancel", {"submission_id": first.id})
    assert response.status_code == 409
    assert f"question {second.id}" in response.json()["detail"]
    with db.session() as session:
        assert session.scalars(select(Meeting)).one().pending_show_id == second.id


def test_showing_the_same_question_again_keeps_its_countdown(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 30)
    sub = make_question(db, status="approved")
    first = show(client, token, sub.id)["pending_show"]
    again = show(client, token, sub.id)["pending_show"]
    assert again["due_at"] == first["due_at"]
    assert event_types(db).count("show_scheduled") == 1


def test_a_delayed_show_is_refused_at_once_when_show_would_be(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 30)
    pending = make_question(db)
    response = post(client, token, f"submissions/{pending.id}/show")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"
    stale = make_question(db, status="approved")
    response = post(client, token, f"submissions/{stale.id}/show", {"expected_status": "pending"})
    assert response.status_code == 409
    assert "show_scheduled" not in event_types(db)


def test_a_question_withdrawn_during_the_delay_is_not_shown(db: Database, meeting: str) -> None:
    sub = make_question(db, status="approved")
    db.run_write(
        screen.request_show, slug="pleno", submission_id=sub.id, actor="mod", default_delay=5
    )
    from council.moderation import actions

    db.run_write(actions.restore, slug="pleno", submission_id=sub.id, actor="mod")
    fired, events = db.run_write(screen.fire_due_shows, now=utcnow() + timedelta(seconds=6))
    assert fired == []
    assert [e.type for e in events] == ["show_cancelled"]
    assert events[0].payload["cancelled"]["reason"] == "not_approved"
    assert events[0].public is None


def test_the_meetings_own_delay_overrides_the_servers_default(db: Database, meeting: str) -> None:
    sub = make_question(db, status="approved")
    shown, _events = db.run_write(
        screen.request_show, slug="pleno", submission_id=sub.id, actor="mod", default_delay=10
    )
    assert shown.status == "approved", "the default delays it"
    db.run_write(screen.set_show_delay, slug="pleno", seconds=0, actor="mod")
    shown, events = db.run_write(
        screen.request_show, slug="pleno", submission_id=sub.id, actor="mod", default_delay=10
    )
    assert shown.status == "on_screen", "0 for this meeting: at once"
    assert [e.type for e in events] == ["shown"], "the same question: nothing was cancelled"


@pytest.mark.parametrize("seconds", [-1, 301])
def test_a_delay_out_of_range_is_refused_with_the_range(
    client: TestClient, meeting: str, token: str, seconds: int
) -> None:
    response = post(client, token, "screen/delay", {"seconds": seconds})
    assert response.status_code == 422
    assert "0 (none) to 300" in response.json()["detail"]


def test_the_server_default_delay_applies_until_a_meeting_sets_its_own(tmp_path: Any) -> None:
    app = create_app(Settings(data_dir=tmp_path, show_delay_seconds=7, _env_file=None))
    db = app.state.council.db
    make_meeting(db)
    make_user(db, "tool")
    token = make_token(db, "tool")
    sub = make_question(db, status="approved")
    with TestClient(app) as client:
        view = client.get("/api/meetings/pleno/screen", headers=bearer(token)).json()["screen"]
        assert view["show_delay_s"] is None
        assert view["default_delay_s"] == view["effective_delay_s"] == 7
        answer = show(client, token, sub.id)
        assert 6 < answer["pending_show"]["remaining_s"] <= 7
        set_delay(client, token, 2)
        view = client.get("/api/meetings/pleno/screen", headers=bearer(token)).json()["screen"]
    assert view["effective_delay_s"] == 2
    assert view["pending_show"]["submission_id"] == sub.id, "a pending show keeps its time"


def test_screen_controls_are_for_moderators_only(client: TestClient, meeting: str) -> None:
    for path, body in [
        ("screen/blackout", {"on": True}),
        ("screen/delay", {"seconds": 0}),
        ("screen/cancel", None),
    ]:
        response = client.post(f"/api/meetings/pleno/{path}", json=body)
        assert response.status_code == 401, path
    assert client.get("/api/meetings/pleno/screen").status_code == 401


# -- restarts ----------------------------------------------------------------------------------


def shown_events(db: Database) -> list[str]:
    return [t for t in event_types(db) if t == "shown"]


def test_a_restart_during_the_delay_neither_loses_nor_repeats_the_show(
    settings: Settings, tmp_path: Any
) -> None:
    first = create_app(settings)
    db = first.state.council.db
    make_meeting(db)
    make_user(db, "tool")
    token = make_token(db, "tool")
    sub = make_question(db, status="approved", text="sobrevive al reinicio")
    with TestClient(first) as client:
        set_delay(client, token, 2)
        show(client, token, sub.id)
    # The server is down now, with the show still counting down in the database.
    assert status_of(db, sub.id) == "approved"
    second = create_app(settings)
    with TestClient(second) as client, client.websocket_connect("/ws/meetings/pleno") as ws:
        snapshot = ws.receive_json()
        if snapshot["on_screen"] is None:
            [shown] = receive_until(ws, lambda m: m["type"] == "shown")
            assert shown["submissions"][0]["id"] == sub.id
    assert status_of(db, sub.id) == "on_screen"
    assert shown_events(db) == ["shown"]
    with db.session() as session:
        assert session.scalars(select(Meeting)).one().pending_show_id is None
    db.engine.dispose()  # read from after its app stopped


def test_a_show_that_fell_due_while_the_server_was_down_fires_once_at_start(
    settings: Settings,
) -> None:
    first = create_app(settings)
    db = first.state.council.db
    make_meeting(db)
    sub = make_question(db, status="approved")
    db.run_write(
        screen.request_show, slug="pleno", submission_id=sub.id, actor="mod", default_delay=1
    )
    with db.session() as session, session.begin():
        session.execute(
            update(Meeting).values(pending_show_due_at=utcnow() - timedelta(seconds=20))
        )
    with TestClient(create_app(settings)):
        deadline = time.monotonic() + 5
        while status_of(db, sub.id) != "on_screen" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert status_of(db, sub.id) == "on_screen"
    assert shown_events(db) == ["shown"]
    db.engine.dispose()  # its app was never started


def test_a_show_long_overdue_after_an_outage_is_cancelled_not_fired(
    db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    db.run_write(
        screen.request_show, slug="pleno", submission_id=sub.id, actor="mod", default_delay=1
    )
    fired, events = db.run_write(screen.fire_due_shows, now=utcnow() + timedelta(minutes=5))
    assert fired == []
    assert events[0].type == "show_cancelled"
    assert events[0].payload["cancelled"]["reason"] == "expired"
    assert status_of(db, sub.id) == "approved"


def test_two_servers_on_one_database_fire_a_due_show_once(settings: Settings) -> None:
    one, two = create_app(settings), create_app(settings)
    db = one.state.council.db
    make_meeting(db)
    sub = make_question(db, status="approved")
    with TestClient(one), TestClient(two):
        db.run_write(
            screen.request_show, slug="pleno", submission_id=sub.id, actor="mod", default_delay=1
        )
        deadline = time.monotonic() + 5
        while status_of(db, sub.id) != "on_screen" and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # both runners have looked again by now
    assert status_of(db, sub.id) == "on_screen"
    assert shown_events(db) == ["shown"]
    db.engine.dispose()  # read from after its app stopped


# -- blackout ----------------------------------------------------------------------------------


def test_blackout_sets_the_flag_and_records_one_public_event(db: Database, meeting: str) -> None:
    meeting_row, events = db.run_write(screen.set_blackout, slug="pleno", on=True, actor="mod")
    assert meeting_row.blackout is True
    [event] = events
    assert event.type == "blackout"
    assert event.public == {"meeting": event.payload["meeting"], "blackout": True}
    assert event.public["meeting"]["blackout"] is True
    _again, events = db.run_write(screen.set_blackout, slug="pleno", on=True, actor="mod")
    assert events == [], "a second press changes nothing"
    meeting_row, events = db.run_write(screen.set_blackout, slug="pleno", on=False, actor="mod")
    assert meeting_row.blackout is False
    assert events[0].public == {"meeting": events[0].payload["meeting"], "blackout": False}


def test_blackout_keeps_the_question_and_lifting_it_restores_the_screen(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db, status="on_screen", text="vuelve tras el apagón")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        assert post(client, token, "screen/blackout", {"on": True}).status_code == 200
        [dark] = receive_until(ws, lambda m: m["type"] == "blackout")
        with client.websocket_connect("/ws/meetings/pleno") as late:
            reconnected = late.receive_json()
        assert post(client, token, "screen/blackout", {"on": False}).status_code == 200
        [light] = receive_until(ws, lambda m: m["type"] == "blackout")
    assert dark["meeting"]["blackout"] is True and dark["blackout"] is True
    assert reconnected["meeting"]["blackout"] is True, "a screen that reconnects stays dark"
    assert reconnected["on_screen"]["id"] == sub.id
    assert light["meeting"]["blackout"] is False
    assert status_of(db, sub.id) == "on_screen"


def test_blackout_cancels_a_pending_show_and_says_so_to_moderators_only(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 1)
    sub = make_question(db, status="approved", text="apagón antes de tiempo")
    sentinel = make_question(db)
    with (
        client.websocket_connect("/ws/meetings/pleno") as public,
        client.websocket_connect("/ws/meetings/pleno/moderation", headers=bearer(token)) as mod,
    ):
        public.receive_json()
        mod.receive_json()
        show(client, token, sub.id)
        assert post(client, token, "screen/blackout", {"on": True}).status_code == 200
        *_scheduled, moderators = receive_until(mod, lambda m: m["type"] == "blackout")
        time.sleep(1.5)
        assert post(client, token, f"submissions/{sentinel.id}/approve").status_code == 200
        heard = until_sentinel(public, sentinel.id)
    assert moderators["cancelled"] == {"submission_id": sub.id, "reason": "blackout"}
    assert moderators["pending_show"] is None
    assert [m["type"] for m in heard] == ["blackout", "approved"]
    public_blackout = next(m for m in heard if m["type"] == "blackout")
    assert set(public_blackout) == {"type", "seq", "meeting", "blackout"}
    assert "apagón antes de tiempo" not in json.dumps(heard)
    assert status_of(db, sub.id) == "approved"


def test_the_screen_page_renders_dark_during_a_blackout(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, status="on_screen", text="no debe verse")
    db.run_write(screen.set_blackout, slug="pleno", on=True, actor="mod")
    html = client.get("/screen/pleno").text
    assert 'class="screen blackout"' in html
    assert "no debe verse" not in html.split('id="state"')[0]


def test_moderation_snapshot_carries_the_pending_show(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    set_delay(client, token, 30)
    sub = make_question(db, status="approved")
    show(client, token, sub.id)
    with client.websocket_connect("/ws/meetings/pleno/moderation", headers=bearer(token)) as ws:
        snapshot = ws.receive_json()
    assert snapshot["pending_show"]["submission_id"] == sub.id
    assert 29 < snapshot["pending_show"]["remaining_s"] <= 30
    assert snapshot["pending_show"]["by"] == "tool"
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        assert "pending_show" not in ws.receive_json()

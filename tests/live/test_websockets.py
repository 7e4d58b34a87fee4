"""The websocket contract: snapshot first, seq on events, ?after resumes, approved-only public."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from council.app import create_app
from council.db import Database
from council.settings import Settings
from tests.factories import make_meeting, make_question, make_user

pytestmark = pytest.mark.both_databases

SECRET = "texto-secreto-pendiente"


def receive_until(ws: WebSocketTestSession, predicate: Any, limit: int = 50) -> list[dict]:
    """Messages up to and including the first that matches (pings skipped)."""
    seen = []
    for _ in range(limit):
        message = ws.receive_json()
        if message["type"] == "ping":
            continue
        seen.append(message)
        if predicate(message):
            return seen
    raise AssertionError(f"no matching message in {seen}")


def api(client: TestClient, token: str, sub_id: int, action: str, **body: Any) -> None:
    response = client.post(
        f"/api/meetings/pleno/submissions/{sub_id}/{action}",
        json=body or None,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text


def test_first_message_is_a_snapshot_with_seq(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, status="approved", text="aprobada")
    make_question(db, status="on_screen", text="en pantalla")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        snapshot = ws.receive_json()
    assert snapshot["type"] == "snapshot"
    assert snapshot["seq"] == client.get("/api/meetings/pleno/state").json()["seq"] > 0
    assert snapshot["on_screen"]["text"] == "en pantalla"
    assert [q["text"] for q in snapshot["approved"]] == ["aprobada"]
    assert snapshot["meeting"]["slug"] == "pleno"


def test_public_socket_never_carries_unapproved_content(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    make_question(db, text=SECRET + " en el snapshot")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        raw = [json.dumps(ws.receive_json())]
        pending = client.post(
            "/api/meetings/pleno/submissions", json={"name": "Oculto", "text": SECRET}
        ).json()
        rejected = make_question(db, text=SECRET + " rechazada")
        api(client, token, rejected.id, "reject", reason="no")
        api(client, token, rejected.id, "restore")
        api(client, token, rejected.id, "reject", reason=SECRET)
        api(client, token, rejected.id, "merge", into=pending["id"])
        shown = make_question(db, text="pública")
        api(client, token, shown.id, "approve")
        messages = receive_until(ws, lambda m: m["type"] == "approved")
        raw += [json.dumps(m) for m in messages]
    assert all(SECRET not in text and "Oculto" not in text for text in raw), raw
    # Rejections reach the public as counts per reason only (mutual visibility), never
    # the question: the rejected, restored and merged steps carry nothing else.
    assert [m["type"] for m in messages] == [
        "rejected",
        "restored",
        "rejected",
        "merged",
        "approved",
    ]
    assert all(set(m) == {"type", "seq", "rejections"} for m in messages[:-1]), messages
    assert messages[-1]["submissions"][0]["text"] == "pública"


def test_public_socket_hears_when_approved_content_goes_away(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db, status="approved", text="se retira")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        api(client, token, sub.id, "restore")
        [message] = receive_until(ws, lambda m: m["type"] == "restored")
    assert message["submissions"] == [{"id": sub.id, "status": "withdrawn"}]


def test_show_event_carries_the_question_taken_off_screen(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    first = make_question(db, status="on_screen")
    second = make_question(db, status="approved")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        api(client, token, second.id, "show")
        [message] = receive_until(ws, lambda m: m["type"] == "shown")
    statuses = {s["id"]: s["status"] for s in message["submissions"]}
    assert statuses == {second.id: "on_screen", first.id: "approved"}


def test_reconnect_with_after_replays_what_was_missed(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    subs = [make_question(db, text=f"pregunta {i}") for i in range(3)]
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        seq = ws.receive_json()["seq"]
    api(client, token, subs[0].id, "approve")
    api(client, token, subs[1].id, "reject")
    api(client, token, subs[2].id, "approve")
    api(client, token, subs[2].id, "show")
    with client.websocket_connect(f"/ws/meetings/pleno?after={seq}") as ws:
        messages = receive_until(ws, lambda m: m["type"] == "resumed")
    assert [m["type"] for m in messages] == ["approved", "rejected", "approved", "shown", "resumed"]
    assert set(messages[1]) == {"type", "seq", "rejections"}, "a rejection: its count only"
    seqs = [m["seq"] for m in messages]
    assert seqs == sorted(seqs) and seqs[0] > seq
    assert messages[-1]["seq"] == seq + 4, "the cursor moves past moderator-only events too"


def test_moderation_socket_replays_every_event_in_order(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    with moderator.websocket_connect("/ws/meetings/pleno/moderation") as ws:
        seq = ws.receive_json()["seq"]
    sub = make_question(db, status="rejected")
    with moderator.websocket_connect(f"/ws/meetings/pleno/moderation?after={seq}") as ws:
        messages = receive_until(ws, lambda m: m["type"] == "resumed")
    assert [m["type"] for m in messages] == ["received", "rejected", "resumed"]
    assert messages[0]["submissions"][0]["id"] == sub.id


def test_too_far_behind_gets_a_fresh_snapshot(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, resync_limit=2, _env_file=None))
    db = app.state.council.db
    make_meeting(db)
    with TestClient(app) as client:
        with client.websocket_connect("/ws/meetings/pleno") as ws:
            seq = ws.receive_json()["seq"]
        for i in range(3):
            make_question(db, status="approved", text=f"q{i}")
        with client.websocket_connect(f"/ws/meetings/pleno?after={seq}") as ws:
            message = ws.receive_json()
    assert message["type"] == "snapshot"
    assert len(message["approved"]) == 3


def test_cursor_from_another_database_gets_a_snapshot(client: TestClient, meeting: str) -> None:
    with client.websocket_connect("/ws/meetings/pleno?after=999999") as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_live_events_follow_the_snapshot_without_gaps_or_repeats(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    subs = [make_question(db) for _ in range(4)]
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        last = ws.receive_json()["seq"]
        for sub in subs:
            api(client, token, sub.id, "approve")
        messages = receive_until(ws, lambda m: m["submissions"][0]["id"] == subs[-1].id)
    seqs = [m["seq"] for m in messages]
    assert len(seqs) == 4 and len(set(seqs)) == 4 and min(seqs) > last and seqs == sorted(seqs)


def test_unknown_meeting_socket_is_closed(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/meetings/nada") as ws:
            ws.receive_json()
    assert closed.value.code == 4404


def test_moderation_socket_needs_a_moderator(client: TestClient, meeting: str) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/meetings/pleno/moderation") as ws:
            ws.receive_json()
    assert closed.value.code == 4401


def test_moderation_socket_refuses_cookies_sent_from_another_site(
    moderator: TestClient, meeting: str
) -> None:
    with (
        pytest.raises(WebSocketDisconnect),
        moderator.websocket_connect(
            "/ws/meetings/pleno/moderation", headers={"Origin": "https://evil.example"}
        ) as ws,
    ):
        ws.receive_json()


def test_moderation_socket_shows_new_questions_and_other_moderators_actions(
    moderator: TestClient, db: Database, meeting: str, token: str
) -> None:
    with moderator.websocket_connect(
        "/ws/meetings/pleno/moderation", headers={"Origin": "http://testserver"}
    ) as ws:
        assert ws.receive_json()["submissions"] == []
        created = moderator.post(
            "/api/meetings/pleno/submissions", json={"name": "Ana", "text": SECRET}
        ).json()
        [received] = receive_until(ws, lambda m: m["type"] == "received")
        api(moderator, token, created["id"], "approve")  # a second moderator, through a token
        # Triage's suggestions for the new question may come first (council/arrivals.py).
        *_triaged, approved = receive_until(ws, lambda m: m["type"] == "approved")
    assert {m["type"] for m in _triaged} <= {"triaged"}
    assert received["submissions"][0]["text"] == SECRET
    assert approved["submissions"][0]["approved_by"] == "tool"


def test_moderation_socket_accepts_a_bearer_token(
    client: TestClient, meeting: str, token: str
) -> None:
    with client.websocket_connect(
        "/ws/meetings/pleno/moderation", headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        assert ws.receive_json()["type"] == "snapshot"


def test_tracking_socket_follows_one_question(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    mine = make_question(db, text="la mía")
    other = make_question(db, text="otra")
    with client.websocket_connect(f"/ws/track/{mine.track_token}") as ws:
        assert ws.receive_json()["submission"]["status"] == "pending"
        api(client, token, other.id, "approve")
        api(client, token, mine.id, "approve")
        api(client, token, mine.id, "show")
        first, second = ws.receive_json(), ws.receive_json()
    assert [first["submission"]["status"], second["submission"]["status"]] == [
        "approved",
        "on_screen",
    ]
    assert first["submission"]["text"] == "la mía"


def test_tracking_socket_with_a_bad_token_is_closed(client: TestClient, meeting: str) -> None:
    with pytest.raises(WebSocketDisconnect) as closed:
        with client.websocket_connect("/ws/track/not-a-token") as ws:
            ws.receive_json()
    assert closed.value.code == 4404


def test_idle_sockets_get_pings(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, ws_ping_seconds=0.05, _env_file=None))
    make_meeting(app.state.council.db)
    make_user(app.state.council.db)
    with TestClient(app) as client, client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        assert ws.receive_json() == {"type": "ping"}


def test_moderation_snapshot_has_every_question_and_the_one_on_screen(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, text=SECRET)
    shown = make_question(db, status="on_screen", text="en pantalla")
    with moderator.websocket_connect("/ws/meetings/pleno/moderation") as ws:
        snapshot = ws.receive_json()
    assert [s["text"] for s in snapshot["submissions"]] == [SECRET, "en pantalla"]
    assert snapshot["on_screen"]["id"] == shown.id
    assert snapshot["on_screen"]["original_text"] == "en pantalla"

"""Rejections carry a reason from a short list; the public sees counts per reason, never text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.db import Database
from council.models import Event
from council.moderation import reasons
from tests.factories import make_question

pytestmark = pytest.mark.both_databases

SECRET = "texto-que-nadie-debe-ver"


def act(client: TestClient, sub_id: int, action: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/meetings/pleno/submissions/{sub_id}/{action}", json=body or None)
    return {"status": response.status_code, "body": response.json()}


def last_event(db: Database) -> Event:
    with db.session() as session:
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
        assert event is not None
        return event


def test_the_reasons_are_a_short_list_with_labels() -> None:
    keys = [c["key"] for c in reasons.choices()]
    assert keys == list(reasons.REASON_KEYS)
    assert {"off_topic", "offensive", "duplicate", "personal_data", "spam", "other"} <= set(keys)
    assert all(c["label"] for c in reasons.choices())


@pytest.mark.parametrize(
    ("sent", "key", "note"),
    [
        ("off_topic", "off_topic", None),
        ("Off topic", "off_topic", None),  # the label, as older clients send it
        ("OFFENSIVE LANGUAGE", "offensive", None),
        (None, "other", None),
        ("Ya respondida en el pleno anterior", "other", "Ya respondida en el pleno anterior"),
    ],
)
def test_a_reason_is_a_key_a_label_or_free_text(
    sent: str | None, key: str, note: str | None
) -> None:
    assert reasons.parse(sent) == (key, note)


def test_reject_stores_the_key_and_the_note_and_the_asker_reads_both(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    result = act(moderator, sub.id, "reject", reason="personal_data", note="Sin nombres, por favor")
    assert result["status"] == 200
    view = result["body"]["submission"]
    assert (view["rejection_key"], view["rejection_reason"]) == (
        "personal_data",
        "Sin nombres, por favor",
    )
    tracking = moderator.get(f"/api/track/{sub.track_token}").json()["submission"]
    assert tracking["rejection_reason"] == "Personal data: Sin nombres, por favor"


def test_an_unknown_reason_with_a_note_is_refused(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    result = act(moderator, sub.id, "reject", reason="rude", note="x")
    assert result["status"] == 422
    assert "off_topic" in result["body"]["detail"]


def test_a_note_goes_with_reject_only(moderator: TestClient, db: Database, meeting: str) -> None:
    sub = make_question(db)
    assert act(moderator, sub.id, "approve", note="x")["status"] == 422


def test_the_public_sees_how_many_were_rejected_for_each_reason_and_nothing_else(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    subs = [make_question(db, text=f"{SECRET} {i}") for i in range(4)]
    act(moderator, subs[0].id, "reject", reason="spam")
    act(moderator, subs[1].id, "reject", reason="spam", note=SECRET)
    act(moderator, subs[2].id, "reject", reason="offensive")
    event = last_event(db)
    assert event.type == "rejected"
    assert event.public_payload == {
        "rejections": {**dict.fromkeys(reasons.REASON_KEYS, 0), "spam": 2, "offensive": 1}
    }
    state = moderator.get("/api/meetings/pleno/state").json()
    assert state["rejections"]["spam"] == 2
    assert state["rejections"]["offensive"] == 1
    assert SECRET not in json.dumps(state)
    # Restoring one takes it off the count, for everyone.
    act(moderator, subs[0].id, "restore")
    assert last_event(db).public_payload == {
        "rejections": {**dict.fromkeys(reasons.REASON_KEYS, 0), "spam": 1, "offensive": 1}
    }
    # So does merging a rejected one into another question.
    act(moderator, subs[2].id, "merge", into=subs[3].id)
    merged = last_event(db).public_payload
    assert merged is not None and merged["rejections"]["offensive"] == 0
    assert SECRET not in json.dumps(merged)


def test_the_public_socket_gets_the_counts_but_never_the_rejected_text(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, text=SECRET)
    with moderator.websocket_connect("/ws/meetings/pleno") as ws:
        snapshot = ws.receive_json()
        assert snapshot["rejections"]["off_topic"] == 0
        act(moderator, sub.id, "reject", reason="off_topic", note=SECRET)
        message = ws.receive_json()
        while message["type"] == "ping":
            message = ws.receive_json()
    assert message["type"] == "rejected"
    assert message["rejections"]["off_topic"] == 1
    assert "submissions" not in message
    assert SECRET not in json.dumps(message)


def test_a_form_filled_in_by_a_bot_counts_as_spam(client: TestClient, meeting: str) -> None:
    answer = client.post(
        "/api/meetings/pleno/submissions",
        json={"name": "Bot", "text": "Compre ya", "website": "http://spam.example"},
    )
    assert answer.status_code == 201
    assert client.get("/api/meetings/pleno/state").json()["rejections"]["spam"] == 1

"""Muting an author for a meeting: their questions arrive flagged, those waiting are flagged."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.db import Database
from council.intake import Post, collect
from council.models import Event, Submission
from tests.factories import make_meeting, make_question

pytestmark = pytest.mark.both_databases


def post(db: Database, external_id: str, handle: str, text: str = "Pregunta") -> Submission:
    posts = [Post(external_id=external_id, text=text, author_name=handle, handle=handle)]
    (sub,), _events = db.run_write(collect, meeting_id=1, source="x", posts=posts)
    return sub


def flags(db: Database, sub_id: int) -> list[str]:
    with db.session() as session:
        sub = session.get(Submission, sub_id)
        assert sub is not None
        return list(sub.flags)


def mute(client: TestClient, path: str = "mute", **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/meetings/pleno/{path}", json=body)
    return {"status": response.status_code, "body": response.json()}


def test_muting_flags_the_authors_waiting_and_later_questions(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    waiting = post(db, "1", "Troll")
    approved = post(db, "2", "troll")
    moderator.post(f"/api/meetings/pleno/submissions/{approved.id}/approve")
    other = post(db, "3", "vecina")
    result = mute(moderator, source="x", handle="@TROLL")
    assert result["status"] == 200, result
    assert result["body"]["mute"]["handle"] == "troll"
    assert flags(db, waiting.id) == ["muted_author"]
    assert flags(db, approved.id) == [], "only questions still waiting are flagged"
    assert flags(db, other.id) == []
    assert post(db, "4", "TROLL").flags == ["muted_author"]
    assert post(db, "5", "vecina").flags == []
    with db.session() as session:
        event = session.scalars(select(Event).where(Event.type == "muted")).one()
    assert event.public_payload is None
    assert event.payload["mute"]["muted"] is True
    assert [s["id"] for s in event.payload["submissions"]] == [waiting.id]
    snapshot = moderator.get("/api/meetings/pleno/submissions").json()
    assert [(m["source"], m["handle"]) for m in snapshot["mutes"]] == [("x", "troll")]


def test_a_muted_author_is_still_received_never_dropped(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    mute(moderator, source="x", handle="troll")
    sub = post(db, "1", "troll")
    assert sub.status == "pending"


def test_mute_by_a_questions_number_and_unmute(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    first = make_question(db, name="Pepe Pérez")
    assert mute(moderator, submission=first.id)["status"] == 200
    assert flags(db, first.id) == ["muted_author"]
    # Web askers are known by name only: capitals and spaces do not matter.
    assert make_question(db, name="pepe  PÉREZ").flags == ["muted_author"]
    assert make_question(db, name="Ana").flags == []
    result = mute(moderator, "unmute", submission=first.id)
    assert result["status"] == 200
    assert result["body"]["mute"]["muted"] is False
    assert flags(db, first.id) == []
    assert make_question(db, name="Pepe Pérez").flags == []


def test_a_mute_is_for_one_meeting(moderator: TestClient, db: Database, meeting: str) -> None:
    mute(moderator, source="web", handle="Pepe")
    make_meeting(db, "otro")
    assert make_question(db, "otro", name="Pepe").flags == []


def test_muting_twice_is_harmless(moderator: TestClient, db: Database, meeting: str) -> None:
    assert mute(moderator, source="x", handle="troll")["status"] == 200
    assert mute(moderator, source="x", handle="troll")["status"] == 200
    assert len(moderator.get("/api/meetings/pleno/submissions").json()["mutes"]) == 1


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("mute", {}, 422, "Say whom"),
        ("mute", {"source": "x"}, 422, "Say whom"),
        ("mute", {"source": "fax", "handle": "a"}, 422, "Unknown source"),
        ("mute", {"source": "x", "handle": "@"}, 422, "empty"),
        ("mute", {"submission": 1, "source": "x", "handle": "a"}, 422, "either"),
        ("mute", {"submission": 99}, 404, "does not exist"),
        ("unmute", {"source": "x", "handle": "nadie"}, 404, "not muted"),
    ],
)
def test_bad_mutes_are_refused_with_a_reason(
    moderator: TestClient,
    db: Database,
    meeting: str,
    path: str,
    body: dict,
    status: int,
    words: str,
) -> None:
    make_question(db)
    result = mute(moderator, path, **body)
    assert result["status"] == status, result
    assert words in result["body"]["detail"]


def test_muting_needs_a_moderator(client: TestClient, meeting: str) -> None:
    assert mute(client, source="x", handle="a")["status"] == 401

"""Soft locks: every moderator sees which question another moderator is looking at."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession

from council.db import Database
from council.moderation.locks import Locks, parse_viewing
from tests.factories import make_question

MODERATION = "/ws/meetings/pleno/moderation"


def next_of(ws: WebSocketTestSession, kind: str, limit: int = 20) -> dict[str, Any]:
    """The next message of this type, skipping pings and everything else."""
    for _ in range(limit):
        message: dict[str, Any] = ws.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message in {limit}")


def looking(ws: WebSocketTestSession, viewer: str, submission_id: int | None) -> None:
    ws.send_json({"type": "viewing", "viewer": viewer, "submission_id": submission_id})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_moderators_selection_shows_on_the_other_moderators_pages(
    moderator: TestClient, db: Database, meeting: str, token: str
) -> None:
    first = make_question(db)
    second = make_question(db, text="Otra pregunta")
    with (
        moderator.websocket_connect(MODERATION) as mine,
        moderator.websocket_connect(MODERATION, headers=bearer(token)) as theirs,
    ):
        next_of(mine, "snapshot")
        next_of(theirs, "snapshot")
        looking(mine, "page-a", first.id)
        seen = next_of(theirs, "viewing")
        assert (seen["user"], seen["viewer"], seen["submission_id"]) == ("mod", "page-a", first.id)
        assert [(v["user"], v["submission_id"]) for v in seen["viewers"]] == [("mod", first.id)]

        looking(mine, "page-a", second.id)  # moving on releases the first question
        seen = next_of(theirs, "viewing")
        assert seen["submission_id"] == second.id
        assert [v["submission_id"] for v in seen["viewers"]] == [second.id]

        looking(theirs, "page-b", first.id)
        seen = next_of(mine, "viewing")
        while seen.get("viewer") != "page-b":
            seen = next_of(mine, "viewing")
        assert seen["user"] == "tool"
        assert {(v["user"], v["submission_id"]) for v in seen["viewers"]} == {
            ("mod", second.id),
            ("tool", first.id),
        }

        looking(mine, "page-a", None)  # nothing selected: no lock
        seen = next_of(theirs, "viewing")
        while seen.get("viewer") != "page-a":
            seen = next_of(theirs, "viewing")
        assert seen["submission_id"] is None
        assert [v["user"] for v in seen["viewers"]] == ["tool"]


def test_a_lock_is_cleared_when_its_moderator_disconnects(
    moderator: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db)
    with moderator.websocket_connect(MODERATION, headers=bearer(token)) as staying:
        next_of(staying, "snapshot")
        with moderator.websocket_connect(MODERATION) as leaving:
            next_of(leaving, "snapshot")
            looking(leaving, "page-a", sub.id)
            assert next_of(staying, "viewing")["submission_id"] == sub.id
        gone = next_of(staying, "viewing")
    assert (gone["viewer"], gone["user"], gone["submission_id"]) == ("page-a", "mod", None)
    assert gone["viewers"] == []


def test_a_moderator_who_arrives_later_sees_the_locks_already_held(
    moderator: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db)
    with moderator.websocket_connect(MODERATION) as first:
        next_of(first, "snapshot")
        looking(first, "page-a", sub.id)
        next_of(first, "viewing")  # its own lock comes back to it as well
        with moderator.websocket_connect(MODERATION, headers=bearer(token)) as late:
            assert late.receive_json()["type"] == "snapshot"
            welcome = late.receive_json()
    assert welcome["type"] == "viewing"
    assert [(v["viewer"], v["user"], v["submission_id"]) for v in welcome["viewers"]] == [
        ("page-a", "mod", sub.id)
    ]


def test_the_user_name_comes_from_the_login_not_from_the_message(
    moderator: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db)
    with (
        moderator.websocket_connect(MODERATION) as mine,
        moderator.websocket_connect(MODERATION, headers=bearer(token)) as theirs,
    ):
        next_of(mine, "snapshot")
        next_of(theirs, "snapshot")
        mine.send_json({"type": "viewing", "viewer": "p", "submission_id": sub.id, "user": "boss"})
        assert next_of(theirs, "viewing")["user"] == "mod"


def test_malformed_messages_are_ignored_and_the_socket_stays_open(
    moderator: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db)
    with (
        moderator.websocket_connect(MODERATION) as mine,
        moderator.websocket_connect(MODERATION, headers=bearer(token)) as theirs,
    ):
        next_of(mine, "snapshot")
        next_of(theirs, "snapshot")
        for junk in [
            "not json",
            "[]",
            '{"type": "approve", "submission_id": 1}',
            '{"type": "viewing", "viewer": "<script>", "submission_id": 1}',
            '{"type": "viewing", "viewer": "p", "submission_id": "1"}',
            '{"type": "viewing", "viewer": "p", "submission_id": true}',
            '{"type": "viewing", "viewer": "p", "submission_id": -4}',
            '{"type": "viewing", "viewer": "p", "pad": "' + "x" * 600 + '"}',
        ]:
            mine.send_text(junk)
        looking(mine, "page-a", sub.id)
        seen = next_of(theirs, "viewing")
    assert (seen["viewer"], seen["submission_id"]) == ("page-a", sub.id), (
        "the first lock heard is the valid one"
    )


def test_locks_never_reach_the_public_socket(
    moderator: TestClient, client: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db)
    with (
        client.websocket_connect("/ws/meetings/pleno") as public,
        moderator.websocket_connect(MODERATION) as mine,
    ):
        public.receive_json()
        next_of(mine, "snapshot")
        looking(mine, "page-a", sub.id)
        next_of(mine, "viewing")
        public.send_json({"type": "viewing", "viewer": "x", "submission_id": sub.id})
        response = client.post(
            f"/api/meetings/pleno/submissions/{sub.id}/approve", headers=bearer(token)
        )
        assert response.status_code == 200
        message = public.receive_json()
        while message["type"] == "ping":
            message = public.receive_json()
    assert message["type"] == "approved", "no viewing message came before the event"


def test_locks_are_kept_per_connection_and_per_meeting() -> None:
    locks = Locks()
    tab_one, tab_two, elsewhere = object(), object(), object()
    assert locks.set(1, tab_one, user="ana", viewer="a1", submission_id=5) is not None
    assert locks.set(1, tab_one, user="ana", viewer="a1", submission_id=5) is None, "unchanged"
    locks.set(1, tab_two, user="ana", viewer="a2", submission_id=7)
    locks.set(2, elsewhere, user="luis", viewer="l1", submission_id=5)
    assert [(v["viewer"], v["submission_id"]) for v in locks.viewers(1)] == [("a1", 5), ("a2", 7)]
    assert [v["user"] for v in locks.viewers(2)] == ["luis"]
    gone = locks.drop(1, tab_one)
    assert gone is not None and gone.viewer == "a1"
    assert [v["viewer"] for v in locks.viewers(1)] == ["a2"]
    locks.set(1, tab_two, user="ana", viewer="a2", submission_id=None)
    assert locks.viewers(1) == []
    assert locks.drop(1, tab_two) is None, "a connection that held nothing needs no notice"
    assert locks.drop(1, object()) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"type": "viewing", "viewer": "abc-1_Z", "submission_id": 12}', ("abc-1_Z", 12)),
        ('{"type": "viewing", "viewer": "abc", "submission_id": null}', ("abc", None)),
        ('{"type": "viewing", "viewer": "abc"}', ("abc", None)),
        ('{"type": "viewing", "viewer": "", "submission_id": 1}', None),
        ('{"type": "viewing", "viewer": "a b", "submission_id": 1}', None),
        ('{"type": "viewing", "viewer": "abc", "submission_id": 0}', None),
        ('{"type": "viewing", "viewer": "abc", "submission_id": 1.5}', None),
        ('{"type": "ping"}', None),
        ("", None),
        (None, None),
    ],
)
def test_only_well_formed_viewing_messages_are_understood(
    text: str | None, expected: tuple[str, int | None] | None
) -> None:
    assert parse_viewing(text) == expected

"""The state machine of DESIGN.md, driven through the moderators' API."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.db import Database
from council.models import Event, Submission
from tests.factories import make_question

pytestmark = pytest.mark.both_databases

STATUSES = ["pending", "approved", "on_screen", "answered", "rejected"]

# (status before, action) -> status after; every pair not listed must be refused with 409.
VALID = {
    ("pending", "approve"): "approved",
    ("pending", "reject"): "rejected",
    ("approved", "restore"): "pending",
    ("rejected", "restore"): "pending",
    ("approved", "show"): "on_screen",
    ("on_screen", "hide"): "approved",
    ("on_screen", "answer"): "answered",
}
SIMPLE_ACTIONS = ["approve", "reject", "restore", "show", "hide", "answer"]


def act(client: TestClient, sub_id: int, action: str, **body: object) -> dict:
    response = client.post(f"/api/meetings/pleno/submissions/{sub_id}/{action}", json=body or None)
    return {"status": response.status_code, "body": response.json()}


def status_of(db: Database, sub_id: int) -> str:
    with db.session() as session:
        return session.get(Submission, sub_id).status  # type: ignore[union-attr]


def event_count(db: Database) -> int:
    with db.session() as session:
        return len(session.scalars(select(Event)).all())


@pytest.mark.parametrize("before", STATUSES)
@pytest.mark.parametrize("action", SIMPLE_ACTIONS)
def test_every_transition_follows_the_diagram(
    moderator: TestClient, db: Database, meeting: str, before: str, action: str
) -> None:
    sub = make_question(db, status=before)
    events_before = event_count(db)
    result = act(moderator, sub.id, action)
    expected = VALID.get((before, action))
    if expected is None:
        assert result["status"] == 409, result
        assert result["body"]["code"] == "invalid_transition"
        assert f"Cannot {action}" in result["body"]["detail"]
        assert result["body"]["current"]["status"] == before
        assert status_of(db, sub.id) == before
        assert event_count(db) == events_before, "a refused action must write no event"
    else:
        assert result["status"] == 200, result
        assert result["body"]["submission"]["status"] == expected
        assert status_of(db, sub.id) == expected
        assert event_count(db) == events_before + 1


def test_transition_records_who_and_when(moderator: TestClient, db: Database, meeting: str) -> None:
    sub = make_question(db)
    body = act(moderator, sub.id, "approve")["body"]["submission"]
    assert body["approved_by"] == "mod"
    assert body["approved_at"].endswith("Z")
    with db.session() as session:
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
        assert event is not None
        assert (event.type, event.actor, event.submission_id) == ("approved", "mod", sub.id)


def test_showing_a_question_takes_the_previous_one_off_screen(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    first = make_question(db, status="on_screen", text="Primera pregunta")
    second = make_question(db, status="approved", text="Segunda pregunta")
    assert act(moderator, second.id, "show")["status"] == 200
    assert status_of(db, first.id) == "approved"
    assert status_of(db, second.id) == "on_screen"
    state = moderator.get("/api/meetings/pleno/state").json()
    assert state["on_screen"]["id"] == second.id
    assert [q["id"] for q in state["approved"]] == [first.id]


def test_stale_action_is_refused_with_the_current_state(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    # Another moderator rejected it while this one was looking at it as pending...
    act(moderator, sub.id, "reject", reason="Fuera de tema")
    act(moderator, sub.id, "restore")
    act(moderator, sub.id, "approve")
    # ...so an action that names the status this moderator saw must not apply.
    result = act(moderator, sub.id, "restore", expected_status="rejected")
    assert result["status"] == 409
    assert result["body"]["code"] == "stale"
    assert "someone else acted on it first" in result["body"]["detail"]
    assert result["body"]["current"]["status"] == "approved"
    assert status_of(db, sub.id) == "approved"


def test_action_with_matching_expected_status_applies(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    assert act(moderator, sub.id, "approve", expected_status="pending")["status"] == 200


def test_reject_keeps_the_reason_for_the_asker(
    moderator: TestClient, db: Database, meeting: str, client: TestClient
) -> None:
    sub = make_question(db)
    result = act(moderator, sub.id, "reject", reason="Ya respondida en el pleno anterior")
    assert result["body"]["submission"]["rejection_reason"] == "Ya respondida en el pleno anterior"
    tracking = client.get(f"/api/track/{sub.track_token}").json()["submission"]
    assert tracking["status"] == "rejected"
    assert tracking["rejection_reason"] == "Ya respondida en el pleno anterior"


def test_restore_clears_the_rejection_reason(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    act(moderator, sub.id, "reject", reason="Spam")
    assert act(moderator, sub.id, "restore")["body"]["submission"]["rejection_reason"] is None


def test_merge_counts_the_asker_on_the_question_kept(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    kept = make_question(db, status="approved", text="¿Cuándo arreglan la farola?")
    again = make_question(db, text="La farola sigue rota, ¿cuándo?")
    third = make_question(db, text="¿Y la farola?")
    result = act(moderator, again.id, "merge", into=kept.id)
    assert result["status"] == 200
    assert result["body"]["submission"]["status"] == "merged"
    assert result["body"]["submission"]["merged_into"] == kept.id
    act(moderator, third.id, "merge", into=kept.id)
    state = moderator.get("/api/meetings/pleno/state").json()
    assert state["approved"][0]["asked_count"] == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [({}, "Say which question to merge into"), ({"into": "self"}, "cannot be merged into itself")],
)
def test_merge_needs_another_question(
    moderator: TestClient, db: Database, meeting: str, body: dict, message: str
) -> None:
    sub = make_question(db)
    if body.get("into") == "self":
        body = {"into": sub.id}
    result = act(moderator, sub.id, "merge", **body)
    assert result["status"] == 422
    assert message in result["body"]["detail"]


def test_merge_into_a_merged_question_points_to_the_one_kept(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    kept, merged, other = (make_question(db, text=t) for t in ("uno", "dos", "tres"))
    act(moderator, merged.id, "merge", into=kept.id)
    result = act(moderator, other.id, "merge", into=merged.id)
    assert result["status"] == 409
    assert "merge into that one instead" in result["body"]["detail"]
    assert status_of(db, other.id) == "pending"


def test_merged_and_answered_questions_are_final(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    kept, merged = make_question(db), make_question(db)
    act(moderator, merged.id, "merge", into=kept.id)
    answered = make_question(db, status="answered")
    for sub_id in (merged.id, answered.id):
        for action in SIMPLE_ACTIONS:
            assert act(moderator, sub_id, action)["status"] == 409
    assert act(moderator, answered.id, "merge", into=kept.id)["status"] == 409


def test_edit_changes_the_display_text_and_keeps_the_original(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved", text="q pasa con la farola??? es una vergüenza")
    response = moderator.patch(
        f"/api/meetings/pleno/submissions/{sub.id}",
        json={"text": "¿Qué pasa con la farola?", "expected_status": "approved"},
    )
    assert response.status_code == 200
    body = response.json()["submission"]
    assert body["text"] == "¿Qué pasa con la farola?"
    assert body["original_text"] == "q pasa con la farola??? es una vergüenza"
    assert body["edited"] is True and body["edited_by"] == "mod"
    public = moderator.get("/api/meetings/pleno/state").json()["approved"][0]
    assert public["text"] == "¿Qué pasa con la farola?"


@pytest.mark.parametrize(("text", "message"), [("   ", "cannot be empty"), ("x" * 501, "too long")])
def test_edit_refuses_empty_or_too_long_text(
    moderator: TestClient, db: Database, meeting: str, text: str, message: str
) -> None:
    sub = make_question(db)
    response = moderator.patch(f"/api/meetings/pleno/submissions/{sub.id}", json={"text": text})
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_unknown_action_and_unknown_question_are_404(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    assert act(moderator, sub.id, "delete")["status"] == 404
    assert "Unknown action" in act(moderator, sub.id, "delete")["body"]["detail"]
    assert act(moderator, 9999, "approve")["status"] == 404


def test_action_refuses_fields_that_do_not_belong(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    assert act(moderator, sub.id, "approve", reason="why")["status"] == 422
    assert act(moderator, sub.id, "approve", colour="red")["status"] == 422
    assert act(moderator, sub.id, "approve", expected_status="sideways")["status"] == 422
    assert status_of(db, sub.id) == "pending"


def test_question_of_another_meeting_is_not_found(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    from tests.factories import make_meeting

    make_meeting(db, "otro")
    sub = make_question(db, "otro")
    assert act(moderator, sub.id, "approve")["status"] == 404
    assert status_of(db, sub.id) == "pending"


def test_moderation_queue_lists_every_field_and_filters_by_status(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, text="pendiente")
    make_question(db, status="rejected", text="rechazada")
    everything = moderator.get("/api/meetings/pleno/submissions").json()
    assert len(everything["submissions"]) == 2
    assert {"original_text", "rejection_reason", "received_at", "track_token"} - set(
        everything["submissions"][0]
    ) == {"track_token"}, "moderators see every field but the asker's private link"
    rejected = moderator.get("/api/meetings/pleno/submissions?status=rejected").json()
    assert [s["text"] for s in rejected["submissions"]] == ["rechazada"]

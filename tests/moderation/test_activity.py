"""The activity log: every action on a meeting, with who and when, for moderators only."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from council.db import Database
from council.moderation.activity import summarize
from tests.factories import make_meeting, make_question

ACTIVITY = "/api/meetings/pleno/activity"


def act(client: TestClient, sub_id: int, action: str, **body: object) -> None:
    response = client.post(f"/api/meetings/pleno/submissions/{sub_id}/{action}", json=body or None)
    assert response.status_code == 200, response.text


def test_every_action_is_logged_with_who_and_when_newest_first(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    kept = make_question(db, text="¿Cuándo abre la piscina municipal?")
    spam = make_question(db, name="Bot", text="Compra seguidores baratos")
    act(moderator, kept.id, "approve")
    act(moderator, spam.id, "reject", reason="Spam")
    act(moderator, kept.id, "show")
    act(moderator, kept.id, "answer")

    log = moderator.get(ACTIVITY).json()
    entries = log["entries"]
    assert [e["type"] for e in entries[:4]] == ["answered", "shown", "rejected", "approved"]
    assert all(e["actor"] == "mod" for e in entries[:4])
    assert entries[0]["submission_id"] == kept.id
    assert entries[2]["summary"] == f"rejected #{spam.id} “Compra seguidores baratos”: Spam"
    assert entries[3]["summary"] == f"approved #{kept.id} “¿Cuándo abre la piscina municipal?”"
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs, reverse=True)
    assert log["seq"] == seqs[0]
    for e in entries:
        assert datetime.fromisoformat(e["at"].replace("Z", "+00:00")).tzinfo is not None


def test_a_rejection_reads_with_its_reason_and_note(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, text="Pregunta con insultos")
    act(moderator, sub.id, "reject", reason="offensive", note="Sin insultos, por favor")
    [entry] = moderator.get(ACTIVITY, params={"actions_only": "true"}).json()["entries"]
    assert entry["summary"] == (
        f"rejected #{sub.id} “Pregunta con insultos”: Offensive language: Sin insultos, por favor"
    )


def test_new_questions_are_in_the_log_unless_only_peoples_actions_are_asked_for(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, name="Lucía", text="¿Habrá verbena?")
    act(moderator, sub.id, "approve")
    everything = moderator.get(ACTIVITY).json()["entries"]
    received = [e for e in everything if e["type"] == "received"]
    assert received and received[0]["actor"] is None
    assert received[0]["summary"] == f"new question #{sub.id} “¿Habrá verbena?” from Lucía (web)"
    actions_only = moderator.get(ACTIVITY, params={"actions_only": "true"}).json()["entries"]
    assert [e["type"] for e in actions_only] == ["approved"]


def test_a_live_page_catches_up_with_after_and_pages_back_with_before(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    subs = [make_question(db, text=f"Pregunta {n}") for n in range(6)]
    seen = moderator.get(ACTIVITY).json()["seq"]
    act(moderator, subs[0].id, "approve")
    act(moderator, subs[1].id, "approve")
    news = moderator.get(ACTIVITY, params={"after": seen}).json()
    assert [e["submission_id"] for e in news["entries"]] == [subs[1].id, subs[0].id]
    assert news["more"] is False
    assert moderator.get(ACTIVITY, params={"after": news["seq"]}).json()["entries"] == []

    first_page = moderator.get(ACTIVITY, params={"limit": 3}).json()
    assert first_page["more"] is True
    older = moderator.get(
        ACTIVITY, params={"limit": 3, "before": first_page["entries"][-1]["seq"]}
    ).json()
    together = [e["seq"] for e in first_page["entries"] + older["entries"]]
    assert together == sorted(set(together), reverse=True)
    assert len(together) == 6

    # Far behind: the oldest missed first, so paging forward skips nothing.
    catching_up = moderator.get(ACTIVITY, params={"after": 0, "limit": 2}).json()
    assert [e["seq"] for e in catching_up["entries"]] == [2, 1]
    assert catching_up["more"] is True


def test_the_log_is_for_moderators_only(client: TestClient, db: Database, meeting: str) -> None:
    make_question(db)
    response = client.get(ACTIVITY)
    assert response.status_code == 401
    assert "Log in" in response.json()["detail"]


def test_the_log_accepts_a_bearer_token(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    make_question(db)
    response = client.get(ACTIVITY, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json()["entries"][0]["type"] == "received"


def test_bad_paging_is_a_readable_422_and_an_unknown_meeting_a_404(
    moderator: TestClient, meeting: str
) -> None:
    for params in [{"limit": 0}, {"limit": 501}, {"after": 1, "before": 5}, {"after": "x"}]:
        response = moderator.get(ACTIVITY, params=params)
        assert response.status_code == 422, params
        assert response.json()["detail"]
    assert moderator.get("/api/meetings/nope/activity").status_code == 404


def test_the_log_of_one_meeting_holds_nothing_of_another(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    make_meeting(db, "otro", title="Otro pleno")
    make_question(db, "otro", text="De otro pleno")
    make_question(db, text="De este pleno")
    entries = moderator.get(ACTIVITY).json()["entries"]
    assert [e["summary"] for e in entries if e["type"] == "received"] == [
        "new question #2 “De este pleno” from Ana García (web)"
    ]


def test_merges_edits_and_long_texts_read_well() -> None:
    long = "palabra " * 30
    merged = {"submissions": [{"id": 4, "text": long, "merged_into": 2}, {"id": 2, "text": "x"}]}
    assert summarize("merged", merged) == (
        "merged #4 “palabra palabra palabra palabra palabra palabra palabra…” into #2"
    )
    shown = {
        "submissions": [{"id": 7, "text": "nueva", "status": "on_screen"}, {"id": 3, "text": "v"}]
    }
    assert summarize("shown", shown) == "put #7 “nueva” on the screen"
    assert summarize(
        "agenda", {"agenda": {"items": [{"id": 1, "title": "Presupuestos"}], "current": 1}}
    ) == ("agenda: now “Presupuestos”")
    assert summarize("something_new", {"submissions": [{"id": 9, "text": "t"}]}) == (
        "something_new: #9 “t”"
    )
    assert summarize("something_new", {}) == "something_new"
    assert summarize("approved", {"submissions": "not a list"}) == "approved #? “”"

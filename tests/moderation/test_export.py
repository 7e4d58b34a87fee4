"""The moderators' CSV export: every question with its statuses and timings, safe to open."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from council.db import Database
from council.meetings import end_meeting
from council.models import Submission
from council.moderation.export import COLUMNS, defuse
from tests.factories import make_meeting, make_question

EXPORT = "/api/meetings/pleno/export.csv"


def act(client: TestClient, sub_id: int, action: str, **body: object) -> None:
    response = client.post(f"/api/meetings/pleno/submissions/{sub_id}/{action}", json=body or None)
    assert response.status_code == 200, response.text


def read_csv(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff"), "a byte-order mark, so spreadsheets read the accents"
    return list(csv.DictReader(io.StringIO(text[1:])))


def utc(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def test_export_has_every_question_with_status_and_timings_and_who(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    answered = make_question(db, name="Lucía Pérez", text="¿Cuándo abre la piscina?")
    rejected = make_question(db, name="Bot", text="Compra seguidores")
    pending = make_question(db, name="Íñigo", text="¿Y el camino del cementerio?")
    duplicate = make_question(db, name="Marta", text="¿Cuándo abren la piscina?")
    act(moderator, answered.id, "approve")
    act(moderator, duplicate.id, "merge", into=answered.id)
    act(moderator, answered.id, "show")
    act(moderator, answered.id, "hide")
    act(moderator, answered.id, "show")
    act(moderator, answered.id, "answer")
    act(moderator, rejected.id, "reject", reason="Spam")

    response = moderator.get(EXPORT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="pleno-questions.csv"'
    assert response.headers["cache-control"] == "no-store"
    rows = read_csv(response.text)
    assert list(rows[0]) == COLUMNS
    by_id = {int(r["id"]): r for r in rows}
    assert list(by_id) == [answered.id, rejected.id, pending.id, duplicate.id]

    done = by_id[answered.id]
    assert (done["status"], done["author"], done["source"]) == ("answered", "Lucía Pérez", "web")
    assert done["asked_count"] == "2", "the merged asker counts"
    assert (done["approved_by"], done["first_shown_by"], done["answered_by"]) == ("mod",) * 3
    assert done["times_shown"] == "2"
    received, approved = utc(done["received_at"]), utc(done["approved_at"])
    first_shown, last_shown = utc(done["first_shown_at"]), utc(done["shown_at"])
    assert received <= approved <= first_shown <= last_shown <= utc(done["answered_at"])
    # The cells are whole seconds; the figures are computed from the exact times.
    assert abs(int(done["seconds_to_approve"]) - (approved - received).total_seconds()) <= 1
    assert int(done["seconds_to_screen"]) >= int(done["seconds_to_approve"])
    assert done["verified"] == "no"

    no = by_id[rejected.id]
    assert (no["status"], no["rejection_reason"], no["rejected_by"]) == ("rejected", "spam", "mod")
    assert no["approved_at"] == no["first_shown_at"] == no["seconds_to_screen"] == ""

    assert by_id[pending.id]["status"] == "pending"
    assert by_id[pending.id]["author"] == "Íñigo"
    merged = by_id[duplicate.id]
    assert (merged["status"], merged["merged_into"], merged["merged_by"]) == (
        "merged",
        str(answered.id),
        "mod",
    )


def test_export_carries_triage_and_votes(moderator: TestClient, db: Database, meeting: str) -> None:
    sub = make_question(db, text="El agua sale marrón en la calle Mayor", status="approved")
    with db.session() as session, session.begin():
        session.execute(
            update(Submission)
            .where(Submission.id == sub.id)
            .values(category="water", flags=["shouting", "link"], votes=3, score=12.25)
        )
    [row] = read_csv(moderator.get(EXPORT).text)
    assert (row["category"], row["flags"], row["votes"]) == ("water", "shouting;link", "3")
    assert row["score"] == "12.25"
    assert row["position"] != ""


def test_a_rejection_carries_its_reason_and_the_note_for_the_asker(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, text="Una pregunta con insultos")
    act(moderator, sub.id, "reject", reason="offensive", note="Reformúlala sin insultos")
    [row] = read_csv(moderator.get(EXPORT).text)
    assert (row["rejection_reason"], row["rejection_note"]) == (
        "offensive",
        "Reformúlala sin insultos",
    )


def test_export_works_during_the_meeting_and_after_it_ends(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, text="Durante el pleno")
    assert len(read_csv(moderator.get(EXPORT).text)) == 1
    db.run_write(end_meeting, slug="pleno")
    [row] = read_csv(moderator.get(EXPORT).text)
    assert row["text"] == "Durante el pleno"


@pytest.mark.parametrize(
    "dangerous",
    [
        '=HYPERLINK("http://evil.example","click")',
        "+34 600 000 000",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
    ],
)
def test_cells_that_spreadsheets_would_run_as_formulas_are_defused(
    moderator: TestClient, db: Database, meeting: str, dangerous: str
) -> None:
    sub = make_question(db, name=dangerous.strip() or "x", text=dangerous)
    act(moderator, sub.id, "reject", reason=dangerous)
    [row] = read_csv(moderator.get(EXPORT).text)
    for column in ("author", "text", "original_text", "rejection_note"):
        # Still what the person wrote, after the apostrophe that makes it plain text.
        assert row[column].startswith("'"), (column, row[column])
        assert row[column][1:].strip() == dangerous.strip(), (column, row[column])
    for column, value in row.items():
        assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), (column, value)


def test_defuse_leaves_harmless_values_alone() -> None:
    assert defuse("¿Qué pasa con el agua?") == "¿Qué pasa con el agua?"
    assert defuse("a=b") == "a=b"
    assert defuse(-3) == -3, "numbers are numbers, not formulas"
    assert defuse("") == ""
    assert defuse("=1") == "'=1"


def test_export_is_for_moderators_only(client: TestClient, db: Database, meeting: str) -> None:
    make_question(db, text="Pendiente y privada")
    response = client.get(EXPORT)
    assert response.status_code == 401
    assert "Pendiente" not in response.text


def test_export_accepts_a_bearer_token_and_knows_unknown_meetings(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    make_meeting(db, "otro", title="Otro")
    make_question(db, "otro", text="De otro pleno")
    headers = {"Authorization": f"Bearer {token}"}
    assert read_csv(client.get(EXPORT, headers=headers).text) == []
    [row] = read_csv(client.get("/api/meetings/otro/export.csv", headers=headers).text)
    assert row["text"] == "De otro pleno"
    assert client.get("/api/meetings/nope/export.csv", headers=headers).status_code == 404

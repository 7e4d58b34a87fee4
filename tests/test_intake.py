"""Questions from the web form and the API: limits, readable errors, nothing lost."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.app import create_app
from council.db import Database
from council.meetings import end_meeting, set_accepting
from council.models import Submission
from council.settings import Settings
from tests.factories import make_meeting

pytestmark = pytest.mark.both_databases

URL = "/api/meetings/pleno/submissions"


def stored(db: Database) -> list[Submission]:
    with db.session() as session:
        return list(session.scalars(select(Submission).order_by(Submission.id)).all())


def test_question_is_stored_as_written_and_pending(
    client: TestClient, db: Database, meeting: str
) -> None:
    response = client.post(
        URL,
        json={
            "name": "  José Martínez ",
            "text": "¿Cuándo abrirán la piscina municipal? 🏊",
            "neighborhood": "Los Tablones",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "pending"
    assert set(body) == {"id", "status", "track_url"}
    [sub] = stored(db)
    assert (sub.author_name, sub.original_text, sub.neighborhood, sub.source) == (
        "José Martínez",
        "¿Cuándo abrirán la piscina municipal? 🏊",
        "Los Tablones",
        "web",
    )
    assert sub.display_text == sub.original_text
    assert body["track_url"].endswith(f"/t/{sub.track_token}")


def test_tracking_links_are_unguessable(client: TestClient, db: Database, meeting: str) -> None:
    urls = {
        client.post(URL, json={"name": "A", "text": f"q{i}"}).json()["track_url"] for i in range(5)
    }
    tokens = {url.rsplit("/", 1)[1] for url in urls}
    assert len(tokens) == 5
    assert all(len(t) >= 32 for t in tokens)
    assert client.get("/t/1").status_code == 404
    assert client.get("/api/track/1").status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "", "text": "hola"}, "name", "Please write your name."),
        ({"name": "   ", "text": "hola"}, "name", "Please write your name."),
        ({"name": "x" * 81, "text": "hola"}, "name", "at most 80 characters"),
        ({"name": "Ana", "text": " \n\t "}, "text", "Please write your question."),
        ({"name": "Ana", "text": "á" * 501}, "text", "501 characters, at most 500"),
        ({"name": "Ana", "text": "hola", "neighborhood": "b" * 81}, "neighborhood", "too long"),
        ({"name": "Ana"}, "text", "'text' is required."),
        ({"name": "Ana", "text": "hola", "email": "a@b.c"}, "email", "Unknown field 'email'"),
        ({"name": 5, "text": "hola"}, "name", "wrong type"),
    ],
)
def test_bad_input_is_422_with_a_readable_message_and_stores_nothing(
    client: TestClient, db: Database, meeting: str, body: dict, field: str, message: str
) -> None:
    response = client.post(URL, json=body)
    assert response.status_code == 422
    answer = response.json()
    assert isinstance(answer["detail"], str) and message in answer["detail"]
    assert message in answer["errors"][field]
    assert stored(db) == []


def test_limits_count_characters_after_trimming(
    client: TestClient, db: Database, meeting: str
) -> None:
    text = "ñ" * 500
    assert client.post(URL, json={"name": "x" * 80, "text": f"   {text}   "}).status_code == 201
    assert stored(db)[0].original_text == text


def test_invalid_json_is_a_readable_422(client: TestClient, meeting: str) -> None:
    response = client.post(URL, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_control_and_bidi_override_characters_are_removed(
    client: TestClient, db: Database, meeting: str
) -> None:
    client.post(URL, json={"name": "Ana\u202e", "text": "hola\x00 \u200bmundo"})
    [sub] = stored(db)
    assert (sub.author_name, sub.original_text) == ("Ana", "hola mundo")


def test_unknown_meeting_is_404(client: TestClient) -> None:
    response = client.post("/api/meetings/nada/submissions", json={"name": "A", "text": "q"})
    assert response.status_code == 404
    assert "There is no meeting “nada”" in response.json()["detail"]


def test_an_address_no_meeting_can_have_is_404_not_an_error(client: TestClient) -> None:
    # A NUL, which PostgreSQL refuses even to compare.
    response = client.post("/api/meetings/ple%00no/submissions", json={"name": "A", "text": "q"})
    assert response.status_code == 404
    assert "no meeting" in response.json()["detail"]


def test_meeting_not_accepting_is_409(client: TestClient, db: Database, meeting: str) -> None:
    db.run_write(set_accepting, slug="pleno", accepting=False)
    response = client.post(URL, json={"name": "Ana", "text": "hola"})
    assert response.status_code == 409
    assert "not taking questions" in response.json()["detail"]
    db.run_write(end_meeting, slug="pleno")
    response = client.post(URL, json={"name": "Ana", "text": "hola"})
    assert "has ended" in response.json()["detail"]
    assert stored(db) == []


def test_honeypot_submission_is_kept_but_never_reaches_moderation_queue_as_pending(
    client: TestClient, db: Database, meeting: str
) -> None:
    response = client.post(URL, json={"name": "Bot", "text": "buy", "website": "http://spam"})
    assert response.status_code == 201
    [sub] = stored(db)
    assert sub.status == "rejected"
    assert "bot" in (sub.rejection_reason or "")


def test_rate_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, submission_rate_limit="2/minute", _env_file=None))
    make_meeting(app.state.council.db)
    with TestClient(app) as client:
        for _ in range(2):
            assert client.post(URL, json={"name": "Ana", "text": "hola"}).status_code == 201
        response = client.post(URL, json={"name": "Ana", "text": "otra"})
        assert response.status_code == 429
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert "wait" in response.json()["detail"]
        # The plain HTML form is limited the same way.
        page = client.post("/m/pleno", data={"name": "Ana", "text": "otra"})
        assert page.status_code == 429
        assert "Retry-After" in page.headers
    assert len(stored(app.state.council.db)) == 2


def test_invalid_input_does_not_use_up_the_rate_limit(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, submission_rate_limit="1/minute", _env_file=None))
    make_meeting(app.state.council.db)
    with TestClient(app) as client:
        assert client.post(URL, json={"name": "", "text": "hola"}).status_code == 422
        assert client.post(URL, json={"name": "Ana", "text": "hola"}).status_code == 201


def test_plain_form_without_javascript_leads_to_the_tracking_page(
    client: TestClient, db: Database, meeting: str
) -> None:
    response = client.post(
        "/m/pleno",
        data={"name": "Luis", "text": "¿Habrá fiestas?", "neighborhood": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303
    [sub] = stored(db)
    assert response.headers["location"].endswith(f"/t/{sub.track_token}")
    page = client.get(response.headers["location"])
    assert "¿Habrá fiestas?" in page.text


def test_plain_form_shows_errors_and_keeps_what_was_typed(
    client: TestClient, db: Database, meeting: str
) -> None:
    response = client.post("/m/pleno", data={"name": "", "text": "Mi pregunta importante"})
    assert response.status_code == 422
    assert "Please write your name." in response.text
    assert "Mi pregunta importante" in response.text
    assert stored(db) == []


def test_acknowledged_question_survives_a_restart(settings: Settings) -> None:
    app = create_app(settings)
    make_meeting(app.state.council.db)
    with TestClient(app) as client:
        sub_id = client.post(URL, json={"name": "Ana", "text": "persiste"}).json()["id"]
    again = create_app(settings)
    with TestClient(again) as client:
        assert client.get("/api/meetings/pleno/state").status_code == 200
        with again.state.council.db.session() as session:
            sub = session.get(Submission, sub_id)
            assert sub is not None and sub.original_text == "persiste"


def test_sqlite_runs_in_wal_mode(db: Database) -> None:
    if not db.url.startswith("sqlite"):
        pytest.skip("a SQLite setting")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

"""Server-rendered pages: they work without JavaScript and never let user text become markup."""

from __future__ import annotations

from fastapi.testclient import TestClient

from council.db import Database
from tests.factories import make_question

PAYLOAD_NAME = '<img src=x onerror="alert(1)">'
PAYLOAD_TEXT = "<script>alert('x')</script> ¿Y la farola?"


def test_user_text_is_escaped_on_every_server_rendered_page(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(
        db,
        name=PAYLOAD_NAME,
        text=PAYLOAD_TEXT,
        neighborhood='"><svg onload=alert(1)>',
        status="on_screen",
    )
    for path in ("/m/pleno", "/screen/pleno", "/moderate/pleno", f"/t/{sub.track_token}"):
        html = moderator.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<svg onload" not in html, path
        assert "&lt;script&gt;alert" in html or "\\u003cscript\\u003e" in html, path


def test_public_page_lists_approved_questions_without_javascript(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, status="approved", text="¿Habrá mercadillo el sábado?")
    make_question(db, status="on_screen", text="¿Cuándo abre la biblioteca?")
    make_question(db, text="pendiente, no se ve")
    html = client.get("/m/pleno").text
    assert "¿Habrá mercadillo el sábado?" in html
    assert "¿Cuándo abre la biblioteca?" in html
    assert "pendiente, no se ve" not in html


def test_screen_shows_title_hashtag_and_qr_code(client: TestClient, meeting: str) -> None:
    html = client.get("/screen/pleno").text
    assert "Pleno de Jun" in html and "#PlenoJun" in html
    assert 'src="/m/pleno/qr.svg"' in html
    qr = client.get("/m/pleno/qr.svg")
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml")
    assert b"<svg" in qr.content


def test_index_groups_meetings_by_now_next_and_past(client: TestClient, db: Database) -> None:
    from tests.factories import make_meeting

    make_meeting(db, "ahora", title="Pleno en directo")
    make_meeting(db, "luego", title="Pleno de diciembre", live=False)
    html = client.get("/").text
    assert html.index("Pleno en directo") < html.index("Pleno de diciembre")


def test_ended_meeting_page_says_it_takes_no_more_questions(
    client: TestClient, db: Database, meeting: str
) -> None:
    from council.meetings import end_meeting

    db.run_write(end_meeting, slug="pleno")
    html = client.get("/m/pleno").text
    assert "has ended" in html and 'id="ask-form"' not in html


def test_tracking_page_shows_the_question_and_its_status(
    client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved", text="¿Y el polideportivo?")
    html = client.get(f"/t/{sub.track_token}").text
    assert "¿Y el polideportivo?" in html and 'data-status="approved"' in html


def test_openapi_schema_documents_the_public_contract(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/meetings/{slug}/submissions",
        "/api/meetings/{slug}/state",
        "/api/meetings/{slug}/submissions/{submission_id}/{action}",
        "/api/meetings/{slug}/submissions/{submission_id}",
    ):
        assert path in paths, path
    created = paths["/api/meetings/{slug}/submissions"]["post"]["responses"]
    assert {"201", "409", "422", "429"} <= set(created)


def test_stream_player_address_must_be_https(client: TestClient, db: Database) -> None:
    from tests.factories import log_in, make_user

    make_user(db, "clerk", role="admin")
    client.headers["X-CSRF-Token"] = log_in(client, "clerk")
    client.post("/api/meetings", json={"slug": "pleno", "title": "Pleno"})
    bad = client.post("/api/meetings/pleno/stream", json={"url": "javascript:alert(1)"})
    assert bad.status_code == 422 and "https://" in bad.json()["detail"]
    good = client.post("/api/meetings/pleno/stream", json={"url": "https://tv.jun.es/embed/1"})
    assert good.json()["meeting"]["stream_url"] == "https://tv.jun.es/embed/1"
    assert "frame-src https:" in client.get("/").headers["content-security-policy"]

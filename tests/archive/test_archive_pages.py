"""The archive's pages: past meetings, searching their questions, and the replay page."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from council.agenda import add_item, next_item
from council.archive.pages import clock, fold, highlight, parse_time, query_words, time_param
from council.db import Database
from council.meetings import end_meeting
from council.models import Meeting
from council.moderation.actions import show
from council.settings import Settings
from tests.factories import happened_at, make_meeting, make_question, recorded


def started(db: Database, slug: str, when: datetime) -> None:
    with db.session() as session, session.begin():
        session.execute(update(Meeting).where(Meeting.slug == slug).values(started_at=when))


def test_archive_lists_past_and_recorded_meetings_newest_first(
    client: TestClient, db: Database, settings: Settings
) -> None:
    make_meeting(db, "pleno", title="Pleno de octubre")  # live, recorded: listed
    make_meeting(db, "noviembre", title="Pleno de noviembre")
    make_meeting(db, "diciembre", title="Pleno de diciembre", live=False)  # scheduled: not
    make_meeting(db, "septiembre", title="Pleno de septiembre")
    make_question(db, "noviembre", status="answered", text="¿Y la farola?")
    make_question(db, "noviembre", status="answered", text="¿Y el agua?")
    make_question(db, "noviembre", status="approved", text="¿Y el parque?")
    for slug in ("noviembre", "septiembre"):
        db.run_write(end_meeting, slug=slug)
    started(db, "septiembre", datetime(2026, 9, 24, 19, tzinfo=UTC))
    started(db, "pleno", datetime(2026, 10, 27, 19, tzinfo=UTC))
    started(db, "noviembre", datetime(2026, 11, 24, 19, tzinfo=UTC))
    recorded(db, settings)  # meeting 1, "pleno": 90 s

    html = client.get("/archive").text
    titles = re.findall(r'<h2 class="archive-title"><a href="/archive/([\w-]+)">', html)
    assert titles == ["noviembre", "pleno", "septiembre"]
    assert "Pleno de diciembre" not in html
    assert "2026-11-24" in html and "2 questions answered" in html
    assert "Video: 1 min 30 s" in html
    assert 'href="/archive"' in client.get("/").text, "the site's nav links to the archive"


def test_home_page_sends_past_meetings_to_their_replay(client: TestClient, db: Database) -> None:
    make_meeting(db, "octubre", title="Pleno de octubre")
    db.run_write(end_meeting, slug="octubre")
    assert 'href="/archive/octubre"' in client.get("/").text


def test_search_finds_meetings_by_words_of_their_questions_whatever_the_accents(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    make_meeting(db, "otro", title="Pleno de marzo")
    wanted = make_question(
        db, status="answered", name="Íñigo", text="Una PETICIÓN sobre la farola de la plaza"
    )
    make_question(db, status="approved", text="¿Petición del parque?")  # never shown
    make_question(db, status="rejected", text="Petición rechazada, nunca pública")
    make_question(db, status="pending", text="Petición pendiente")
    make_question(db, "otro", status="approved", text="Sobre el agua")
    db.run_write(end_meeting, slug="otro")
    db.run_write(end_meeting, slug="pleno")
    happened_at(db, "shown", 12)
    recorded(db, settings)

    html = client.get("/archive", params={"q": "peticion"}).text
    assert "1 meeting with a question matching" in html
    assert "Pleno de marzo" not in html
    assert "rechazada" not in html and "pendiente" not in html, "only public questions"
    # The found word is marked, accents and capitals as written, and links to its moment.
    assert "Una <mark>PETICIÓN</mark> sobre la farola" in html
    assert f'href="/archive/pleno?t={time_param(12)}"' in html
    assert "¿<mark>Petición</mark> del parque?" in html

    both = client.get("/archive", params={"q": "FAROLA  petición"}).text
    assert "<mark>farola</mark>" in both and "del parque" not in both, "every word must match"
    by_author = client.get("/archive", params={"q": "inigo"}).text
    assert "<mark>Íñigo</mark>" in by_author
    nothing = client.get("/archive", params={"q": "piscina"}).text
    assert "No question in past meetings matches “piscina”" in nothing
    assert wanted.id


def test_search_text_is_escaped(client: TestClient, db: Database, meeting: str) -> None:
    make_question(db, status="approved", text="<script>alert(1)</script> farola")
    db.run_write(end_meeting, slug="pleno")
    html = client.get("/archive", params={"q": "<script> farola"}).text
    assert "<script>alert(1)" not in html and "<script> farola" not in html
    assert (
        "&lt;<mark>script</mark>&gt;alert(1)&lt;/<mark>script</mark>&gt; <mark>farola</mark>"
        in html
    )
    assert "matches “&lt;script&gt; farola”" in html or "matching “&lt;script&gt; farola”" in html


def test_replay_page_renders_video_questions_chapters_and_downloads(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    for title in ("Acta", "Presupuestos <2027>"):
        db.run_write(add_item, slug="pleno", title=title)
    db.run_write(next_item, slug="pleno")
    db.run_write(next_item, slug="pleno")
    first = make_question(
        db, status="answered", name="Ana <b>", text="<script>alert('x')</script>¿La farola?"
    )
    second = make_question(db, status="on_screen", text="¿El agua?", neighborhood="El Barrio")
    happened_at(db, "shown", 10, 0)
    happened_at(db, "answered", 40, 0)
    happened_at(db, "shown", 110, 1)
    happened_at(db, "agenda", 5, 2)
    happened_at(db, "agenda", 30, 3)
    recorded(db, settings)

    response = client.get("/archive/pleno")
    assert response.status_code == 200
    html = response.text
    assert '<video id="video" controls preload="metadata"' in html
    assert 'src="/archive/pleno/video.mp4"' in html and 'poster="/archive/pleno/poster.jpg"' in html
    assert '<track kind="chapters" src="/archive/pleno/chapters.vtt"' in html
    # User text stays text: escaped by the template, never markup.
    assert "<script>alert" not in html and "Ana <b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;¿La farola?" in html
    assert "Presupuestos &lt;2027&gt;" in html
    # Each question at its time, with a link that works without JavaScript.
    assert f'id="q-{first.id}"' in html and f'id="q-{second.id}"' in html
    assert 'href="?t=10" data-seek="10.0"' in html and ">00:10<" in html
    assert 'href="?t=70" data-seek="70.0"' in html and ">01:10<" in html
    assert "El Barrio" in html and "Answered" in html
    # Chapters, and every download.
    assert 'href="?t=5" data-seek="5.0"' in html and 'href="?t=30" data-seek="30.0"' in html
    for link in (
        "/archive/pleno/video.mp4",
        "/archive/pleno/questions.csv",
        "/archive/pleno/questions.json",
        "/archive/pleno/chapters.vtt",
    ):
        assert f'href="{link}" download' in html, link
    assert "no recording yet" not in html
    # CSP: no inline script may run; data travels as JSON only.
    assert (
        re.findall(r"<script(?![^>]*(?:type=\"application/json\"|type=\"module\" src=))", html)
        == []
    )


def test_replay_opens_at_the_time_asked(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    sub = make_question(db, status="on_screen", text="¿El agua?")
    happened_at(db, "shown", 10)
    recorded(db, settings)
    html = client.get("/archive/pleno", params={"t": "12"}).text
    assert 'src="/archive/pleno/video.mp4#t=12"' in html and 'data-start="12"' in html
    assert 'class="moment current"' in html and 'aria-current="true"' in html
    assert 'src="/archive/pleno/video.mp4#t=90"' in client.get("/archive/pleno?t=1:30:00").text
    assert 'data-start="75"' in client.get("/archive/pleno?t=1m15s").text
    for bad in ("abc", "-5", "nan", "inf", "1e400", "<script>"):
        page = client.get("/archive/pleno", params={"t": bad})
        assert page.status_code == 200 and 'data-start=""' in page.text, bad
    # ?q=ID opens at that question's moment.
    assert 'data-start="10"' in client.get(f"/archive/pleno?q={sub.id}").text


def test_replay_without_a_recording_still_lists_the_questions(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, status="answered", text="¿Y la biblioteca?")
    html = client.get("/archive/pleno").text
    assert "This meeting has no recording yet" in html
    assert "<video" not in html and "¿Y la biblioteca?" in html
    assert "?t=" not in html, "no times to jump to without a video"
    assert 'href="/archive/pleno/questions.csv"' in html


def test_replay_says_when_the_recording_is_on_its_way(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    assert moderator.post("/api/meetings/pleno/recording/start", json={"mode": "rtmp"}).is_success
    html = moderator.get("/archive/pleno").text
    assert "This meeting has no recording yet" in html and "being recorded now" in html


def test_replay_of_an_unknown_meeting_is_a_404_page(client: TestClient) -> None:
    response = client.get("/archive/nada")
    assert response.status_code == 404 and "<html" in response.text


def test_question_shown_twice_is_listed_at_both_moments(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    from council.moderation.actions import hide

    sub = make_question(db, status="on_screen", text="¿Otra vez?")
    db.run_write(hide, slug="pleno", submission_id=sub.id, actor="m")
    db.run_write(show, slug="pleno", submission_id=sub.id, actor="m")
    happened_at(db, "shown", 3, 0)
    happened_at(db, "hidden", 6, 0)
    happened_at(db, "shown", 20, 1)
    recorded(db, settings)
    html = client.get("/archive/pleno").text
    assert html.count("¿Otra vez?") == 2 and html.count(f'id="q-{sub.id}"') == 1
    assert 'data-offset="3.0" data-end="6.0"' in html
    assert 'data-offset="20.0" data-end="90.0"' in html


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("12", 12.0),
        ("12.5", 12.5),
        ("1:30", 90.0),
        ("01:02:03", 3723.0),
        ("1h2m3s", 3723.0),
        ("90s", 90.0),
        ("2m", 120.0),
        ("", None),
        ("x", None),
        ("-1", None),
        ("1:99", None),
    ],
)
def test_parse_time(text: str, seconds: float | None) -> None:
    assert parse_time(text) == seconds


def test_times_and_words_helpers() -> None:
    assert [clock(s) for s in (0, 9.9, 70, 3723)] == ["00:00", "00:09", "01:10", "1:02:03"]
    assert [time_param(s) for s in (10.0, 10.04, 10.25, 0.0)] == ["10", "10.1", "10.3", "0"]
    assert fold("PETICIÓN Ñandú") == "peticion nandu"
    assert query_words("  Petición, ¡farola! petición ") == ["peticion", "farola"]
    assert highlight("Él pidió", ["el"]) == [("Él", True), (" pidió", False)]
    decomposed = "Pe\u0301rez"  # é written as e + a combining accent
    assert highlight(decomposed, ["perez"]) == [(decomposed, True)]

"""Flags: profanity, links, shouting, long text and muted authors, shown, never acted on alone."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.db import Database
from council.intake import Post, collect
from council.models import Event, Submission
from council.moderation import flags
from tests.factories import log_in, make_question, make_user


def flags_of(db: Database, text: str) -> list[str]:
    return make_question(db, text=text).flags


@pytest.mark.parametrize(
    "text",
    [
        "Esto es una MIERDA de servicio",
        "¡Qué coño pasa con la luz!",  # ñ folded: "cono"
        "Son unos gilipollas",
        "Me cago en la farola",
        "This is bullshit",
        "The f*cking lights... no, the FUCKING lights are out",
    ],
)
def test_profanity_in_spanish_and_english_is_flagged(db: Database, meeting: str, text: str) -> None:
    assert "profanity" in flags_of(db, text)


@pytest.mark.parametrize(
    "text",
    [
        "Pregunta desde Scunthorpe sobre el agua",  # a word inside another is not the word
        "¿Quién paga la cuenta del agua?",
        "Shitake mushrooms at the market?",
        "El año que viene, ¿habrá fiestas?",  # año folds to "ano": not on the lists
    ],
)
def test_clean_questions_are_not_flagged(db: Database, meeting: str, text: str) -> None:
    assert flags_of(db, text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Mirad esto https://example.org/foto",
        "Más en www.jun.es",
        "Visit jun-news.com/article for details",
        "Escribid a bit.ly/abc",
    ],
)
def test_links_are_flagged(db: Database, meeting: str, text: str) -> None:
    assert "link" in flags_of(db, text)


def test_a_sentence_with_a_full_stop_is_not_a_link(db: Database, meeting: str) -> None:
    assert "link" not in flags_of(db, "Pedimos más luz.Gracias por todo")


def test_shouting_is_mostly_capitals(db: Database, meeting: str) -> None:
    assert "shouting" in flags_of(db, "¿POR QUÉ NADIE ARREGLA LA FAROLA DE MI CALLE?")
    assert "shouting" not in flags_of(db, "¿Por qué nadie arregla la FAROLA de mi calle?")
    assert "shouting" not in flags_of(db, "OK ONG"), "too short to shout"
    assert "shouting" not in flags_of(db, "Pregunta para #PLENOJUN @AYTOJUN sobre el agua")


def test_long_text_is_flagged(db: Database, meeting: str) -> None:
    assert "long" in flags_of(db, "palabra " * 40)
    assert "long" not in flags_of(db, "palabra " * 30)


def test_flags_never_reject_a_question(db: Database, meeting: str) -> None:
    sub = make_question(db, text="MIERDA DE FAROLAS, MIRAD https://example.org " + "X " * 150)
    assert sub.flags == ["profanity", "link", "shouting", "long"]
    assert sub.status == "pending"


def test_posts_from_collectors_are_flagged_too(db: Database, meeting: str) -> None:
    posts = [
        Post(external_id="1", text="#PlenoJun joder con la farola", author_name="V", handle="v")
    ]
    (sub,), _events = db.run_write(collect, meeting_id=1, source="x", posts=posts)
    assert sub.flags == ["profanity"]
    assert sub.category == "lighting"


@pytest.fixture
def admin_client(client: TestClient, db: Database) -> TestClient:
    make_user(db, "clerk", role="admin")
    client.headers["X-CSRF-Token"] = log_in(client, "clerk")
    return client


def test_admins_edit_the_words_and_waiting_questions_are_reflagged(
    admin_client: TestClient, db: Database, meeting: str
) -> None:
    waiting = make_question(db, text="Esto es un chanchullo")
    decided = make_question(db, text="Otro chanchullo", status="approved")
    assert waiting.flags == []
    answer = admin_client.put("/api/triage/profanity", json={"words": ["chanchull*"]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["profanity"] == ["chanchull*"]
    with db.session() as session:
        assert session.get(Submission, waiting.id).flags == ["profanity"]  # type: ignore[union-attr]
        assert session.get(Submission, decided.id).flags == []  # type: ignore[union-attr]
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
    assert event is not None and event.type == "flagged" and event.public_payload is None
    assert make_question(db, text="Menudo CHANCHULLO").flags == ["profanity"]
    assert "profanity" not in make_question(db, text="Esto es una mierda").flags
    admin_client.delete("/api/triage/profanity")
    assert "profanity" in make_question(db, text="Esto es una mierda").flags


def test_the_admin_page_edits_the_lists(admin_client: TestClient, meeting: str) -> None:
    page = admin_client.get("/admin").text
    assert "gilipoll*" in page and "farola" in page
    token = admin_client.headers["X-CSRF-Token"]
    saved = admin_client.post(
        "/admin/triage/profanity", data={"csrf_token": token, "words": "caca\nculo, pis"}
    )
    assert saved.status_code == 200
    assert "caca" in saved.text
    form: dict[str, Any] = {"csrf_token": token, "count": "2"}
    form |= {"key_0": "lighting", "label_0": "Luz", "keywords_0": "farola, luz"}
    form |= {"key_1": "water", "label_1": "Agua", "keywords_1": "agua", "remove_1": "1"}
    form |= {"key_new": "parks", "label_new": "Parques", "keywords_new": "parque"}
    saved = admin_client.post("/admin/triage/categories", data=form)
    assert saved.status_code == 200, saved.text
    lists = admin_client.get("/api/triage/lists").json()
    assert [(c["key"], c["label"], c["keywords"]) for c in lists["categories"]] == [
        ("lighting", "Luz", ["farola", "luz"]),
        ("parks", "Parques", ["parque"]),
    ]
    bad = admin_client.post(
        "/admin/triage/categories", data={"csrf_token": token, "key_new": "Bad Key"}
    )
    assert bad.status_code == 422
    assert "cannot be a category" in bad.text
    reset = admin_client.post("/admin/triage/categories/reset", data={"csrf_token": token})
    assert reset.status_code == 200
    assert len(admin_client.get("/api/triage/lists").json()["categories"]) == 6


def test_the_admin_forms_need_the_csrf_token(admin_client: TestClient) -> None:
    answer = admin_client.post(
        "/admin/triage/profanity", data={"words": "x"}, headers={"X-CSRF-Token": ""}
    )
    assert answer.status_code == 403


def test_flags_are_listed_in_one_order() -> None:
    assert flags.FLAGS == ("profanity", "link", "shouting", "long", "muted_author")

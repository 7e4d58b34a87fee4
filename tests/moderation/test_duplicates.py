"""Likely duplicates: Spanish and English, accents, capitals and typos do not hide them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from council.db import Database
from council.moderation import duplicates
from council.moderation.context import triage_of
from tests.factories import make_meeting, make_question

FAROLA = "¿Cuándo arreglan la farola de la calle Mayor?"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (FAROLA, "cuando arreglan la farola de la calle mayor"),  # accents, capitals, ¿?
        (FAROLA, "CUANDO VAN A ARREGLAR LA FAROLA DE CALLE MAYOR??"),
        (FAROLA, "¿Cuándo arrglan la farla de la calle Mayr?"),  # typos
        (FAROLA, "La farola de la calle Mayor, ¿cuándo la arreglan?"),  # word order
        (
            "¿Por qué no hay agua en el casco antiguo desde el lunes?",
            "Desde el lunes no hay agua en el casco antiguo, ¿por qué?",
        ),
        (
            "When will the streetlight on Main Street be fixed?",
            "when is the street light on main street getting fixed",  # one word or two
        ),
        (
            "When will the streetlight on Main Street be fixed?",
            "Whne will teh streetlight on Main Stret be fixd?",
        ),
        (
            "Why is there no water in the old town since Monday?",
            "No water in the old town since monday, why?",
        ),
    ],
)
def test_rewordings_and_typos_are_likely_duplicates(first: str, second: str) -> None:
    a, b = duplicates.folded(first), duplicates.folded(second)
    assert duplicates.similarity(a, b) >= 80, (a, b)
    assert duplicates.similarity(b, a) == duplicates.similarity(a, b)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (FAROLA, "¿Cuándo arreglan el bache de la calle Mayor?"),  # same frame, other subject
        (FAROLA, "¿Qué pasa con las fiestas de agosto?"),
        (
            "¿Por qué no hay agua en el casco antiguo desde el lunes?",
            "¿Por qué no hay luz en el casco antiguo desde el lunes?",
        ),
        (
            "When will the streetlight on Main Street be fixed?",
            "When will the pothole on Main Street be fixed?",
        ),
        ("farola", FAROLA),  # one shared word is not the same question
    ],
)
def test_different_questions_are_not(first: str, second: str) -> None:
    assert duplicates.similarity(duplicates.folded(first), duplicates.folded(second)) < 80


def test_a_new_question_lists_its_likely_duplicates_among_open_ones(
    db: Database, meeting: str
) -> None:
    original = make_question(db, text=FAROLA, status="approved")
    unrelated = make_question(db, text="¿Qué pasa con las fiestas de agosto?")
    again = make_question(db, text="cuando arreglan la farola de la calle mayor!!")
    assert [d["id"] for d in again.duplicates] == [original.id]
    assert again.duplicates[0]["similarity"] == 100.0
    assert unrelated.duplicates == []
    assert original.duplicates == [], "the older question does not list the newer"


def test_closed_questions_are_not_compared(db: Database, meeting: str) -> None:
    make_question(db, text=FAROLA, status="answered")
    make_question(db, text=FAROLA, status="rejected")
    assert make_question(db, text=FAROLA).duplicates == []


def test_only_questions_of_the_same_meeting_are_compared(db: Database, meeting: str) -> None:
    make_meeting(db, "otro")
    make_question(db, "otro", text=FAROLA)
    assert make_question(db, text=FAROLA).duplicates == []


def test_similar_is_the_function_to_time(db: Database, meeting: str) -> None:
    first = make_question(db, text=FAROLA)
    second = make_question(db, text="Farola calle Mayor: ¿cuándo la arreglan?")
    found = db.run_read(duplicates.similar, meeting_id=1, text="la farola de la calle mayor")
    assert {d["id"] for d in found} == {first.id, second.id}
    earlier = db.run_read(
        duplicates.similar, meeting_id=1, text="la farola de la calle mayor", before_id=second.id
    )
    assert [d["id"] for d in earlier] == [first.id]


def test_groups_join_each_question_with_its_duplicates_oldest_first(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    a = make_question(db, text=FAROLA)
    make_question(db, text="¿Habrá fiestas este verano?")
    b = make_question(db, text="Cuando arreglan la farola de la calle Mayor")
    c = make_question(db, text="¿Cuándo arrglan la farla de la calle Mayr?")
    water = make_question(db, text="No water in the old town since Monday, why?")
    water_again = make_question(db, text="Why is there no water in the old town since monday?")
    groups = moderator.get("/api/meetings/pleno/duplicates").json()["groups"]
    assert groups == [[a.id, b.id, c.id], [water.id, water_again.id]]


def test_the_cache_never_changes_the_answer(db: Database, meeting: str) -> None:
    make_question(db, text=FAROLA)
    warm = db.run_read(duplicates.similar, meeting_id=1, text=FAROLA)
    with db.session() as session:
        triage_of(session).folded.clear()
    cold = db.run_read(duplicates.similar, meeting_id=1, text=FAROLA)
    assert warm == cold and warm

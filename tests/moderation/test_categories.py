"""Categories: suggested from Spanish and English keywords, changed in one action, filterable."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from council.db import Database
from council.models import Event
from council.moderation import categories
from tests.factories import log_in, make_question, make_user


def suggest(db: Database, text: str) -> str | None:
    return db.run_read(categories.suggest, text=text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("¿Cuándo arreglan la farola de la calle Mayor?", "lighting"),
        ("LAS FAROLAS DEL PARQUE NO SE ENCIENDEN", "lighting"),
        ("Hay una fuga de agua en la plaza desde el lunes", "water"),
        ("¿Quién limpia las alcantarillas de la Avenida?", "water"),
        ("Hay un socavón enorme en la calzada", "streets"),
        ("¿Habrá más policía los fines de semana? Hubo robos", "police"),
        ("¿Qué día empiezan las fiestas de agosto?", "events"),
        ("¿Se puede poner un semáforo en el paso de peatones del colegio?", "streets"),
        ("When will the streetlight on Main Street be fixed?", "lighting"),
        ("The street lights on Church Road are out", "lighting"),
        ("There is a water leak near the school", "water"),
        ("Potholes everywhere on the ring road", "streets"),
        ("More police patrols at night, please: two burglaries this week", "police"),
        ("Will there be fireworks at the summer festival?", "events"),
    ],
)
def test_a_question_gets_a_category_suggested_from_keywords(
    db: Database, text: str, expected: str
) -> None:
    assert suggest(db, text) == expected


def test_accents_and_capitals_do_not_matter(db: Database) -> None:
    # "policía" with and without its accent, "ILUMINACIÓN" in capitals.
    assert suggest(db, "La policia no vino") == "police"
    assert suggest(db, "La POLICÍA no vino") == "police"
    assert suggest(db, "ILUMINACIÓN del polideportivo") == "lighting"
    assert suggest(db, "iluminacion del polideportivo") == "lighting"


def test_keywords_match_whole_words_only(db: Database) -> None:
    # "luz" is a lighting keyword; "Luzón" (a surname) is not the word "luz".
    assert suggest(db, "Pregunta de Ana Luzón sobre el presupuesto") == "other"


def test_a_question_with_no_keyword_is_other(db: Database) -> None:
    assert suggest(db, "¿Cuál es el presupuesto municipal de este año?") == "other"


def test_the_most_matched_category_wins(db: Database) -> None:
    text = "Fuga de agua, tubería rota y charcos; y una farola"
    assert suggest(db, text) == "water"


def test_each_new_question_arrives_with_its_suggestion(db: Database, meeting: str) -> None:
    sub = make_question(db, text="¿Cuándo arreglan la farola de la calle Mayor?")
    assert sub.category == "lighting"
    assert sub.category_suggested is True


def categorize(client: TestClient, sub_id: int, category: str, **body: object) -> dict:
    response = client.post(
        f"/api/meetings/pleno/submissions/{sub_id}/categorize",
        json={"category": category, **body},
    )
    return {"status": response.status_code, "body": response.json()}


def test_a_moderator_changes_the_category_in_one_action(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, text="¿Cuándo arreglan la farola?")
    result = categorize(moderator, sub.id, "streets")
    assert result["status"] == 200, result
    view = result["body"]["submission"]
    assert view["category"] == "streets"
    assert view["category_suggested"] is False
    with db.session() as session:
        event = session.scalars(select(Event).order_by(Event.seq.desc())).first()
    assert event is not None and event.type == "categorized"
    assert event.actor == "mod"
    assert event.public_payload is None, "categories are for moderators only"


def test_an_unknown_category_is_refused_with_the_list(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    result = categorize(moderator, sub.id, "parks")
    assert result["status"] == 422
    assert "lighting" in result["body"]["detail"]


def test_a_merged_question_cannot_be_categorised(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    kept = make_question(db)
    gone = make_question(db)
    moderator.post(f"/api/meetings/pleno/submissions/{gone.id}/merge", json={"into": kept.id})
    result = categorize(moderator, gone.id, "water")
    assert result["status"] == 409
    assert result["body"]["current"]["status"] == "merged"


def test_a_stale_categorisation_is_a_conflict(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    result = categorize(moderator, sub.id, "water", expected_status="pending")
    assert result["status"] == 409
    assert result["body"]["code"] == "stale"


def test_categorising_needs_a_moderator(client: TestClient, db: Database, meeting: str) -> None:
    sub = make_question(db)
    assert categorize(client, sub.id, "water")["status"] == 401


def test_the_queue_filters_by_category(moderator: TestClient, db: Database, meeting: str) -> None:
    light = make_question(db, text="La farola de mi calle no funciona")
    water = make_question(db, text="No hay agua en el barrio")
    other = make_question(db, text="¿Cuánto cuesta el pleno?")
    got = moderator.get("/api/meetings/pleno/submissions", params={"category": "water"}).json()
    assert [s["id"] for s in got["submissions"]] == [water.id]
    got = moderator.get(
        "/api/meetings/pleno/submissions", params={"category": "lighting", "status": "pending"}
    ).json()
    assert [s["id"] for s in got["submissions"]] == [light.id]
    assert other.category == "other"
    unknown = moderator.get("/api/meetings/pleno/submissions", params={"category": "parks"})
    assert unknown.status_code == 422
    assert "lighting" in unknown.json()["detail"]


def test_uncategorised_questions_filter_as_none(
    admin_client: TestClient, db: Database, meeting: str
) -> None:
    # Without a catch-all category, a question no keyword matches has none.
    admin_client.put(
        "/api/triage/categories",
        json={"categories": [{"key": "water", "label": "Agua", "keywords": ["agua"]}]},
    )
    sub = make_question(db, text="¿Cuánto cuesta el pleno?")
    assert sub.category is None
    got = admin_client.get("/api/meetings/pleno/submissions", params={"category": "none"}).json()
    assert [s["id"] for s in got["submissions"]] == [sub.id]


@pytest.fixture
def admin_client(client: TestClient, db: Database) -> TestClient:
    make_user(db, "clerk", role="admin")
    client.headers["X-CSRF-Token"] = log_in(client, "clerk")
    return client


def test_admins_edit_categories_and_keywords(
    admin_client: TestClient, db: Database, meeting: str
) -> None:
    answer = admin_client.put(
        "/api/triage/categories",
        json={
            "categories": [
                {"key": "parks", "label": "Parques", "keywords": ["parque", "jardín*", "park"]},
                {"key": "other", "label": "Otros", "keywords": []},
            ]
        },
    )
    assert answer.status_code == 200, answer.text
    assert [c["key"] for c in answer.json()["categories"]] == ["parks", "other"]
    assert make_question(db, text="Los JARDINES de la plaza están secos").category == "parks"
    assert make_question(db, text="La farola no va").category == "other"
    snapshot = admin_client.get("/api/meetings/pleno/submissions").json()
    assert snapshot["categories"] == [
        {"key": "parks", "label": "Parques"},
        {"key": "other", "label": "Otros"},
    ]
    # Back to the shipped lists.
    assert admin_client.delete("/api/triage/categories").status_code == 200
    assert make_question(db, text="La farola no va").category == "lighting"


def test_editing_categories_resuggests_waiting_questions_but_keeps_a_moderators_choice(
    admin_client: TestClient, db: Database, meeting: str
) -> None:
    suggested = make_question(db, text="El parque está sucio")
    chosen = make_question(db, text="El parque tiene una farola rota")
    categorize(admin_client, chosen.id, "events")
    admin_client.put(
        "/api/triage/categories",
        json={"categories": [{"key": "parks", "keywords": ["parque"]}, {"key": "events"}]},
    )
    queue = {
        s["id"]: s
        for s in admin_client.get("/api/meetings/pleno/submissions").json()["submissions"]
    }
    assert queue[suggested.id]["category"] == "parks"
    assert queue[suggested.id]["category_suggested"] is True
    assert queue[chosen.id]["category"] == "events"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"categories": []}, "at least one"),
        ({"categories": [{"key": "Bad Key"}]}, "cannot be a category's key"),
        ({"categories": [{"key": "a"}, {"key": "a"}]}, "twice"),
        ({"categories": [{"key": "a", "keywords": ["x" * 61]}]}, "too long"),
    ],
)
def test_bad_category_lists_are_refused_with_a_reason(
    admin_client: TestClient, body: dict, message: str
) -> None:
    answer = admin_client.put("/api/triage/categories", json=body)
    assert answer.status_code == 422
    assert message in answer.json()["detail"]


def test_only_admins_edit_the_lists(moderator: TestClient) -> None:
    answer = moderator.put("/api/triage/categories", json={"categories": [{"key": "a"}]})
    assert answer.status_code == 403

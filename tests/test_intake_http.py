"""The question endpoint's fast path (council/intake_http.py) answers exactly like its route.

A query string sends a request down the ordinary FastAPI route instead, so each test
asks both ways and compares.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from council.db import Database
from council.meetings import set_accepting
from tests.factories import questions

pytestmark = pytest.mark.both_databases

URL = "/api/meetings/pleno/submissions"
ROUTE = URL + "?via=route"
QUESTION = {"name": "Ana", "text": "¿Cuándo abre la piscina?", "neighborhood": "Centro"}


def both(client: TestClient, body: object, **kwargs: object) -> tuple:
    return client.post(URL, json=body, **kwargs), client.post(ROUTE, json=body, **kwargs)  # type: ignore[arg-type]


def test_a_question_gets_the_same_answer_and_headers_either_way(
    client: TestClient, db: Database, meeting: str
) -> None:
    fast, route = both(client, QUESTION)
    assert (fast.status_code, route.status_code) == (201, 201)
    assert set(fast.json()) == set(route.json()) == {"id", "status", "track_url"}
    assert fast.json()["status"] == route.json()["status"] == "pending"
    base = "http://testserver/t/"
    assert fast.json()["track_url"].startswith(base) and route.json()["track_url"].startswith(base)
    for name in ("content-security-policy", "x-content-type-options", "referrer-policy", "vary"):
        assert fast.headers[name] == route.headers[name], name
    assert fast.headers["content-type"] == route.headers["content-type"]
    stored = questions(db)
    assert [s.id for s in stored] == [fast.json()["id"], route.json()["id"]]
    assert {s.author_name for s in stored} == {"Ana"}


def test_behind_a_path_prefix_the_tracking_link_keeps_the_prefix(
    app: FastAPI, db: Database, meeting: str
) -> None:
    with TestClient(app, root_path="/council") as client:
        fast, route = both(client, QUESTION)
    prefix = "http://testserver/council/t/"
    assert fast.json()["track_url"].startswith(prefix), fast.json()
    assert route.json()["track_url"].startswith(prefix), route.json()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "", "text": "hola"}, 422),
        ({"name": "Ana", "text": "hola", "email": "x"}, 422),
        ({"name": "Ana", "text": "á" * 501}, 422),
        ("not an object", 422),
    ],
)
def test_bad_input_gets_the_same_readable_422_either_way(
    client: TestClient, db: Database, meeting: str, body: object, status: int
) -> None:
    fast, route = both(client, body)
    assert fast.status_code == route.status_code == status
    assert fast.json() == route.json()
    assert questions(db) == []


def test_a_refusal_speaks_the_askers_language_either_way(
    client: TestClient, db: Database, meeting: str
) -> None:
    db.run_write(set_accepting, slug="pleno", accepting=False)
    fast, route = both(client, QUESTION, headers={"Accept-Language": "es-ES,es;q=0.9"})
    assert fast.status_code == route.status_code == 409
    assert fast.json() == route.json()
    assert "no admite preguntas" in fast.json()["detail"], fast.json()
    english = client.post(URL, json=QUESTION, headers={"Accept-Language": "en"})
    assert english.json()["detail"] != fast.json()["detail"]


def test_an_unknown_meeting_is_404_either_way(client: TestClient) -> None:
    fast = client.post("/api/meetings/nowhere/submissions", json=QUESTION)
    route = client.post("/api/meetings/nowhere/submissions?via=route", json=QUESTION)
    assert fast.status_code == route.status_code == 404
    assert fast.json() == route.json()

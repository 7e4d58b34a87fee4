"""Bodies over COUNCIL_MAX_BODY_BYTES are refused before anything parses them."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from council.db import Database
from tests.factories import questions

URL = "/api/meetings/pleno/submissions"


def test_a_declared_oversized_body_is_refused_with_413_and_saves_nothing(
    client: TestClient, db: Database, meeting: str
) -> None:
    body = b'{"name": "Ana", "text": "' + b"a" * 70_000 + b'"}'
    response = client.post(URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert "65536 bytes" in response.json()["detail"]
    assert questions(db) == []


def test_a_chunked_oversized_body_is_refused_too(
    client: TestClient, db: Database, meeting: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Ana", "text": "'
        for _ in range(10):
            yield b"a" * 8_000
        yield b'"}'

    response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert questions(db) == []


def test_a_chunked_body_within_the_limit_still_arrives_whole(
    client: TestClient, db: Database, meeting: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "Ana", '
        yield '"text": "¿Cuándo abre la piscina?"}'.encode()

    response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 201, response.text
    [stored] = questions(db)
    assert stored.original_text == "¿Cuándo abre la piscina?"

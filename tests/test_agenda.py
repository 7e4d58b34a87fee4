"""The agenda: items in order, a current item moved live, seen by the screen and the public."""

from __future__ import annotations

from fastapi.testclient import TestClient

from council.db import Database

URL = "/api/meetings/pleno/agenda"


def test_clerk_builds_the_agenda_and_moves_through_it(moderator: TestClient, meeting: str) -> None:
    for title in ("Aprobación del acta anterior", "Presupuestos 2027", "Ruegos y preguntas"):
        assert moderator.post(URL, json={"title": title}).status_code == 201
    agenda = moderator.get(URL).json()["agenda"]
    ids = [i["id"] for i in agenda["items"]]
    assert [i["position"] for i in agenda["items"]] == [1, 2, 3] and agenda["current"] is None
    steps = [
        moderator.post(f"{URL}/current", json={"item": "next"}).json()["agenda"]["current"]
        for _ in range(4)
    ]
    assert steps == [ids[0], ids[1], ids[2], None]
    chosen = moderator.post(f"{URL}/current", json={"item": ids[1]}).json()["agenda"]
    assert chosen["current"] == ids[1]
    assert moderator.post(f"{URL}/current", json={"item": None}).json()["agenda"]["current"] is None


def test_agenda_mistakes_are_explained(moderator: TestClient, meeting: str) -> None:
    assert moderator.post(URL, json={"title": "  "}).status_code == 422
    empty = moderator.post(f"{URL}/current", json={"item": "next"})
    assert empty.status_code == 422 and "no agenda yet" in empty.json()["detail"]
    assert moderator.post(f"{URL}/current", json={"item": 999}).status_code == 404


def test_agenda_needs_a_moderator_to_change(client: TestClient, meeting: str) -> None:
    assert client.post(URL, json={"title": "x"}).status_code == 401
    assert client.get(URL).status_code == 200


def test_the_screen_hears_the_current_item_live(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    moderator.post(URL, json={"title": "Presupuestos 2027"})
    with moderator.websocket_connect("/ws/meetings/pleno") as public:
        snapshot = public.receive_json()
        assert snapshot["agenda"]["items"][0]["title"] == "Presupuestos 2027"
        moderator.post(f"{URL}/current", json={"item": "next"})
        message = public.receive_json()
    assert message["type"] == "agenda"
    assert message["agenda"]["current"] == snapshot["agenda"]["items"][0]["id"]

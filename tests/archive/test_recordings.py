"""Asking for a recording: through the API and the CLI, checked, and visible to moderators."""

from __future__ import annotations

from fastapi.testclient import TestClient

from council.db import Database

BASE = "/api/meetings/pleno/recording"


def test_moderator_starts_and_stops_a_recording(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    assert moderator.get(BASE).json() == {"recording": None}
    started = moderator.post(f"{BASE}/start", json={"mode": "rtmp"})
    assert started.status_code == 202
    assert started.json()["recording"]["desired"] == "recording"
    again = moderator.post(f"{BASE}/start", json={"mode": "srt"})
    assert again.status_code == 409 and "already being recorded" in again.json()["detail"]
    stopped = moderator.post(f"{BASE}/stop")
    assert stopped.status_code == 202 and stopped.json()["recording"]["desired"] == "stopped"
    assert moderator.post(f"{BASE}/stop").status_code == 409


def test_bad_recording_requests_are_explained(moderator: TestClient, meeting: str) -> None:
    cases = [
        ({"mode": "vhs"}, 422, "mode"),
        ({"mode": "pull"}, 422, "give its address"),
        ({"mode": "pull", "url": "file:///etc/passwd"}, 422, "give its address"),
        ({"mode": "rtmp", "url": "rtmp://x/y"}, 422, "pull mode only"),
    ]
    for body, status, words in cases:
        response = moderator.post(f"{BASE}/start", json=body)
        assert response.status_code == status, body
        assert words in response.json()["detail"], response.json()


def test_recording_needs_a_moderator(client: TestClient, meeting: str) -> None:
    assert client.post(f"{BASE}/start", json={"mode": "rtmp"}).status_code == 401
    assert client.get(BASE).status_code == 401


def test_recording_changes_reach_the_moderators_only(moderator: TestClient, meeting: str) -> None:
    with (
        moderator.websocket_connect("/ws/meetings/pleno/moderation") as moderation,
        moderator.websocket_connect("/ws/meetings/pleno") as public,
    ):
        moderation.receive_json()
        public.receive_json()
        moderator.post(f"{BASE}/start", json={"mode": "pull", "url": "https://tv.jun.es/live.m3u8"})
        message = moderation.receive_json()
        assert message["type"] == "recording"
        assert message["recording"]["pull_url"] == "https://tv.jun.es/live.m3u8"
        moderator.post("/api/meetings/pleno/submissions", json={"name": "A", "text": "q"})
        moderator.post("/api/meetings/pleno/submissions/1/approve")
        assert public.receive_json()["type"] == "approved", "no recording news in public"

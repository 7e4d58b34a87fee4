"""Replies that close the loop on X: exactly one per answered question, failures visible."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from council.db import Database
from council.models import Reply, Submission
from council.settings import Settings
from tests.factories import make_token, make_user, questions, running, wait_until, x_settings
from tests.fakes.x_api import FakeX

KEYS = {
    "x_consumer_key": "consumer-key",
    "x_consumer_secret": "consumer-secret",
    "x_access_token": "access-token",
    "x_access_token_secret": "access-token-secret",
}


def reply_settings(tmp_path: Path, fake_x: FakeX, **overrides: Any) -> Settings:
    fake_x.require_oauth1(
        KEYS["x_consumer_key"],
        KEYS["x_consumer_secret"],
        KEYS["x_access_token"],
        KEYS["x_access_token_secret"],
    )
    return x_settings(
        tmp_path, fake_x, x_replies=True, public_url="https://council.jun.es", **KEYS, **overrides
    )


def answer(client: TestClient, token: str, sub_id: int) -> None:
    for action in ("approve", "show", "answer"):
        response = client.post(
            f"/api/meetings/pleno/submissions/{sub_id}/{action}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code == 200, response.text


def replies(db: Database) -> list[Reply]:
    with db.session() as session:
        return list(session.scalars(select(Reply).order_by(Reply.id)).all())


def moderator_token(db: Database) -> str:
    make_user(db, "tool")
    return make_token(db, "tool")


def test_answered_tweet_gets_exactly_one_reply_even_when_the_first_call_fails(
    tmp_path: Path, fake_x: FakeX
) -> None:
    fake_x.add_user("vecina_jun", name="María")
    tweet = fake_x.post("¿Y la farola? #PlenoJun", username="vecina_jun")
    fake_x.fail_next(503, endpoint="tweets")
    with running(reply_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
        failed = wait_until(lambda: [r for r in replies(db) if r.status == "failed"])
        assert "503" in (failed[0].last_error or "")
        [sent] = wait_until(lambda: [r for r in replies(db) if r.status == "sent"], timeout=15)
        time.sleep(1.2)  # another pass of the worker: nothing more to send
        queue = client.get(
            "/api/meetings/pleno/submissions", headers={"Authorization": f"Bearer {token}"}
        ).json()
    [created] = fake_x.created_tweets
    assert created.in_reply_to_tweet_id == tweet
    assert "María" in created.text and "https://council.jun.es/m/pleno" in created.text
    assert sent.external_id == created.id and sent.attempts == 2
    assert created.authorization.startswith("OAuth ")
    assert [r["status"] for r in queue["replies"]] == ["sent"]


def test_no_second_reply_after_a_restart(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.post("¿Y el agua? #PlenoJun")
    settings = reply_settings(tmp_path, fake_x)
    with running(settings) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
        wait_until(lambda: [r for r in replies(db) if r.status == "sent"])
    with running(settings, meeting=False) as (again, _client):
        time.sleep(1.5)
        assert [r.status for r in replies(again.state.council.db)] == ["sent"]
    assert len(fake_x.created_tweets) == 1


def test_a_reply_interrupted_by_a_crash_waits_for_a_moderator(
    tmp_path: Path, fake_x: FakeX
) -> None:
    fake_x.post("¿Y la piscina? #PlenoJun")
    settings = reply_settings(tmp_path, fake_x)
    with running(x_settings(tmp_path, fake_x)) as (app, client):  # replies off: collect only
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
    # As if Council died between sending the reply and hearing X's answer.
    with db.session() as session, session.begin():
        session.add(
            Reply(
                submission_id=sub.id,
                source="x",
                in_reply_to=sub.external_id,
                text="Gracias",
                status="sending",
                attempts=1,
            )
        )
    with running(settings, meeting=False) as (again, client):
        db = again.state.council.db
        [uncertain] = wait_until(lambda: [r for r in replies(db) if r.status == "uncertain"])
        assert "check on X" in (uncertain.last_error or "")
        time.sleep(1.2)
        assert fake_x.created_tweets == [], "never sent again on its own"
        resent = client.post(
            f"/api/meetings/pleno/replies/{uncertain.id}/send-again",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert resent.status_code == 200
        wait_until(lambda: [r for r in replies(db) if r.status == "sent"])
    assert len(fake_x.created_tweets) == 1


def test_people_whose_tweets_were_merged_are_told_too(tmp_path: Path, fake_x: FakeX) -> None:
    first = fake_x.post("¿La farola de la calle Mayor? #PlenoJun", username="una")
    second = fake_x.post("La farola sigue rota #PlenoJun", username="otra")
    with running(reply_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        subs = wait_until(lambda: len(questions(db)) == 2 and questions(db))
        by_tweet = {s.external_id: s.id for s in subs}
        client.post(
            f"/api/meetings/pleno/submissions/{by_tweet[second]}/merge",
            json={"into": by_tweet[first]},
            headers={"Authorization": f"Bearer {token}"},
        )
        answer(client, token, by_tweet[first])
        wait_until(lambda: len([r for r in replies(db) if r.status == "sent"]) == 2)
    assert sorted(t.in_reply_to_tweet_id for t in fake_x.created_tweets) == sorted([first, second])


def test_web_questions_and_unanswered_tweets_get_no_reply(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.post("sin responder #PlenoJun")
    with running(reply_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        web = client.post("/api/meetings/pleno/submissions", json={"name": "A", "text": "web"})
        wait_until(lambda: len(questions(db)) == 2)
        answer(client, token, web.json()["id"])
        time.sleep(1.5)
    assert replies(db) == [] and fake_x.created_tweets == []


def test_replies_on_without_keys_is_a_clear_settings_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"COUNCIL_X_ACCESS_TOKEN, .*COUNCIL_PUBLIC_URL"):
        Settings(
            data_dir=tmp_path,
            x_replies=True,
            x_consumer_key="k",
            x_consumer_secret="s",
            _env_file=None,
        )


def test_a_rejected_reply_is_shown_to_moderators(tmp_path: Path, fake_x: FakeX) -> None:
    tweet = fake_x.post("¿Y el parque? #PlenoJun")
    with running(reply_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        fake_x.delete_tweet(tweet)  # the citizen deleted it: X refuses the reply
        with client.websocket_connect(
            "/ws/meetings/pleno/moderation", headers={"Authorization": f"Bearer {token}"}
        ) as ws:
            ws.receive_json()
            answer(client, token, sub.id)
            message = ws.receive_json()
            while message["type"] != "reply":
                message = ws.receive_json()
    assert message["reply"]["status"] == "failed"
    assert "403" in message["reply"]["last_error"]
    with db.session() as session:
        assert session.get(Submission, sub.id).status == "answered"  # type: ignore[union-attr]

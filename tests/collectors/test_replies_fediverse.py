"""Replies that close the loop on Mastodon and Bluesky: one per answered post, via the outbox."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select

from council.db import Database
from council.models import Reply
from council.sandbox.bluesky import FakeBluesky
from council.sandbox.mastodon import FakeMastodon
from council.settings import Settings
from tests.factories import (
    bluesky_settings,
    make_token,
    make_user,
    mastodon_settings,
    questions,
    running,
    wait_until,
)

PUBLIC_URL = "https://council.jun.es"


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


def sent(db: Database) -> list[Reply]:
    return [r for r in replies(db) if r.status == "sent"]


def moderator_token(db: Database) -> str:
    make_user(db, "tool")
    return make_token(db, "tool")


def mastodon_replies(tmp_path: Path, *servers: FakeMastodon, **overrides: Any) -> Settings:
    return mastodon_settings(
        tmp_path, *servers, mastodon_replies=True, public_url=PUBLIC_URL, **overrides
    )


def bluesky_replies(tmp_path: Path, fake: FakeBluesky, **overrides: Any) -> Settings:
    return bluesky_settings(
        tmp_path, fake, bluesky_replies=True, public_url=PUBLIC_URL, **overrides
    )


def test_an_answered_toot_gets_exactly_one_reply_mentioning_its_author(
    tmp_path: Path, fake_mastodon: FakeMastodon, other_mastodon: FakeMastodon
) -> None:
    # Posted on another server, seen on the town's: the reply goes from the town's account.
    toot = other_mastodon.post("¿Y la farola? #PlenoJun", username="paco", display_name="Paco")
    fake_mastodon.federate(toot)
    fake_mastodon.fail_next(503, endpoint="statuses")
    settings = mastodon_replies(tmp_path, fake_mastodon)
    with running(settings) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
        failed = wait_until(lambda: [r for r in replies(db) if r.status == "failed"])
        assert "503" in (failed[0].last_error or "")
        [reply] = wait_until(lambda: sent(db), timeout=15)
        time.sleep(1.2)  # another pass of the worker: nothing more to send
    [created] = fake_mastodon.created_statuses
    local_copy = next(s for s in fake_mastodon.statuses() if s["uri"] == toot["uri"])
    assert created["in_reply_to_id"] == local_copy["id"]
    assert created["visibility"] == "unlisted"
    text = created["content"]
    assert "@<span>paco</span>" in text and "Paco" in text and f"{PUBLIC_URL}/m/pleno" in text
    assert reply.external_id == created["uri"] and reply.attempts == 2
    posts = fake_mastodon.requests_to("/api/v1/statuses")
    assert len({r.headers["idempotency-key"] for r in posts}) == 1, "one key for every attempt"


def test_no_second_mastodon_reply_after_a_restart(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake_mastodon.post("¿Y el agua? #PlenoJun")
    settings = mastodon_replies(tmp_path, fake_mastodon)
    with running(settings) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
        wait_until(lambda: sent(db))
    with running(settings, meeting=False) as (again, _client):
        time.sleep(1.5)
        assert [r.status for r in replies(again.state.council.db)] == ["sent"]
    assert len(fake_mastodon.created_statuses) == 1


def test_a_deleted_toot_is_a_visible_failed_reply(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    toot = fake_mastodon.post("¿Y el parque? #PlenoJun")
    with running(mastodon_replies(tmp_path, fake_mastodon)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        fake_mastodon.delete(toot["id"])
        answer(client, token, sub.id)
        [failed] = wait_until(lambda: [r for r in replies(db) if r.status == "failed"])
    assert "cannot find the post" in (failed.last_error or "")
    assert fake_mastodon.created_statuses == []


def test_an_answered_bluesky_post_gets_exactly_one_reply_with_a_link(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    post = fake_bluesky.post("¿Y el mercadillo? #PlenoJun", display_name="Bego")
    fake_bluesky.fail_next(502, endpoint="create")
    with running(bluesky_replies(tmp_path, fake_bluesky)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
        [reply] = wait_until(lambda: sent(db), timeout=15)
        time.sleep(1.2)
    [created] = fake_bluesky.created_posts
    record = created["record"]
    assert record["reply"]["parent"]["uri"] == post["uri"]
    assert record["reply"]["root"]["uri"] == post["uri"]
    link = f"{PUBLIC_URL}/m/pleno"
    assert "Bego" in record["text"] and link in record["text"]
    [facet] = record["facets"]
    start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
    assert record["text"].encode()[start:end].decode() == link
    assert facet["features"][0]["uri"] == link
    assert reply.external_id == created["uri"] and reply.attempts == 2


def test_a_reply_to_a_reply_keeps_its_thread(tmp_path: Path, fake_bluesky: FakeBluesky) -> None:
    root = fake_bluesky.post("Hilo del pleno", handle="ayto-jun.bsky.social")
    ref = {"uri": root["uri"], "cid": root["cid"]}
    fake_bluesky.post("¿Y la piscina? #PlenoJun", reply={"root": ref, "parent": ref})
    with running(bluesky_replies(tmp_path, fake_bluesky)) as (app, client):
        db = app.state.council.db
        token = moderator_token(db)
        [sub] = wait_until(lambda: questions(db))
        answer(client, token, sub.id)
        wait_until(lambda: sent(db))
    [created] = fake_bluesky.created_posts
    assert created["record"]["reply"]["root"]["uri"] == root["uri"]
    assert created["record"]["reply"]["parent"]["uri"] == sub.external_id


@pytest.mark.parametrize(
    ("overrides", "missing"),
    [
        ({"mastodon_replies": True}, "COUNCIL_MASTODON_TOKEN, COUNCIL_PUBLIC_URL"),
        (
            {"bluesky_replies": True, "bluesky_handle": "ayto.bsky.social"},
            "COUNCIL_BLUESKY_APP_PASSWORD, COUNCIL_PUBLIC_URL",
        ),
    ],
)
def test_replies_on_without_credentials_is_a_clear_settings_error(
    tmp_path: Path, overrides: dict[str, Any], missing: str
) -> None:
    with pytest.raises(ValidationError, match=missing):
        Settings(
            data_dir=tmp_path,
            mastodon_instances="https://jun.social",
            _env_file=None,
            **overrides,
        )

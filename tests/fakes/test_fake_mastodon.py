"""The fake Mastodon speaks Mastodon as the real Mastodon.py client understands it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from mastodon import Mastodon, MastodonUnauthorizedError, StreamListener

from council.sandbox.mastodon import FakeMastodon


@pytest.fixture
def client(fake_mastodon: FakeMastodon) -> Iterator[Mastodon]:
    api = Mastodon(
        api_base_url=fake_mastodon.base_url, access_token="any", ratelimit_method="throw"
    )
    yield api
    api.session.close()


def test_min_id_pages_forward_and_since_id_jumps_to_the_newest(
    fake_mastodon: FakeMastodon, client: Mastodon
) -> None:
    ids = [s["id"] for s in fake_mastodon.post_many(10, text_template="n{i} #PlenoJun")]
    forward = client.timeline_hashtag("PlenoJun", min_id=ids[1], limit=3)
    assert [str(s.id) for s in forward] == [ids[4], ids[3], ids[2]]  # newest first
    newest = client.timeline_hashtag("PlenoJun", since_id=ids[1], limit=3)
    assert [str(s.id) for s in newest] == [ids[9], ids[8], ids[7]]
    older = client.fetch_next(newest)  # Mastodon.py follows the Link header
    assert [str(s.id) for s in older or []] == [ids[6], ids[5], ids[4]]


def test_statuses_have_mastodons_shape(fake_mastodon: FakeMastodon, client: Mastodon) -> None:
    fake_mastodon.post("Hola @ayto https://jun.es #PlenoJun", username="ana", display_name="Ana")
    [status] = client.timeline_hashtag("plenojun")
    assert status.account.acct == "ana" and status.account.display_name == "Ana"
    assert status.uri.startswith("https://jun.social/users/ana/statuses/")
    assert status.created_at.tzinfo is not None
    assert '<a href="https://jun.social/tags/plenojun" class="mention hashtag"' in status.content
    assert '<span class="invisible">https://</span>' in status.content
    assert [t.name for t in status.tags] == ["plenojun"]


def test_a_bad_token_is_refused_with_mastodons_words(fake_mastodon: FakeMastodon) -> None:
    fake_mastodon.require_token("good")
    api = Mastodon(api_base_url=fake_mastodon.base_url, access_token="bad")
    try:
        with pytest.raises(MastodonUnauthorizedError):
            api.timeline_hashtag("PlenoJun")
    finally:
        api.session.close()
    [refused] = fake_mastodon.requests_to("/api/v1/timelines/")
    assert refused.headers["authorization"] == "Bearer bad"


def test_the_hashtag_stream_needs_a_token_and_sends_updates(
    fake_mastodon: FakeMastodon, client: Mastodon
) -> None:
    got: list[Any] = []

    class Listener(StreamListener):
        def on_update(self, status: Any) -> None:
            got.append(status)

    handle = client.stream_hashtag("plenojun", Listener(), run_async=True, reconnect_async=True)
    try:
        deadline = time.monotonic() + 5
        while fake_mastodon.open_streams == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        fake_mastodon.post("en directo #PlenoJun")
        fake_mastodon.post("otra cosa #OtroTema")
        while not got and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        handle.close()
    assert [s.content[:15] for s in got] == ["<p>en directo <"]
    anonymous = Mastodon(api_base_url=fake_mastodon.base_url)
    try:
        answer = anonymous.session.get(fake_mastodon.base_url + "/api/v1/streaming/hashtag?tag=x")
        assert answer.status_code == 401
    finally:
        anonymous.session.close()


def test_an_idempotency_key_posts_once(fake_mastodon: FakeMastodon, client: Mastodon) -> None:
    target = fake_mastodon.post("¿Y la farola? #PlenoJun")
    [found] = client.search_v2(target["uri"], resolve=True, result_type="statuses").statuses
    first = client.status_post("@vecina gracias", in_reply_to_id=found.id, idempotency_key="k")
    again = client.status_post("@vecina gracias", in_reply_to_id=found.id, idempotency_key="k")
    assert first.id == again.id
    assert len(fake_mastodon.created_statuses) == 1

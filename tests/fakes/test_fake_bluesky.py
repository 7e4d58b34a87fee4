"""The fake Bluesky speaks the lexicons as the real atproto client understands them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from atproto import Client
from atproto_client.exceptions import UnauthorizedError

from council.sandbox.bluesky import FakeBluesky
from tests.fakes.bluesky_api import TOWN_HANDLE, TOWN_PASSWORD


@pytest.fixture
def client(fake_bluesky: FakeBluesky) -> Iterator[Client]:
    api = Client(base_url=fake_bluesky.base_url)
    api.login(TOWN_HANDLE, TOWN_PASSWORD)
    yield api
    api.request.close()


def test_search_needs_a_login(fake_bluesky: FakeBluesky) -> None:
    anonymous = Client(base_url=fake_bluesky.base_url)
    try:
        with pytest.raises(UnauthorizedError) as refused:
            anonymous.app.bsky.feed.search_posts(params={"q": "#PlenoJun"})
        assert refused.value.response.status_code == 403
        with pytest.raises(UnauthorizedError) as wrong:
            anonymous.login(TOWN_HANDLE, "not-the-password")
        assert wrong.value.response.content.message == "Invalid identifier or password"
    finally:
        anonymous.request.close()


def test_the_cursor_holds_while_new_posts_arrive(fake_bluesky: FakeBluesky, client: Client) -> None:
    first = fake_bluesky.post_many(150, text_template="n{i} #PlenoJun")
    page = client.app.bsky.feed.search_posts(params={"q": "#PlenoJun", "limit": 100})
    fake_bluesky.post_many(20, text_template="nueva {i} #PlenoJun")
    rest = client.app.bsky.feed.search_posts(
        params={"q": "#PlenoJun", "limit": 100, "cursor": page.cursor}
    )
    assert rest.cursor is None
    assert {p.uri for p in page.posts} | {p.uri for p in rest.posts} == {p["uri"] for p in first}


def test_since_filters_by_sort_time_inclusive(fake_bluesky: FakeBluesky, client: Client) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    fake_bluesky.post("vieja #PlenoJun", created_at=old, indexed_at=old)
    new = fake_bluesky.post("nueva #PlenoJun")
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    found = client.app.bsky.feed.search_posts(params={"q": "#PlenoJun", "since": since}).posts
    assert [p.uri for p in found] == [new["uri"]]
    assert found[0].record.text == "nueva #PlenoJun"
    assert found[0].record.facets[0].features[0].tag == "PlenoJun"


def test_a_short_lived_session_is_refreshed_by_the_client(fake_bluesky: FakeBluesky) -> None:
    fake_bluesky.access_seconds = 60  # the client refreshes 15 minutes before expiry
    api = Client(base_url=fake_bluesky.base_url)
    try:
        api.login(TOWN_HANDLE, TOWN_PASSWORD)
        api.app.bsky.feed.search_posts(params={"q": "#PlenoJun"})
    finally:
        api.request.close()
    assert fake_bluesky.requests_to("com.atproto.server.refreshSession")

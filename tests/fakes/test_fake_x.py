"""The fake X API speaks X's dialect to the real tweepy client (no internet involved)."""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import tweepy

from tests.fakes.x_api import FakeX, redirect_tweepy

HASHTAG_QUERY = "#PlenoJun -is:retweet"
TWEET_FIELDS = ["created_at", "author_id", "entities", "referenced_tweets", "lang"]
USER_FIELDS = ["name", "username", "profile_image_url", "verified"]


@pytest.fixture
def client(fake_x: FakeX) -> Iterator[tweepy.Client]:
    api = redirect_tweepy(tweepy.Client(bearer_token="app-token"), fake_x.base_url)
    yield api
    api.session.close()


@pytest.fixture
def user_client(fake_x: FakeX) -> Iterator[tweepy.Client]:
    api = tweepy.Client(
        consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="ats"
    )
    redirect_tweepy(api, fake_x.base_url)
    yield api
    api.session.close()


def search(client: tweepy.Client, query: str = HASHTAG_QUERY, **params: Any) -> tweepy.Response:
    return client.search_recent_tweets(
        query,
        expansions="author_id",
        tweet_fields=TWEET_FIELDS,
        user_fields=USER_FIELDS,
        **params,
    )


# ---- recent search ---------------------------------------------------------------------------


def test_search_returns_tweets_with_authors_in_x_shape(
    fake_x: FakeX, client: tweepy.Client
) -> None:
    fake_x.add_user("ana_jun", "Ana Pérez", "https://pbs.twimg.com/profile_images/1/ana_normal.jpg")
    first = fake_x.post("¿Cuándo arreglan la farola? #PlenoJun", username="ana_jun")
    second = fake_x.post("Luz & agua: <urgente> #PlenoJun", username="pep", name="Pep")
    fake_x.post("Sin hashtag")

    response = search(client)

    assert [tweet.id for tweet in response.data] == [int(second), int(first)]  # newest first
    newest = response.data[0]
    assert newest.text == "Luz &amp; agua: &lt;urgente&gt; #PlenoJun"
    assert html.unescape(newest.text) == "Luz & agua: <urgente> #PlenoJun"
    assert newest.edit_history_tweet_ids == [int(second)]
    assert isinstance(newest.created_at, datetime)
    assert newest.created_at.tzinfo is not None
    assert abs(newest.created_at.timestamp() - time.time()) < 60
    assert newest.lang == "es"
    assert newest.entities["hashtags"] == [{"start": 22, "end": 31, "tag": "PlenoJun"}]
    users = {user.id: user for user in response.includes["users"]}
    assert set(users) == {response.data[0].author_id, response.data[1].author_id}
    ana = users[response.data[1].author_id]
    assert (ana.username, ana.name) == ("ana_jun", "Ana Pérez")
    assert ana.profile_image_url == "https://pbs.twimg.com/profile_images/1/ana_normal.jpg"
    assert ana.verified is False
    assert response.meta == {"newest_id": second, "oldest_id": first, "result_count": 2}
    assert response.errors == []

    (request,) = fake_x.requests_to("/2/tweets/search/recent")
    assert request.headers["authorization"] == "Bearer app-token"
    assert request.query["query"] == HASHTAG_QUERY
    assert request.headers["host"] == fake_x.base_url.removeprefix("http://")
    assert fake_x.search_calls == 1


def test_empty_search_is_just_a_result_count(fake_x: FakeX, client: tweepy.Client) -> None:
    fake_x.post("nothing relevant")
    raw = client.search_recent_tweets(HASHTAG_QUERY, user_auth=False)
    assert (raw.data, raw.includes, raw.errors, raw.meta) == (None, {}, [], {"result_count": 0})


def test_since_id_returns_only_newer_tweets(fake_x: FakeX, client: tweepy.Client) -> None:
    old = fake_x.post("vieja #PlenoJun")
    new = [fake_x.post(f"nueva {i} #PlenoJun") for i in range(3)]

    response = search(client, since_id=old)

    assert [str(tweet.id) for tweet in response.data] == new[::-1]
    assert fake_x.requests[-1].query["since_id"] == old
    assert search(client, since_id=new[-1]).meta == {"result_count": 0}
    assert [str(t.id) for t in search(client, until_id=new[0]).data] == [old]


def test_burst_of_250_pages_with_next_token_exactly_once(
    fake_x: FakeX, client: tweepy.Client
) -> None:
    before = fake_x.post("antes #PlenoJun")
    ids = fake_x.post_many(250, "Pregunta {i} de {n} #PlenoJun", usernames=["ana", "pep", "lu"])

    pages = list(
        tweepy.Paginator(
            client.search_recent_tweets,
            HASHTAG_QUERY,
            since_id=before,
            max_results=100,
            expansions="author_id",
        )
    )

    assert [page.meta["result_count"] for page in pages] == [100, 100, 50]
    seen = [str(tweet.id) for page in pages for tweet in page.data]
    assert seen == ids[::-1]
    # every page's meta describes that page only; the first page's newest_id is the newest
    assert pages[0].meta["newest_id"] == ids[-1]
    assert [page.meta["oldest_id"] for page in pages] == [ids[150], ids[50], ids[0]]
    assert "next_token" not in pages[-1].meta
    assert all(
        {u.username for u in page.includes["users"]} == {"ana", "pep", "lu"} for page in pages
    )
    requests_made = fake_x.requests_to("/2/tweets/search/recent")
    assert [r.query.get("next_token") for r in requests_made] == [
        None,
        pages[0].meta["next_token"],
        pages[1].meta["next_token"],
    ]
    assert all(r.query["since_id"] == before for r in requests_made)


def test_minus_is_retweet_excludes_retweets(fake_x: FakeX, client: tweepy.Client) -> None:
    original = fake_x.post("Original #PlenoJun", username="ana")
    retweet = fake_x.post("", username="pep", retweet_of=original)
    assert fake_x.tweet(retweet).text == "RT @ana: Original #PlenoJun"

    assert [str(t.id) for t in search(client).data] == [original]
    both = search(client, query="#PlenoJun")
    assert [str(t.id) for t in both.data] == [retweet, original]
    assert both.data[0].referenced_tweets[0].type == "retweeted"
    assert both.data[0].referenced_tweets[0].id == int(original)


def test_hashtag_operator_is_exact_and_case_insensitive(
    fake_x: FakeX, client: tweepy.Client
) -> None:
    hits = [
        fake_x.post("mayúsculas #PLENOJUN"),
        fake_x.post("puntuación #PlenoJun."),
        fake_x.post("variante #PlenoJunio"),
    ]
    fake_x.post("otro año #PlenoJun2026")
    fake_x.post("sin almohadilla PlenoJun")
    fake_x.post("pegado x#PlenoJun")

    assert {str(t.id) for t in search(client).data} == set(hits[:2])
    variants = search(client, query="(#PlenoJun OR #plenojunio) -is:retweet")
    assert {str(t.id) for t in variants.data} == set(hits)


def test_invalid_requests_are_400_in_x_shape(fake_x: FakeX, client: tweepy.Client) -> None:
    with pytest.raises(tweepy.BadRequest) as too_few:
        search(client, max_results=5)
    assert too_few.value.api_messages == [
        "The `max_results` query parameter value [5] is not between 10 and 100"
    ]
    with pytest.raises(tweepy.BadRequest, match="invalid operator"):
        search(client, query="#PlenoJun nonsense:op")
    with pytest.raises(tweepy.BadRequest, match="positive"):
        search(client, query="-is:retweet")
    with pytest.raises(tweepy.BadRequest, match=r"tweet\.fields"):
        client.search_recent_tweets("#PlenoJun", tweet_fields=["bogus"])


# ---- errors, rate limits and auth ------------------------------------------------------------


def test_401_raises_unauthorized_with_api_messages(fake_x: FakeX, client: tweepy.Client) -> None:
    fake_x.fail_next(401)
    with pytest.raises(tweepy.Unauthorized) as caught:
        search(client)
    assert caught.value.api_messages == ["Unauthorized"]
    assert caught.value.response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert search(client).meta == {"result_count": 0}  # only the next call failed

    fake_x.require_bearer("the-real-token")
    with pytest.raises(tweepy.Unauthorized):
        search(client)
    client.bearer_token = "the-real-token"
    assert search(client).meta == {"result_count": 0}


def test_429_raises_too_many_requests_with_reset_time(fake_x: FakeX, client: tweepy.Client) -> None:
    fake_x.fail_next(429, reset_in=30)
    with pytest.raises(tweepy.TooManyRequests) as caught:
        search(client)
    assert abs(caught.value.reset_time - (time.time() + 30)) <= 2
    assert caught.value.api_messages == ["Too Many Requests"]
    assert caught.value.response.headers["x-rate-limit-remaining"] == "0"
    assert caught.value.response.headers["x-rate-limit-limit"] == "450"


def test_rate_limit_headers_count_down_and_exhaust(fake_x: FakeX, client: tweepy.Client) -> None:
    raw = redirect_tweepy(
        tweepy.Client(bearer_token="app-token", return_type=requests.Response), fake_x.base_url
    )
    try:
        first = raw.search_recent_tweets("#PlenoJun")
        second = raw.search_recent_tweets("#PlenoJun")
    finally:
        raw.session.close()
    assert first.headers["x-rate-limit-limit"] == "450"
    assert first.headers["x-rate-limit-remaining"] == "449"
    assert second.headers["x-rate-limit-remaining"] == "448"
    assert abs(int(first.headers["x-rate-limit-reset"]) - (time.time() + 900)) <= 5

    fake_x.set_rate_limit("search", remaining=0, reset_in=60)
    with pytest.raises(tweepy.TooManyRequests) as caught:
        search(client)
    assert abs(caught.value.reset_time - (time.time() + 60)) <= 2


def test_server_errors_raise_twitter_server_error(fake_x: FakeX, client: tweepy.Client) -> None:
    fake_x.fail_next(503, times=2)
    for _ in range(2):
        with pytest.raises(tweepy.TwitterServerError) as caught:
            search(client)
        assert caught.value.response.status_code == 503
        assert caught.value.api_messages == ["Service Unavailable"]
    assert search(client).meta == {"result_count": 0}
    assert fake_x.search_calls == 3


def test_403_client_forbidden_shape(fake_x: FakeX, client: tweepy.Client) -> None:
    fake_x.fail_next(403)
    with pytest.raises(tweepy.Forbidden) as caught:
        search(client)
    body = caught.value.response.json()
    assert body["title"] == "Client Forbidden"
    assert body["reason"] == "client-not-enrolled"


# ---- replies ---------------------------------------------------------------------------------


def test_create_tweet_with_oauth1_is_recorded_as_a_reply(
    fake_x: FakeX, client: tweepy.Client, user_client: tweepy.Client
) -> None:
    question = fake_x.post("¿Y el parque? #PlenoJun", username="ana")
    fake_x.require_oauth1("ck", "cs", "at", "ats")

    response = user_client.create_tweet(text="Recibida, gracias", in_reply_to_tweet_id=question)

    (created,) = fake_x.created_tweets
    assert response.data == {
        "id": created.id,
        "text": "Recibida, gracias",
        "edit_history_tweet_ids": [created.id],
    }
    assert created.in_reply_to_tweet_id == question
    assert created.body == {
        "text": "Recibida, gracias",
        "reply": {"in_reply_to_tweet_id": question},
    }
    assert created.authorization.startswith("OAuth ")
    assert 'oauth_consumer_key="ck"' in created.authorization
    assert 'oauth_token="at"' in created.authorization
    reply = fake_x.tweet(created.id)
    assert reply.in_reply_to_user_id == fake_x.user("ana").id
    assert reply.author_id == fake_x.me_id
    assert user_client.get_me().data.username == "ayto_jun"

    with pytest.raises(tweepy.Forbidden, match="duplicate content"):
        user_client.create_tweet(text="Recibida, gracias", in_reply_to_tweet_id=question)
    with pytest.raises(tweepy.Forbidden, match="deleted or not visible"):
        user_client.create_tweet(text="¿A quién?", in_reply_to_tweet_id="1234")
    with pytest.raises(tweepy.Forbidden, match="Application-Only"):
        client.create_tweet(text="app tokens cannot tweet", user_auth=False)
    fake_x.require_oauth1("ck", "another-secret", "at", "ats")
    with pytest.raises(tweepy.Unauthorized):
        user_client.create_tweet(text="badly signed")
    fake_x.require_oauth1("ck", "cs", "at", "ats")
    fake_x.fail_next(503, endpoint="tweets")
    with pytest.raises(tweepy.TwitterServerError):
        user_client.create_tweet(text="retry later")
    assert len(fake_x.created_tweets) == 1


# ---- filtered stream -------------------------------------------------------------------------


class Collector(tweepy.StreamingClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, daemon=True, **kwargs)
        self.tweets: list[tweepy.Tweet] = []
        self.includes: list[dict[str, Any]] = []
        self.matching_rules: list[list[tweepy.StreamRule]] = []
        self.errors: list[int] = []
        self.closed = 0
        self.changed = threading.Condition()

    def on_tweet(self, tweet: tweepy.Tweet) -> None:
        with self.changed:
            self.tweets.append(tweet)
            self.changed.notify_all()

    def on_includes(self, includes: dict[str, Any]) -> None:
        self.includes.append(includes)

    def on_matching_rules(self, matching_rules: list[tweepy.StreamRule]) -> None:
        self.matching_rules.append(matching_rules)

    def on_closed(self, response: requests.Response) -> None:
        self.closed += 1

    def on_request_error(self, status_code: int) -> None:
        self.errors.append(status_code)
        self.disconnect()  # fail fast instead of tweepy's 5 s backoff

    def wait_for_tweets(self, count: int, timeout: float = 5.0) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.tweets) >= count, timeout), self.tweets


@pytest.fixture
def collector(fake_x: FakeX) -> Iterator[Collector]:
    stream = redirect_tweepy(Collector("app-token"), fake_x.base_url)
    yield stream
    stream.disconnect()
    if stream.thread is not None:
        stream.thread.join(5)
        assert not stream.thread.is_alive()
    stream.session.close()


def test_stream_delivers_matching_tweets_with_rule_tags(
    fake_x: FakeX, collector: Collector
) -> None:
    added = collector.add_rules(
        [
            tweepy.StreamRule("#PlenoJun -is:retweet", tag="pleno"),
            tweepy.StreamRule("#Farolas -is:retweet", tag="farolas"),
        ]
    )
    assert [rule.tag for rule in added.data] == ["pleno", "farolas"]
    before = fake_x.post("antes de conectar #PlenoJun")

    thread = collector.filter(
        threaded=True, expansions="author_id", tweet_fields=["created_at", "author_id"]
    )
    fake_x.wait_for_streams()
    wanted = fake_x.post("¿Y las farolas & bancos? #PlenoJun #Farolas", username="ana", name="Ana")
    fake_x.post("otra cosa #PlenoJun2026")
    fake_x.post("", retweet_of=before)
    second = fake_x.post("segunda #plenojun")
    collector.wait_for_tweets(2)
    time.sleep(0.3)  # nothing else arrives
    assert [str(t.id) for t in collector.tweets] == [wanted, second]

    first = collector.tweets[0]
    assert first.text == "¿Y las farolas &amp; bancos? #PlenoJun #Farolas"
    assert isinstance(first.created_at, datetime)
    assert str(first.author_id) == fake_x.user("ana").id
    assert collector.includes[0]["users"][0].username == "ana"
    assert {rule.tag for rule in collector.matching_rules[0]} == {"pleno", "farolas"}
    assert [rule.tag for rule in collector.matching_rules[1]] == ["pleno"]
    assert {str(rule.id) for rule in collector.matching_rules[0]} == {r.id for r in added.data}

    # the server ends the stream cleanly: tweepy reconnects at once and keeps receiving
    assert fake_x.disconnect_streams() == 1
    fake_x.wait_for(lambda fake: fake.stream_connects == 2 and fake.open_streams == 1)
    after = fake_x.post("tras reconectar #PlenoJun")
    collector.wait_for_tweets(3)
    assert str(collector.tweets[-1].id) == after
    assert collector.closed >= 1

    collector.disconnect()  # takes effect at the next keep-alive (0.2 s here)
    thread.join(3)
    assert not thread.is_alive()
    fake_x.wait_for(lambda fake: fake.open_streams == 0, 2)
    (request, *_) = fake_x.requests_to("/2/tweets/search/stream")
    assert request.headers["authorization"] == "Bearer app-token"
    assert request.query == {"expansions": "author_id", "tweet.fields": "created_at,author_id"}


def test_stream_backfill_resends_recent_tweets(fake_x: FakeX, collector: Collector) -> None:
    fake_x.add_rule("#PlenoJun -is:retweet", tag="pleno")
    fake_x.post("hace una hora #PlenoJun", created_at=datetime.now(UTC) - timedelta(hours=1))
    recent = fake_x.post("hace un momento #PlenoJun")

    collector.filter(threaded=True, backfill_minutes=2)
    collector.wait_for_tweets(1)
    live = fake_x.post("en directo #PlenoJun")
    collector.wait_for_tweets(2)

    assert [str(t.id) for t in collector.tweets] == [recent, live]


def test_stream_without_rules_is_409(fake_x: FakeX, collector: Collector) -> None:
    thread = collector.filter(threaded=True)
    thread.join(3)
    assert not thread.is_alive()
    assert collector.errors == [409]
    assert fake_x.open_streams == 0


def test_stream_rules_round_trip(fake_x: FakeX, collector: Collector) -> None:
    assert collector.get_rules().data is None
    created = collector.add_rules(tweepy.StreamRule("#PlenoJun -is:retweet", tag="pleno"))
    assert created.meta["summary"] == {"created": 1, "not_created": 0, "valid": 1, "invalid": 0}
    (rule,) = created.data
    assert collector.get_rules().data == [rule]
    assert fake_x.rules == [{"id": rule.id, "value": "#PlenoJun -is:retweet", "tag": "pleno"}]

    dupe = collector.add_rules(tweepy.StreamRule("#PlenoJun -is:retweet", tag="again"))
    assert dupe.data is None
    assert dupe.errors[0]["title"] == "DuplicateRule"
    invalid = collector.add_rules(tweepy.StreamRule("is:retweet", tag="bad"))
    assert invalid.errors[0]["title"] == "UnprocessableEntity"

    deleted = collector.delete_rules(rule.id)
    assert deleted.meta["summary"] == {"deleted": 1, "not_deleted": 0}
    assert collector.get_rules().meta["result_count"] == 0
    user = tweepy.Client(
        consumer_key="a", consumer_secret="b", access_token="c", access_token_secret="d"
    )
    redirect_tweepy(user, fake_x.base_url)
    try:
        with pytest.raises(tweepy.Forbidden, match="Application-Only"):
            user.request("GET", "/2/tweets/search/stream/rules", user_auth=True)
    finally:
        user.session.close()


def test_second_stream_connection_is_refused(fake_x: FakeX, collector: Collector) -> None:
    fake_x.add_rule("#PlenoJun", tag="pleno")
    fake_x.stream_connection_grace = 0.1
    thread = collector.filter(threaded=True)
    fake_x.wait_for_streams()
    second = redirect_tweepy(Collector("app-token"), fake_x.base_url)
    second_thread = second.filter(threaded=True)
    second_thread.join(5)
    assert second.errors == [429]
    collector.disconnect()
    thread.join(3)
    assert not thread.is_alive()

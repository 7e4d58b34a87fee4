"""The X (Twitter) collector: recent search for the meeting's hashtags with the real tweepy client.

Facts this relies on are in shared/notes/x-api.md. tweepy has no base-URL option, so
``COUNCIL_X_API_BASE_URL`` is honoured by mounting a transport adapter on the client's
public ``session``; tweepy itself is not patched. tweepy's calls block, so they run in
a worker thread and never on the event loop.
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy
from requests.adapters import HTTPAdapter

from council.collectors.base import MeetingInfo
from council.collectors.polling import Paused, Poller, RateLimited, Rejected, SourceProblem
from council.i18n import _
from council.intake import Post
from council.models import CollectorState
from council.services import Council

SOURCE = "x"
OFFICIAL_HOSTS = ("https://api.twitter.com", "https://api.x.com")
REQUEST_TIMEOUT = (5.0, 30.0)  # tweepy sends none; a hung socket must not stall a meeting
MAX_RESULTS = 100
# Questions posted shortly before the meeting starts still belong to it.
EARLY_QUESTIONS = timedelta(hours=1)
TWEET_FIELDS = ["created_at", "author_id", "referenced_tweets"]
USER_FIELDS = ["name", "username", "profile_image_url"]


class RedirectAdapter(HTTPAdapter):
    """Sends requests for X's official hosts to ``base_url`` instead, with timeouts."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        super().__init__()

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float | None, float | None] | None = None,
        verify: bool | str = True,
        cert: str | tuple[str, str] | None = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        for host in OFFICIAL_HOSTS:
            if url.startswith(host + "/"):
                request.url = self.base_url + url[len(host) :]
                break
        return super().send(
            request,
            stream=stream,
            timeout=timeout or REQUEST_TIMEOUT,
            verify=verify,
            cert=cert,
            proxies=proxies,
        )


def mount_base_url(client: tweepy.Client | tweepy.StreamingClient, base_url: str) -> None:
    adapter = RedirectAdapter(base_url)
    for host in OFFICIAL_HOSTS:
        client.session.mount(host + "/", adapter)


def search_query(hashtags: tuple[str, ...]) -> str:
    """``#PlenoJun -is:retweet``; several hashtags are alternatives (X's # is exact and
    case-insensitive, so #PlenoJun does not match #PlenoJun2026)."""
    tags = " OR ".join(f"#{tag}" for tag in hashtags)
    return f"({tags}) -is:retweet" if len(hashtags) > 1 else f"{tags} -is:retweet"


def is_retweet(tweet: tweepy.Tweet) -> bool:
    refs = tweet.referenced_tweets or []
    return any(getattr(r, "type", None) == "retweeted" for r in refs) or tweet.text.startswith(
        "RT @"
    )


def posts_from(response: tweepy.Response) -> list[Post]:
    users = {user.id: user for user in (response.includes or {}).get("users", [])}
    posts = []
    for tweet in response.data or []:
        if is_retweet(tweet):
            continue
        user = users.get(tweet.author_id)
        username = user.username if user else str(tweet.author_id)
        posts.append(
            Post(
                external_id=str(tweet.id),
                # X sends &amp; &lt; &gt; encoded: stored as the citizen typed it, decoded once.
                text=html.unescape(tweet.text),
                author_name=html.unescape(user.name) if user else username,
                handle=username,
                avatar_url=getattr(user, "profile_image_url", None) if user else None,
                url=f"https://x.com/{username}/status/{tweet.id}",
                posted_at=tweet.created_at,
            )
        )
    return posts


def describe(exc: tweepy.HTTPException) -> str:
    messages = "; ".join(str(m) for m in exc.api_messages) or exc.response.reason
    return f"{exc.response.status_code} {messages}"


class XPoller(Poller):
    """Polls recent search every few seconds; resumes from the stored newest id."""

    source = SOURCE

    def __init__(self, council: Council, meeting: MeetingInfo) -> None:
        settings = council.settings
        super().__init__(
            council,
            meeting,
            poll_seconds=settings.x_poll_seconds,
            cost_cap=meeting.cost_cap if meeting.cost_cap is not None else settings.x_cost_cap,
        )
        self.client = tweepy.Client(bearer_token=settings.x_bearer_token, wait_on_rate_limit=False)
        mount_base_url(self.client, settings.x_api_base_url)
        self.query = search_query(meeting.hashtags)

    @property
    def cap(self) -> float | None:
        return self.cost_cap

    def close(self) -> None:
        self.client.session.close()

    async def poll(self, state: CollectorState) -> None:
        if self.cap is not None and self.cap <= state.estimated_cost:
            raise Paused(
                _("Paused: the estimated X cost reached this meeting's cap of ${cap}.").format(
                    cap=self.cap
                ),
                retry_in=max(self.poll_seconds, 30.0),
                polled=False,
            )
        try:
            await self._collect_new(state.newest_id)
        except tweepy.TooManyRequests as exc:
            reset = exc.reset_time or int(time.time()) + 60
            raise RateLimited(
                _("X rate limit: {detail}").format(detail=describe(exc)),
                until=datetime.fromtimestamp(reset, UTC),
                retry_in=max(1.0, reset - time.time() + 1),
            ) from exc
        except (tweepy.Unauthorized, tweepy.Forbidden) as exc:
            raise Rejected(
                _("X credentials rejected: {detail}").format(detail=describe(exc))
            ) from exc
        except (tweepy.TwitterServerError, tweepy.HTTPException, requests.RequestException) as exc:
            detail = describe(exc) if isinstance(exc, tweepy.HTTPException) else str(exc)
            raise SourceProblem(
                _("X not answering, retrying: {detail}").format(detail=detail),
                polled=isinstance(exc, tweepy.HTTPException),
            ) from exc

    async def _collect_new(self, since_id: str | None) -> None:
        params: dict[str, Any] = {
            "max_results": MAX_RESULTS,
            "expansions": ["author_id"],
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
        }
        if since_id:
            params["since_id"] = since_id
        else:
            params["start_time"] = self._first_start_time()
        newest: str | None = None
        next_token: str | None = None
        settings = self.council.settings
        while True:
            page_params = dict(params, next_token=next_token) if next_token else params
            response = await asyncio.to_thread(
                self.client.search_recent_tweets, self.query, **page_params
            )
            meta = response.meta or {}
            # The first page's newest_id covers the whole poll; later pages describe themselves.
            newest = newest or meta.get("newest_id")
            next_token = meta.get("next_token")
            users = (response.includes or {}).get("users", [])
            posts_read, users_read = len(response.data or []), len(users)
            await self.store(
                posts_from(response),
                posts_read=posts_read,
                users_read=users_read,
                cost=posts_read * settings.x_post_read_cost
                + users_read * settings.x_user_read_cost,
                newest_id=None if next_token else newest,
            )
            if not next_token:
                return

    def _first_start_time(self) -> datetime:
        begins = self.meeting.starts_at or self.meeting.started_at or datetime.now(UTC)
        earliest = datetime.now(UTC) - timedelta(days=6, hours=23)  # recent search: 7 days
        return max(begins - EARLY_QUESTIONS, earliest)


def x_collector(council: Council, meeting: MeetingInfo) -> XPoller:
    return XPoller(council, meeting)

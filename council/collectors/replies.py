"""The worker that drains the reply outbox (see council/replies.py) through each source.

A sender posts one reply and says how it went: a ``Definite`` error means the service
answered and nothing was posted (safe to try again); any other exception means the
reply may exist, and it waits for a moderator. Mastodon replies carry an
``Idempotency-Key`` made from the post they answer, so even a retry after a lost
answer cannot post twice (within the hour Mastodon keeps keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import requests
import tweepy
from atproto_client import models as bsky
from atproto_client.exceptions import AtProtocolError, RequestErrorBase
from atproto_client.utils import facet_detection
from mastodon import MastodonAPIError, MastodonError, MastodonNetworkError

from council import replies
from council.collectors.bluesky import BlueskyAccount, xrpc_detail
from council.collectors.mastodon import client_for
from council.collectors.polling import SourceProblem
from council.collectors.x import describe, mount_base_url
from council.i18n import _
from council.leases import Lease
from council.services import Council
from council.settings import Settings
from council.tasks import cancel_and_wait

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class ReplySender(Protocol):
    def send(self, *, in_reply_to: str, text: str) -> str:
        """Post the reply; the new post's id. Raises Definite or anything else (uncertain)."""
        ...


class Definite(Exception):
    """The service answered with an error: nothing was posted, so trying again is safe."""


class XReplySender:
    def __init__(self, settings: Settings) -> None:
        self.client = tweepy.Client(
            consumer_key=settings.x_consumer_key,
            consumer_secret=settings.x_consumer_secret,
            access_token=settings.x_access_token,
            access_token_secret=settings.x_access_token_secret,
            wait_on_rate_limit=False,
        )
        mount_base_url(self.client, settings.x_api_base_url)

    def send(self, *, in_reply_to: str, text: str) -> str:
        try:
            response = self.client.create_tweet(text=text, in_reply_to_tweet_id=in_reply_to)
        except tweepy.HTTPException as exc:
            raise Definite(describe(exc)) from exc
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or "Connection refused" in str(exc):
                raise Definite(str(exc)) from exc  # never reached X: nothing was posted
            raise
        return str(response.data["id"])


def _never_connected(exc: BaseException | None) -> bool:
    """A connection refused or never made: the request cannot have reached the service."""
    while exc is not None:
        if isinstance(exc, requests.ConnectTimeout | httpx.ConnectError | httpx.ConnectTimeout):
            return True
        if isinstance(exc, requests.ConnectionError) and "Connection refused" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class MastodonReplySender:
    """Replies from the town's account on the first Mastodon server (COUNCIL_MASTODON_TOKEN)."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.mastodon_instance_list[0]
        self.client, self.last_error = client_for(self.url, settings.mastodon_token)
        self.visibility = "unlisted"  # the resident is notified; the public timelines are not

    def close(self) -> None:
        self.client.session.close()

    def _detail(self, exc: MastodonError) -> str:
        if isinstance(exc, MastodonAPIError) and len(exc.args) >= 3:
            return f"{exc.args[1]} {self.last_error.pop('error', '') or exc.args[2]}"
        return f"{type(exc).__name__}: {exc}"[:300]

    def send(self, *, in_reply_to: str, text: str) -> str:
        host = urlsplit(self.url).netloc
        try:
            # The post was seen under its URI; our server knows it under an id of its own.
            found = self.client.search_v2(in_reply_to, resolve=True, result_type="statuses")
        except MastodonError as exc:
            raise Definite(self._detail(exc)) from exc  # nothing posted yet
        statuses = list(found.get("statuses") or [])
        if not statuses:
            raise Definite(
                _("{host} cannot find the post {uri} (deleted, or not public)").format(
                    host=host, uri=in_reply_to
                )
            )
        status = statuses[0]
        key = hashlib.sha256(f"council-reply:{in_reply_to}".encode()).hexdigest()
        try:
            posted = self.client.status_post(
                f"@{status.account.acct} {text}",
                in_reply_to_id=status.id,
                visibility=self.visibility,
                idempotency_key=key,
            )
        except MastodonNetworkError as exc:
            if _never_connected(exc):
                raise Definite(self._detail(exc)) from exc
            raise  # it may have been posted: a moderator checks
        except MastodonError as exc:
            # Answered (even a 5xx): a retry with the same key cannot post a second reply.
            raise Definite(self._detail(exc)) from exc
        return str(posted.uri)


class BlueskyReplySender:
    """Replies from the town's Bluesky account, with the link made clickable (a facet)."""

    def __init__(self, settings: Settings) -> None:
        self.account = BlueskyAccount(settings)
        self.account.acquire()
        self.language = settings.default_language

    def close(self) -> None:
        self.account.release()

    def send(self, *, in_reply_to: str, text: str) -> str:
        try:
            client = self.account.client()
            found = client.app.bsky.feed.get_posts(params={"uris": [in_reply_to]}).posts
        except SourceProblem as exc:  # the login was refused
            raise Definite(exc.message) from exc
        except AtProtocolError as exc:
            raise Definite(xrpc_detail(exc)) from exc
        if not found:
            raise Definite(
                _("Bluesky cannot find the post {uri} (deleted?)").format(uri=in_reply_to)
            )
        parent_view = found[0]
        parent = bsky.create_strong_ref(parent_view)
        thread = getattr(parent_view.record, "reply", None)
        root = thread.root if thread is not None else parent
        try:
            created = client.send_post(
                text,
                reply_to=bsky.AppBskyFeedPost.ReplyRef(parent=parent, root=root),
                facets=facet_detection.detect_facets(text),
                langs=[self.language],
            )
        except RequestErrorBase as exc:
            if exc.response is not None or _never_connected(exc):
                raise Definite(xrpc_detail(exc)) from exc
            raise  # no answer: it may have been posted
        return str(created.uri)


class ReplyWorker:
    def __init__(
        self, council: Council, senders: dict[str, ReplySender], lease: Lease | None = None
    ) -> None:
        self.council = council
        self.senders = senders
        # Several workers: only the holder of the "replies" lease sends.
        self.lease = lease
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.senders and self._task is None:
            self._task = asyncio.create_task(self._run(), name="reply-worker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for sender in self.senders.values():
            close: Any = getattr(sender, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()

    async def _run(self) -> None:
        recovered = False
        while True:
            try:
                if self.lease is None or self.lease.held:
                    if not recovered:
                        # Sends the previous holder left half-done become "uncertain".
                        await self.council.act(replies.recover_interrupted)
                        recovered = True
                    while await self.tick():
                        pass
                else:
                    recovered = False
            except Exception:
                log.exception("reply worker failed; trying again")
            await asyncio.sleep(TICK_SECONDS)

    async def tick(self) -> bool:
        """Send at most one reply; True when there may be more to send now."""
        public_url = self.council.settings.public_url or ""
        await self.council.act(
            replies.enqueue_answered, sources=tuple(self.senders), public_url=public_url
        )
        claimed = await self.council.act(replies.claim_next)
        if claimed is None:
            return False
        sender = self.senders[claimed.source]
        try:
            external_id = await asyncio.to_thread(
                sender.send, in_reply_to=claimed.in_reply_to, text=claimed.text
            )
        except Definite as exc:
            outcome: dict[str, str | None] = {"outcome": "failed", "error": str(exc)}
        except Exception as exc:
            log.warning("reply %s: no answer from %s: %s", claimed.id, claimed.source, exc)
            outcome = {"outcome": "uncertain", "error": f"{type(exc).__name__}: {exc}"}
        else:
            outcome = {"outcome": "sent", "external_id": external_id}
        reply = await self.council.act(replies.settle, reply_id=claimed.id, **outcome)
        meeting_id = await self.council.read(replies.meeting_of_reply, reply_id=claimed.id)
        if meeting_id is not None:
            self.council.hub.notify(
                meeting_id, "moderation", {"type": "reply", "reply": replies.reply_view(reply)}
            )
        return True


def reply_senders(settings: Settings) -> dict[str, ReplySender]:
    senders: dict[str, ReplySender] = {}
    if settings.x_replies:
        senders["x"] = XReplySender(settings)
    if settings.mastodon_replies:
        senders["mastodon"] = MastodonReplySender(settings)
    if settings.bluesky_replies:
        senders["bluesky"] = BlueskyReplySender(settings)
    return senders

"""The worker that drains the reply outbox (see council/replies.py) through each source."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import requests
import tweepy

from council import replies
from council.collectors.x import describe, mount_base_url
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


class ReplyWorker:
    def __init__(self, council: Council, senders: dict[str, ReplySender]) -> None:
        self.council = council
        self.senders = senders
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.senders and self._task is None:
            self._task = asyncio.create_task(self._run(), name="reply-worker")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        await self.council.act(replies.recover_interrupted)
        while True:
            try:
                while await self.tick():
                    pass
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
    return senders

"""Soft locks: which moderator is looking at which question, shown to the other moderators.

Nothing is refused because of them (a stale action is already a 409); they only let a
moderator see that someone else has a question in hand before acting on it. They live in
memory, per process, and travel as ephemeral moderator-only messages (``Hub.notify``):
never in the event log, never replayed, never on the public socket.

The browser sends ``{"type": "viewing", "viewer": "<its page's id>", "submission_id": N}``
over its moderation websocket whenever the moderator selects a question (``null`` when
nothing is selected); every moderator of the meeting then gets
``{"type": "viewing", "viewer", "user", "submission_id", "viewers": [...]}``: the change, and
every lock this server knows for the meeting. A connection that closes clears its lock.
The user name comes from the login, never from the message.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.types import Receive

from council.models import utcnow
from council.views import iso

if TYPE_CHECKING:
    from council.live.hub import Connection, Hub

log = logging.getLogger(__name__)

# A page's id is a short random token the page makes for itself: it only tells a
# moderator's own locks (in another tab, or under a shared account) from other pages'.
VIEWER_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
# A viewing message is tiny; anything bigger is not one of ours.
MAX_MESSAGE_BYTES = 512


@dataclass(slots=True)
class Lock:
    user: str
    viewer: str
    submission_id: int | None
    since: datetime

    def view(self) -> dict[str, Any]:
        return {
            "viewer": self.viewer,
            "user": self.user,
            "submission_id": self.submission_id,
            "since": iso(self.since),
        }


class Locks:
    """Every moderation connection's current question, per meeting."""

    def __init__(self) -> None:
        self._meetings: dict[int, dict[object, Lock]] = {}

    def set(
        self, meeting_id: int, key: object, *, user: str, viewer: str, submission_id: int | None
    ) -> Lock | None:
        """Record what ``key`` (one connection) looks at; the new lock, or None if unchanged."""
        locks = self._meetings.setdefault(meeting_id, {})
        current = locks.get(key)
        if (
            current is not None
            and current.submission_id == submission_id
            and current.viewer == viewer
        ):
            return None
        lock = Lock(user=user, viewer=viewer, submission_id=submission_id, since=utcnow())
        locks[key] = lock
        return lock

    def drop(self, meeting_id: int, key: object) -> Lock | None:
        """Forget a connection; its last lock if it held a question (others must hear)."""
        locks = self._meetings.get(meeting_id)
        if not locks:
            return None
        lock = locks.pop(key, None)
        if not locks:
            del self._meetings[meeting_id]
        if lock is None or lock.submission_id is None:
            return None
        return lock

    def viewers(self, meeting_id: int) -> list[dict[str, Any]]:
        """The questions being looked at now, oldest lock first."""
        locks = self._meetings.get(meeting_id, {})
        held = sorted(
            (lock for lock in locks.values() if lock.submission_id is not None),
            key=lambda lock: lock.since,
        )
        return [lock.view() for lock in held]

    def message(self, meeting_id: int, lock: Lock | None) -> dict[str, Any]:
        change = lock.view() if lock is not None else {}
        return {"type": "viewing", **change, "viewers": self.viewers(meeting_id)}


def parse_viewing(text: str | None) -> tuple[str, int | None] | None:
    """``(viewer, submission_id)`` from a browser's message, or None if it is not a valid one."""
    if not text or len(text) > MAX_MESSAGE_BYTES:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("type") != "viewing":
        return None
    viewer = data.get("viewer")
    submission_id = data.get("submission_id")
    if not isinstance(viewer, str) or not VIEWER_ID.match(viewer):
        return None
    if submission_id is not None and (
        isinstance(submission_id, bool) or not isinstance(submission_id, int) or submission_id < 1
    ):
        return None
    return viewer, submission_id


async def listen(
    hub: Hub,
    locks: Locks,
    receive: Receive,
    *,
    meeting_id: int,
    connection: Connection,
    user: str,
) -> None:
    """Read a moderator's socket until it closes: their selections become soft locks.

    Starts by sending the locks held now, if any, so the newcomer sees them at once (the
    others merely hear again what they know); ends by clearing this connection's lock,
    however the socket ended.
    """
    if locks.viewers(meeting_id):
        hub.notify(meeting_id, "moderation", locks.message(meeting_id, None))
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if message["type"] != "websocket.receive":
                continue
            parsed = parse_viewing(message.get("text"))
            if parsed is None:
                continue  # a page of another version, or not ours: ignored, never fatal
            viewer, submission_id = parsed
            lock = locks.set(
                meeting_id, connection, user=user, viewer=viewer, submission_id=submission_id
            )
            if lock is not None:
                hub.notify(meeting_id, "moderation", locks.message(meeting_id, lock))
    finally:
        # Out of the hub first: the closed socket need not hear its own goodbye.
        hub.leave(meeting_id, connection)
        gone = locks.drop(meeting_id, connection)
        if gone is not None:
            gone.submission_id = None
            hub.notify(meeting_id, "moderation", locks.message(meeting_id, gone))

"""The websocket endpoints: the public meeting, moderation, and one asker's tracking.

They are plain ASGI callables. The public socket is the one that fans out to thousands
of phones and projectors, so the app serves it below the middleware stack (it needs no
session), and the hub writes to it directly (see council/live/hub.py).

Each connection joins the hub *before* its opening messages are read, so an event
committed meanwhile waits in its backlog instead of being missed; the connection's
``last_seq`` drops whatever the opening already covered.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import HTTPConnection
from starlette.types import Receive, Scope, Send

from council.auth import current_actor
from council.errors import CouncilError
from council.live.hub import Connection, encode
from council.live.snapshot import meeting_id_for, meeting_seq, missed_messages, snapshot_message
from council.moderation import locks
from council.services import Council
from council.tracking import find_by_token, meeting_of_token
from council.views import tracking_view

log = logging.getLogger(__name__)

PUBLIC_PATH = re.compile(r"^/ws/meetings/([^/]+)$")
# Close codes a client can act on: 4xxx are application codes (RFC 6455, section 7.4.2).
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_AUTHENTICATED = 4401

# What reads a socket once its opening is out, until it closes: (receive, meeting, connection).
Listener = Callable[[Receive, int, Connection], Awaitable[None]]


def _after(scope: Scope) -> int | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("after")
    if not values:
        return None
    try:
        return int(values[0])
    except ValueError:
        return None


async def _wait_for_disconnect(receive: Receive) -> None:
    # Clients only listen; reading still matters to notice at once that one has gone.
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def _refuse(receive: Receive, send: Send, code: int) -> None:
    """Closing before accepting answers the handshake with 403: no data ever flows."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": code})


async def serve_meeting(
    council: Council,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    slug: str,
    audience: str,
    listen: Listener | None = None,
) -> None:
    try:
        meeting_id = await council.read(meeting_id_for, slug=slug)
    except CouncilError:
        await _refuse(receive, send, CLOSE_NOT_FOUND)
        return
    connection = Connection(audience, send, council.settings.ws_queue_size)
    council.hub.join(meeting_id, connection)
    try:
        opening = await _opening(council, meeting_id, audience, _after(scope))
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        last_seq = 0
        for seq, text in opening:
            await send({"type": "websocket.send", "text": text})
            last_seq = max(last_seq, seq)
        connection.start(last_seq)
        if listen is None:
            await _wait_for_disconnect(receive)
        else:
            await listen(receive, meeting_id, connection)
    finally:
        council.hub.leave(meeting_id, connection)


async def _opening(
    council: Council, meeting_id: int, audience: str, after: int | None
) -> list[tuple[int, str]]:
    limit = council.settings.resync_limit
    missed = await council.read(
        missed_messages, meeting_id=meeting_id, audience=audience, after=after, limit=limit
    )
    if missed is not None:
        return [(int(m["seq"]), encode(m)) for m in missed]
    if audience != "public":
        snapshot = await council.read(snapshot_message, meeting_id=meeting_id, audience=audience)
        return [(int(snapshot["seq"]), encode(snapshot))]
    # Public snapshots are the same for everyone at a given seq: after a restart, hundreds
    # of phones reconnect at once and each gets the one encoded copy.
    seq = await council.read(meeting_seq, meeting_id=meeting_id)
    cached = council.public_snapshots.get(meeting_id)
    if cached is None or cached[0] != seq:
        snapshot = await council.read(snapshot_message, meeting_id=meeting_id, audience=audience)
        cached = (int(snapshot["seq"]), encode(snapshot))
        council.public_snapshots[meeting_id] = cached
    return [cached]


async def public_socket(council: Council, scope: Scope, receive: Receive, send: Send) -> bool:
    """Serve ``/ws/meetings/{slug}`` if that is what ``scope`` asks for; False otherwise."""
    match = PUBLIC_PATH.match(scope["path"])
    if match is None:
        return False
    await serve_meeting(council, scope, receive, send, slug=match.group(1), audience="public")
    return True


class ModerationSocket:
    """``/ws/meetings/{slug}/moderation``: moderators only, by session cookie or bearer token."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        council: Council = scope["app"].state.council
        connection = HTTPConnection(scope, receive)
        try:
            actor = await current_actor(connection)
        except CouncilError:
            actor = None
        if actor is None or (not actor.by_token and not _same_origin(connection)):
            await _refuse(receive, send, CLOSE_NOT_AUTHENTICATED)
            return
        slug = scope["path_params"]["slug"]
        user = actor.username

        def listen(receive: Receive, meeting_id: int, connection: Connection) -> Awaitable[None]:
            # Moderators' pages say which question they look at: soft locks for the others.
            return locks.listen(
                council.hub,
                council.locks,
                receive,
                meeting_id=meeting_id,
                connection=connection,
                user=user,
            )

        await serve_meeting(
            council, scope, receive, send, slug=slug, audience="moderation", listen=listen
        )


class TrackingSocket:
    """``/ws/track/{token}``: one asker follows their own question."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        council: Council = scope["app"].state.council
        token = scope["path_params"]["token"]
        connection = Connection("tracking", send, council.settings.ws_queue_size)
        council.hub.follow(token, connection)
        try:
            try:
                meeting_id = await council.read(meeting_of_token, token=token)
                # The seq first, then the row: anything later arrives as a message too.
                seq = await council.read(meeting_seq, meeting_id=meeting_id)
                sub = await council.read(find_by_token, token=token)
            except CouncilError:
                await _refuse(receive, send, CLOSE_NOT_FOUND)
                return
            await receive()
            await send({"type": "websocket.accept"})
            snapshot: dict[str, Any] = {
                "type": "snapshot",
                "seq": seq,
                "submission": tracking_view(sub),
            }
            await send({"type": "websocket.send", "text": encode(snapshot)})
            connection.start(seq)
            await _wait_for_disconnect(receive)
        finally:
            council.hub.unfollow(token, connection)


def _same_origin(connection: HTTPConnection) -> bool:
    """Cookie-authenticated sockets must come from our own pages (cross-site hijacking)."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True  # not a browser: browsers always send Origin on websockets
    return urlsplit(origin).netloc == connection.headers.get("host")

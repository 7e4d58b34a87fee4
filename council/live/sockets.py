"""The websocket endpoints: public meeting, moderation, and one submitter's tracking.

Each connection joins the hub *before* its opening messages are read from the
database, so an event committed meanwhile is queued rather than missed; the
connection's ``last_seq`` filters what the opening already covered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from council.auth import council_of, current_actor
from council.errors import CouncilError
from council.live.hub import Connection, encode
from council.live.snapshot import meeting_id_for, opening_messages
from council.tracking import find_by_token
from council.views import tracking_view

log = logging.getLogger(__name__)
router = APIRouter()

# Close codes a client can act on: 4xxx are application codes (RFC 6455, section 7.4.2).
CLOSE_NOT_FOUND = 4404
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_TOO_SLOW = 4008  # fell behind: reconnect with ?after=SEQ


@router.websocket("/ws/meetings/{slug}")
async def public_socket(websocket: WebSocket, slug: str, after: int | None = None) -> None:
    await _serve_meeting(websocket, slug=slug, audience="public", after=after)


@router.websocket("/ws/meetings/{slug}/moderation")
async def moderation_socket(websocket: WebSocket, slug: str, after: int | None = None) -> None:
    try:
        actor = await current_actor(websocket)
    except CouncilError:
        actor = None
    if actor is None or (not actor.by_token and not _same_origin(websocket)):
        # Closing before accept answers the handshake with 403: no data ever flows.
        await websocket.close(code=CLOSE_NOT_AUTHENTICATED)
        return
    await _serve_meeting(websocket, slug=slug, audience="moderation", after=after)


@router.websocket("/ws/track/{token}")
async def tracking_socket(websocket: WebSocket, token: str) -> None:
    council = council_of(websocket)
    connection = Connection("tracking", council.settings.ws_queue_size)
    council.hub.follow(token, connection)
    try:
        try:
            sub = await council.read(find_by_token, token=token)
        except CouncilError:
            await websocket.close(code=CLOSE_NOT_FOUND)
            return
        await websocket.accept()
        await websocket.send_text(encode({"type": "snapshot", "submission": tracking_view(sub)}))
        await _pump(websocket, connection)
    finally:
        council.hub.unfollow(token, connection)


def _same_origin(websocket: WebSocket) -> bool:
    """Cookie-authenticated sockets must come from our own pages (cross-site hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True  # not a browser: browsers always send Origin on websockets
    return urlsplit(origin).netloc == websocket.headers.get("host")


async def _serve_meeting(
    websocket: WebSocket, *, slug: str, audience: str, after: int | None
) -> None:
    council = council_of(websocket)
    connection = Connection(audience, council.settings.ws_queue_size)
    meeting_id: int | None = None
    try:
        try:
            meeting_id = await council.read(meeting_id_for, slug=slug)
        except CouncilError:
            await websocket.close(code=CLOSE_NOT_FOUND)
            return
        council.hub.join(meeting_id, connection)
        # Read only now that we are subscribed: anything committed before joining is in the
        # opening, anything after is in the queue, and last_seq removes the overlap.
        _, opening = await council.read(
            opening_messages,
            slug=slug,
            audience=audience,
            after=after,
            limit=council.settings.resync_limit,
        )
        await websocket.accept()
        for message in opening:
            await websocket.send_text(encode(message))
            connection.last_seq = max(connection.last_seq, int(message.get("seq") or 0))
        await _pump(websocket, connection)
    finally:
        if meeting_id is not None:
            council.hub.leave(meeting_id, connection)


async def _pump(websocket: WebSocket, connection: Connection) -> None:
    """Send queued messages until the client leaves or falls too far behind."""
    sender = asyncio.create_task(_send_queued(websocket, connection))
    connection.sender = sender
    receiver = asyncio.create_task(_drain_incoming(websocket))
    try:
        await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, receiver):
            task.cancel()
        for task in (sender, receiver):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if connection.dropped and websocket.application_state == WebSocketState.CONNECTED:
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_TOO_SLOW, reason="too far behind; resume with ?after")


async def _send_queued(websocket: WebSocket, connection: Connection) -> None:
    while True:
        await websocket.send_text(await connection.next_message())


async def _drain_incoming(websocket: WebSocket) -> None:
    """Clients only listen; reading still matters to notice at once that one has gone."""
    try:
        while True:
            message: Any = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
    except WebSocketDisconnect:
        return

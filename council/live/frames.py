"""One websocket frame built per broadcast, written as-is to every connection that can take it.

A server's frames are not masked (RFC 6455, section 5.1), so the bytes of a text frame are
the same for every client. ``websockets.broadcast`` still frames the message once per
connection, and so does uvicorn's ASGI ``send``, which also encodes the text, creates a
coroutine and waits on an event for each client: about 17 µs per client here against 12 µs
for ``websockets.broadcast`` (bench/fanout.py). Writing the shared frame to the transport
costs a few µs.

That needs uvicorn's sans-I/O websocket protocol underneath (what ``--ws auto`` picks when
``websockets`` is installed). With any other server, or whenever the protocol could not take
a plain write (compression negotiated, closing, the socket's buffer full), ``write`` says no
and the hub uses the ASGI ``send``, which waits for the socket as ASGI intends.
tests/live/test_frames.py runs the real uvicorn and fails if this path stops being taken.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from websockets.frames import Frame, Opcode
from websockets.protocol import State

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - uvicorn without websockets installed
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

FrameWriter = Callable[[bytes], bool]


def text_frame(text: str) -> bytes:
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def frame_writer(send: Callable[..., Any]) -> FrameWriter | None:
    """A function writing a whole pre-built frame to this connection now, if it can.

    None when ``send`` is not uvicorn's sans-I/O protocol: then every message takes the
    ASGI path.
    """
    protocol = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return None

    def write(data: bytes) -> bool:
        conn = protocol.conn
        if (
            conn.state is not State.OPEN
            or conn.extensions  # a compressed connection needs its own frames
            or protocol.close_sent
            or not protocol.writable.is_set()  # the client is not reading: the ASGI send waits
            or protocol.transport.is_closing()
        ):
            return False
        protocol.transport.write(data)
        return True

    return write


def abort_transport(send: Callable[..., Any]) -> bool:
    """Close this connection's socket now, discarding whatever it has not sent yet.

    For a client dropped for not reading: uvicorn's own close waits until the buffered bytes
    are sent, so the socket and its buffers (megabytes for a snapshot) stayed with the
    server as long as the client kept the connection open. False when ``send`` is not
    uvicorn's sans-I/O protocol.
    """
    protocol = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(protocol, WebSocketsSansIOProtocol):
        return False
    protocol.transport.abort()
    return True

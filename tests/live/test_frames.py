"""Under uvicorn the hub writes one shared frame to every public socket; a stuck one is dropped."""

from __future__ import annotations

import base64
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader
from websockets.sync.client import ClientConnection, connect

import council.meetings
from council.live.frames import text_frame
from council.live.hub import Connection
from council.moderation.accounts import add_user
from tests.factories import (
    LIVE_MODERATOR,
    LIVE_PASSWORD,
    LIVE_SLUG,
    LiveServer,
    free_port,
    make_question,
    wait_until,
)


def parsed(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536, 300_000])
def test_a_prebuilt_frame_is_a_valid_unmasked_text_frame(length: int) -> None:
    text = ("ñ" * length)[:length]
    frame = parsed(text_frame(text))
    assert frame.opcode is Opcode.TEXT and frame.fin
    assert frame.data.decode() == text


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "data", free_port())
    server.overrides = {"ws_queue_size": 4}
    server.start()
    try:
        server.write(council.meetings.create_meeting, slug=LIVE_SLUG, title="Pleno")
        server.write(council.meetings.start_meeting, slug=LIVE_SLUG)
        server.write(add_user, username=LIVE_MODERATOR, password=LIVE_PASSWORD, role="moderator")
        yield server
    finally:
        server.stop()


def public_connections(live: LiveServer) -> list[Connection]:
    hub = live.app.state.council.hub

    def members() -> list[Connection]:
        return [
            c for (_, audience), cs in hub._meetings.items() if audience == "public" for c in cs
        ]

    return live.on_loop(members)


def open_client(live: LiveServer, stack: ExitStack) -> ClientConnection:
    url = f"ws://127.0.0.1:{live.port}/ws/meetings/{LIVE_SLUG}"
    client = stack.enter_context(connect(url, compression=None))
    assert json.loads(client.recv(timeout=5))["type"] == "snapshot"
    return client


def test_public_clients_get_events_through_the_shared_frame_path(live: LiveServer) -> None:
    with ExitStack() as stack:
        clients = [open_client(live, stack) for _ in range(3)]
        wait_until(lambda: len(public_connections(live)) == 3)
        assert all(c.write_frame is not None for c in public_connections(live)), (
            "uvicorn's websocket protocol changed: the hub fell back to the slower ASGI path"
        )
        sub = make_question(live.db, slug=LIVE_SLUG, text="¿Cuándo arreglan la farola? " * 10)
        live.act(live.moderator_token(), sub.id, "approve")
        for client in clients:
            message = json.loads(client.recv(timeout=5))
            assert message["type"] == "approved"
            assert message["submissions"][0]["text"].startswith("¿Cuándo arreglan la farola?")


def stuck_client(port: int, stack: ExitStack) -> socket.socket:
    """A websocket client that completes the handshake and then never reads again."""
    sock = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/meetings/{LIVE_SLUG} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert sock.recv(12) == b"HTTP/1.1 101"
    return sock


def test_a_client_that_stops_reading_is_dropped_while_the_others_get_everything(
    live: LiveServer,
) -> None:
    hub = live.app.state.council.hub
    with ExitStack() as stack:
        readers = [open_client(live, stack) for _ in range(2)]
        stuck_client(live.port, stack)
        wait_until(lambda: len(public_connections(live)) == 3)
        meeting_id = live.on_loop(lambda: next(iter(hub._meetings))[0])
        # Big messages, so the stuck client's socket buffers fill within a few dozen.
        for n in range(60):
            message = {"type": "bulk", "n": n, "body": "x" * 256_000}
            live.on_loop(lambda m=message: hub.notify(meeting_id, "public", m))
            for reader in readers:
                assert json.loads(reader.recv(timeout=5)) == message
            if hub.dropped_total:
                break
            time.sleep(0.01)
        assert hub.dropped_total == 1, "the stuck client was never dropped"
        assert len(public_connections(live)) == 2

"""The floor: a bare `websockets` server that broadcasts one ~300-byte JSON message on demand.

Run by bench/fanout.py as a subprocess. It speaks the same client-side protocol as Council's
public websocket (a snapshot first, then `{"type": ..., "seq": ...}`), so the same client
harness measures both. The broadcast is triggered by a plain HTTP `GET /trigger`, which keeps
the trigger path comparable to Council's (one HTTP request on a fresh connection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus
from pathlib import Path

import websockets
from _gcprobe import GCProbe, raise_nofile_limit
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

clients: set[ServerConnection] = set()
state = {"seq": 1}


def approved_message(seq: int, size: int) -> str:
    """A message shaped like Council's `approved` event, padded to about `size` bytes."""
    submission: dict[str, object] = {
        "id": seq,
        "name": "Ana",
        "neighborhood": "Centro",
        "verified": False,
        "text": "",
    }
    body = {"type": "approved", "seq": seq, "submissions": [submission]}
    submission["text"] = "x" * max(0, size - len(json.dumps(body, separators=(",", ":"))))
    return json.dumps(body, separators=(",", ":"))


async def handler(connection: ServerConnection) -> None:
    clients.add(connection)
    try:
        await connection.send(json.dumps({"type": "snapshot", "seq": state["seq"]}))
        await connection.wait_closed()
    finally:
        clients.discard(connection)


def make_process_request(
    message_bytes: int,
) -> Callable[[ServerConnection, Request], Response | None]:
    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path.startswith("/trigger"):
            state["seq"] += 1
            websockets.broadcast(clients, approved_message(state["seq"], message_bytes))
            return connection.respond(HTTPStatus.OK, f"{len(clients)}\n")
        if request.path.startswith("/health"):
            return connection.respond(HTTPStatus.OK, "ok\n")
        return None

    return process_request


async def main(port: int, message_bytes: int) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        process_request=make_process_request(message_bytes),
        compression=None,
        # Keep-alive pings are noise for a benchmark that lasts seconds.
        ping_interval=None,
        # Thousands of clients connect at once; the default backlog of 100 makes them retry.
        backlog=4096,
    ) as server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gc-report", type=Path, required=True)
    parser.add_argument("--message-bytes", type=int, default=300)
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    args = parser.parse_args()
    raise_nofile_limit()
    GCProbe(args.gc_report).install()
    if args.loop == "uvloop":
        import uvloop

        uvloop.run(main(args.port, args.message_bytes))
    else:
        asyncio.run(main(args.port, args.message_bytes))

"""Council under uvicorn, in-process, so the GC probe sees the server's own collections.

Equivalent to `python -m uvicorn --factory council.app:create_app_from_env --port P
--ws-per-message-deflate false --log-level warning`, with settings from COUNCIL_* variables.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from _gcprobe import GCProbe, raise_nofile_limit

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--gc-report", type=Path, required=True)
    parser.add_argument("--ws", default="auto", help="uvicorn's websocket implementation")
    args = parser.parse_args()
    raise_nofile_limit()
    GCProbe(args.gc_report).install()
    config = uvicorn.Config(
        "council.app:create_app_from_env",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        ws=args.ws,
        ws_per_message_deflate=False,
        log_level="warning",
    )
    uvicorn.Server(config).run()

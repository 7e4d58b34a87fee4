"""The baseline for durable intake: a FastAPI endpoint that validates the same body and stores
nothing. Run like Council: uvicorn, one worker, uvloop and httptools when installed."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, max_length=500)
    neighborhood: str | None = None


app = FastAPI()


@app.post("/api/meetings/{slug}/submissions", status_code=201)
async def noop(slug: str, body: SubmissionIn) -> dict[str, object]:
    return {"id": 1, "status": "pending", "track_url": "/t/none"}


@app.get("/api/meetings")
async def ready() -> dict[str, object]:
    return {"meetings": []}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")

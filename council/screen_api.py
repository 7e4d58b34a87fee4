"""The chamber screen's safety controls for moderators: blackout, show delay, cancel.

*Show* itself stays ``POST /api/meetings/{slug}/submissions/{id}/show``; with a delay it
is scheduled by :func:`council.moderation.screen.request_show` instead of done at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from council.auth import Actor, council_of, require_moderator
from council.meetings import get_meeting
from council.moderation import screen
from council.validation import RowId

router = APIRouter(prefix="/api/meetings/{slug}/screen", tags=["screen"])


class BlackoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on: bool = Field(description="true: the screen goes dark at once; false: it comes back.")


class DelayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: int | None = Field(
        description="Seconds between show and the screen, 0 (none) to 300; null: the "
        "server's default (COUNCIL_SHOW_DELAY_SECONDS)."
    )


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: RowId | None = Field(
        default=None,
        description="The question whose countdown the moderator saw; 409 if another is pending.",
    )


def _view(request: Request, meeting: Any) -> dict[str, Any]:
    return {"screen": screen.screen_view(meeting, council_of(request).settings.show_delay_seconds)}


@router.get("")
async def get_screen(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    """Blackout, delay (the meeting's own, the default, the one in force) and the pending show."""
    meeting = await council_of(request).read(get_meeting, slug=slug)
    return _view(request, meeting)


@router.post("/blackout")
async def blackout(
    slug: str,
    body: BlackoutIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    """Dark screen at once (and any pending show cancelled), or lift it."""
    meeting = await council_of(request).act(
        screen.set_blackout, slug=slug, on=body.on, actor=actor.username
    )
    return _view(request, meeting)


@router.post("/delay")
async def set_delay(
    slug: str, body: DelayIn, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    meeting = await council_of(request).act(
        screen.set_show_delay, slug=slug, seconds=body.seconds, actor=actor.username
    )
    return _view(request, meeting)


@router.post("/cancel")
async def cancel(
    slug: str,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
    body: Annotated[CancelIn | None, Body()] = None,
) -> dict[str, Any]:
    """Cancel the show counting down; 409 when none is (it may be on screen already)."""
    meeting = await council_of(request).act(
        screen.cancel_show,
        slug=slug,
        actor=actor.username,
        submission_id=body.submission_id if body else None,
    )
    return _view(request, meeting)

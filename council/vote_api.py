"""The "me too" votes from the public meeting page: the JSON API and the plain form."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from council.auth import council_of
from council.errors import Forbidden, RateLimited
from council.i18n import _
from council.validation import RowId
from council.votes import (
    VOTER_COOKIE,
    VOTER_COOKIE_MAX_AGE,
    VoteResult,
    Votes,
    cast_vote,
    new_voter,
    sign_voter,
    voted_ids,
    voter_from_cookie,
)

router = APIRouter(tags=["votes"])


class VoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: RowId = Field(description="The approved question this browser asks too.")


class VoteOut(BaseModel):
    submission_id: int
    votes: int = Field(description="The question's count now, this vote included.")
    voted: bool = Field(description="Always true: this browser has voted for it.")
    counted: bool = Field(description="False when this browser had voted for it already.")


def votes_of(request: Request) -> Votes:
    service: Votes = request.app.state.votes
    return service


def voter_of(request: Request) -> str | None:
    return voter_from_cookie(request.cookies.get(VOTER_COOKIE), votes_of(request).secret)


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _vote(request: Request, response: Response, slug: str, submission_id: int) -> VoteResult:
    service = votes_of(request)
    origin = request.headers.get("origin")
    # Browsers send Origin on every POST: another site must not make its visitors vote.
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden(_("Votes are taken from Council's own pages only."))
    wait = service.limiter.hit(f"{slug}:{_client(request)}")
    if wait:
        raise RateLimited(
            _("Many votes came from here in a short time. Please wait {n} seconds.").format(n=wait),
            retry_after=wait,
        )
    voter = voter_of(request)
    if voter is None:
        voter = new_voter()
        response.set_cookie(
            VOTER_COOKIE,
            sign_voter(voter, service.secret),
            max_age=VOTER_COOKIE_MAX_AGE,
            httponly=True,
            samesite="lax",
            secure=service.secure_cookie,
        )
    result = await council_of(request).act(
        cast_vote, slug=slug, submission_id=submission_id, voter=voter
    )
    if result.counted:
        service.feed.mark(result.meeting_id, result.submission_id)
    return result


@router.post(
    "/api/meetings/{slug}/votes",
    response_model=VoteOut,
    responses={
        404: {"description": "No such approved question (pending and rejected ones included)"},
        409: {"description": "The question was answered already"},
        429: {"description": "Too many votes from this client; see Retry-After"},
    },
)
async def post_vote(slug: str, body: VoteIn, request: Request, response: Response) -> VoteOut:
    """One "me too" per browser per question (a second one changes nothing)."""
    result = await _vote(request, response, slug, body.submission_id)
    return VoteOut(
        submission_id=result.submission_id, votes=result.votes, voted=True, counted=result.counted
    )


@router.get("/api/meetings/{slug}/votes/mine")
async def my_votes(slug: str, request: Request) -> dict[str, Any]:
    """The questions of this meeting this browser has voted for."""
    ids = await council_of(request).read(voted_ids, slug=slug, voter=voter_of(request))
    return {"submission_ids": ids}


@router.post("/m/{slug}/votes", include_in_schema=False)
async def vote_form(slug: str, request: Request, submission_id: Annotated[int, Form()]) -> Response:
    """The same vote without JavaScript: back to the question on the meeting page."""
    redirect = RedirectResponse(f"/m/{slug}#q-{submission_id}", status_code=303)
    await _vote(request, redirect, slug, submission_id)
    return redirect

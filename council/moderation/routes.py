"""Triage's routes: categorise, move, mute, and the admins' word lists (JSON and forms).

Included by ``create_app`` before council/api.py's router, whose
``/submissions/{id}/{action}`` would otherwise take ``categorize`` and ``move``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from council.auth import Actor, council_of, require_admin, require_moderator
from council.errors import InvalidInput
from council.i18n import _
from council.meetings import get_meeting
from council.models import Status
from council.moderation import admin, categories, counts, duplicates, lists, mutes, priority
from council.pages import _admin_action  # runs an admin form, then shows the page again
from council.validation import RowId
from council.views import moderation_submission

router = APIRouter()

RAW_CAP = 10_000


class CategorizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(max_length=64, description="A category's key (see `categories`).")
    expected_status: Status | None = None


class MoveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    before: RowId | None = Field(
        default=None, description="Put it just before this approved question; null: last."
    )
    after: RowId | None = Field(default=None, description="Put it just after this one.")
    auto: bool = Field(default=False, description="Back to its place by score.")
    expected_status: Status | None = None


class MuteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str | None = Field(
        default=None, max_length=64, description="web, x, mastodon or bluesky."
    )
    handle: str | None = Field(
        default=None, max_length=RAW_CAP, description="The handle (the name, for web)."
    )
    submission: RowId | None = Field(default=None, description="Or: the author of this question.")


class CategoryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(max_length=64)
    label: str | None = Field(default=None, max_length=RAW_CAP)
    keywords: list[Annotated[str, Field(max_length=RAW_CAP)]] = Field(default=[], max_length=5000)


class CategoriesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: list[CategoryIn] = Field(max_length=200)


class WordsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    words: list[Annotated[str, Field(max_length=RAW_CAP)]] = Field(max_length=5000)


@router.post("/api/meetings/{slug}/submissions/{submission_id}/categorize")
async def categorize(
    slug: str,
    submission_id: RowId,
    body: CategorizeIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    """Set a question's category (moderators only see categories). Event: `categorized`."""
    sub = await council_of(request).act(
        categories.categorize,
        slug=slug,
        submission_id=submission_id,
        actor=actor.username,
        category=body.category,
        expected_status=body.expected_status,
    )
    return {"submission": moderation_submission(sub)}


@router.post("/api/meetings/{slug}/submissions/{submission_id}/move")
async def move(
    slug: str,
    submission_id: RowId,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
    body: Annotated[MoveIn | None, Body()] = None,
) -> dict[str, Any]:
    """Place an approved question in the queue by hand (`{"before": id}`, `{"after": id}`,
    `{"before": null}` for last), or back in score order (`{"auto": true}`).
    Event: `reordered`."""
    if body is None or not ({"before", "after"} & body.model_fields_set or body.auto):
        raise InvalidInput(
            _(
                'Say where: {"before": id}, {"after": id}, {"before": null} for last, '
                'or {"auto": true}.'
            )
        )
    sub = await council_of(request).act(
        priority.move,
        slug=slug,
        submission_id=submission_id,
        actor=actor.username,
        before=body.before,
        after=body.after,
        automatic=body.auto,
        expected_status=body.expected_status,
    )
    return {"submission": moderation_submission(sub)}


async def _mute(request: Request, slug: str, body: MuteIn, actor: Actor, on: bool) -> Any:
    return await council_of(request).act(
        mutes.mute if on else mutes.unmute,
        slug=slug,
        actor=actor.username,
        source=body.source,
        handle=body.handle,
        submission_id=body.submission,
    )


@router.post("/api/meetings/{slug}/mute")
async def mute(
    slug: str,
    body: MuteIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    """Mute an author for this meeting: their questions arrive flagged `muted_author`
    (those pending now too). Body `{"source", "handle"}` or `{"submission": id}`.
    Event: `muted`."""
    return {"mute": await _mute(request, slug, body, actor, True)}


@router.post("/api/meetings/{slug}/unmute")
async def unmute(
    slug: str,
    body: MuteIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    """Undo a mute (404 if the author was not muted). Event: `muted` with `"muted": false`."""
    return {"mute": await _mute(request, slug, body, actor, False)}


@router.get("/api/meetings/{slug}/duplicates")
async def duplicate_groups(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    """Open questions grouped with their likely duplicates, oldest first in each group
    (the first is the one to keep)."""

    def find(session: Any) -> list[list[int]]:
        meeting = get_meeting(session, slug=slug)
        return duplicates.groups(session, meeting_id=meeting.id)

    return {"groups": await council_of(request).read(find)}


@router.get("/api/meetings/{slug}/counts")
async def meeting_counts(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    """Received, by status, by source, by category, and per minute (as in the snapshot)."""

    def count(session: Any) -> dict[str, Any]:
        return counts.meeting_counts(session, meeting=get_meeting(session, slug=slug))

    return {"counts": await council_of(request).read(count)}


# -- the word lists ---------------------------------------------------------------------------


@router.get("/api/triage/lists")
async def get_lists(
    request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    """The categories with their keywords, and the profanity words, as they apply now."""
    return await council_of(request).read(admin.lists_view)


@router.put("/api/triage/categories")
async def put_categories(
    body: CategoriesIn, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    """Replace the town's categories (admins)."""
    return await council_of(request).act(
        admin.edit_categories,
        categories=[c.model_dump() for c in body.categories],
        actor=actor.username,
    )


@router.put("/api/triage/profanity")
async def put_profanity(
    body: WordsIn, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    """Replace the profanity words (admins)."""
    return await council_of(request).act(
        admin.edit_profanity, words=body.words, actor=actor.username
    )


@router.delete("/api/triage/{name}")
async def reset_list(
    name: str, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    """Back to the lists Council ships (`categories` or `profanity`)."""
    return await council_of(request).act(admin.reset_list, name=name, actor=actor.username)


# -- the admin page's forms -------------------------------------------------------------------


@router.post("/admin/triage/categories", include_in_schema=False)
async def admin_categories(request: Request) -> Response:
    form = await request.form()
    entries: list[dict[str, Any]] = []
    try:
        count = min(int(str(form.get("count") or "0")), lists.MAX_CATEGORIES + 1)
    except ValueError:
        count = 0
    indices: list[int | str] = [*range(count), "new"]
    for i in indices:
        key = str(form.get(f"key_{i}") or "").strip()
        if not key or form.get(f"remove_{i}"):
            continue
        entries.append(
            {
                "key": key,
                "label": str(form.get(f"label_{i}") or ""),
                "keywords": lists.split_terms(str(form.get(f"keywords_{i}") or "")),
            }
        )

    async def save(who: Actor) -> object:
        return await council_of(request).act(
            admin.edit_categories, categories=entries, actor=who.username
        )

    csrf = str(form.get("csrf_token") or "")
    return await _admin_action(request, csrf, _("Categories saved."), save)


@router.post("/admin/triage/profanity", include_in_schema=False)
async def admin_profanity(request: Request) -> Response:
    form = await request.form()
    words = lists.split_terms(str(form.get("words") or ""))

    async def save(who: Actor) -> object:
        return await council_of(request).act(admin.edit_profanity, words=words, actor=who.username)

    csrf = str(form.get("csrf_token") or "")
    return await _admin_action(request, csrf, _("Profanity words saved."), save)


@router.post("/admin/triage/{name}/reset", include_in_schema=False)
async def admin_reset(request: Request, name: str) -> Response:
    form = await request.form()

    async def reset(who: Actor) -> object:
        return await council_of(request).act(admin.reset_list, name=name, actor=who.username)

    csrf = str(form.get("csrf_token") or "")
    return await _admin_action(request, csrf, _("The shipped list applies again."), reset)

"""The JSON API (DESIGN.md, "Public contract"). Thin: parse, authorise, call one domain function."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from council import agenda, meetings, replies
from council.archive import recordings
from council.auth import Actor, council_of, require_admin, require_moderator
from council.collectors.base import RETRY, report_status
from council.errors import InvalidInput, NotFound, RateLimited
from council.i18n import _
from council.intake import Arrival, Question, Received, check_question
from council.live.snapshot import moderation_state, public_state
from council.models import Status
from council.moderation import actions, activity, export, screen
from council.services import Council
from council.tracking import find_by_token
from council.validation import RowId, Seq
from council.views import meeting_view, moderation_submission, tracking_view

router = APIRouter(prefix="/api")

# Generous caps on the raw fields: the readable length checks come after trimming.
RAW_CAP = 10_000


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=RAW_CAP, description="The asker's name, 1-80 characters.")
    text: str = Field(max_length=RAW_CAP, description="The question, 1-500 characters.")
    neighborhood: str | None = Field(default=None, max_length=RAW_CAP)
    website: str | None = Field(
        default=None,
        max_length=RAW_CAP,
        description="Leave empty. A field hidden from people: bots fill it in.",
    )


class SubmissionCreated(BaseModel):
    id: int
    status: str
    track_url: str


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(
        default=None,
        max_length=64,
        description="Why, for reject: a key from the moderation snapshot's `reasons` "
        "(off_topic, duplicate, already_answered, offensive, personal_data, spam, other).",
    )
    note: str | None = Field(
        default=None, max_length=RAW_CAP, description="Words for the asker, for reject."
    )
    into: RowId | None = Field(default=None, description="The question to merge into, for merge.")
    expected_status: Status | None = Field(
        default=None, description="The status the moderator saw; 409 if it changed since."
    )


class EditIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=RAW_CAP, description="The text to show on screen.")
    expected_status: Status | None = None


class MeetingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Caps well above what the domain accepts: they keep out text that is not text (a lone
    # surrogate, which the database cannot store) with a 422; the domain explains the rest.
    slug: str = Field(max_length=RAW_CAP)
    title: str = Field(max_length=RAW_CAP)
    hashtags: list[Annotated[str, Field(max_length=RAW_CAP)]] = []
    starts_at: datetime | None = None
    x_cost_cap: float | None = Field(
        default=None, description="Dollars of X reads after which polling pauses."
    )
    stream_url: str | None = Field(
        default=None,
        max_length=RAW_CAP,
        description="An https player the town already streams to (an embed).",
    )


def client_key(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def create_submission(
    request: Request,
    *,
    slug: str,
    name: str,
    text: str,
    neighborhood: str | None,
    honeypot: str | None,
) -> Any:
    """Shared by the JSON API and the plain HTML form: the same checks, limit and write."""
    council = council_of(request)
    question = check_question(
        name=name, text=text, neighborhood=neighborhood, limits=council.limits
    )
    return await store_question(
        council, slug=slug, client=client_key(request), question=question, honeypot=honeypot
    )


async def store_question(
    council: Council, *, slug: str, client: str, question: Question, honeypot: str | None
) -> Received:
    """A checked question past the client's rate limit into the next batch; also what
    council/intake_http.py calls for the everyday request."""
    wait = council.submission_limiter.hit(f"{slug}:{client}")
    if wait:
        raise RateLimited(
            _("You have sent several questions in a short time. Please wait {n} seconds.").format(
                n=wait
            ),
            retry_after=wait,
        )
    return await council.arrivals.submit(
        Arrival(slug=slug, question=question, honeypot_filled=bool(honeypot and honeypot.strip()))
    )


@router.post(
    "/meetings/{slug}/submissions",
    status_code=201,
    response_model=SubmissionCreated,
    responses={
        409: {"description": "The meeting is not taking questions"},
        422: {"description": "Bad input, with a readable message"},
        429: {"description": "Too many questions from this client; see Retry-After"},
    },
)
async def post_submission(slug: str, body: SubmissionIn, request: Request) -> SubmissionCreated:
    sub = await create_submission(
        request,
        slug=slug,
        name=body.name,
        text=body.text,
        neighborhood=body.neighborhood,
        honeypot=body.website,
    )
    return SubmissionCreated(
        id=sub.id,
        status="pending",
        # Not url_for: it walks every route, a tenth of this request's time (bench/intake.py).
        track_url=f"{request.base_url}t/{sub.track_token}",
    )


@router.get("/meetings")
async def list_meetings(request: Request) -> dict[str, Any]:
    found = await council_of(request).read(meetings.list_meetings)
    return {"meetings": [meeting_view(m) for m in found]}


@router.get("/meetings/{slug}/state")
async def get_state(slug: str, request: Request) -> dict[str, Any]:
    council = council_of(request)

    def state(session: Any) -> dict[str, Any]:
        return public_state(session, meeting=meetings.get_meeting(session, slug=slug))

    return await council.read(state)


@router.get("/meetings/{slug}/submissions")
async def list_submissions(
    slug: str,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
    status: Annotated[Status | None, Query(description="Only this status")] = None,
    category: Annotated[
        str | None, Query(description="Only this category's key; `none` for uncategorised")
    ] = None,
) -> dict[str, Any]:
    def queue(session: Any) -> dict[str, Any]:
        meeting = meetings.get_meeting(session, slug=slug)
        return moderation_state(session, meeting=meeting, status=status, category=category)

    return await council_of(request).read(queue)


@router.post("/meetings/{slug}/submissions/{submission_id}/{action}")
async def act_on_submission(
    slug: str,
    submission_id: RowId,
    # A plain string, so an unknown action gets the sentence below; the examples tell clients
    # (and the schema fuzzer, tests/test_openapi_fuzz.py) which ones there are.
    action: Annotated[str, Path(description="What to do.", examples=list(actions.ACTIONS))],
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
    body: Annotated[ActionIn | None, Body()] = None,
) -> dict[str, Any]:
    if action not in actions.ACTIONS:
        raise NotFound(
            _("Unknown action {action!r}: use one of {names}.").format(
                action=action, names=", ".join(actions.ACTIONS)
            )
        )
    body = body or ActionIn()
    kwargs: dict[str, Any] = {
        "slug": slug,
        "submission_id": submission_id,
        "actor": actor.username,
        "expected_status": body.expected_status,
    }
    if action == "reject":
        kwargs["reason"] = body.reason
        kwargs["note"] = body.note
    elif action == "merge":
        kwargs["into"] = body.into
    elif body.reason is not None or body.into is not None or body.note is not None:
        raise InvalidInput(_("'reason' and 'note' go with reject and 'into' with merge only."))
    council = council_of(request)
    if action == "show":
        # With a screen delay, show is scheduled rather than done (council/moderation/screen.py).
        kwargs["default_delay"] = council.settings.show_delay_seconds
        sub = await council.act(screen.request_show, **kwargs)
        return {"submission": moderation_submission(sub), **screen.pending_of(sub)}
    sub = await council.act(getattr(actions, action), **kwargs)
    return {"submission": moderation_submission(sub)}


@router.patch("/meetings/{slug}/submissions/{submission_id}")
async def edit_submission(
    slug: str,
    submission_id: RowId,
    body: EditIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    council = council_of(request)
    sub = await council.act(
        actions.edit,
        slug=slug,
        submission_id=submission_id,
        actor=actor.username,
        text=body.text,
        expected_status=body.expected_status,
        max_length=council.settings.max_question_length,
    )
    return {"submission": moderation_submission(sub)}


@router.get("/meetings/{slug}/activity")
async def get_activity(
    slug: str,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
    after: Annotated[Seq | None, Query(description="Only what came after this seq")] = None,
    before: Annotated[Seq | None, Query(description="Only what came before this seq")] = None,
    limit: Annotated[int, Query(description="At most this many entries, 1-500")] = 100,
    actions_only: Annotated[
        bool, Query(description="Only changes made by a person (no new questions or votes)")
    ] = False,
) -> dict[str, Any]:
    """The meeting's activity log, newest first: `{"seq", "entries": [{"seq", "type", "at",
    "actor", "submission_id", "submissions", "summary"}], "more"}`."""
    return await council_of(request).read(
        activity.activity,
        slug=slug,
        after=after,
        before=before,
        limit=limit,
        actions_only=actions_only,
    )


@router.get(
    "/meetings/{slug}/export.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per question"}},
)
async def export_csv(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> Response:
    """Every question of the meeting with its source, category, status, flags, counts and
    timings (who and when), for moderators, during and after the meeting."""
    text = await council_of(request).read(export.questions_csv, slug=slug)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{slug}-questions.csv"',
            # Pending and rejected questions, and who moderated: never in a shared cache.
            "Cache-Control": "no-store",
        },
    )


@router.get("/track/{token}")
async def get_tracking(token: str, request: Request) -> dict[str, Any]:
    sub = await council_of(request).read(find_by_token, token=token)
    return {"submission": tracking_view(sub)}


@router.post("/meetings", status_code=201)
async def create_meeting(
    body: MeetingIn, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    meeting = await council_of(request).act(
        meetings.create_meeting,
        slug=body.slug,
        title=body.title,
        hashtags=body.hashtags,
        starts_at=body.starts_at,
        x_cost_cap=body.x_cost_cap,
        stream_url=body.stream_url,
        actor=actor.username,
    )
    return {"meeting": meeting_view(meeting)}


@router.post("/meetings/{slug}/start")
async def start_meeting(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    meeting = await council_of(request).act(meetings.start_meeting, slug=slug, actor=actor.username)
    return {"meeting": meeting_view(meeting)}


@router.post("/meetings/{slug}/end")
async def end_meeting(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    meeting = await council_of(request).act(meetings.end_meeting, slug=slug, actor=actor.username)
    return {"meeting": meeting_view(meeting)}


@router.post("/meetings/{slug}/replies/{reply_id}/send-again")
async def send_reply_again(
    slug: str,
    reply_id: RowId,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    """A failed or uncertain reply goes back to the outbox (check on X first if uncertain)."""
    reply = await council_of(request).act(replies.send_again, slug=slug, reply_id=reply_id)
    return {"reply": replies.reply_view(reply)}


@router.post("/meetings/{slug}/collectors/{source}/retry")
async def retry_collector(
    slug: str, source: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    """Start again a collector that gave up (for example after new credentials were set)."""
    council = council_of(request)
    meeting = await council.read(meetings.get_meeting, slug=slug)
    if source not in request.app.state.collectors.factories:
        raise NotFound(_("No collector reads {source!r} here.").format(source=source))
    request.app.state.collectors.retry(meeting.id, source)
    # Also in the database: with several workers, another one may be running the collectors.
    await report_status(council, meeting_id=meeting.id, source=source, status=RETRY)
    return {"retrying": source}


class RecordingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["rtmp", "srt", "pull"] = Field(
        description="rtmp or srt: Council listens and the encoder (OBS) pushes to it; "
        "pull: Council reads a stream the town already publishes."
    )
    url: str | None = Field(default=None, max_length=500, description="The stream, for pull.")


@router.post("/meetings/{slug}/recording/start", status_code=202)
async def start_recording(
    slug: str,
    body: RecordingIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    """Ask the server to record; it starts within a second (state: GET .../recording)."""
    rec = await council_of(request).act(
        recordings.start_recording, slug=slug, mode=body.mode, url=body.url, actor=actor.username
    )
    return {"recording": recordings.recording_view(rec)}


@router.post("/meetings/{slug}/recording/stop", status_code=202)
async def stop_recording(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    """Ask the server to stop; it then builds the MP4 and the poster (status: processing)."""
    rec = await council_of(request).act(recordings.stop_recording, slug=slug, actor=actor.username)
    return {"recording": recordings.recording_view(rec)}


@router.get("/meetings/{slug}/recording")
async def get_recording(
    slug: str, request: Request, actor: Annotated[Actor, Depends(require_moderator)]
) -> dict[str, Any]:
    rec = await council_of(request).read(recordings.latest_recording, slug=slug)
    return {"recording": recordings.recording_view(rec) if rec else None}


class AgendaItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(max_length=RAW_CAP, description="The item, as the agenda names it.")


class CurrentItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    item: RowId | Literal["next"] | None = Field(
        description='An item\'s id, "next", or null for none (a break, the end).'
    )


@router.get("/meetings/{slug}/agenda")
async def get_agenda(slug: str, request: Request) -> dict[str, Any]:
    def view(session: Any) -> dict[str, Any]:
        return agenda.agenda_view(session, meetings.get_meeting(session, slug=slug))

    return {"agenda": await council_of(request).read(view)}


@router.post("/meetings/{slug}/agenda", status_code=201)
async def add_agenda_item(
    slug: str,
    body: AgendaItemIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    view = await council_of(request).act(
        agenda.add_item, slug=slug, title=body.title, actor=actor.username
    )
    return {"agenda": view}


@router.post("/meetings/{slug}/agenda/current")
async def set_current_item(
    slug: str,
    body: CurrentItemIn,
    request: Request,
    actor: Annotated[Actor, Depends(require_moderator)],
) -> dict[str, Any]:
    council = council_of(request)
    if body.item == "next":
        view = await council.act(agenda.next_item, slug=slug, actor=actor.username)
    else:
        view = await council.act(
            agenda.set_current, slug=slug, item_id=body.item, actor=actor.username
        )
    return {"agenda": view}


class StreamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(max_length=500, description="https embed address, or null for none.")


@router.post("/meetings/{slug}/stream")
async def set_stream(
    slug: str, body: StreamIn, request: Request, actor: Annotated[Actor, Depends(require_admin)]
) -> dict[str, Any]:
    """The player the public page shows (besides Council's own live stream when recording)."""
    meeting = await council_of(request).act(
        meetings.set_stream_url, slug=slug, url=body.url, actor=actor.username
    )
    return {"meeting": meeting_view(meeting)}

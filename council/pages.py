"""Server-rendered pages. Each works without JavaScript; small modules in static/ make them live."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

import qrcode
import qrcode.image.svg
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.templating import _TemplateResponse

from council import meetings, votes
from council.api import create_submission
from council.auth import (
    Actor,
    check_csrf,
    council_of,
    csrf_matches,
    csrf_token,
    current_actor,
    log_in,
    log_out,
)
from council.errors import CouncilError, Forbidden, InvalidInput, NotFound, RateLimited
from council.i18n import _, language
from council.live.snapshot import moderation_state, public_state
from council.models import MeetingStatus, Recording, Role
from council.moderation import reasons
from council.moderation.accounts import add_user, authenticate
from council.moderation.admin import lists_view as triage_lists_view
from council.residents import add_resident, import_csv, list_residents, remove_resident
from council.tracking import find_by_token
from council.views import meeting_view, tracking_view
from council.vote_api import voter_of

router = APIRouter(include_in_schema=False)


def render(
    request: Request,
    name: str,
    status: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> _TemplateResponse:
    templates = request.app.state.templates
    context.setdefault("csrf_token", csrf_token(request))
    context.setdefault("actor", None)
    response: _TemplateResponse = templates.TemplateResponse(
        request, name, context, status_code=status, headers=headers
    )
    return response


def error_page(
    request: Request, *, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    return render(
        request, "error.html", status=status, headers=headers, status_code=status, message=message
    )


# -- public ------------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def index(request: Request) -> Response:
    found = await council_of(request).read(meetings.list_meetings)
    groups: dict[str, list[dict[str, Any]]] = {"live": [], "scheduled": [], "ended": []}
    for meeting in found:
        groups[meeting.status].append(meeting_view(meeting))
    groups["ended"].reverse()
    return render(request, "index.html", groups=groups, actor=await current_actor(request))


def live_playlist(session: Session, *, slug: str) -> str | None:
    """Council's own live stream, while the meeting is being recorded."""
    meeting = meetings.get_meeting(session, slug=slug)
    recording = session.scalar(
        select(Recording.id).where(
            Recording.meeting_id == meeting.id,
            Recording.status.in_(["waiting", "recording", "restarting"]),
        )
    )
    return f"/live/{slug}/index.m3u8" if recording is not None else None


def _public_state(session: Any, *, slug: str) -> dict[str, Any]:
    return public_state(session, meeting=meetings.get_meeting(session, slug=slug))


@router.get("/m/{slug}", response_class=HTMLResponse)
async def meeting_page(request: Request, slug: str) -> Response:
    council = council_of(request)
    state = await council.read(_public_state, slug=slug)
    return render(
        request,
        "meeting.html",
        state=state,
        form={},
        errors={},
        live_url=await council.read(live_playlist, slug=slug),
        my_votes=await council.read(votes.voted_ids, slug=slug, voter=voter_of(request)),
        reason_labels={c["key"]: c["label"] for c in reasons.choices()},
    )


@router.post("/m/{slug}", response_class=HTMLResponse)
async def meeting_form(
    request: Request,
    slug: str,
    name: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
    neighborhood: Annotated[str, Form()] = "",
    website: Annotated[str, Form()] = "",
) -> Response:
    """The form without JavaScript: the same checks as the API, then the tracking page."""
    try:
        sub = await create_submission(
            request, slug=slug, name=name, text=text, neighborhood=neighborhood, honeypot=website
        )
    except (InvalidInput, RateLimited) as exc:
        state = await council_of(request).read(_public_state, slug=slug)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        errors = exc.extra.get("errors") or {"form": exc.message}
        return render(
            request,
            "meeting.html",
            status=exc.status_code,
            headers=headers,
            state=state,
            form={"name": name, "text": text, "neighborhood": neighborhood},
            errors=errors,
        )
    return RedirectResponse(request.url_for("track_page", token=sub.track_token), status_code=303)


@router.get("/t/{token}", response_class=HTMLResponse, name="track_page")
async def track_page(request: Request, token: str) -> Response:
    sub = await council_of(request).read(find_by_token, token=token)
    return render(
        request,
        "track.html",
        submission=tracking_view(sub),
        token=token,
        reason_labels={c["key"]: c["label"] for c in reasons.choices()},
    )


def _screen_language(session: Session, *, slug: str, default: str) -> str:
    return meetings.get_meeting(session, slug=slug).language or default


@router.get("/screen/{slug}", response_class=HTMLResponse)
async def screen_page(request: Request, slug: str) -> Response:
    """The chamber's projector speaks the meeting's language, whatever its browser says."""
    council = council_of(request)
    spoken = await council.read(
        _screen_language, slug=slug, default=council.settings.default_language
    )
    with language(spoken):
        state = await council.read(_public_state, slug=slug)
        return render(request, "screen.html", state=state, public_url=_public_url(request, slug))


@router.get("/m/{slug}/qr.svg")
async def meeting_qr(request: Request, slug: str) -> Response:
    await council_of(request).read(meetings.get_meeting, slug=slug)
    image = qrcode.make(
        _public_url(request, slug), image_factory=qrcode.image.svg.SvgPathImage, border=2
    )
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(
        buffer.getvalue(),
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=300"},
    )


def _public_url(request: Request, slug: str) -> str:
    base = council_of(request).settings.public_url
    if base:
        return f"{base.rstrip('/')}/m/{slug}"
    return str(request.url_for("meeting_page", slug=slug))


# -- moderators --------------------------------------------------------------------------------


def _login_redirect(request: Request) -> Response:
    return RedirectResponse(f"/login?next={request.url.path}", status_code=303)


@router.get("/moderate/{slug}", response_class=HTMLResponse)
async def moderate_page(request: Request, slug: str) -> Response:
    actor = await current_actor(request)
    if actor is None:
        return _login_redirect(request)
    council = council_of(request)

    def state(session: Any) -> dict[str, Any]:
        return moderation_state(session, meeting=meetings.get_meeting(session, slug=slug))

    return render(
        request,
        "moderate.html",
        state=await council.read(state),
        actor=actor,
        reasons=reasons.choices(),
    )


def _safe_next(target: str | None) -> str:
    # Only our own paths: an open redirect after login would make phishing easy.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/admin"


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", next=_safe_next(next), error=None, username="")


@router.post("/login", response_class=HTMLResponse)
async def login_submit(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    council = council_of(request)
    target = _safe_next(next)
    if not csrf_matches(request, csrf_token):
        return render(
            request,
            "login.html",
            status=403,
            next=target,
            username=username,
            error=_("The login form expired. Please try again."),
        )
    client = request.client.host if request.client else "unknown"
    wait = council.login_limiter.hit(f"{client}:{username.lower()}")
    if wait:
        return render(
            request,
            "login.html",
            status=429,
            headers={"Retry-After": str(wait)},
            next=target,
            username=username,
            error=_("Too many attempts. Wait {n} seconds, then try again.").format(n=wait),
        )
    user = await council.read(authenticate, username=username, password=password)
    if user is None:
        return render(
            request,
            "login.html",
            status=401,
            next=target,
            username=username,
            error=_("That user name and password do not match."),
        )
    log_in(request, user)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form()] = "") -> Response:
    if csrf_matches(request, csrf_token):
        log_out(request)
    return RedirectResponse("/", status_code=303)


# -- admin -------------------------------------------------------------------------------------


async def _admin(request: Request, form_token: str | None = None) -> Actor | Response:
    actor = await current_actor(request)
    if actor is None:
        return _login_redirect(request)
    if not actor.is_admin:
        raise Forbidden(_("Only admins can open the admin page."))
    await check_csrf(request, actor, form_token)
    return actor


async def _admin_page(
    request: Request,
    actor: Actor,
    *,
    status: int = 200,
    error: str | None = None,
    notice: str | None = None,
    import_errors: list[str] | None = None,
) -> Response:
    council = council_of(request)
    found = await council.read(meetings.list_meetings)
    registered = await council.read(list_residents)
    return render(
        request,
        "admin.html",
        triage=await council.read(triage_lists_view),
        status=status,
        actor=actor,
        error=error,
        notice=notice,
        import_errors=import_errors or [],
        meetings=[meeting_view(m) for m in found],
        residents=registered,
        roles=[r.value for r in Role],
    )


@router.get("/admin", response_class=HTMLResponse)
async def admin_page(request: Request) -> Response:
    actor = await current_actor(request)
    if actor is None:
        return _login_redirect(request)
    if not actor.is_admin:
        # Moderators land here after login: send them to the meeting that is on.
        found = await council_of(request).read(meetings.list_meetings)
        live = [m for m in found if m.status == MeetingStatus.LIVE]
        if live:
            return RedirectResponse(f"/moderate/{live[0].slug}", status_code=303)
        raise Forbidden(_("Only admins can open the admin page; no meeting is live to moderate."))
    return await _admin_page(request, actor)


async def _admin_action(
    request: Request,
    csrf: str,
    notice: str,
    run: Callable[[Actor], Awaitable[object]],
) -> Response:
    actor = await _admin(request, csrf)
    if isinstance(actor, Response):
        return actor
    try:
        await run(actor)
    except CouncilError as exc:
        return await _admin_page(request, actor, status=exc.status_code, error=exc.message)
    return await _admin_page(request, actor, notice=notice)


def _local_time(text: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidInput(
            _("Give the start time as a date and time, like 2026-11-24 19:00.")
        ) from exc
    # The clerk's browser sends its local time without a zone: that is the zone meant.
    return when if when.tzinfo is not None else when.astimezone()


def _dollars(text: str) -> float | None:
    if not text.strip():
        return None
    try:
        return float(text.strip().replace(",", ".").lstrip("$"))
    except ValueError as exc:
        raise InvalidInput(_("The X cost cap is an amount in dollars, like 5 or 12.50.")) from exc


@router.post("/admin/meetings", response_class=HTMLResponse)
async def admin_create_meeting(
    request: Request,
    slug: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    hashtags: Annotated[str, Form()] = "",
    starts_at: Annotated[str, Form()] = "",
    x_cost_cap: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    async def create(actor: Actor) -> object:
        return await council_of(request).act(
            meetings.create_meeting,
            slug=slug,
            title=title,
            hashtags=[t for t in hashtags.replace(",", " ").split() if t],
            starts_at=_local_time(starts_at),
            x_cost_cap=_dollars(x_cost_cap),
            language=language or None,
            actor=actor.username,
        )

    return await _admin_action(request, csrf_token, _("Meeting created."), create)


# Before /admin/meetings/{slug}/{change}, which would take "language" as a change.
@router.post("/admin/meetings/{slug}/language", response_class=HTMLResponse)
async def admin_meeting_language(
    request: Request,
    slug: str,
    language: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    async def apply(actor: Actor) -> object:
        return await council_of(request).act(
            meetings.set_language, slug=slug, language=language or None, actor=actor.username
        )

    return await _admin_action(request, csrf_token, _("Screen language saved."), apply)


@router.post("/admin/meetings/{slug}/{change}", response_class=HTMLResponse)
async def admin_change_meeting(
    request: Request, slug: str, change: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    changes = {"start": meetings.start_meeting, "end": meetings.end_meeting}
    if change not in changes:
        raise NotFound(_("Unknown change: use start or end."))

    async def apply(actor: Actor) -> object:
        return await council_of(request).act(changes[change], slug=slug, actor=actor.username)

    notice = _("Meeting started.") if change == "start" else _("Meeting ended.")
    return await _admin_action(request, csrf_token, notice, apply)


@router.post("/admin/users", response_class=HTMLResponse)
async def admin_add_user(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "moderator",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    async def add(actor: Actor) -> object:
        return await council_of(request).act(
            add_user, username=username, password=password, role=role
        )

    notice = _("User {name} added.").format(name=username)
    return await _admin_action(request, csrf_token, notice, add)


@router.post("/admin/residents", response_class=HTMLResponse)
async def admin_add_resident(
    request: Request,
    handle: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "x",
    note: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    async def add(actor: Actor) -> object:
        return await council_of(request).act(
            add_resident, handle=handle, source=source, note=note, actor=actor.username
        )

    notice = _("{handle} is now a verified resident.").format(handle=handle.strip())
    return await _admin_action(request, csrf_token, notice, add)


@router.post("/admin/residents/remove", response_class=HTMLResponse)
async def admin_remove_resident(
    request: Request,
    handle: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "x",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    async def remove(actor: Actor) -> object:
        return await council_of(request).act(
            remove_resident, handle=handle, source=source, actor=actor.username
        )

    notice = _("{handle} is no longer a verified resident.").format(handle=handle.strip())
    return await _admin_action(request, csrf_token, notice, remove)


MAX_IMPORT_BYTES = 1_000_000


@router.post("/admin/residents/import", response_class=HTMLResponse)
async def admin_import_residents(
    request: Request,
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    actor = await _admin(request, csrf_token)
    if isinstance(actor, Response):
        return actor
    raw = await file.read(MAX_IMPORT_BYTES + 1)
    if len(raw) > MAX_IMPORT_BYTES:
        return await _admin_page(
            request, actor, status=422, error=_("The file is too big: at most 1 MB.")
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return await _admin_page(
            request,
            actor,
            status=422,
            error=_("The file is not UTF-8 text: save it as “CSV UTF-8” and try again."),
        )
    result = await council_of(request).act(import_csv, text=text, actor=actor.username)
    notice = _("Added {added}; {already} were already registered.").format(
        added=result.added, already=result.already
    )
    return await _admin_page(
        request,
        actor,
        status=422 if result.errors else 200,
        notice=notice,
        import_errors=result.errors,
    )

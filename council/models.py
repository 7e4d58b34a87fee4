"""The tables. Status names and event types are the public contract in DESIGN.md."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Council stores UTC only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[str]: JSON,
    }


class MeetingStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class Status(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    ON_SCREEN = "on_screen"
    ANSWERED = "answered"
    MERGED = "merged"


PUBLIC_STATUSES = frozenset({Status.APPROVED, Status.ON_SCREEN, Status.ANSWERED})


class Role(enum.StrEnum):
    ADMIN = "admin"
    MODERATOR = "moderator"


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    hashtags: Mapped[list[str]] = mapped_column(default=list)
    starts_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default=MeetingStatus.SCHEDULED)
    accepts_questions: Mapped[bool] = mapped_column(Boolean, default=True)
    # The newest event's seq; bumped by an atomic UPDATE so concurrent writers never share one.
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # Pay-per-use X reads: polling pauses once the estimated cost reaches this (US dollars).
    x_cost_cap: Mapped[float | None]
    # The agenda item under discussion now; no foreign key, so items can be deleted freely.
    current_agenda_item_id: Mapped[int | None]
    # A player the town already streams to (an https embed address), shown on the public page.
    stream_url: Mapped[str | None] = mapped_column(String(500))
    # Mastodon servers to read this meeting's hashtags from; None: COUNCIL_MASTODON_INSTANCES.
    mastodon_instances: Mapped[list[str] | None] = mapped_column(JSON)
    # Screen safety (council/moderation/screen.py). Seconds between "show" and the screen;
    # None: the server's COUNCIL_SHOW_DELAY_SECONDS.
    show_delay_seconds: Mapped[int | None]
    blackout: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The one show waiting out the delay: kept here, not in memory, so a restart neither
    # loses it nor fires it twice. No foreign key, like current_agenda_item_id.
    pending_show_id: Mapped[int | None]
    pending_show_due_at: Mapped[datetime | None]
    pending_show_by: Mapped[str | None] = mapped_column(String(80))
    # The chamber screen's language ("es", "en"), whatever the projector's browser says;
    # None: COUNCIL_DEFAULT_LANGUAGE (migration 0010).
    language: Mapped[str | None] = mapped_column(String(8))

    @property
    def is_accepting(self) -> bool:
        return self.accepts_questions and self.status != MeetingStatus.ENDED


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_submissions_source_external_id"),
        Index("ix_submissions_meeting_status", "meeting_id", "status"),
        Index("ix_submissions_triaged", "triaged", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    source: Mapped[str] = mapped_column(String(16), default="web")
    # X: the tweet id; Mastodon: the post's ActivityPub URI (the same on every server, unlike
    # its ids); Bluesky: the at:// URI.
    external_id: Mapped[str | None] = mapped_column(String(500))
    external_url: Mapped[str | None] = mapped_column(String(500))
    author_name: Mapped[str] = mapped_column(String(200))
    author_handle: Mapped[str | None] = mapped_column(String(200))
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    neighborhood: Mapped[str | None] = mapped_column(String(120))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    original_text: Mapped[str] = mapped_column(Text)
    display_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING)
    asked_count: Mapped[int] = mapped_column(Integer, default=1)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    # The moderator's note for the asker; the reason itself is ``rejection_key``.
    rejection_reason: Mapped[str | None] = mapped_column(String(300))
    # One of council/moderation/reasons.py's keys: the public page counts rejections by it.
    rejection_key: Mapped[str | None] = mapped_column(String(32))
    # Triage (council/moderation/): the category's key, and whether it is still the
    # automatic suggestion or a moderator's choice.
    category: Mapped[str | None] = mapped_column(String(32))
    category_suggested: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Computed at intake and shown to moderators, never acted on alone (moderation/flags.py).
    flags: Mapped[list[str]] = mapped_column(default=list, server_default="[]")
    # False from a web form's 201 until triage has run (council/moderation/triage.py): the
    # person is answered as soon as the question is stored, and triage follows.
    triaged: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Likely duplicates among the questions open when this one arrived: [{"id", "similarity"}].
    duplicates: Mapped[list[Any]] = mapped_column(JSON, default=list, server_default="[]")
    votes: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Priority points without the age term (council/moderation/priority.py), and the queue
    # order of an approved question: ascending is shown first.
    score: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    position: Mapped[float | None] = mapped_column(Float)
    # A moderator placed it by hand: it keeps its place in line instead of following its score.
    position_manual: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    track_token: Mapped[str] = mapped_column(String(64), unique=True)
    posted_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Who did each transition last, and when: the event log keeps the full history.
    approved_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(80))
    rejected_at: Mapped[datetime | None]
    rejected_by: Mapped[str | None] = mapped_column(String(80))
    restored_at: Mapped[datetime | None]
    restored_by: Mapped[str | None] = mapped_column(String(80))
    shown_at: Mapped[datetime | None]
    shown_by: Mapped[str | None] = mapped_column(String(80))
    hidden_at: Mapped[datetime | None]
    hidden_by: Mapped[str | None] = mapped_column(String(80))
    answered_at: Mapped[datetime | None]
    answered_by: Mapped[str | None] = mapped_column(String(80))
    merged_at: Mapped[datetime | None]
    merged_by: Mapped[str | None] = mapped_column(String(80))
    edited_at: Mapped[datetime | None]
    edited_by: Mapped[str | None] = mapped_column(String(80))

    meeting: Mapped[Meeting] = relationship(lazy="joined")
    # Loaded only where needed (an asker's tracking view of a merged question).
    merged_into: Mapped[Submission | None] = relationship(
        remote_side=[id], foreign_keys=[merged_into_id]
    )


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default=Role.MODERATOR)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # SHA-256 of the token: tokens are 256 random bits, so a slow hash buys nothing.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("meeting_id", "seq", name="uq_events_meeting_id_seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(32))
    # What moderators see, and what the public may see (None: nothing leaves publicly).
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    public_payload: Mapped[dict[str, Any] | None]
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    actor: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CollectorState(Base):
    """Where a source's collector for one meeting has got to, and how it is doing."""

    __tablename__ = "collector_states"
    __table_args__ = (
        UniqueConstraint("meeting_id", "source", name="uq_collector_states_meeting_id_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    source: Mapped[str] = mapped_column(String(16))
    # The resume point: the newest post id fully collected (X's since_id).
    newest_id: Mapped[str | None] = mapped_column(String(128))
    # Resume points of sources that read several timelines (Mastodon: one per server and
    # hashtag, the min_id to page forward from).
    cursors: Mapped[dict[str, Any] | None]
    status: Mapped[str] = mapped_column(String(16), default="stopped")
    collected: Mapped[int] = mapped_column(Integer, default=0)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    posts_read: Mapped[int] = mapped_column(Integer, default=0)
    users_read: Mapped[int] = mapped_column(Integer, default=0)
    # Dollars, an upper bound (X deduplicates reads of a post within a UTC day).
    estimated_cost: Mapped[float] = mapped_column(default=0.0)
    cost_cap: Mapped[float | None]
    last_poll_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]


class Resident(Base):
    """A handle verified in person at town hall: its posts carry the verified badge."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("source", "handle", name="uq_residents_source_handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    # Lowercase, without a leading @: X handles are case-insensitive.
    handle: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(200))
    added_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Reply(Base):
    """The outbox of replies that close the loop: one row per question, at most one reply sent."""

    __tablename__ = "replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    in_reply_to: Mapped[str] = mapped_column(String(500))
    text: Mapped[str] = mapped_column(Text)
    # pending -> sending -> sent; failed (X said no: safe to retry); uncertain (no answer:
    # X may have posted it, so only a moderator may send again).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    external_id: Mapped[str | None] = mapped_column(String(128))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Recording(Base):
    """One recording of a meeting's stream: what was asked for, and what the recorder did.

    The API and the CLI set ``desired``; the server's recorder manager makes it so. That
    way ``council record start`` works from any shell while the server does the recording.
    """

    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    desired: Mapped[str] = mapped_column(String(16), default="recording")
    # waiting (for a publisher), recording, restarting, stopping, processing, ready, failed
    status: Mapped[str] = mapped_column(String(16), default="starting")
    mode: Mapped[str] = mapped_column(String(8))
    pull_url: Mapped[str | None] = mapped_column(String(500))
    ingest_url: Mapped[str | None] = mapped_column(String(500))
    folder: Mapped[str] = mapped_column(String(500))
    parts: Mapped[list[Any]] = mapped_column(JSON, default=list)
    requested_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]
    duration_s: Mapped[float | None]
    # While the MP4 is being built: the fraction done, for progress bars.
    progress: Mapped[float | None]
    mp4: Mapped[str | None] = mapped_column(String(500))
    poster: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)


class AgendaItem(Base):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Vote(Base):
    """One "me too" from one browser on one approved question (council/votes.py)."""

    __tablename__ = "votes"
    __table_args__ = (
        UniqueConstraint("submission_id", "voter", name="uq_votes_submission_id_voter"),
        Index("ix_votes_meeting_id_voter", "meeting_id", "voter"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    # The random id in the browser's signed cookie: no person, no address, nothing else.
    voter: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Mute(Base):
    """An author a moderator muted for one meeting: their questions arrive flagged, not dropped."""

    __tablename__ = "mutes"
    __table_args__ = (
        UniqueConstraint(
            "meeting_id", "source", "handle", name="uq_mutes_meeting_id_source_handle"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    source: Mapped[str] = mapped_column(String(16))
    # Folded (council/moderation/mutes.py): the handle for social sources, the name for the web.
    handle: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TriageList(Base):
    """An admin's edit of a shipped list (categories and keywords, profanity words).

    No row means the lists shipped in council/moderation/data/ apply.
    """

    __tablename__ = "triage_lists"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_by: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LeaseRow(Base):
    """Who in the cluster runs a kind of work (council/leases.py), and until when."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]
    renewed_at: Mapped[datetime]

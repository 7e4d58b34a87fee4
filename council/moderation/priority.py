"""The approved queue's order: a score by default, a moderator's hand where they moved one.

The score is points for what the question has (a verified resident asked it, others
asked the same, "me too" votes) plus points for every minute it has waited. Every
question waits at the same pace, so the age term never changes the order between two
questions once both are in: the stored ``score`` is the time-free part, the order
adds ``age_per_minute`` times the minutes of arrival (earlier first), and the
moderator page adds the minutes waited to show the live total. Nothing needs
recomputing as time passes.

``position`` is the order key (ascending is shown first). A question a moderator moved
keeps its place in line, counted from the front (third stays third, and moves up as the
ones ahead go on screen); the others fill the remaining places by score. Positions are
floats, and a rescore changes only the few that must change (those off the longest
run already in order), so an event carries one or two questions, not the whole queue.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from council.errors import InvalidInput, InvalidTransition
from council.events import submission_event
from council.i18n import _
from council.models import Status, Submission
from council.moderation.context import Weights, triage_of
from council.views import moderation_submission

STEP = 1024.0
# Below this gap two neighbours' midpoint loses precision: renumber the queue instead.
MIN_GAP = 1e-6


class Scored(Protocol):
    """What the score is made of: a Submission, or a light row of the same columns."""

    verified: bool
    asked_count: int
    votes: int


class Placed(Protocol):
    id: int
    position: float | None
    position_manual: bool


@dataclass(slots=True)
class Row:
    """An approved question as the order needs it. Reading 5,000 of these, with the arrival
    time as a number computed by the database, costs a tenth of loading as many
    Submissions (parsing their dates above all); only the few that change are loaded."""

    id: int
    position: float | None
    position_manual: bool
    score: float
    verified: bool
    asked_count: int
    votes: int
    # Minutes since 1970 (UTC) of received_at.
    received_minutes: float


def points(sub: Scored, weights: Weights) -> float:
    """The time-free part of the score."""
    return round(
        weights.verified * (1 if sub.verified else 0)
        + weights.asked * max(0, (sub.asked_count or 1) - 1)
        + weights.votes * max(0, sub.votes or 0),
        6,
    )


def _minutes(moment: datetime | None) -> float:
    return moment.timestamp() / 60.0 if moment else 0.0


def order_key(row: Row, weights: Weights) -> float:
    """Higher goes first: the score at any common moment, less that moment's constant."""
    return points(row, weights) - weights.age_per_minute * row.received_minutes


def refresh_score(session: Session, sub: Submission) -> bool:
    """Recompute one question's score; True if it changed."""
    new = points(sub, triage_of(session).weights)
    if sub.score == new:
        return False
    sub.score = new
    return True


def enter_queue(session: Session, sub: Submission) -> list[Submission]:
    """A newly approved question takes its place by score, whatever happened to it before.

    Only it is placed: the others' scores do not change when one more joins the line (see
    :func:`rescore` for when they do). Returns the questions whose place changed, this
    one first; usually only it, since the others keep their positions around it.
    Approving is the action a chamber waits on (bench/fanout.py), so the queue is read
    before the new status is flushed, and the question is written once, in place.
    """
    weights = triage_of(session).weights
    sub.position_manual = False
    sub.score = points(sub, weights)
    with session.no_autoflush:  # in the database it is not approved yet: not in the rows
        others = [row for row in _rows(session, sub.meeting_id, flush=False) if row.id != sub.id]
    arriving = Row(
        sub.id,
        None,
        False,
        sub.score,
        sub.verified,
        sub.asked_count,
        sub.votes,
        _minutes(sub.received_at),
    )
    order = desired_order([*others, arriving], weights)
    places = new_positions(order)
    sub.position = places.pop(sub.id)
    return [sub, *_apply(session, order, {}, places)]


def _current_order(sub: Placed) -> tuple[bool, float, int]:
    # Not yet placed (just approved): after the others, in the order they came.
    return (sub.position is None, sub.position if sub.position is not None else 0.0, sub.id)


def _epoch_minutes(dialect: str, column: Any) -> Any:
    if dialect == "sqlite":
        # SQLite keeps UTC text; julianday reads it as UTC. 2440587.5 is 1970-01-01.
        return (func.julianday(column) - 2440587.5) * 1440.0
    return func.extract("epoch", column) / 60.0


def _rows(session: Session, meeting_id: int, *, flush: bool = True) -> list[Row]:
    """The approved queue in its current order, as light rows (pending changes included,
    unless ``flush`` is False)."""
    if flush:
        session.flush()
    found = session.connection().execute(
        _queue_rows(session.get_bind().dialect.name), {"meeting_id": meeting_id}
    )
    rows = [
        Row(
            int(i),
            position,
            bool(manual),
            float(score or 0.0),
            bool(verified),
            int(asked or 1),
            int(votes or 0),
            float(minutes or 0.0),
        )
        for i, position, manual, score, verified, asked, votes, minutes in found
    ]
    return sorted(rows, key=_current_order)


@cache
def _queue_rows(dialect: str) -> Select[tuple[Any, ...]]:
    # Read on every approve, which the chamber waits on (bench/fanout.py): one statement
    # built once, run on the session's connection rather than through the ORM's execute.
    return select(
        Submission.id,
        Submission.position,
        Submission.position_manual,
        Submission.score,
        Submission.verified,
        Submission.asked_count,
        Submission.votes,
        _epoch_minutes(dialect, Submission.received_at),
    ).where(Submission.meeting_id == bindparam("meeting_id"), Submission.status == Status.APPROVED)


def queue_ids(session: Session, *, meeting_id: int) -> list[int]:
    """The approved questions' ids in queue order (cheap: no Submission is loaded)."""
    return [row.id for row in _rows(session, meeting_id)]


def queue(session: Session, *, meeting_id: int) -> list[Submission]:
    """The approved questions in the order the screen takes them."""
    subs = session.scalars(
        select(Submission).where(
            Submission.meeting_id == meeting_id, Submission.status == Status.APPROVED
        )
    ).all()
    return sorted(subs, key=_current_order)


def desired_order(current: Sequence[Row], weights: Weights) -> list[Row]:
    """Moved-by-hand questions keep their index; the others fill the gaps by score."""
    auto = iter(
        sorted(
            (s for s in current if not s.position_manual),
            key=lambda s: (-order_key(s, weights), s.received_minutes, s.id),
        )
    )
    return [s if s.position_manual else next(auto) for s in current]


def _longest_increasing(values: Sequence[float | None]) -> set[int]:
    """Indices of a longest strictly increasing run (patience sorting), skipping None."""
    tails: list[float] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(values)
    for i, value in enumerate(values):
        if value is None:
            continue
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
            tail_index.append(i)
        else:
            tails[at] = value
            tail_index[at] = i
        previous[i] = tail_index[at - 1] if at > 0 else -1
    kept: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        kept.add(i)
        i = previous[i]
    return kept


def new_positions(order: Sequence[Placed]) -> dict[int, float]:
    """Ascending positions for ``order``, changing as few as possible: {id: new position}
    for those that change."""
    kept = _longest_increasing([s.position for s in order])
    new: list[float | None] = [s.position if i in kept else None for i, s in enumerate(order)]
    i = 0
    while i < len(order):
        if new[i] is not None:
            i += 1
            continue
        j = i
        while j < len(order) and new[j] is None:
            j += 1
        left = new[i - 1] if i > 0 else None
        right = new[j] if j < len(order) else None
        count = j - i
        if left is None and right is None:
            values = [STEP * (k + 1) for k in range(count)]
        elif left is None:
            assert right is not None
            values = [right - STEP * (count - k) for k in range(count)]
        elif right is None:
            values = [left + STEP * (k + 1) for k in range(count)]
        else:
            gap = (right - left) / (count + 1)
            if gap < MIN_GAP:
                # No room left between two neighbours: number the whole queue afresh.
                new = [STEP * (k + 1) for k in range(len(order))]
                break
            values = [left + gap * (k + 1) for k in range(count)]
        new[i:j] = values
        i = j
    return {
        s.id: value
        for s, value in zip(order, new, strict=True)
        if value is not None and s.position != value
    }


def _apply(
    session: Session, order: Sequence[Row], scores: dict[int, float], places: dict[int, float]
) -> list[Submission]:
    """Write the changes on the Submissions concerned (loaded only now), in queue order."""
    ids = set(scores) | set(places)
    if not ids:
        return []
    # Those the session holds already (the one just acted on) need no query.
    loaded: dict[int, Submission] = {}
    for sid in ids:
        held = session.identity_map.get(identity_key(Submission, sid))
        if isinstance(held, Submission):
            loaded[sid] = held
    missing = ids - set(loaded)
    if missing:
        loaded.update(
            (s.id, s) for s in session.scalars(select(Submission).where(Submission.id.in_(missing)))
        )
    changed = []
    for row in order:
        sub = loaded.get(row.id)
        if sub is None:
            continue
        if row.id in scores:
            sub.score = scores[row.id]
        if row.id in places:
            sub.position = places[row.id]
        changed.append(sub)
    return changed


def rescore(session: Session, *, meeting_id: int) -> list[Submission]:
    """Recompute the scores and order of a meeting's approved questions.

    Returns every question whose score or position changed, in queue order, for the
    caller to put in the one event it records.
    """
    weights = triage_of(session).weights
    current = _rows(session, meeting_id)
    scores = {}
    for row in current:
        new = points(row, weights)
        if row.score != new:
            row.score = scores[row.id] = new
    order = desired_order(current, weights)
    return _apply(session, order, scores, new_positions(order))


def move(
    session: Session,
    *,
    slug: str,
    submission_id: int,
    actor: str,
    before: int | None = None,
    after: int | None = None,
    automatic: bool = False,
    expected_status: str | None = None,
) -> Submission:
    """Put an approved question before or after another (or last), or back under its score."""
    from council.moderation.actions import check_status, load_submission

    if before is not None and after is not None:
        raise InvalidInput(_("Give either 'before' or 'after', not both."))
    if automatic and (before is not None or after is not None):
        raise InvalidInput(_("'auto' puts the question back in score order: give no place."))
    if submission_id in (before, after):
        raise InvalidInput(_("A question cannot be moved next to itself."))
    sub = load_submission(session, slug=slug, submission_id=submission_id)
    was_public = check_status(
        sub, action="move", allowed_from=[Status.APPROVED], expected_status=expected_status
    )
    anchor: Submission | None = None
    if before is not None or after is not None:
        anchor = load_submission(session, slug=slug, submission_id=before or after or 0)
        if anchor.status != Status.APPROVED:
            raise InvalidTransition(
                _(
                    "Question {id} is not in the approved queue, so nothing can be placed "
                    "next to it."
                ).format(id=anchor.id),
                current=moderation_submission(anchor),
            )
    if automatic:
        sub.position_manual = False
        changed = rescore(session, meeting_id=sub.meeting_id)
    else:
        sub.position_manual = True
        others = [r for r in _rows(session, sub.meeting_id) if r.id != sub.id]
        if anchor is None:
            index = len(others)
        else:
            index = next(i for i, r in enumerate(others) if r.id == anchor.id)
            index += 1 if after is not None else 0
        moving = Row(
            sub.id,
            None,
            True,
            sub.score,
            sub.verified,
            sub.asked_count,
            sub.votes,
            _minutes(sub.received_at),
        )
        order = [*others[:index], moving, *others[index:]]
        places = new_positions(order)
        sub.position = places.pop(sub.id)
        changed = _apply(session, order, {}, places)
    subs = [sub, *(s for s in changed if s is not sub)]
    submission_event(session, type="reordered", actor=actor, changed=subs, was_public=was_public)
    return sub

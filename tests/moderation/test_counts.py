"""Counts at a glance: by status, source, category, and questions per minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from council.db import Database
from council.intake import Post, collect
from council.models import Submission
from council.moderation import counts
from tests.factories import make_question

pytestmark = pytest.mark.both_databases


def test_counts_by_status_source_and_category(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, text="La farola no va")
    make_question(db, text="No hay agua", status="approved")
    make_question(db, text="¿Presupuesto?", status="answered")
    make_question(db, text="Fiestas", status="on_screen")
    make_question(db, text="Spam", status="rejected")
    kept = make_question(db, text="Farola rota")
    gone = make_question(db, text="Farola rota otra vez")
    moderator.post(f"/api/meetings/pleno/submissions/{gone.id}/merge", json={"into": kept.id})
    posts = [Post(external_id="1", text="Baches en la carretera", author_name="V", handle="v")]
    db.run_write(collect, meeting_id=1, source="x", posts=posts)

    got = moderator.get("/api/meetings/pleno/submissions").json()["counts"]
    assert got["received"] == 8
    assert got["by_status"] == {
        "pending": 3,
        "approved": 1,
        "rejected": 1,
        "on_screen": 1,
        "answered": 1,
        "merged": 1,
    }
    assert got["by_source"] == {"web": 7, "x": 1}
    assert got["by_category"] == {
        "lighting": 3,
        "water": 1,
        "events": 1,
        "other": 2,
        "streets": 1,
    }
    assert sum(got["per_minute"]["counts"]) == 8
    assert moderator.get("/api/meetings/pleno/counts").json()["counts"]["received"] == 8


def test_questions_per_minute_over_the_meeting() -> None:
    start = datetime(2026, 11, 24, 19, 0, 30, tzinfo=UTC)
    received = [start + timedelta(seconds=s) for s in (0, 10, 70, 75, 80, 300)]
    series = counts.per_minute(received, since=start, until=start + timedelta(minutes=6))
    assert series["bucket_seconds"] == 60
    assert series["start"] == "2026-11-24T19:00:00Z"
    assert series["counts"] == [2, 3, 0, 0, 0, 1, 0]  # 19:00, 19:01, ... 19:06
    assert counts.rate({"per_minute": series}, minutes=2) == 0.5
    assert counts.rate({"per_minute": series}, minutes=7) == pytest.approx(6 / 7)


def test_a_long_span_uses_wider_bars() -> None:
    start = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    series = counts.per_minute(
        [start, start + timedelta(hours=10)], since=None, until=start + timedelta(hours=10)
    )
    assert series["bucket_seconds"] == 120
    assert len(series["counts"]) <= counts.MAX_BUCKETS
    assert sum(series["counts"]) == 2


def test_no_questions_no_bars(moderator: TestClient, meeting: str) -> None:
    got = moderator.get("/api/meetings/pleno/submissions").json()["counts"]
    assert got["received"] == 0
    assert got["per_minute"]["counts"] == []


def test_the_counts_can_be_rebuilt_from_the_questions_the_page_holds(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    # The page keeps counts live from the full views events carry: the snapshot's
    # questions hold everything the counts are made of.
    for text, status in (("farola", "approved"), ("agua", "rejected"), ("x", "pending")):
        make_question(db, text=text, status=status)
    state = moderator.get("/api/meetings/pleno/submissions").json()
    subs = state["submissions"]
    assert state["counts"]["received"] == len(subs)
    for status, n in state["counts"]["by_status"].items():
        assert n == sum(1 for s in subs if s["status"] == status)
    for category, n in state["counts"]["by_category"].items():
        assert n == sum(1 for s in subs if (s["category"] or "none") == category)
    assert all(s["received_at"] for s in subs)
    assert {"category", "source", "status", "received_at"} <= set(Submission.__table__.c.keys())

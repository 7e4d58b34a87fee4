"""Web questions are stored in batches, answered as soon as they are durable, triaged after."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from council.arrivals import Arrivals
from council.db import Database, upgrade
from council.errors import NotAccepting
from council.intake import Arrival, Limits, Received, check_question, receive
from council.meetings import set_accepting
from council.models import Event, Meeting, Submission
from council.moderation.triage import triage_arrivals
from council.settings import Settings
from tests.factories import (
    LiveServer,
    free_port,
    make_meeting,
    questions,
    receive_until,
    running,
    wait_until,
)

pytestmark = pytest.mark.both_databases

URL = "/api/meetings/pleno/submissions"
STREETLIGHT = "¿Cuándo van a arreglar la farola de la calle Mayor, que lleva un mes apagada?"
SAME_AGAIN = "¿Cuando arreglan la farola de la calle Mayor? Lleva un mes apagada"


def arrival(text: str, slug: str = "pleno", name: str = "Ana") -> Arrival:
    question = check_question(name=name, text=text, neighborhood=None, limits=Limits())
    return Arrival(slug=slug, question=question)


def triaged(db: Database) -> list[Submission]:
    found = questions(db)
    return found if found and all(sub.triaged for sub in found) else []


def test_a_duplicate_from_the_web_is_pointed_out_to_moderators_right_after_its_201(
    moderator: TestClient, db: Database, meeting: str
) -> None:
    with moderator.websocket_connect("/ws/meetings/pleno/moderation") as ws:
        receive_until(ws, lambda m: m["type"] == "snapshot")
        first = moderator.post(URL, json={"name": "Ana", "text": STREETLIGHT})
        second = moderator.post(URL, json={"name": "Luis", "text": SAME_AGAIN})
        assert (first.status_code, second.status_code) == (201, 201)
        seen = receive_until(
            ws,
            lambda m: (
                m["type"] == "triaged"
                and any(s["id"] == second.json()["id"] for s in m["submissions"])
            ),
        )
    received = [m for m in seen if m["type"] == "received"]
    assert [m["submissions"][0]["id"] for m in received] == [
        first.json()["id"],
        second.json()["id"],
    ]
    assert received[0]["submissions"][0]["triaged"] is False
    latest = {s["id"]: s for m in seen if m["type"] == "triaged" for s in m["submissions"]}
    assert latest[second.json()["id"]]["triaged"] is True
    assert latest[second.json()["id"]]["duplicates"][0]["id"] == first.json()["id"]
    assert [sub.duplicates[0]["id"] for sub in triaged(db)[1:]] == [first.json()["id"]]


def test_questions_stored_but_not_triaged_before_a_crash_are_triaged_on_start(
    settings: Settings,
) -> None:
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    try:
        make_meeting(db)
        # What a crash between the 201 and triage leaves: stored, acknowledged, untriaged.
        db.run_write(receive, arrivals=[arrival(STREETLIGHT), arrival(SAME_AGAIN)])
        assert [sub.triaged for sub in questions(db)] == [False, False]
    finally:
        db.close()
    with running(settings) as (app, _client):
        done = wait_until(lambda: triaged(app.state.council.db))
    assert done[1].duplicates[0]["id"] == done[0].id


def test_questions_that_come_while_the_writer_is_busy_go_together_into_its_next_write(
    settings: Settings,
) -> None:
    upgrade(settings.resolved_database_url)
    db = Database(settings.resolved_database_url)
    commits: list[int] = []
    event.listen(db.write_engine or db.engine, "commit", lambda _conn: commits.append(1))
    writer_busy, go_on = threading.Event(), threading.Event()

    def something_slow(_session: Session) -> None:
        writer_busy.set()
        go_on.wait(10)

    async def act(fn: Any, **kwargs: Any) -> Any:
        result, _events = await db.write(fn, **kwargs)
        return result

    async def scenario() -> list[Received]:
        arrivals = Arrivals(act)
        slow = asyncio.create_task(act(something_slow))
        await asyncio.to_thread(writer_busy.wait, 10)
        asking = [asyncio.create_task(arrivals.submit(arrival("Pregunta 0")))]
        await asyncio.sleep(0.05)  # its write is queued behind the slow one
        asking += [asyncio.create_task(arrivals.submit(arrival(f"Pregunta {n}"))) for n in (1, 2)]
        await asyncio.sleep(0.05)
        go_on.set()
        await slow
        answers = await asyncio.gather(*asking)
        await arrivals.stop()
        return answers

    try:
        make_meeting(db)
        commits.clear()
        answers = asyncio.run(scenario())
        assert [q.id for q in questions(db)] == [a.id for a in answers]
        # One commit for all three: the write queued for the first takes who came since.
        assert len(commits) == 1
    finally:
        db.close()


def test_one_batch_refuses_only_the_questions_for_a_meeting_that_takes_none(
    db: Database, meeting: str
) -> None:
    make_meeting(db, "closed")
    db.run_write(set_accepting, slug="closed", accepting=False)
    outcomes, events = db.run_write(
        receive,
        arrivals=[arrival("primera"), arrival("no", slug="closed"), arrival("segunda")],
    )
    assert isinstance(outcomes[0], Received) and isinstance(outcomes[2], Received)
    assert isinstance(outcomes[1], NotAccepting)
    assert [sub.original_text for sub in questions(db)] == ["primera", "segunda"]
    assert [(e.type, e.payload["submissions"][0]["id"]) for e in events] == [
        ("received", outcomes[0].id),
        ("received", outcomes[2].id),
    ]


def test_a_meeting_read_earlier_in_the_same_write_sees_the_seqs_the_batch_took(
    db: Database, meeting: str
) -> None:
    def read_then_receive(session: Session) -> int:
        loaded = session.scalars(select(Meeting).where(Meeting.slug == meeting)).one()
        receive(session, arrivals=[arrival("una"), arrival("otra")])
        return loaded.last_seq

    seen, events = db.run_write(read_then_receive)
    assert seen == events[-1].seq


def test_a_slice_of_triage_stops_when_its_time_is_up_and_the_rest_waits(
    db: Database, meeting: str
) -> None:
    db.run_write(receive, arrivals=[arrival(f"pregunta número {i}") for i in range(3)])
    # No time at all: one question per slice, oldest first, each in its own event.
    done, events = db.run_write(triage_arrivals, slice_seconds=0.0)
    assert done == 1
    assert [sub.triaged for sub in questions(db)] == [True, False, False]
    assert [e.type for e in events] == ["triaged"]
    done, _events = db.run_write(triage_arrivals, slice_seconds=60.0)
    assert done == 2
    done, events = db.run_write(triage_arrivals, slice_seconds=60.0)
    assert (done, events) == (0, [])


def test_a_burst_of_concurrent_questions_is_stored_whole_in_order_and_each_answered(
    tmp_path: Path, database_url: str | None
) -> None:
    live = LiveServer(tmp_path / "data", free_port())
    if database_url:
        live.overrides["database_url"] = database_url
    live.start()
    try:
        make_meeting(live.db)

        def post(i: int) -> httpx.Response:
            with httpx.Client(base_url=live.base_url, timeout=30) as http:
                return http.post(URL, json={"name": f"Vecina {i}", "text": f"Pregunta {i}"})

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(post, range(80)))
        assert {a.status_code for a in answers} == {201}
        ids = sorted(a.json()["id"] for a in answers)
        assert len(set(ids)) == 80
        with live.db.session() as session:
            stored = set(session.scalars(select(Submission.id)))
            logged = list(session.execute(select(Event.seq, Event.type, Event.submission_id)))
        assert stored == set(ids)
        # One received event per question; the log's seqs without a gap or a repeat.
        assert sorted(sid for _seq, kind, sid in logged if kind == "received") == ids
        seqs = sorted(seq for seq, _kind, _sid in logged)
        assert seqs == list(range(1, len(seqs) + 1))
        wait_until(lambda: triaged(live.db))
    finally:
        live.stop()

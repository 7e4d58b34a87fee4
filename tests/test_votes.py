"""The "me too" votes: one per browser per question, rate-limited, counted live, coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from council.app import create_app
from council.db import Database
from council.models import Event, Submission, Vote
from council.moderation import actions
from council.settings import Settings
from council.votes import VOTER_COOKIE, VoteFeed, announce_votes, sign_voter, voter_from_cookie
from tests.factories import make_meeting, make_question, make_token, make_user, receive_until

pytestmark = pytest.mark.both_databases


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    # Counts go out quickly here; the coalescing itself has its own tests below.
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        submission_rate_limit="1000/minute",
        vote_rate_limit="1000/minute",
        vote_broadcast_seconds=0.05,
        _env_file=None,
    )


def vote(client: TestClient, sub_id: int, **headers: str) -> Any:
    return client.post("/api/meetings/pleno/votes", json={"submission_id": sub_id}, headers=headers)


def votes_of(db: Database, sub_id: int) -> int:
    with db.session() as session:
        sub = session.get(Submission, sub_id)
        assert sub is not None
        return sub.votes


def vote_rows(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(Vote)) or 0)


@contextmanager
def other_browser(client: TestClient) -> Iterator[TestClient]:
    """Another browser on the same server: the client, with a cookie jar of its own for a while.

    (A second ``TestClient`` would run the app's background tasks on a second event loop.)
    """
    saved = type(client.cookies)(client.cookies)
    client.cookies.clear()
    try:
        yield client
    finally:
        client.cookies = saved


# -- one per browser ---------------------------------------------------------------------------


def test_a_browser_counts_once_per_question(
    app: FastAPI, client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    first = vote(client, sub.id)
    assert first.status_code == 200, first.text
    assert first.json() == {"submission_id": sub.id, "votes": 1, "voted": True, "counted": True}
    again = vote(client, sub.id)
    assert again.json() == {"submission_id": sub.id, "votes": 1, "voted": True, "counted": False}
    with other_browser(client) as second:
        assert vote(second, sub.id).json()["votes"] == 2
    assert votes_of(db, sub.id) == 2
    assert vote_rows(db) == 2


def test_the_voter_cookie_is_signed_and_http_only(
    client: TestClient, db: Database, meeting: str, settings: Settings
) -> None:
    sub = make_question(db, status="approved")
    response = vote(client, sub.id)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{VOTER_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie
    value = client.cookies[VOTER_COOKIE]
    assert voter_from_cookie(value, settings.resolved_secret_key()) is not None
    assert "set-cookie" not in vote(client, sub.id).headers, "a known browser keeps its id"


def test_a_forged_voter_cookie_counts_as_a_new_browser(
    app: FastAPI, client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    vote(client, sub.id)
    voter = voter_from_cookie(client.cookies[VOTER_COOKIE], app.state.votes.secret)
    assert voter is not None
    with other_browser(client) as forger:
        forger.cookies.set(VOTER_COOKIE, sign_voter(voter, "not the server's key"))
        answer = vote(forger, sub.id).json()
    assert answer["counted"] is True, "someone else's id, badly signed, is not theirs"
    assert voter_from_cookie(f"{voter}.nonsense", app.state.votes.secret) is None
    assert voter_from_cookie("", app.state.votes.secret) is None


def test_the_meeting_page_remembers_what_this_browser_voted_for(
    app: FastAPI, client: TestClient, db: Database, meeting: str
) -> None:
    voted = make_question(db, status="approved", text="la que voté")
    make_question(db, status="approved", text="la otra")
    vote(client, voted.id)
    assert client.get("/api/meetings/pleno/votes/mine").json() == {"submission_ids": [voted.id]}
    html = client.get("/m/pleno").text
    assert html.count('aria-disabled="true"') == html.count("me-too voted") == 1
    assert f'<script type="application/json" id="my-votes">[{voted.id}]</script>' in html
    with other_browser(client) as stranger:
        assert stranger.get("/api/meetings/pleno/votes/mine").json() == {"submission_ids": []}
        assert "me-too voted" not in stranger.get("/m/pleno").text


def test_the_plain_form_votes_without_javascript(
    client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    response = client.post(
        "/m/pleno/votes", data={"submission_id": str(sub.id)}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/m/pleno#q-{sub.id}"
    assert votes_of(db, sub.id) == 1


# -- what can be voted for ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_nothing_unapproved_is_votable_nor_revealed(
    client: TestClient, db: Database, meeting: str, status: str
) -> None:
    sub = make_question(db, status=status, text="secreto")
    response = vote(client, sub.id)
    assert response.status_code == 404
    assert response.json()["detail"] == vote(client, 99_999).json()["detail"].replace(
        "99999", str(sub.id)
    ), "the same answer as for a question that does not exist"
    assert "secreto" not in response.text
    assert votes_of(db, sub.id) == 0 and vote_rows(db) == 0


def test_answered_questions_take_no_more_votes(
    client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="answered")
    response = vote(client, sub.id)
    assert response.status_code == 409
    assert "answered" in response.json()["detail"]


def test_the_question_on_screen_takes_votes(client: TestClient, db: Database, meeting: str) -> None:
    sub = make_question(db, status="on_screen")
    assert vote(client, sub.id).json()["votes"] == 1


def test_a_question_of_another_meeting_is_not_found(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_meeting(db, "otro")
    elsewhere = make_question(db, "otro", status="approved")
    assert vote(client, elsewhere.id).status_code == 404


def test_votes_from_another_site_are_refused(
    client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    response = vote(client, sub.id, origin="https://evil.example")
    assert response.status_code == 403
    assert vote(client, sub.id, origin="http://testserver").status_code == 200


def test_bad_vote_bodies_get_readable_422s(client: TestClient, meeting: str) -> None:
    for body in [{}, {"submission_id": "tres"}, {"submission_id": 1, "extra": True}]:
        response = client.post("/api/meetings/pleno/votes", json=body)
        assert response.status_code == 422, body
        assert response.json()["detail"]


# -- rate limit --------------------------------------------------------------------------------


def test_votes_are_rate_limited_per_client_with_retry_after(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, vote_rate_limit="3/minute", _env_file=None))
    db = app.state.council.db
    make_meeting(db)
    subs = [make_question(db, status="approved") for _ in range(4)]
    with TestClient(app) as client:
        for sub in subs[:3]:
            assert vote(client, sub.id).status_code == 200
        refused = vote(client, subs[3].id)
        with other_browser(client) as same_address:  # new cookies do not reset the limit
            also_refused = vote(same_address, subs[3].id)
    assert refused.status_code == also_refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "wait" in refused.json()["detail"]
    assert votes_of(db, subs[3].id) == 0


# -- live counts -------------------------------------------------------------------------------


def test_counts_reach_the_public_socket_live(
    app: FastAPI, client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        vote(client, sub.id)
        [voted] = receive_until(ws, lambda m: m["type"] == "voted")
        with other_browser(client) as second:
            vote(second, sub.id)
        messages = receive_until(
            ws, lambda m: m["type"] == "voted" and m["submissions"][0]["votes"] == 2
        )
    assert voted["submissions"][0]["id"] == sub.id and voted["submissions"][0]["votes"] == 1
    assert isinstance(voted["seq"], int)
    assert messages[-1]["submissions"][0]["status"] == "approved"


def test_moderators_see_the_counts_and_the_new_score(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_user(db, "tool")
    token = make_token(db, "tool")
    sub = make_question(db, status="approved")
    with client.websocket_connect(
        "/ws/meetings/pleno/moderation", headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        score_before = ws.receive_json()["submissions"][0]["score"]
        vote(client, sub.id)
        [voted] = receive_until(ws, lambda m: m["type"] == "voted")
    view = voted["submissions"][0]
    assert view["votes"] == 1
    assert view["score"] > score_before, "the priority score counts votes"


def test_votes_move_a_question_up_the_queue(
    app: FastAPI, client: TestClient, db: Database, meeting: str
) -> None:
    first = make_question(db, status="approved", text="primera")
    second = make_question(db, status="approved", text="segunda")
    # Approving runs no rescore: give both an automatic place first.
    db.run_write(announce_votes, meeting_id=1, submission_ids=[])
    with client.websocket_connect("/ws/meetings/pleno") as ws:
        snapshot = ws.receive_json()
        order = {q["id"]: q["position"] for q in snapshot["approved"]}
        assert order[first.id] < order[second.id], "first come, first served before any vote"
        for _ in range(3):
            with other_browser(client) as browser:
                vote(browser, second.id)
        messages = receive_until(
            ws,
            lambda m: (
                m["type"] == "voted"
                and any(s["id"] == second.id and s["votes"] == 3 for s in m["submissions"])
            ),
        )
    for message in messages:
        for view in message["submissions"]:
            order[view["id"]] = view["position"]
    assert order[second.id] < order[first.id], "three people asked it too: it goes first"
    state = client.get("/api/meetings/pleno/state").json()
    assert [q["id"] for q in sorted(state["approved"], key=lambda q: q["position"])] == [
        second.id,
        first.id,
    ]


def test_many_votes_make_few_messages(tmp_path: Path) -> None:
    """However many votes arrive, each meeting gets at most one ``voted`` per interval."""
    app = create_app(Settings(data_dir=tmp_path, vote_broadcast_seconds=0.5, _env_file=None))
    db = app.state.council.db
    make_meeting(db)
    subs = [make_question(db, status="approved") for _ in range(3)]
    with TestClient(app) as client, client.websocket_connect("/ws/meetings/pleno") as ws:
        ws.receive_json()
        for i in range(30):
            with other_browser(client) as browser:
                assert vote(browser, subs[i % 3].id).status_code == 200
        messages = receive_until(
            ws,
            lambda m: (
                m["type"] == "voted" and sum(1 for s in m["submissions"] if s["votes"] == 10) == 3
            ),
        )
    assert len(messages) < 10, f"{len(messages)} messages for 30 votes"
    assert all(m["type"] == "voted" for m in messages)
    with db.session() as session:
        voted = session.scalars(select(Event).where(Event.type == "voted")).all()
    assert len(voted) == len(messages)


async def until(probe: Callable[[], bool]) -> None:
    for _ in range(500):
        if probe():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("gave up waiting")


def test_the_feed_coalesces_and_sends_the_first_vote_at_once(
    app: FastAPI, db: Database, meeting: str
) -> None:
    subs = [make_question(db, status="approved") for _ in range(2)]
    council = app.state.council  # the app is not started: the feed is driven by hand

    async def scenario() -> list[list[int]]:
        feed = VoteFeed(council, interval=1.0)
        sent: list[list[int]] = []
        council.hub.publish = lambda events: sent.extend(  # type: ignore[method-assign]
            [[s["id"] for s in e.payload["submissions"]] for e in events if e.type == "voted"]
        )
        # Everything before is published already (else each act re-sends what it missed).
        council.hub.published_seq[1] = 10**6
        feed.start()
        feed.mark(1, subs[0].id)
        await until(lambda: len(sent) == 1)  # the first goes out at once...
        for sub in subs * 5:  # ...the next ones wait for the next round, together
            feed.mark(1, sub.id)
        await asyncio.sleep(0.05)
        assert len(sent) == 1
        await until(lambda: len(sent) == 2)
        await feed.stop()
        return sent

    sent = asyncio.run(scenario())
    assert sent == [[subs[0].id], [subs[0].id, subs[1].id]]


def test_counts_not_yet_announced_go_out_when_the_server_stops(
    app: FastAPI, db: Database, meeting: str
) -> None:
    sub = make_question(db, status="approved")
    council = app.state.council  # the app is not started: the feed is driven by hand

    async def scenario() -> None:
        feed = VoteFeed(council, interval=60)
        feed.start()
        feed.mark(1, sub.id)
        await asyncio.sleep(0.05)
        feed.mark(1, sub.id)  # waits for a round that never comes...
        await feed.stop()  # ...so stopping says it

    asyncio.run(scenario())
    with db.session() as session:
        assert len(session.scalars(select(Event).where(Event.type == "voted")).all()) == 2


def test_merging_carries_the_votes_over_counting_each_browser_once(
    client: TestClient, db: Database, meeting: str
) -> None:
    kept = make_question(db, status="approved", text="¿Cuándo abre la piscina?")
    merged = make_question(db, status="approved", text="¿Abrirá la piscina este verano?")
    vote(client, kept.id)
    vote(client, merged.id)  # the same browser, both questions
    with other_browser(client) as second:
        vote(second, merged.id)
        db.run_write(
            actions.merge, slug="pleno", submission_id=merged.id, actor="mod", into=kept.id
        )
        assert votes_of(db, kept.id) == 2, "two browsers, not three votes"
        assert vote(second, kept.id).json()["counted"] is False, "its vote moved with the merge"
    again = vote(client, kept.id).json()
    assert again["counted"] is False and again["votes"] == 2

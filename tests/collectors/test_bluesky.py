"""The Bluesky collector, with the real atproto client against a fake Bluesky on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from council.residents import add_resident
from council.sandbox.bluesky import FakeBluesky
from tests.factories import (
    act_live,
    bluesky_searches,
    bluesky_settings,
    collector,
    make_token,
    make_user,
    questions,
    running,
    wait_until,
)


def test_posts_arrive_once_with_author_avatar_and_link(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, _client):
        post = fake_bluesky.post(
            "¿Cuándo vuelve el mercadillo a la calle de la iglesia? #PlenoJun",
            handle="begosaez.bsky.social",
            display_name="Begoña Sáez",
            avatar="https://cdn.bsky.app/img/avatar/plain/did:plc:bego/a@jpeg",
        )
        db = app.state.council.db
        [sub] = wait_until(lambda: questions(db))
        time.sleep(0.3)  # more polls, which re-read the overlap: nothing arrives twice
        assert len(questions(db)) == 1
    rkey = post["uri"].rsplit("/", 1)[1]
    assert (sub.source, sub.external_id, sub.status) == ("bluesky", post["uri"], "pending")
    assert (sub.author_name, sub.author_handle) == ("Begoña Sáez", "begosaez.bsky.social")
    assert sub.avatar_url == "https://cdn.bsky.app/img/avatar/plain/did:plc:bego/a@jpeg"
    assert sub.external_url == f"https://bsky.app/profile/begosaez.bsky.social/post/{rkey}"
    assert sub.original_text == "¿Cuándo vuelve el mercadillo a la calle de la iglesia? #PlenoJun"
    assert sub.posted_at is not None


def test_search_is_by_hashtag_latest_first_with_a_login(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    fake_bluesky.post("Otro pleno #PlenoJun2026")
    fake_bluesky.post("PlenoJun sin almohadilla")
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, _client):
        fake_bluesky.post("Este sí #plenojun")
        wait_until(lambda: questions(app.state.council.db))
        time.sleep(0.3)
        texts = [q.original_text for q in questions(app.state.council.db)]
    assert texts == ["Este sí #plenojun"]
    first = bluesky_searches(fake_bluesky)[0]
    assert first.query["q"] == "#PlenoJun"
    assert first.query["sort"] == "latest"
    assert first.headers["authorization"].startswith("Bearer ")
    assert fake_bluesky.sessions_created == 1


def test_paging_by_cursor_loses_nothing_across_a_burst_of_500(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    burst = fake_bluesky.post_many(500, text_template="Pregunta {i} de {n} #PlenoJun")
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: len(questions(db)) >= 500, timeout=60)
        time.sleep(0.3)
        found = questions(db)
    assert sorted(q.external_id for q in found) == sorted(p["uri"] for p in burst)
    assert len({q.original_text for q in found}) == 500
    assert any("cursor" in r.query for r in bluesky_searches(fake_bluesky)), "paged by cursor"


def test_a_restart_resumes_by_time_without_gaps_or_duplicates(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    settings = bluesky_settings(tmp_path, fake_bluesky)
    before = fake_bluesky.post_many(30, text_template="antes {i} #PlenoJun")
    with running(settings) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: len(questions(db)) == 30)
        state = wait_until(lambda: (s := collector(db, "bluesky")) and s.newest_id and s)
    during = fake_bluesky.post_many(150, text_template="mientras tanto {i} #PlenoJun")
    searches_before_restart = len(bluesky_searches(fake_bluesky))
    with running(settings, meeting=False) as (again, _client):
        db = again.state.council.db
        wait_until(lambda: len(questions(db)) >= 180, timeout=30)
        time.sleep(0.3)
        found = [q.external_id for q in questions(db)]
    assert sorted(found) == sorted(p["uri"] for p in before + during)
    assert len(found) == len(set(found))
    resumed = bluesky_searches(fake_bluesky)[searches_before_restart]
    since = datetime.fromisoformat(resumed.query["since"].replace("Z", "+00:00"))
    newest = datetime.fromisoformat(state.newest_id or "")
    assert timedelta(0) < newest - since <= timedelta(minutes=2), (
        "from the resume time, a little back"
    )


def test_a_late_indexed_post_is_still_collected(tmp_path: Path, fake_bluesky: FakeBluesky) -> None:
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, _client):
        db = app.state.council.db
        fake_bluesky.post("primera #PlenoJun")
        wait_until(lambda: questions(db))
        time.sleep(0.2)
        # Written a minute ago, indexed only now: its place in the search is in the past.
        fake_bluesky.post("rezagada #PlenoJun", created_at=datetime.now(UTC) - timedelta(minutes=1))
        wait_until(lambda: len(questions(db)) == 2)


def test_a_bad_app_password_stops_the_collector_and_says_so(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    settings = bluesky_settings(tmp_path, fake_bluesky, bluesky_app_password="wrong-password")
    with running(settings) as (app, client):
        db = app.state.council.db
        state = wait_until(lambda: (s := collector(db, "bluesky")) and s.status == "failed" and s)
        logins = len(fake_bluesky.requests_to("com.atproto.server.createSession"))
        time.sleep(1.0)
        assert len(fake_bluesky.requests_to("com.atproto.server.createSession")) == logins
        make_user(db, "tool")
        token = make_token(db, "tool")
        queue = client.get(
            "/api/meetings/pleno/submissions", headers={"Authorization": f"Bearer {token}"}
        ).json()
    assert state.last_error == (
        "Bluesky login refused for ayto-jun.bsky.social: 401 AuthenticationRequired: Invalid "
        "identifier or password (check COUNCIL_BLUESKY_HANDLE and COUNCIL_BLUESKY_APP_PASSWORD)"
    )
    [health] = [c for c in queue["collectors"] if c["source"] == "bluesky"]
    assert health["status"] == "failed"


def test_an_expired_session_logs_in_again_and_carries_on(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: bluesky_searches(fake_bluesky))
        fake_bluesky.expire_sessions()
        fake_bluesky.post("tras caducar #PlenoJun")
        wait_until(lambda: questions(db), timeout=10)
        assert collector(db, "bluesky").status == "running"  # type: ignore[union-attr]
    assert fake_bluesky.sessions_created == 2


def test_server_errors_and_rate_limits_are_waited_out(
    tmp_path: Path, fake_bluesky: FakeBluesky
) -> None:
    fake_bluesky.fail_next(502, times=2)
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, _client):
        db = app.state.council.db
        fake_bluesky.post("después del fallo #PlenoJun")
        wait_until(lambda: questions(db), timeout=10)
        fake_bluesky.set_rate_limit(0, reset_in=2.0)
        state = wait_until(lambda: (s := collector(db, "bluesky")) and s.paused_until and s)
        assert "rate limit" in (state.last_error or "")
        fake_bluesky.post("tras la espera #PlenoJun")
        wait_until(lambda: len(questions(db)) == 2, timeout=10)
    times = [r.time for r in bluesky_searches(fake_bluesky)]
    assert times[2] - times[1] > times[1] - times[0], "the wait grows between failures"


def test_links_are_whole_and_residents_badged(tmp_path: Path, fake_bluesky: FakeBluesky) -> None:
    with running(bluesky_settings(tmp_path, fake_bluesky)) as (app, client):
        db = app.state.council.db
        act_live(client, app, add_resident, handle="@BegoSaez.bsky.social", source="bluesky")
        fake_bluesky.post(
            "Mirad https://jun.es/obras/calle-real #PlenoJun", handle="begosaez.bsky.social"
        )
        [sub] = wait_until(lambda: questions(db))
    assert sub.verified
    assert sub.original_text == "Mirad https://jun.es/obras/calle-real #PlenoJun"


def test_no_bluesky_collector_without_a_login(tmp_path: Path, fake_bluesky: FakeBluesky) -> None:
    settings = bluesky_settings(tmp_path, fake_bluesky, bluesky_app_password=None)
    with running(settings) as (app, _client):
        time.sleep(0.5)
        assert collector(app.state.council.db, "bluesky") is None
    assert fake_bluesky.requests == []

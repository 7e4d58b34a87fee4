"""The X collector, with the real tweepy client against the fake X API on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from council.app import create_app
from council.residents import add_resident
from tests.factories import (
    act_live,
    collector,
    make_meeting,
    make_token,
    make_user,
    questions,
    running,
    searches,
    wait_until,
    x_settings,
)
from tests.fakes.x_api import FakeX


def test_tweets_arrive_in_the_queue_with_author_avatar_and_link(
    tmp_path: Path, fake_x: FakeX
) -> None:
    fake_x.add_user(
        "vecina_jun",
        name="María Vecina",
        profile_image_url="https://pbs.twimg.com/profile_images/1/m.jpg",
    )
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        tweet_id = fake_x.post("¿Cuándo arreglan la farola? #PlenoJun", username="vecina_jun")
        db = app.state.council.db
        [sub] = wait_until(lambda: questions(db))
    assert (sub.source, sub.external_id, sub.status) == ("x", tweet_id, "pending")
    assert (sub.author_name, sub.author_handle) == ("María Vecina", "vecina_jun")
    assert sub.avatar_url == "https://pbs.twimg.com/profile_images/1/m.jpg"
    assert sub.external_url == f"https://x.com/vecina_jun/status/{tweet_id}"
    assert sub.original_text == "¿Cuándo arreglan la farola? #PlenoJun"
    assert sub.posted_at is not None


def test_text_survives_entities_emoji_and_accents(tmp_path: Path, fake_x: FakeX) -> None:
    text = "Luz & agua <ya> 💡🚰 en el Barrio de la Iglesia, ¿sí? ñandú #PlenoJun"
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        fake_x.post(text)
        [sub] = wait_until(lambda: questions(app.state.council.db))
    assert sub.original_text == text


def test_retweets_and_other_hashtags_never_enter(tmp_path: Path, fake_x: FakeX) -> None:
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        original = fake_x.post("La farola #PlenoJun", username="autora")
        fake_x.post("RT @autora: La farola #PlenoJun", username="eco", retweet_of=original)
        fake_x.post("Otro pleno #PlenoJun2026", username="otra")
        fake_x.post("Sin etiqueta", username="otra")
        wait_until(lambda: questions(app.state.council.db))
        time.sleep(0.3)  # a few more polls: nothing else may arrive
        texts = [q.original_text for q in questions(app.state.council.db)]
    assert texts == ["La farola #PlenoJun"]


def test_several_hashtags_are_alternatives(tmp_path: Path, fake_x: FakeX) -> None:
    settings = x_settings(tmp_path, fake_x)
    app = create_app(settings)
    make_meeting(app.state.council.db, hashtags=["PlenoJun", "JunDirecto"])
    with TestClient(app):
        fake_x.post("una #PlenoJun")
        fake_x.post("otra #jundirecto")
        wait_until(lambda: len(questions(app.state.council.db)) == 2)
    query = searches(fake_x)[0].query["query"]
    assert query == "(#PlenoJun OR #JunDirecto) -is:retweet"


def test_a_burst_of_a_thousand_tweets_arrives_complete_and_once(
    tmp_path: Path, fake_x: FakeX
) -> None:
    ids = fake_x.post_many(1000, text_template="Pregunta {i} de {n} #PlenoJun")
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: len(questions(db)) >= 1000, timeout=60)
        time.sleep(0.3)
        found = questions(db)
    assert sorted(q.external_id for q in found) == sorted(ids)
    assert len({q.original_text for q in found}) == 1000
    assert any("next_token" in r.query for r in searches(fake_x)), "paged with next_token"


def test_first_poll_skips_posts_from_before_the_meeting(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.post(
        "El pleno del mes pasado #PlenoJun", created_at=datetime.now(UTC) - timedelta(days=3)
    )
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        fake_x.post("Para este pleno #PlenoJun")
        wait_until(lambda: questions(app.state.council.db))
        time.sleep(0.2)
        texts = [q.original_text for q in questions(app.state.council.db)]
    assert texts == ["Para este pleno #PlenoJun"]


def test_a_restart_resumes_without_gaps_or_duplicates(tmp_path: Path, fake_x: FakeX) -> None:
    settings = x_settings(tmp_path, fake_x)
    before = fake_x.post_many(30, text_template="antes {i} #PlenoJun")
    with running(settings) as (app, _client):
        wait_until(lambda: len(questions(app.state.council.db)) == 30)
        wait_until(lambda: (state := collector(app.state.council.db)) and state.newest_id)
    during = fake_x.post_many(150, text_template="mientras tanto {i} #PlenoJun")
    requests_before_restart = len(searches(fake_x))
    with running(settings, meeting=False) as (again, _client):
        db = again.state.council.db
        wait_until(lambda: len(questions(db)) >= 180, timeout=30)
        time.sleep(0.3)
        found = [q.external_id for q in questions(db)]
    assert sorted(found) == sorted(before + during)
    first_after_restart = searches(fake_x)[requests_before_restart]
    assert first_after_restart.query.get("since_id") == max(before, key=int)


def test_a_429_waits_for_the_reset_and_then_resumes(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.fail_next(429, reset_in=2.0)
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        db = app.state.council.db
        state = wait_until(lambda: (s := collector(db)) and s.status == "rate_limited" and s)
        assert state.paused_until is not None
        assert "429" in (state.last_error or "")
        fake_x.post("tras la espera #PlenoJun")
        wait_until(lambda: questions(db), timeout=10)
        assert collector(db).status == "running"  # type: ignore[union-attr]
    times = [r.time for r in searches(fake_x)]
    assert times[1] - times[0] >= 1.5, "no request before the reset time"


def test_server_errors_back_off_and_retry(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.fail_next(503, times=2)
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        db = app.state.council.db
        fake_x.post("después del fallo #PlenoJun")
        wait_until(lambda: questions(db), timeout=10)
        state = collector(db)
    assert state is not None and "503" in (state.last_error or "")
    times = [r.time for r in searches(fake_x)]
    assert times[2] - times[1] > times[1] - times[0], "the wait grows between failures"


def test_rejected_credentials_stop_the_collector_and_tell_moderators(
    tmp_path: Path, fake_x: FakeX
) -> None:
    fake_x.require_bearer("the-real-token")
    with running(x_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        make_user(db, "tool")
        token = make_token(db, "tool")
        wait_until(lambda: (s := collector(db)) and s.status == "failed")
        calls = len(searches(fake_x))
        time.sleep(1.5)
        assert len(searches(fake_x)) == calls, "a rejected key is not tried again and again"
        queue = client.get(
            "/api/meetings/pleno/submissions", headers={"Authorization": f"Bearer {token}"}
        ).json()
    [health] = queue["collectors"]
    assert health["status"] == "failed"
    assert health["last_error"] == "X credentials rejected: 401 Unauthorized"


def test_a_moderator_can_retry_a_stopped_collector(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.require_bearer("the-real-token")
    with running(x_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        make_user(db, "tool")
        token = make_token(db, "tool")
        wait_until(lambda: (s := collector(db)) and s.status == "failed")
        fake_x.require_bearer(None)  # the clerk fixed the key at X's end
        fake_x.post("ya funciona #PlenoJun")
        response = client.post(
            "/api/meetings/pleno/collectors/x/retry", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200
        wait_until(lambda: questions(db), timeout=10)


def test_cost_cap_pauses_polling(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.post_many(20, text_template="pregunta {i} #PlenoJun")
    settings = x_settings(tmp_path, fake_x, x_cost_cap=0.05)  # 20 posts + users > $0.05
    with running(settings) as (app, _client):
        db = app.state.council.db
        state = wait_until(lambda: (s := collector(db)) and s.status == "paused" and s)
        calls = len(searches(fake_x))
        fake_x.post("después del tope #PlenoJun")
        time.sleep(0.5)
        assert len(searches(fake_x)) == calls
    assert state.estimated_cost >= 0.05 and state.cost_cap == 0.05
    assert "cap" in (state.last_error or "")


def test_verified_handle_is_badged_as_it_arrives(tmp_path: Path, fake_x: FakeX) -> None:
    with running(x_settings(tmp_path, fake_x)) as (app, client):
        db = app.state.council.db
        act_live(client, app, add_resident, handle="@Vecina_Jun")
        fake_x.post("hola #PlenoJun", username="VECINA_JUN")
        fake_x.post("hola #PlenoJun", username="forastera")
        found = wait_until(lambda: len(questions(db)) == 2 and questions(db))
    assert {q.author_handle: q.verified for q in found} == {"VECINA_JUN": True, "forastera": False}


def test_no_collector_runs_without_a_bearer_token(tmp_path: Path, fake_x: FakeX) -> None:
    with running(x_settings(tmp_path, fake_x, x_bearer_token=None)) as (app, _client):
        fake_x.post("nadie escucha #PlenoJun")
        time.sleep(0.5)
        assert questions(app.state.council.db) == []
    assert searches(fake_x) == []


def test_collector_stops_when_the_meeting_ends(tmp_path: Path, fake_x: FakeX) -> None:
    from council.meetings import end_meeting

    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: searches(fake_x))
        app.state.council.db.run_write(end_meeting, slug="pleno")
        wait_until(lambda: (s := collector(db)) and s.status == "stopped", timeout=5)
        calls = len(searches(fake_x))
        time.sleep(0.5)
        assert len(searches(fake_x)) == calls


@pytest.mark.parametrize("hashtags", [[]])
def test_meetings_without_hashtags_are_not_collected(
    tmp_path: Path, fake_x: FakeX, hashtags: list[str]
) -> None:
    app = create_app(x_settings(tmp_path, fake_x))
    make_meeting(app.state.council.db, hashtags=hashtags)
    with TestClient(app):
        time.sleep(0.5)
    assert searches(fake_x) == []


def test_a_meeting_cap_overrides_the_default(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.post_many(20, text_template="pregunta {i} #PlenoJun")
    app = create_app(x_settings(tmp_path, fake_x, x_cost_cap=100.0))
    make_meeting(app.state.council.db, x_cost_cap=0.02)
    with TestClient(app):
        db = app.state.council.db
        state = wait_until(lambda: (s := collector(db)) and s.status == "paused" and s)
    assert state.cost_cap == 0.02


@pytest.mark.parametrize(("lead_minutes", "collects"), [(15.0, True), (0.0, False)])
def test_collecting_can_start_before_a_scheduled_meeting(
    tmp_path: Path, fake_x: FakeX, lead_minutes: float, collects: bool
) -> None:
    app = create_app(x_settings(tmp_path, fake_x, x_start_minutes_before=lead_minutes))
    make_meeting(
        app.state.council.db, live=False, starts_at=datetime.now(UTC) + timedelta(minutes=10)
    )
    with TestClient(app):
        fake_x.post("antes de empezar #PlenoJun")
        if collects:
            wait_until(lambda: questions(app.state.council.db))
        else:
            time.sleep(0.5)
            assert questions(app.state.council.db) == []
            assert searches(fake_x) == []


def test_an_access_level_without_search_is_explained(tmp_path: Path, fake_x: FakeX) -> None:
    fake_x.fail_next(403)
    with running(x_settings(tmp_path, fake_x)) as (app, _client):
        state = wait_until(
            lambda: (s := collector(app.state.council.db)) and s.status == "failed" and s
        )
    assert (state.last_error or "").startswith("X credentials rejected: 403")

"""The Mastodon collector, with the real Mastodon.py client against fake servers on 127.0.0.1."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from council.app import create_app
from council.meetings import set_mastodon_instances
from council.residents import add_resident
from council.sandbox.mastodon import FakeMastodon
from tests.factories import (
    act_live,
    collector,
    make_meeting,
    make_token,
    make_user,
    mastodon_settings,
    questions,
    running,
    timeline_reads,
    wait_until,
)


def test_toots_arrive_once_with_author_handle_avatar_and_link(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        local = fake_mastodon.post(
            "¿Cuándo arreglan la farola? #PlenoJun",
            username="vecina",
            display_name="María Vecina",
            avatar="https://jun.social/avatars/maria.png",
        )
        remote = fake_mastodon.post(
            "Y el agua, #plenojun", username="paco", display_name="Paco", domain="mastodon.example"
        )
        db = app.state.council.db
        found = wait_until(lambda: len(questions(db)) == 2 and questions(db))
        time.sleep(0.3)  # more polls: nothing arrives twice
        assert len(questions(db)) == 2
    first, second = found
    assert (first.source, first.external_id, first.status) == ("mastodon", local["uri"], "pending")
    assert (first.author_name, first.author_handle) == ("María Vecina", "vecina@jun.social")
    assert first.avatar_url == "https://jun.social/avatars/maria.png"
    assert first.external_url == local["url"]
    assert first.original_text == "¿Cuándo arreglan la farola? #PlenoJun"
    assert first.posted_at is not None
    assert (second.author_handle, second.external_id) == ("paco@mastodon.example", remote["uri"])


def test_html_becomes_plain_text_with_links_mentions_and_hashtags(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    hostile = (
        '<p>Hola <span class="h-card"><a href="https://jun.social/@ayto" class="u-url mention">'
        '@<span>ayto</span></a></span> &amp; vecinos: ver <a href="https://jun.es/obras/calle-'
        'real-2026"><span class="invisible">https://</span><span class="ellipsis">jun.es/obras/'
        'calle-</span><span class="invisible">real-2026</span></a></p><p><a href="https://jun.'
        'social/tags/plenojun" class="mention hashtag" rel="tag">#<span>PlenoJun</span></a> '
        "&lt;b&gt;no&lt;/b&gt;<script>alert(1)</script><style>p{color:red}</style>"
        "<img src=x onerror=alert(2)></p>"
    )
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        fake_mastodon.post("", content_html=hostile, tags=["plenojun"])
        [sub] = wait_until(lambda: questions(app.state.council.db))
    assert sub.original_text == (
        "Hola @ayto & vecinos: ver https://jun.es/obras/calle-real-2026\n\n#PlenoJun <b>no</b>"
    )


def test_paging_forward_loses_nothing_across_a_burst_of_500(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    burst = fake_mastodon.post_many(500, text_template="Pregunta {i} de {n} #PlenoJun")
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: len(questions(db)) >= 500, timeout=60)
        time.sleep(0.3)
        found = questions(db)
    assert sorted(q.external_id for q in found) == sorted(s["uri"] for s in burst)
    assert len({q.original_text for q in found}) == 500
    reads = timeline_reads(fake_mastodon)
    assert all(r.query.get("limit") == "40" for r in reads)
    assert all("min_id" in r.query and "since_id" not in r.query for r in reads)


def test_a_burst_arriving_while_collecting_is_read_without_gaps(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: timeline_reads(fake_mastodon))
        burst = fake_mastodon.post_many(300, text_template="Ráfaga {i} #PlenoJun")
        wait_until(lambda: len(questions(db)) >= 300, timeout=60)
        time.sleep(0.3)
        found = [q.external_id for q in questions(db)]
    assert sorted(found) == sorted(s["uri"] for s in burst)


def test_a_restart_resumes_without_gaps_or_duplicates(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    settings = mastodon_settings(tmp_path, fake_mastodon)
    before = fake_mastodon.post_many(30, text_template="antes {i} #PlenoJun")
    with running(settings) as (app, _client):
        wait_until(lambda: len(questions(app.state.council.db)) == 30)
        state = wait_until(lambda: collector(app.state.council.db, "mastodon"))
    during = fake_mastodon.post_many(150, text_template="mientras tanto {i} #PlenoJun")
    reads_before_restart = len(timeline_reads(fake_mastodon))
    with running(settings, meeting=False) as (again, _client):
        db = again.state.council.db
        wait_until(lambda: len(questions(db)) >= 180, timeout=30)
        time.sleep(0.3)
        found = [q.external_id for q in questions(db)]
    assert sorted(found) == sorted(s["uri"] for s in before + during)
    first_after_restart = timeline_reads(fake_mastodon)[reads_before_restart]
    assert first_after_restart.query["min_id"] == max((s["id"] for s in before), key=int)
    assert state.cursors == {
        f"{fake_mastodon.base_url} #plenojun": max((s["id"] for s in before), key=int)
    }


def test_the_same_post_seen_on_two_servers_enters_once(
    tmp_path: Path, fake_mastodon: FakeMastodon, other_mastodon: FakeMastodon
) -> None:
    original = other_mastodon.post("¿Y la piscina? #PlenoJun", username="paco")
    fake_mastodon.federate(original)  # the town's server got it too, under its own id
    own = fake_mastodon.post("¿Y el mercado? #PlenoJun", username="vecina")
    settings = mastodon_settings(tmp_path, fake_mastodon, other_mastodon)
    with running(settings) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: timeline_reads(other_mastodon) and timeline_reads(fake_mastodon))
        wait_until(lambda: len(questions(db)) == 2)
        time.sleep(0.3)
        found = {q.external_id: q.author_handle for q in questions(db)}
    assert found == {original["uri"]: "paco@mastodon.example", own["uri"]: "vecina@jun.social"}
    # The token is the town's server's: it never goes to another server.
    assert all(r.headers.get("authorization") is None for r in other_mastodon.requests)
    assert all(
        r.headers.get("authorization") == "Bearer town-token" for r in timeline_reads(fake_mastodon)
    )


def test_first_read_skips_posts_from_before_the_meeting(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake_mastodon.post(
        "El pleno del mes pasado #PlenoJun", created_at=datetime.now(UTC) - timedelta(days=3)
    )
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        fake_mastodon.post("Para este pleno #PlenoJun")
        wait_until(lambda: questions(app.state.council.db))
        time.sleep(0.3)
        texts = [q.original_text for q in questions(app.state.council.db)]
    assert texts == ["Para este pleno #PlenoJun"]


def test_a_rejected_token_stops_the_collector_and_says_so(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake_mastodon.require_token("the-real-token")
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, client):
        db = app.state.council.db
        state = wait_until(lambda: (s := collector(db, "mastodon")) and s.status == "failed" and s)
        calls = len(fake_mastodon.requests)
        time.sleep(1.2)
        assert len(fake_mastodon.requests) == calls, "a rejected token is not tried again"
        fake_mastodon.require_token("town-token")  # the clerk fixed it
        fake_mastodon.post("ya funciona #PlenoJun")
        make_user(db, "tool")
        token = make_token(db, "tool")
        answer = client.post(
            "/api/meetings/pleno/collectors/mastodon/retry",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200
        wait_until(lambda: questions(db), timeout=10)
    host = fake_mastodon.base_url.removeprefix("http://")
    assert state.last_error == (
        f"Mastodon token rejected by {host}: 401 The access token is invalid "
        "(check COUNCIL_MASTODON_TOKEN)"
    )


def test_one_server_down_does_not_stop_the_others(
    tmp_path: Path, fake_mastodon: FakeMastodon, other_mastodon: FakeMastodon
) -> None:
    other_mastodon.fail_next(503, times=1000)
    settings = mastodon_settings(tmp_path, fake_mastodon, other_mastodon)
    with running(settings) as (app, _client):
        db = app.state.council.db
        fake_mastodon.post("sigo llegando #PlenoJun")
        wait_until(lambda: questions(db))
        state = wait_until(
            lambda: (s := collector(db, "mastodon")) and s.status == "retrying" and s
        )
    host = other_mastodon.base_url.removeprefix("http://")
    assert f"{host} not answering" in (state.last_error or "")
    assert "503" in (state.last_error or "")


def test_server_errors_back_off_and_then_resume(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    fake_mastodon.fail_next(502, times=2)
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        db = app.state.council.db
        fake_mastodon.post("después del fallo #PlenoJun")
        wait_until(lambda: questions(db), timeout=10)
        assert wait_until(lambda: (s := collector(db, "mastodon")) and s.status == "running")
    times = [r.time for r in timeline_reads(fake_mastodon)]
    assert times[2] - times[1] > times[1] - times[0], "the wait grows between failures"


def test_a_rate_limit_waits_for_the_reset(tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: timeline_reads(fake_mastodon))
        fake_mastodon.set_rate_limit(0, reset_in=2.0)
        state = wait_until(lambda: (s := collector(db, "mastodon")) and s.paused_until and s)
        assert "rate limit" in (state.last_error or "")
        limited = len(fake_mastodon.requests)
        time.sleep(0.8)
        assert len(fake_mastodon.requests) <= limited + 1, "no hammering before the reset"
        fake_mastodon.post("tras la espera #PlenoJun")
        wait_until(lambda: questions(db), timeout=10)


def test_verified_residents_are_badged_by_user_at_server(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, client):
        db = app.state.council.db
        act_live(client, app, add_resident, handle="@Vecina@Jun.Social", source="mastodon")
        fake_mastodon.post("hola #PlenoJun", username="Vecina")
        fake_mastodon.post("hola #PlenoJun", username="vecina", domain="other.example")
        found = wait_until(lambda: len(questions(db)) == 2 and questions(db))
    assert {q.author_handle: q.verified for q in found} == {
        "Vecina@jun.social": True,
        "vecina@other.example": False,
    }


def test_streaming_brings_posts_at_once_and_polls_fill_the_gaps(
    tmp_path: Path, fake_mastodon: FakeMastodon
) -> None:
    settings = mastodon_settings(
        tmp_path, fake_mastodon, mastodon_stream=True, mastodon_poll_seconds=0.5
    )
    with running(settings) as (app, _client):
        db = app.state.council.db
        wait_until(lambda: fake_mastodon.open_streams == 1, timeout=10)
        reads = len(timeline_reads(fake_mastodon))
        streamed = fake_mastodon.post("en directo #PlenoJun")
        [sub] = wait_until(lambda: questions(db), timeout=5)
        assert sub.external_id == streamed["uri"]
        assert len(timeline_reads(fake_mastodon)) == reads, "it came by the stream, not a poll"
        fake_mastodon.disconnect_streams()  # the stream drops; a post falls in the gap
        gap = fake_mastodon.post("en el hueco #PlenoJun")
        wait_until(lambda: len(questions(db)) == 2, timeout=20)
        time.sleep(0.3)
        assert [q.external_id for q in questions(db)] == [streamed["uri"], gap["uri"]]
    stream_request = fake_mastodon.requests_to("/api/v1/streaming/hashtag")[0]
    assert stream_request.headers["authorization"] == "Bearer town-token"


def test_a_meeting_can_read_its_own_servers(
    tmp_path: Path, fake_mastodon: FakeMastodon, other_mastodon: FakeMastodon
) -> None:
    app = create_app(mastodon_settings(tmp_path, fake_mastodon))
    db = app.state.council.db
    make_meeting(db)
    db.run_write(set_mastodon_instances, slug="pleno", urls=[other_mastodon.base_url])
    other_mastodon.post("desde otro servidor #PlenoJun")
    fake_mastodon.post("este no se lee #PlenoJun")
    with TestClient(app):
        wait_until(lambda: questions(db))
        time.sleep(0.3)
    assert [q.author_handle for q in questions(db)] == ["vecina@mastodon.example"]
    assert timeline_reads(fake_mastodon) == []


def test_no_mastodon_collector_without_servers(tmp_path: Path, fake_mastodon: FakeMastodon) -> None:
    settings = mastodon_settings(tmp_path, fake_mastodon, mastodon_instances="")
    with running(settings) as (app, _client):
        fake_mastodon.post("nadie escucha #PlenoJun")
        time.sleep(0.5)
        assert questions(app.state.council.db) == []
        assert collector(app.state.council.db, "mastodon") is None
    assert fake_mastodon.requests == []


def test_changing_a_live_meetings_servers_switches_its_collector(
    tmp_path: Path, fake_mastodon: FakeMastodon, other_mastodon: FakeMastodon
) -> None:
    with running(mastodon_settings(tmp_path, fake_mastodon)) as (app, client):
        db = app.state.council.db
        fake_mastodon.post("del servidor del pueblo #PlenoJun")
        wait_until(lambda: questions(db))
        act_live(client, app, set_mastodon_instances, slug="pleno", urls=[other_mastodon.base_url])
        other_mastodon.post("del servidor grande #PlenoJun")
        wait_until(lambda: len(questions(db)) == 2, timeout=10)
        reads = len(timeline_reads(fake_mastodon))
        time.sleep(0.5)
        assert len(timeline_reads(fake_mastodon)) == reads, "the old server is no longer read"


def test_a_server_that_hides_hashtags_from_visitors_is_named(
    tmp_path: Path, fake_mastodon: FakeMastodon, other_mastodon: FakeMastodon
) -> None:
    other_mastodon.hashtag_access = "authenticated"  # Mastodon 4.5's setting
    settings = mastodon_settings(tmp_path, fake_mastodon, other_mastodon)
    with running(settings) as (app, _client):
        db = app.state.council.db
        fake_mastodon.post("el del pueblo sí #PlenoJun")
        wait_until(lambda: questions(db))
        state = wait_until(
            lambda: (s := collector(db, "mastodon")) and s.status == "retrying" and s
        )
    host = other_mastodon.base_url.removeprefix("http://")
    assert state.last_error == (
        f"{host} shows hashtag timelines to logged-in accounts only: give its token in "
        "COUNCIL_MASTODON_TOKEN (first server) or leave it out of the list"
    )
    assert timeline_reads(other_mastodon) == [], "not read in vain"

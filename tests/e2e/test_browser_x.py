"""A tweet from a verified resident reaches the chamber screen with its badge, in Chromium."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from council.residents import add_resident
from tests.e2e.conftest import Contexts, LiveServer
from tests.factories import wait_until
from tests.fakes.x_api import FakeX

pytestmark = pytest.mark.browser


def collect_from(fake_x: FakeX, server: LiveServer) -> None:
    """Restart the server with its X collector pointed at the fake X API."""
    server.stop()
    server.overrides = {
        "x_bearer_token": "app-bearer-token",
        "x_api_base_url": fake_x.base_url,
        "x_poll_seconds": 0.1,
    }
    server.start()


def test_verified_resident_tweet_shows_its_badge_on_the_screen(
    server: LiveServer, contexts: Contexts, fake_x: FakeX
) -> None:
    collect_from(fake_x, server)
    server.write(add_resident, handle="@Vecina_Jun", note="DNI visto en el registro")
    screen = contexts.page(1280, 720)
    screen.goto("/screen/pleno")
    fake_x.add_user("vecina_jun", name="María <b>Vecina</b>")
    fake_x.post("¿Cuándo arreglan la farola de la calle Mayor? #PlenoJun", username="vecina_jun")
    fake_x.post("Yo también quiero saberlo #PlenoJun", username="forastero")
    token = server.moderator_token()
    with server.api(token) as api:
        queue = wait_until(
            lambda: (
                len(subs := api.get("/api/meetings/pleno/submissions").json()["submissions"]) == 2
                and subs
            )
        )
    verified = next(s for s in queue if s["verified"])
    assert verified["handle"] == "vecina_jun" and verified["source"] == "x"
    server.act(token, verified["id"], "approve")
    server.act(token, verified["id"], "show")
    expect(screen.locator("#current-text")).to_have_text(
        "¿Cuándo arreglan la farola de la calle Mayor? #PlenoJun", timeout=2000
    )
    meta = screen.locator("#current-meta")
    expect(meta.locator(".badge.verified")).to_have_text("Verified resident")
    expect(meta.locator(".author")).to_have_text("María <b>Vecina</b>")
    expect(meta.locator(".source")).to_have_text("x")
    assert screen.locator("#current-meta b").count() == 0, "a display name stays text"
    # The same badge after a reload, from the server-rendered page.
    screen.reload()
    expect(screen.locator("#current-meta .badge.verified")).to_be_visible()


def test_moderator_sees_the_x_collector_health_and_a_rejected_key(
    server: LiveServer, contexts: Contexts, fake_x: FakeX
) -> None:
    collect_from(fake_x, server)
    moderator = contexts.moderator()
    fake_x.post("una #PlenoJun")
    collectors = moderator.locator("#collectors")
    expect(collectors).to_contain_text("running", timeout=5000)
    expect(collectors).to_contain_text("posts collected: 1")
    expect(moderator.locator("#queue .item")).to_have_count(1)
    fake_x.require_bearer("another-token")  # the key was revoked at X
    fake_x.fail_next(401)
    expect(collectors).to_contain_text("X credentials rejected: 401 Unauthorized", timeout=5000)
    expect(collectors.get_by_role("button", name="Retry")).to_be_visible()

"""Who may moderate: sessions with CSRF for browsers, tokens for tools, nothing for strangers."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from council.app import create_app
from council.db import Database
from council.settings import Settings
from tests.factories import PASSWORD, csrf_from, log_in, make_question, make_user


def test_actions_without_login_are_401_and_change_nothing(
    client: TestClient, db: Database, meeting: str
) -> None:
    sub = make_question(db)
    response = client.post(f"/api/meetings/pleno/submissions/{sub.id}/approve")
    assert response.status_code == 401
    assert "Log in" in response.json()["detail"]
    assert client.get("/api/meetings/pleno/submissions").status_code == 401
    assert (
        client.patch(f"/api/meetings/pleno/submissions/{sub.id}", json={"text": "x"}).status_code
        == 401
    )
    assert client.get("/api/meetings/pleno/state").json()["approved"] == []


def test_moderator_page_redirects_to_login(client: TestClient, meeting: str) -> None:
    response = client.get("/moderate/pleno", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/moderate/pleno"


def test_session_without_csrf_token_is_403_and_changes_nothing(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_user(db)
    log_in(client)
    sub = make_question(db)
    for headers in ({}, {"X-CSRF-Token": "forged"}):
        response = client.post(f"/api/meetings/pleno/submissions/{sub.id}/approve", headers=headers)
        assert response.status_code == 403
        assert "Reload the page" in response.json()["detail"]
    assert (
        client.get("/api/meetings/pleno/submissions").json()["submissions"][0]["status"]
        == "pending"
    )


def test_session_cookie_is_httponly_and_samesite(client: TestClient, db: Database) -> None:
    make_user(db)
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": "mod", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: TestClient, db: Database
) -> None:
    make_user(db)
    token = csrf_from(client.get("/login").text)
    for username, password in (("mod", "wrong-password"), ("nobody", PASSWORD)):
        response = client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )
        assert response.status_code == 401
        assert "do not match" in response.text


def test_login_form_needs_its_csrf_token(client: TestClient, db: Database) -> None:
    make_user(db)
    client.get("/login")
    response = client.post("/login", data={"username": "mod", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/moderate/pleno", follow_redirects=False).status_code == 303


def test_login_attempts_are_rate_limited(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, login_rate_limit="3/minute", _env_file=None))
    make_user(app.state.council.db)
    with TestClient(app) as client:
        token = csrf_from(client.get("/login").text)
        codes = [
            client.post(
                "/login", data={"username": "mod", "password": f"guess{i}", "csrf_token": token}
            ).status_code
            for i in range(4)
        ]
        assert codes == [401, 401, 401, 429]
        # Even the right password waits until the window has passed.
        right = client.post(
            "/login", data={"username": "mod", "password": PASSWORD, "csrf_token": token}
        )
        assert right.status_code == 429
        assert "Retry-After" in right.headers


def test_login_never_redirects_off_site(client: TestClient, db: Database) -> None:
    make_user(db)
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={
            "username": "mod",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert response.headers["location"] == "/admin"


def test_bearer_token_acts_without_csrf(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    sub = make_question(db)
    response = client.post(
        f"/api/meetings/pleno/submissions/{sub.id}/approve",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    assert response.json()["submission"]["approved_by"] == "tool"


def test_wrong_bearer_token_is_401(client: TestClient, db: Database, meeting: str) -> None:
    sub = make_question(db)
    response = client.post(
        f"/api/meetings/pleno/submissions/{sub.id}/approve",
        headers={"Authorization": "Bearer council_not-a-token"},
    )
    assert response.status_code == 401
    assert "not valid" in response.json()["detail"]


def test_logout_ends_the_session(moderator: TestClient, meeting: str) -> None:
    assert moderator.get("/moderate/pleno").status_code == 200
    token = csrf_from(moderator.get("/").text)
    moderator.post("/logout", data={"csrf_token": token})
    assert moderator.get("/moderate/pleno", follow_redirects=False).status_code == 303


def test_moderators_cannot_use_the_admin_api(moderator: TestClient) -> None:
    response = moderator.post("/api/meetings", json={"slug": "nueva", "title": "Nueva"})
    assert response.status_code == 403


def test_admin_creates_starts_and_ends_a_meeting_from_the_admin_page(
    client: TestClient, db: Database
) -> None:
    make_user(db, "clerk", role="admin")
    csrf = log_in(client, "clerk")
    page = client.post(
        "/admin/meetings",
        data={
            "csrf_token": csrf,
            "slug": "pleno-nov",
            "title": "Pleno de noviembre",
            "hashtags": "#PlenoJun, JunDirecto",
            "starts_at": "2026-11-24T19:00",
        },
    )
    assert page.status_code == 200 and "Meeting created." in page.text
    client.post("/admin/meetings/pleno-nov/start", data={"csrf_token": csrf})
    meeting = client.get("/api/meetings").json()["meetings"][0]
    assert (meeting["slug"], meeting["status"], meeting["hashtags"]) == (
        "pleno-nov",
        "live",
        ["PlenoJun", "JunDirecto"],
    )
    when = client.post(
        "/admin/meetings",
        data={"csrf_token": csrf, "slug": "x", "title": "x", "starts_at": "next tuesday"},
    )
    assert when.status_code == 422 and "like 2026-11-24 19:00" in when.text
    bad = client.post(
        "/admin/meetings", data={"csrf_token": csrf, "slug": "Bad Slug!", "title": "x"}
    )
    assert bad.status_code == 422 and "lowercase letters" in bad.text
    added = client.post(
        "/admin/users",
        data={
            "csrf_token": csrf,
            "username": "maria",
            "password": "a-long-password",
            "role": "moderator",
        },
    )
    assert "User maria added." in added.text
    forged = client.post("/admin/meetings/pleno-nov/end", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    client.post("/admin/meetings/pleno-nov/end", data={"csrf_token": csrf})
    assert client.get("/api/meetings").json()["meetings"][0]["status"] == "ended"


def test_error_pages_are_html_for_browsers_and_never_tracebacks(client: TestClient) -> None:
    page = client.get("/m/does-not-exist")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "There is no meeting" in page.text and "Traceback" not in page.text
    assert client.get("/no/such/page").status_code == 404


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    policy = client.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_token_use_is_recorded_without_a_write_on_every_request(
    client: TestClient, db: Database, meeting: str, token: str
) -> None:
    from sqlalchemy import select

    from council.models import ApiToken

    def last_used() -> object:
        with db.session() as session:
            return session.scalar(select(ApiToken.last_used_at))

    headers = {"Authorization": f"Bearer {token}"}
    assert last_used() is None
    client.get("/api/meetings/pleno/submissions", headers=headers)
    first = last_used()
    assert first is not None
    client.get("/api/meetings/pleno/submissions", headers=headers)
    assert last_used() == first, "within five minutes, not written again"

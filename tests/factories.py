"""Shared ways to make meetings, questions and moderators in tests, through the real domain code."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.testclient import TestClient

from council.db import Database
from council.intake import Limits, check_question, submit
from council.meetings import create_meeting, start_meeting
from council.models import Submission
from council.moderation import actions
from council.moderation.accounts import add_user, create_token

PASSWORD = "correct-horse-battery"
T = TypeVar("T")


def wait_until(probe: Callable[[], T], *, timeout: float = 10.0, every: float = 0.05) -> T:
    """Poll ``probe`` until it returns something truthy; fail with its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s; last answer: {value!r}")
        time.sleep(every)


def make_meeting(db: Database, slug: str = "pleno", *, live: bool = True, **kwargs: Any) -> str:
    db.run_write(
        create_meeting,
        slug=slug,
        title=kwargs.pop("title", "Pleno de Jun"),
        hashtags=kwargs.pop("hashtags", ["PlenoJun"]),
        **kwargs,
    )
    if live:
        db.run_write(start_meeting, slug=slug)
    return slug


def make_question(
    db: Database,
    slug: str = "pleno",
    *,
    name: str = "Ana García",
    text: str = "¿Cuándo arreglan la farola de la calle Mayor?",
    neighborhood: str | None = None,
    status: str = "pending",
) -> Submission:
    question = check_question(name=name, text=text, neighborhood=neighborhood, limits=Limits())
    sub, _events = db.run_write(submit, slug=slug, question=question)
    path = {
        "pending": [],
        "approved": ["approve"],
        "on_screen": ["approve", "show"],
        "answered": ["approve", "show", "answer"],
        "rejected": ["reject"],
    }[status]
    for action in path:
        sub, _events = db.run_write(
            getattr(actions, action), slug=slug, submission_id=sub.id, actor="factory"
        )
    return sub


def make_user(db: Database, username: str = "mod", role: str = "moderator") -> str:
    db.run_write(add_user, username=username, password=PASSWORD, role=role)
    return username


def make_token(db: Database, username: str = "mod") -> str:
    token, _events = db.run_write(create_token, username=username)
    return token


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF meta tag"
    return match.group(1)


def log_in(client: TestClient, username: str = "mod", password: str = PASSWORD) -> str:
    """Log in through the real form; return the CSRF token for later requests."""
    token = csrf_from(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_from(client.get("/").text)

"""schemathesis over Council's OpenAPI schema: whatever a client sends, the API never answers
5xx. Bad input is a 4xx with a message a person can act on.

Every operation of /openapi.json runs through schemathesis' pytest integration (its examples,
coverage and fuzzing phases; positive and negative data) against the ASGI app, on a temporary
SQLite database and on a fresh PostgreSQL one (which refuses more than SQLite: NUL characters,
integers beyond 32 bits). Each holds a live meeting with questions; every request carries a
moderator's or an admin's token (in turn), so the fuzzer reaches past the 401s into every
handler, and every other request aims at the live meeting and a real question, past the 404s.
Hypothesis is derandomized: the same cases each run, so a failure reproduces; raise
MAX_EXAMPLES locally to search wider.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi

from council.app import create_app
from council.db import Database
from council.settings import Settings
from council.validation import DB_INT_MAX
from tests.factories import make_meeting, make_question, make_token, make_user

pytestmark = pytest.mark.both_databases

MAX_EXAMPLES = 6


@dataclass
class Target:
    """What the fuzzed app holds, and what the fuzzer got back."""

    tokens: tuple[str, ...] = ()
    known: dict[str, Any] = field(default_factory=dict)
    turn: Iterator[int] = field(default_factory=itertools.count)
    statuses: Counter[int] = field(default_factory=Counter)


TARGET = Target()


@pytest.fixture
def api_schema(tmp_path: Path, database_url: str | None) -> Iterator[schemathesis.BaseSchema]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        submission_rate_limit="100000/minute",
        login_rate_limit="100000/minute",
        _env_file=None,
    )
    app = create_app(settings)
    db = app.state.council.db
    slug = make_meeting(db, "pleno")
    make_user(db, "mod")
    make_user(db, "admin", role="admin")
    pending = make_question(db, status="pending")
    make_question(db, status="approved", text="¿Y el agua?")
    make_question(db, status="on_screen", text="¿Y la plaza?")
    TARGET.tokens = (make_token(db, "mod"), make_token(db, "admin"))
    TARGET.known = {"slug": slug, "submission_id": pending.id, "token": pending.track_token}
    TARGET.turn = itertools.count()
    TARGET.statuses = Counter()
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        # schemathesis started the app's lifespan on its own event loop thread; end it here,
        # with the test, not at interpreter exit.
        asgi.shutdown_lifespans()
        db.close()
    # The fuzzer got into the handlers: not only 4xx at the door.
    assert TARGET.statuses[200] > 20 and TARGET.statuses[422] > 100, TARGET.statuses


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    # No shrinking: the failing request as generated is clear enough, and far quicker.
    phases=[Phase.explicit, Phase.generate],
)
def test_no_operation_answers_a_server_error(case: schemathesis.Case) -> None:
    turn = next(TARGET.turn)
    if turn % 2:
        for name, value in TARGET.known.items():
            if name in case.path_parameters:
                case.path_parameters[name] = value
    token = TARGET.tokens[turn // 2 % 2]
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )
    TARGET.statuses[response.status_code] += 1


# -- what the fuzzers found, kept as plain regression cases ------------------------------------

TOO_BIG = [DB_INT_MAX + 1, 2**63, 10**30, -(2**63) - 1]


def hostile_requests(sub: int) -> list[tuple[str, str, str | None, dict[str, str] | None]]:
    """(method, path, JSON body as sent, query): each made a 500 before its fix."""
    requests: list[tuple[str, str, str | None, dict[str, str] | None]] = []
    for big in TOO_BIG:
        requests += [
            ("PATCH", f"/api/meetings/pleno/submissions/{big}", '{"text": "x"}', None),
            ("POST", f"/api/meetings/pleno/submissions/{big}/approve", None, None),
            ("POST", f"/api/meetings/pleno/submissions/{big}/move", '{"before": null}', None),
            ("POST", f"/api/meetings/pleno/submissions/{sub}/move", f'{{"before": {big}}}', None),
            ("POST", f"/api/meetings/pleno/submissions/{sub}/move", f'{{"after": {big}}}', None),
            ("POST", f"/api/meetings/pleno/submissions/{sub}/merge", f'{{"into": {big}}}', None),
            ("POST", f"/api/meetings/pleno/replies/{big}/send-again", None, None),
            ("GET", "/api/meetings/pleno/activity", None, {"after": str(big)}),
            ("GET", "/api/meetings/pleno/activity", None, {"before": str(big)}),
            ("POST", "/api/meetings/pleno/votes", f'{{"submission_id": {big}}}', None),
            ("POST", "/api/meetings/pleno/agenda/current", f'{{"item": {big}}}', None),
            ("POST", "/api/meetings/pleno/mute", f'{{"submission": {big}}}', None),
            ("POST", "/api/meetings/pleno/screen/cancel", f'{{"submission_id": {big}}}', None),
        ]
    # A NUL, which PostgreSQL can neither store nor compare, and a lone UTF-16 surrogate,
    # which no database can encode (and which JSON allows as an escape).
    for bad in ("a\\u0000b", "\\ud800x"):
        requests += [
            ("POST", "/api/meetings", f'{{"slug": "{bad}", "title": "T"}}', None),
            ("POST", "/api/meetings", f'{{"slug": "nuevo", "title": "{bad}"}}', None),
            (
                "POST",
                "/api/meetings",
                f'{{"slug": "otro", "title": "T", "hashtags": ["{bad}"]}}',
                None,
            ),
            ("POST", "/api/meetings/pleno/agenda", f'{{"title": "{bad}"}}', None),
            ("POST", "/api/meetings/pleno/mute", f'{{"source": "web", "handle": "{bad}"}}', None),
            ("POST", "/api/meetings/pleno/unmute", f'{{"source": "web", "handle": "{bad}"}}', None),
            ("PUT", "/api/triage/profanity", f'{{"words": ["{bad}"]}}', None),
        ]
    for path in ("/api/meetings/a%00b/state", "/api/track/a%00b", "/api/meetings/a%00b/agenda"):
        requests.append(("GET", path, None, None))
    # A NUL in the meeting's address, where the lookup is not get_meeting's.
    requests += [
        ("PATCH", f"/api/meetings/a%00b/submissions/{sub}", '{"text": "x"}', None),
        ("POST", f"/api/meetings/a%00b/submissions/{sub}/approve", None, None),
        ("POST", f"/api/meetings/a%00b/submissions/{sub}/show", None, None),
        ("POST", "/api/meetings/a%00b/screen/cancel", None, None),
        ("POST", "/api/meetings/a%00b/replies/1/send-again", None, None),
    ]
    return requests


def test_out_of_range_and_unstorable_values_are_4xx_with_a_message(
    client: TestClient, db: Database
) -> None:
    make_meeting(db, "pleno")
    sub = make_question(db, status="approved")
    make_user(db, "admin", role="admin")
    headers = {"Authorization": f"Bearer {make_token(db, 'admin')}"}
    headers["Content-Type"] = "application/json"
    refused = 0
    for method, path, body, query in hostile_requests(sub.id):
        response = client.request(method, path, content=body, params=query, headers=headers)
        assert response.status_code < 500, (method, path, body, query, response.text)
        if response.status_code >= 400:
            refused += 1
            detail = response.json()["detail"]
            assert isinstance(detail, str) and detail, (path, body, response.text)
    # Out of range and unencodable: refused. A NUL inside a title or handle is a control
    # character the text cleaning drops (those requests succeed, without it).
    assert refused >= len(TOO_BIG) * 13 + 6 + 3 + 5
    titles = [m["title"] for m in client.get("/api/meetings").json()["meetings"]]
    assert "ab" in titles and not any("\x00" in t for t in titles), titles

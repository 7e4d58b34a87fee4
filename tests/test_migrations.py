"""Schema upgrades keep a town's data: every migration runs on a database full of questions."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, select, text

from council.db import Database, alembic_config, upgrade
from council.models import Event, Submission
from tests.factories import make_meeting, make_question

# What the first release with the event log, votes and leases shipped (the oldest schema a
# town may still run); every migration after it must cope with rows pointing at questions.
OLDEST_SUPPORTED = "0008"


@pytest.mark.both_databases
def test_an_existing_database_with_questions_upgrades_to_the_newest_schema(
    tmp_path: Path, database_url: str | None
) -> None:
    url = database_url or f"sqlite:///{tmp_path / 'council.db'}"
    config = alembic_config(url)
    command.upgrade(config, OLDEST_SUPPORTED)
    # Rows the old schema holds, written as the old code did: a meeting, a question,
    # its event, and a question merged into another (a row pointing at a row).
    engine = create_engine(url)
    with engine.begin() as connection:
        meeting = connection.execute(
            text(
                "INSERT INTO meetings (slug, title, hashtags, status, accepts_questions, "
                "last_seq, created_at) VALUES ('pleno', 'Pleno', '[]', 'live', true, 1, "
                "'2026-01-01 10:00:00') RETURNING id"
            )
        ).scalar_one()
        ids: list[int] = []
        for n in (1, 2):
            ids.append(
                connection.execute(
                    text(
                        "INSERT INTO submissions (meeting_id, source, author_name, verified, "
                        "original_text, display_text, status, asked_count, track_token, "
                        "received_at, merged_into_id) VALUES (:meeting, 'web', 'Ana', false, "
                        "'hola', 'hola', 'pending', 1, :token, '2026-01-01 10:00:00', :merged) "
                        "RETURNING id"
                    ),
                    {"meeting": meeting, "token": f"t{n}", "merged": ids[0] if ids else None},
                ).scalar_one()
            )
        connection.execute(
            text(
                "INSERT INTO events (meeting_id, seq, type, payload, submission_id, created_at) "
                "VALUES (:meeting, 1, 'received', '{}', :sub, '2026-01-01 10:00:00')"
            ),
            {"meeting": meeting, "sub": ids[0]},
        )
    engine.dispose()

    upgrade(url)

    db = Database(url)
    try:
        with db.session() as session:
            kept = session.scalars(select(Submission).order_by(Submission.id)).all()
            assert [(s.id, s.merged_into_id, s.triaged) for s in kept] == [
                (ids[0], None, True),
                (ids[1], ids[0], True),
            ]
            assert session.scalars(select(Event.submission_id)).all() == [ids[0]]
        # And the upgraded database takes new questions.
        make_question(db, "pleno", text="¿Y la piscina?")
        make_meeting(db, "otra")
    finally:
        db.close()

"""Searching the archive: full-text on PostgreSQL (migration 0009's GIN index, ts_rank),
the Python path on SQLite; both must find, require and rank alike."""

from __future__ import annotations

import html as htmllib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text, update
from sqlalchemy.engine import make_url

from council.archive.search import ranked_matches, ranked_statement
from council.db import Database, upgrade
from council.meetings import end_meeting
from council.models import PUBLIC_STATUSES, Meeting
from tests.factories import POSTGRES_ADMIN_URL, make_meeting, make_question, postgres_database

pytestmark = pytest.mark.both_databases


def hits(page: str) -> list[str]:
    """The found questions' texts, in the order the page lists them."""
    found = re.findall(r'<span class="hit-text">(.*?)</span>', page, re.S)
    return [htmllib.unescape(re.sub(r"</?mark>", "", h)) for h in found]


def listed(page: str) -> list[str]:
    return re.findall(r'<h2 class="archive-title"><a href="/archive/([\w-]+)">', page)


def ended(db: Database, slug: str, started: datetime | None = None) -> None:
    db.run_write(end_meeting, slug=slug)
    if started is not None:
        with db.session() as session, session.begin():
            session.execute(update(Meeting).where(Meeting.slug == slug).values(started_at=started))


def test_accents_and_capitals_do_not_matter(client: TestClient, db: Database, meeting: str) -> None:
    make_question(db, status="approved", text="Una PETICIÓN sobre la farola")
    make_question(db, status="approved", text="Otra peticion escrita sin tilde")
    make_question(db, status="approved", text="Sobre el agua", name="Íñigo Núñez")
    make_question(db, status="approved", text="Nada que ver")
    ended(db, meeting)

    for query in ("peticion", "PETICIÓN", "Peticion"):
        page = client.get("/archive", params={"q": query}).text
        assert sorted(hits(page)) == [
            "Otra peticion escrita sin tilde",
            "Una PETICIÓN sobre la farola",
        ], query
    assert "<mark>PETICIÓN</mark>" in client.get("/archive", params={"q": "peticion"}).text
    by_name = client.get("/archive", params={"q": "inigo nunez"}).text
    assert hits(by_name) == ["Sobre el agua"] and "<mark>Íñigo</mark>" in by_name


def test_every_word_must_match_and_a_word_finds_its_plural(
    client: TestClient, db: Database, meeting: str
) -> None:
    make_question(db, status="approved", text="La farola de la plaza está rota")
    make_question(db, status="approved", text="La farola del parque")
    make_question(db, status="approved", text="La plaza necesita bancos")
    make_question(db, status="approved", text="Tres peticiones sobre las farolas")
    ended(db, meeting)

    assert hits(client.get("/archive", params={"q": "farola plaza"}).text) == [
        "La farola de la plaza está rota"
    ]
    assert hits(client.get("/archive", params={"q": "plaza farola rota"}).text) == [
        "La farola de la plaza está rota"
    ]
    assert hits(client.get("/archive", params={"q": "farola piscina"}).text) == []
    # A prefix finds the longer word: the plural, as a person expects.
    assert hits(client.get("/archive", params={"q": "peticion farola"}).text) == [
        "Tres peticiones sobre las farolas"
    ]


def test_the_better_match_comes_first(client: TestClient, db: Database) -> None:
    make_meeting(db, "antiguo", title="Pleno antiguo")
    make_meeting(db, "reciente", title="Pleno reciente")
    # In the recent meeting the word is only someone's name; in the old one, it is the
    # question itself, twice: the old meeting must come first despite its date.
    make_question(db, "reciente", status="approved", name="Farola Pérez", text="¿Y el agua?")
    make_question(db, "antiguo", status="approved", text="Farola apagada")
    make_question(db, "antiguo", status="approved", text="La farola rota y otra farola caída")
    make_question(db, "antiguo", status="approved", text="Del parque", name="Ana Farola")
    ended(db, "antiguo", datetime(2026, 1, 10, 19, tzinfo=UTC))
    ended(db, "reciente", datetime(2026, 11, 10, 19, tzinfo=UTC))

    assert listed(client.get("/archive").text) == ["reciente", "antiguo"], "newest first"
    page = client.get("/archive", params={"q": "farola"}).text
    assert listed(page) == ["antiguo", "reciente"]
    assert hits(page) == [
        "La farola rota y otra farola caída",  # the word twice, in the question
        "Farola apagada",  # once, in the question
        "Del parque",  # only in the name
        "¿Y el agua?",
    ]


def test_hostile_query_text_is_only_words(client: TestClient, db: Database, meeting: str) -> None:
    make_question(db, status="approved", text="farola & parque | (plaza) 'calle':*")
    ended(db, meeting)
    for query in ("farola & !parque", "'calle':* | x", "(plaza) <-> farola", "\\ ' \" :* !", "_"):
        response = client.get("/archive", params={"q": query})
        assert response.status_code == 200, (query, response.text[:300])
    assert hits(client.get("/archive", params={"q": "farola & !parque"}).text) == [
        "farola & parque | (plaza) 'calle':*"
    ], "the operators are not tsquery syntax: both words must be there"


# -- PostgreSQL only: the plan and the folding ----------------------------------------------


@pytest.fixture
def postgres_db() -> Iterator[Database]:
    with postgres_database() as url:
        database = Database(url)
        upgrade(url)
        try:
            yield database
        finally:
            database.close()


def test_postgres_search_index_leaves_out_questions_never_made_public(
    postgres_db: Database,
) -> None:
    # The flood of pending questions during a meeting costs no text indexing (migration 0012).
    with postgres_db.engine.connect() as connection:
        definition = connection.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_submissions_search'")
        ).scalar_one()
    condition = definition.partition(" WHERE ")[2]
    assert sorted(re.findall(r"'(\w+)'", condition)) == sorted(PUBLIC_STATUSES), definition


def test_postgres_search_uses_the_gin_index(postgres_db: Database) -> None:
    make_meeting(postgres_db, "pleno")
    for n in range(30):
        make_question(postgres_db, status="approved", text=f"Pregunta número {n} sobre el agua")
    make_question(postgres_db, status="approved", text="Una petición sobre la farola")
    statement = ranked_statement(["peticion", "farola"])
    compiled = statement.compile(
        dialect=postgres_db.engine.dialect, compile_kwargs={"literal_binds": True}
    )
    with postgres_db.engine.connect() as connection:
        # Statistics, as autovacuum keeps them on a real server: every question is public here,
        # so only the words can narrow the search.
        connection.execute(text("ANALYZE submissions"))
        connection.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(row[0] for row in connection.execute(text(f"EXPLAIN {compiled}")))
    assert "Bitmap Index Scan on ix_submissions_search" in plan, plan
    with postgres_db.session() as session:
        found = ranked_matches(session, words=["peticion", "farola"], meeting_ids=[1])
    assert [sub.display_text for sub, _rank in found] == ["Una petición sobre la farola"]


def test_folding_falls_back_to_translate_without_the_unaccent_extension() -> None:
    """A role that may create tables but not extensions (no CREATE on the database) gets the
    translate() folding, and searching still ignores accents."""
    role = f"council_noext_{uuid.uuid4().hex[:8]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        with postgres_database() as owner_url:
            name = make_url(owner_url).database
            as_owner = create_engine(owner_url, isolation_level="AUTOCOMMIT")
            with as_owner.connect() as connection:
                connection.execute(text(f'REVOKE CREATE ON DATABASE "{name}" FROM PUBLIC'))
                connection.execute(text(f'GRANT CONNECT ON DATABASE "{name}" TO "{role}"'))
                connection.execute(text(f'GRANT CREATE, USAGE ON SCHEMA public TO "{role}"'))
            as_owner.dispose()
            url = make_url(owner_url).set(username=role).render_as_string(hide_password=False)
            upgrade(url)
            database = Database(url)
            try:
                with database.engine.connect() as connection:
                    extension = connection.execute(
                        text("SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'")
                    ).scalar()
                    body = connection.execute(
                        text("SELECT prosrc FROM pg_proc WHERE proname = 'council_search_fold'")
                    ).scalar()
                    folded = connection.execute(
                        text("SELECT council_search_fold('PETICIÓN Ñandú Güell Camión')")
                    ).scalar()
                assert extension == 0 and "translate(" in str(body)
                assert folded == "PETICION Nandu Guell Camion"
                make_meeting(database, "pleno")
                make_question(database, status="approved", text="Una PETICIÓN del camión")
                with database.session() as session:
                    found = session.execute(ranked_statement(["peticion", "camion"])).all()
                assert [row[0].display_text for row in found] == ["Una PETICIÓN del camión"]
            finally:
                database.close()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP ROLE IF EXISTS "{role}"'))
        admin.dispose()


def test_folding_uses_unaccent_where_the_extension_may_be_created(postgres_db: Database) -> None:
    with postgres_db.engine.connect() as connection:
        body = connection.execute(
            text("SELECT prosrc FROM pg_proc WHERE proname = 'council_search_fold'")
        ).scalar()
        folded = connection.execute(
            text("SELECT council_search_fold('PETICIÓN Ñandú Øre')")
        ).scalar()
    assert ".unaccent(" in str(body)
    assert folded == "PETICION Nandu Ore", "unaccent folds more than translate() lists"

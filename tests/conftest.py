from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from council.app import create_app
from council.db import Database
from council.settings import Settings
from tests.factories import log_in, make_meeting, make_token, make_user, postgres_database

pytest_plugins = [
    "tests.fakes.x_api",
    "tests.fakes.mastodon_api",
    "tests.fakes.bluesky_api",
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Modules marked `both_databases` run every test on SQLite and on PostgreSQL.
    if "database_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        metafunc.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: the default SQLite file in the data folder; or a fresh PostgreSQL database."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield None
        return
    with postgres_database() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        submission_rate_limit="1000/minute",
        _env_file=None,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[FastAPI]:
    application = create_app(settings)
    yield application
    # A test that never started the app (no TestClient) still opened database connections.
    application.state.council.db.close()


@pytest.fixture
def db(app: FastAPI) -> Database:
    database: Database = app.state.council.db
    return database


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def meeting(db: Database) -> str:
    return make_meeting(db)


@pytest.fixture
def moderator(client: TestClient, db: Database) -> TestClient:
    """The client, logged in as a moderator, sending its CSRF token on every request."""
    make_user(db)
    client.headers["X-CSRF-Token"] = log_in(client)
    return client


@pytest.fixture
def token(db: Database) -> str:
    make_user(db, "tool")
    return make_token(db, "tool")
